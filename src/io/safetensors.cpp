#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace ls::io {

namespace {
constexpr uint64_t kMaxHeader = 100ull * 1000 * 1000;

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && size) munmap(addr, size);
  }
};
}  // namespace

const Tensor& TensorFile::get(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail("{}: no tensor '{}'", path, name);
  return it->second;
}

TensorFile parse_safetensors(const void* data, size_t size, std::shared_ptr<void> owner, const std::string& name) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (size < 8) fail("{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", name, size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > kMaxHeader) fail("{}: safetensors header length {} exceeds the {} byte limit", name, n, kMaxHeader);
  if (n > size - 8) fail("{}: safetensors header length {} runs past the end of the {}-byte file", name, n, size);
  const char* hdr = reinterpret_cast<const char*>(bytes + 8);
  // Depth check before parsing: the header is a flat object of flat objects.
  int depth = 0;
  bool in_str = false;
  for (uint64_t i = 0; i < n; ++i) {
    char c = hdr[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') in_str = true;
    else if (c == '{' || c == '[') {
      if (++depth > 4) fail("{}: safetensors header nests deeper than 4 levels", name);
    } else if (c == '}' || c == ']') --depth;
  }
  nlohmann::json j;
  std::set<std::string> top_keys;  // nlohmann keeps the last of duplicate keys silently: catch them here
  std::string duplicate;
  try {
    j = nlohmann::json::parse(hdr, hdr + n, [&](int d, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      if (d == 1 && ev == nlohmann::json::parse_event_t::key && parsed.is_string() &&
          !top_keys.insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    fail("{}: safetensors header is not valid JSON: {}", name, msg);
  }
  if (!duplicate.empty()) fail("{}: tensor '{}' appears twice in the safetensors header", name, duplicate);
  if (!j.is_object()) fail("{}: safetensors header is not a JSON object", name);
  TensorFile f;
  f.path = name;
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = size - data_start;
  struct Range { uint64_t b, e; std::string key; };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ is not an object", name);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail("{}: __metadata__ value for '{}' is not a string", name, m.key());
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail("{}: tensor '{}': entry needs dtype, shape and data_offsets", name, key);
    if (!v["dtype"].is_string()) fail("{}: tensor '{}': dtype is not a string", name, key);
    DType dt;
    try {
      dt = dtype_from_name(v["dtype"].get<std::string>());
    } catch (const Error& e) {
      fail("{}: tensor '{}': {}", name, key, e.what());
    }
    const auto& js = v["shape"];
    if (!js.is_array() || js.size() > 8) fail("{}: tensor '{}': shape must be an array of at most 8 dims", name, key);
    Shape shape;
    for (const auto& d : js) {
      if (!d.is_number_unsigned()) fail("{}: tensor '{}': shape entry {} is not a non-negative integer", name, key, d.dump());
      shape.push_back(static_cast<int64_t>(d.get<uint64_t>() > (1ull << 40) ? (1ull << 40) : d.get<uint64_t>()));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail("{}: tensor '{}': data_offsets must be two non-negative integers", name, key);
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      fail("{}: tensor '{}': data offsets [{}, {}] outside the data area of {} bytes", name, key, b, e, data_size);
    int64_t numel;
    try {
      numel = shape_numel(shape);
    } catch (const Error& err) {
      fail("{}: tensor '{}': {}", name, key, err.what());
    }
    unsigned __int128 need = static_cast<unsigned __int128>(numel) * dtype_size(dt);
    if (need != e - b)
      fail("{}: tensor '{}': dtype {} × shape {} needs {} bytes but data_offsets span {}", name, key, dtype_name(dt),
           shape_str(shape), static_cast<uint64_t>(need), e - b);
    if (f.tensors.count(key)) fail("{}: tensor '{}' appears twice", name, key);
    ranges.push_back({b, e, key});
    void* p = const_cast<uint8_t*>(bytes + data_start + b);
    if (reinterpret_cast<uintptr_t>(p) % dtype_size(dt) == 0) {
      f.tensors.emplace(key, Tensor::wrap(shape, dt, p, e - b, owner));
    } else {
      // Element data not aligned to its size (an unpadded header or odd offsets): a private aligned copy,
      // so that nothing downstream reads misaligned elements. Well-formed files never take this path.
      Tensor t = Tensor::empty(shape, dt);
      std::memcpy(t.raw(), p, e - b);
      f.tensors.emplace(key, std::move(t));
    }
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.b < y.b; });
  // Compare each non-empty range with the furthest-reaching earlier one (not only its neighbour: an empty
  // tensor sorted in between must not hide an overlap).
  const Range* reach = nullptr;
  for (const Range& r : ranges) {
    if (r.e == r.b) continue;
    if (reach && r.b < reach->e)
      fail("{}: tensors '{}' and '{}' overlap in the data area", name, reach->key, r.key);
    if (!reach || r.e > reach->e) reach = &r;
  }
  return f;
}

TensorFile read_safetensors(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size > 0) {
    void* a = mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (a == MAP_FAILED) {
      ::close(fd);
      fail("{}: mmap failed: {}", path, std::strerror(errno));
    }
    map->addr = a;
  }
  ::close(fd);
  return parse_safetensors(map->addr, map->size, map, path);
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json j = nlohmann::json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& [k, t] : tensors) {
    LS_CHECK(t.device() == Device::CPU, "{}: tensor '{}' is not on the CPU", path, k);
    j[k] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {off, off + t.nbytes()}}};
    off += t.nbytes();
  }
  std::string hdr = j.dump();
  while ((hdr.size() + 8) % 8) hdr.push_back(' ');
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing", tmp);
    uint64_t n = hdr.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(hdr.data(), static_cast<std::streamsize>(hdr.size()));
    for (const auto& [k, t] : tensors) out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    if (!out) fail("{}: write failed", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("{}: cannot rename from {}: {}", path, tmp, ec.message());
}

}  // namespace ls::io
