#include "io/ckpt.h"

#include <sys/stat.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>

#include "io/pickle.h"

namespace ls::io {

namespace {

using K = PickleObject::Kind;

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("{}: not a regular file", path);
  return static_cast<uint64_t>(st.st_size);
}

/// A storage's bytes, shared by the tensors that view it.
struct StorageBytes {
  Tensor buf;  // U8 [nbytes]
  DType dtype;
  int64_t numel;
};

/// Turn the unpickled state dict into tensors viewing `get_storage(key, dtype, numel)`.
TensorFile build_tensors(const std::string& path, const PickleObject* root,
                         const std::function<const StorageBytes&(const PickleObject*)>& get_storage) {
  TensorFile f;
  f.path = path;
  auto entries = pickle_state_dict_tensors(root, path);
  if (entries.empty()) fail("{}: checkpoint holds no tensors", path);
  for (const auto& [key, t] : entries) {
    if (f.tensors.count(key)) fail("{}: tensor '{}' appears twice", path, key);
    const StorageBytes& sb = get_storage(t->storage);
    int64_t numel;
    try {
      numel = shape_numel(t->shape);
    } catch (const Error& e) {
      fail("{}: tensor '{}': {}", path, key, e.what());
    }
    // Only contiguous (row-major) layouts; dims of size 1 may carry any stride.
    int64_t expect = 1;
    for (size_t d = t->shape.size(); d-- > 0;) {
      if (t->shape[d] != 1 && t->stride[d] != expect && numel > 0)
        fail("{}: tensor '{}': stride {} for size {} is not contiguous (only contiguous tensors are supported)", path,
             key, shape_str(Shape(t->stride.begin(), t->stride.end())), shape_str(t->shape));
      expect *= t->shape[d];
    }
    if (numel > 0 && (t->offset > sb.numel || numel > sb.numel - t->offset))
      fail("{}: tensor '{}': offset {} + {} elements exceed its storage '{}' of {} elements", path, key, t->offset, numel,
           t->storage->s, sb.numel);
    const size_t es = dtype_size(sb.dtype);
    char* base = static_cast<char*>(const_cast<void*>(sb.buf.raw()));
    f.tensors.emplace(key, Tensor::wrap(t->shape, sb.dtype, numel > 0 ? base + t->offset * es : base,
                                        static_cast<size_t>(numel) * es, sb.buf.storage()));
  }
  return f;
}

struct ZipCloser {
  zip_t* z;
  ~ZipCloser() {
    if (z) zip_discard(z);
  }
};

}  // namespace

TensorFile read_torch_zip(const std::string& path) {
  const uint64_t fsize = file_size(path);
  // No entry may inflate to more than this, and all entries together neither (zip bombs): torch stores
  // entries uncompressed, so legitimate archives are far below it.
  const uint64_t limit = fsize * 8 + (1u << 20);
  uint64_t budget = limit;
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    fail("{}: not a readable zip archive: {}", path, msg);
  }
  ZipCloser closer{z};
  const zip_int64_t n = zip_get_num_entries(z, 0);
  std::string prefix;
  zip_int64_t pkl = -1;
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* nm = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
    if (!nm) continue;
    std::string s(nm);
    if (s == "data.pkl" || (s.size() > 9 && s.compare(s.size() - 9, 9, "/data.pkl") == 0)) {
      prefix = s.substr(0, s.size() - 8);
      pkl = i;
      break;
    }
  }
  if (pkl < 0) fail("{}: zip archive has no data.pkl entry (not a PyTorch checkpoint)", path);

  auto read_entry = [&](zip_int64_t idx, const std::string& ename, uint64_t want) -> Tensor {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, static_cast<zip_uint64_t>(idx), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      fail("{}: zip entry '{}': cannot stat", path, ename);
    if (st.size > limit || st.size > budget)
      fail("{}: zip entry '{}' declares {} bytes uncompressed, more than the {}-byte limit for a {}-byte file "
           "(zip bomb?)", path, ename, static_cast<uint64_t>(st.size), std::min(limit, budget), fsize);
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE && (st.valid & ZIP_STAT_COMP_SIZE) &&
        st.comp_size != st.size)
      fail("{}: zip entry '{}' is stored with {} bytes but declares {}", path, ename,
           static_cast<uint64_t>(st.comp_size), static_cast<uint64_t>(st.size));
    if (want == UINT64_MAX) want = st.size;
    if (st.size < want) fail("{}: zip entry '{}' holds {} bytes, {} needed", path, ename, static_cast<uint64_t>(st.size), want);
    budget -= want;
    Tensor buf = Tensor::empty({static_cast<int64_t>(want)}, DType::U8);
    zip_file_t* zf = zip_fopen_index(z, static_cast<zip_uint64_t>(idx), 0);
    if (!zf) fail("{}: zip entry '{}': cannot open: {}", path, ename, zip_strerror(z));
    uint64_t got = 0;
    while (got < want) {
      zip_int64_t r = zip_fread(zf, static_cast<char*>(buf.raw()) + got, want - got);
      if (r <= 0) break;
      got += static_cast<uint64_t>(r);
    }
    std::string zerr = got < want ? zip_file_strerror(zf) : "";
    zip_fclose(zf);
    if (got < want) fail("{}: zip entry '{}': read {} of {} bytes: {}", path, ename, got, want, zerr);
    return buf;
  };

  zip_int64_t bo = zip_name_locate(z, (prefix + "byteorder").c_str(), 0);
  if (bo >= 0) {
    Tensor b = read_entry(bo, prefix + "byteorder", UINT64_MAX);
    std::string order(static_cast<const char*>(b.raw()), b.nbytes());
    if (order != "little") fail("{}: byteorder is '{}', only little-endian checkpoints are supported", path, order.substr(0, 16));
  }
  Tensor pk = read_entry(pkl, prefix + "data.pkl", UINT64_MAX);
  Unpickler up(static_cast<const uint8_t*>(pk.raw()), pk.nbytes(), path + ":" + prefix + "data.pkl");
  const PickleObject* root = up.load();

  std::map<std::string, StorageBytes> cache;
  auto get = [&](const PickleObject* s) -> const StorageBytes& {
    auto it = cache.find(s->s);
    if (it != cache.end()) {
      if (it->second.dtype != s->dtype) fail("{}: storage '{}' is used with two dtypes", path, s->s);
      return it->second;
    }
    std::string ename = prefix + "data/" + s->s;
    zip_int64_t idx = zip_name_locate(z, ename.c_str(), 0);
    if (idx < 0) fail("{}: storage '{}' has no zip entry '{}'", path, s->s, ename);
    unsigned __int128 nb = static_cast<unsigned __int128>(s->numel) * dtype_size(s->dtype);
    if (nb > limit) fail("{}: storage '{}' claims {} elements, more than the file can hold", path, s->s, s->numel);
    StorageBytes sb{read_entry(idx, ename, static_cast<uint64_t>(nb)), s->dtype, s->numel};
    return cache.emplace(s->s, std::move(sb)).first->second;
  };
  return build_tensors(path, root, get);
}

TensorFile read_torch_legacy(const std::string& path) {
  const uint64_t fsize = file_size(path);
  Tensor data = Tensor::empty({static_cast<int64_t>(fsize)}, DType::U8);
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open for reading", path);
    in.read(static_cast<char*>(data.raw()), static_cast<std::streamsize>(fsize));
    if (static_cast<uint64_t>(in.gcount()) != fsize) fail("{}: short read", path);
  }
  const uint8_t* d = static_cast<const uint8_t*>(data.raw());
  Unpickler up(d, fsize, path);
  const PickleObject* magic = up.load();
  static const uint8_t kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (magic->kind != K::BigInt || magic->s != std::string(reinterpret_cast<const char*>(kMagic), sizeof kMagic))
    fail("{}: not a PyTorch checkpoint: the first pickle is not the torch magic number", path);
  const PickleObject* proto = up.load();
  if (proto->kind != K::Int || proto->i != 1001)
    fail("{}: unsupported legacy checkpoint protocol version {}", path, proto->kind == K::Int ? proto->i : -1);
  const PickleObject* sys = up.load();
  if (const PickleObject* le = sys->find("little_endian"); le && le->kind == K::Bool && le->i == 0)
    fail("{}: big-endian checkpoint, only little-endian is supported", path);
  const PickleObject* root = up.load();
  std::map<std::string, const PickleObject*> storages;
  for (const PickleObject* s : up.storages()) storages[s->s] = s;
  const PickleObject* keys = up.load();
  if (keys->kind != K::List) fail("{}: storage key list is not a list", path);
  size_t pos = up.position();
  std::map<std::string, StorageBytes> table;
  for (const PickleObject* k : keys->items) {
    if (k->kind != K::String) fail("{}: storage key is not a string", path);
    auto found = storages.find(k->s);
    const PickleObject* ref = found == storages.end() ? nullptr : found->second;
    if (table.count(k->s)) fail("{}: storage '{}' is listed twice", path, k->s);
    if (!ref) fail("{}: storage '{}' is listed but never referenced", path, k->s);
    if (fsize - pos < 8) fail("{}: storage '{}': truncated before its element count", path, k->s);
    uint64_t cnt = 0;
    for (int i = 7; i >= 0; --i) cnt = (cnt << 8) | d[pos + i];
    pos += 8;
    const size_t es = dtype_size(ref->dtype);
    if (cnt > (fsize - pos) / es)
      fail("{}: storage '{}': {} elements of {} bytes run past the end of the file", path, k->s, cnt, es);
    if (static_cast<int64_t>(cnt) != ref->numel)
      fail("{}: storage '{}': {} elements on disk, {} in the pickle", path, k->s, cnt, ref->numel);
    Tensor buf = Tensor::empty({static_cast<int64_t>(cnt * es)}, DType::U8);
    std::memcpy(buf.raw(), d + pos, cnt * es);
    pos += cnt * es;
    table[k->s] = StorageBytes{buf, ref->dtype, static_cast<int64_t>(cnt)};
  }
  auto get = [&](const PickleObject* s) -> const StorageBytes& {
    auto it = table.find(s->s);
    if (it == table.end()) fail("{}: storage '{}' has no data in the file", path, s->s);
    if (it->second.dtype != s->dtype) fail("{}: storage '{}' is used with two dtypes", path, s->s);
    return it->second;
  };
  return build_tensors(path, root, get);
}

}  // namespace ls::io
