// The restricted unpickler and the .ckpt readers: hand-written pickles (no Python), malicious globals,
// zip bombs, legacy checkpoints, non-contiguous tensors, checkpoints without tensors.
#include <gtest/gtest.h>
#include <zip.h>

#include <cstring>
#include <filesystem>

#include "io/ckpt.h"
#include "io/pickle.h"
#include "io/weights.h"
#include "test_util.h"

using namespace ls;
using ls::test::throws_with;

namespace {

/// Minimal pickle writer for the tests.
struct PB {
  std::string b;
  PB& op(char c) { b.push_back(c); return *this; }
  PB& u8(uint8_t v) { b.push_back(static_cast<char>(v)); return *this; }
  PB& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  PB& proto(int v) { return op('\x80').u8(static_cast<uint8_t>(v)); }
  PB& str(const std::string& s) { op('X').le(s.size(), 4); b += s; return *this; }
  PB& global(const std::string& m, const std::string& n) { op('c'); b += m + "\n" + n + "\n"; return *this; }
  PB& int1(uint8_t v) { return op('K').u8(v); }
  PB& mark() { return op('('); }
  PB& stop() { return op('.'); }
  /// _rebuild_tensor_v2(storage pid, offset, size, stride, False, OrderedDict()) — leaves the tensor on the stack.
  PB& tensor(const std::string& storage_type, const std::string& key, int numel, int offset, std::vector<int> size,
             std::vector<int> stride, bool legacy_pid = false) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").int1(static_cast<uint8_t>(numel));
    if (legacy_pid) op('N');
    op('t').op('Q');
    int1(static_cast<uint8_t>(offset));
    mark();
    for (int s : size) int1(static_cast<uint8_t>(s));
    op('t').mark();
    for (int s : stride) int1(static_cast<uint8_t>(s));
    op('t').op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
};

std::string tmp(const std::string& name) { return ls::test::temp_file(name); }

/// A PyTorch-style zip checkpoint: archive/data.pkl, archive/byteorder, archive/data/<key>.
void make_zip(const std::string& path, const std::string& pkl, const std::map<std::string, std::string>& storages,
              const std::string& byteorder = "little") {
  std::filesystem::remove(path);
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  auto add = [&](const std::string& name, const std::string& data) {
    zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
    zip_int64_t i = zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(i), ZIP_CM_STORE, 0);
  };
  add("archive/data.pkl", pkl);
  add("archive/byteorder", byteorder);
  for (const auto& [k, v] : storages) add("archive/data/" + k, v);
  ASSERT_EQ(zip_close(z), 0);
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.begin(), s.size());
  return s;
}

/// A state dict {"state_dict": {"w": tensor}, "global_step": 5} (zip-form pid).
std::string good_pickle(std::vector<int> size = {2, 3}, std::vector<int> stride = {3, 1}, int offset = 0) {
  PB p;
  p.proto(2).op('}').mark().str("state_dict").global("collections", "OrderedDict").op(')').op('R');
  p.str("w").tensor("FloatStorage", "0", 6, offset, size, stride).op('s');
  p.str("global_step").int1(5).op('u').stop();
  return p.b;
}

const std::string kMarker = "/tmp/lorastack_pickle_marker_should_not_exist";

/// Expect the pickle `pkl` to be refused naming `global`, both directly and inside a zip checkpoint.
void expect_refused(const std::string& pkl, const std::string& global, const std::string& file) {
  std::filesystem::remove(kMarker);
  io::Unpickler u(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), "direct.pkl");
  EXPECT_TRUE(throws_with([&] { u.load(); }, {"direct.pkl", "'" + global + "'", "refused"}));
  std::string p = tmp(file);
  make_zip(p, pkl, {});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "'" + global + "'", "refused"}));
  EXPECT_FALSE(std::filesystem::exists(kMarker));
}

}  // namespace

TEST(Pickle, ZipCheckpointRoundTrip) {
  std::string p = tmp("good.ckpt");
  make_zip(p, good_pickle(), {{"0", floats({1, 2, 3, 4, 5, 6})}});
  auto f = io::read_checkpoint(p);
  ASSERT_EQ(f.tensors.size(), 1u);
  const Tensor& w = f.get("w");
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.dtype(), DType::F32);
  EXPECT_EQ(w.f32()[5], 6.0f);
}

TEST(Pickle, StorageOffsetAndUnitStrides) {
  std::string p = tmp("offset.ckpt");
  make_zip(p, good_pickle({1, 4}, {9, 1}, 2), {{"0", floats({1, 2, 3, 4, 5, 6})}});
  auto f = io::read_checkpoint(p);
  EXPECT_EQ(f.get("w").shape(), (Shape{1, 4}));
  EXPECT_EQ(f.get("w").f32()[0], 3.0f);
  EXPECT_EQ(f.get("w").f32()[3], 6.0f);
  std::string q = tmp("offset_oob.ckpt");
  make_zip(q, good_pickle({2, 3}, {3, 1}, 1), {{"0", floats({1, 2, 3, 4, 5, 6})}});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(q); }, {q, "'w'", "exceed"}));
}

TEST(Pickle, NonContiguousRefused) {
  std::string p = tmp("transposed.ckpt");
  make_zip(p, good_pickle({3, 2}, {1, 3}), {{"0", floats({1, 2, 3, 4, 5, 6})}});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "'w'", "not contiguous"}));
}

TEST(Pickle, MissingOrShortStorage) {
  std::string p = tmp("nostorage.ckpt");
  make_zip(p, good_pickle(), {});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "storage '0'", "archive/data/0"}));
  std::string q = tmp("shortstorage.ckpt");
  make_zip(q, good_pickle(), {{"0", floats({1, 2})}});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(q); }, {q, "archive/data/0", "24 needed"}));
}

TEST(Pickle, BigEndianRefused) {
  std::string p = tmp("big.ckpt");
  make_zip(p, good_pickle(), {{"0", floats({1, 2, 3, 4, 5, 6})}}, "big");
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "byteorder", "big"}));
}

TEST(Pickle, PosixSystem) {
  // protocol 2: posix.system("touch MARKER")
  PB p;
  p.proto(2).global("posix", "system").str("touch " + kMarker).op('\x85').op('R').stop();
  expect_refused(p.b, "posix.system", "posix.ckpt");
}

TEST(Pickle, OsSystemProtocol0) {
  std::string b = "cos\nsystem\n(S'touch " + kMarker + "'\ntR.";
  expect_refused(b, "os.system", "os.ckpt");
}

TEST(Pickle, BuiltinsEvalViaStackGlobal) {
  PB p;
  p.proto(4).op('\x8c').u8(8);
  p.b += "builtins";
  p.op('\x8c').u8(4);
  p.b += "eval";
  p.op('\x93').str("__import__('os').system('touch " + kMarker + "')").op('\x85').op('R').stop();
  expect_refused(p.b, "builtins.eval", "eval.ckpt");
}

TEST(Pickle, SubprocessPopenViaInst) {
  std::string b = "(S'touch'\nS'" + kMarker + "'\nisubprocess\nPopen\n.";
  expect_refused(b, "subprocess.Popen", "popen.ckpt");
}

TEST(Pickle, AllowedClassesCannotBeInstantiatedOrCalledArbitrarily) {
  PB p;  // NEWOBJ on an allowed global
  p.proto(2).global("torch", "Size").op(')').op('\x81').stop();
  std::string b = p.b;
  io::Unpickler u(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "newobj.pkl");
  EXPECT_TRUE(throws_with([&] { u.load(); }, {"newobj.pkl", "'torch.Size'", "refused"}));
  PB q;  // calling a storage class
  q.proto(2).global("torch", "FloatStorage").op(')').op('R').stop();
  io::Unpickler v(reinterpret_cast<const uint8_t*>(q.b.data()), q.b.size(), "call.pkl");
  EXPECT_TRUE(throws_with([&] { v.load(); }, {"call.pkl", "'torch.FloatStorage'", "refused"}));
  PB r;  // BUILD on a list
  r.proto(2).op(']').op('}').op('b').stop();
  io::Unpickler w(reinterpret_cast<const uint8_t*>(r.b.data()), r.b.size(), "build.pkl");
  EXPECT_TRUE(throws_with([&] { w.load(); }, {"build.pkl", "BUILD", "refused"}));
}

TEST(Pickle, MalformedStreams) {
  auto run = [](const std::string& b) {
    io::Unpickler u(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "bad.pkl");
    u.load();
  };
  EXPECT_TRUE(throws_with([&] { run(std::string("\x80\x02X\xff\xff\xff\x7f", 8)); }, {"bad.pkl", "past the end"}));
  EXPECT_TRUE(throws_with([&] { run(std::string("\x80\x02h\x05.", 5)); }, {"bad.pkl", "memo key 5"}));
  EXPECT_TRUE(throws_with([&] { run(std::string("\x80\x02" "a.")); }, {"bad.pkl", "underflow"}));
  EXPECT_TRUE(throws_with([&] { run(std::string("\x80\x02]", 3)); }, {"bad.pkl", "truncated"}));
  EXPECT_TRUE(throws_with([&] { run(std::string("\x80\x02\xff.", 4)); }, {"bad.pkl", "unknown opcode 0xff"}));
  EXPECT_TRUE(throws_with([&] { run(std::string("\x80\x02" "K\x01" "K\x02" "K\x03" "s.", 9)); }, {"bad.pkl", "non-dict"}));
  // a list containing itself is harmless (no recursion anywhere)
  io::Unpickler u(reinterpret_cast<const uint8_t*>("\x80\x02]q\x00h\x00" "a."), 9, "cycle.pkl");
  EXPECT_EQ(u.load()->items.size(), 1u);
}

TEST(Pickle, ZipBomb) {
  // data.pkl declaring 64 MiB uncompressed (deflated to a few KB).
  std::string p = tmp("bomb.ckpt");
  std::filesystem::remove(p);
  std::string zeros(64u << 20, '\0');
  int err = 0;
  zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  zip_source_t* s = zip_source_buffer(z, zeros.data(), zeros.size(), 0);
  zip_int64_t i = zip_file_add(z, "archive/data.pkl", s, 0);
  zip_set_file_compression(z, static_cast<zip_uint64_t>(i), ZIP_CM_DEFLATE, 9);
  ASSERT_EQ(zip_close(z), 0);
  ASSERT_LT(std::filesystem::file_size(p), 1u << 20);
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "archive/data.pkl", "67108864", "zip bomb"}));
}

TEST(Pickle, CheckpointWithoutTensors) {
  PB p;
  p.proto(2).op('}').mark().str("global_step").op('J').le(840000, 4).str("epoch").int1(3).op('u').stop();
  std::string f = tmp("notensors.ckpt");
  make_zip(f, p.b, {});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(f); }, {f, "no tensors"}));
  PB q;
  q.proto(2).op(']').stop();
  std::string g = tmp("list.ckpt");
  make_zip(g, q.b, {});
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(g); }, {g, "not hold a dict"}));
}

TEST(Pickle, ZipWithoutDataPkl) {
  std::string p = tmp("nodatapkl.ckpt");
  std::filesystem::remove(p);
  int err = 0;
  zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  std::string x = "hello";
  zip_file_add(z, "readme.txt", zip_source_buffer(z, x.data(), x.size(), 0), 0);
  ASSERT_EQ(zip_close(z), 0);
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(p); }, {p, "no data.pkl"}));
  std::string q = tmp("truncated_zip.ckpt");
  std::string bytes = "PK\x03\x04 this is not really a zip";
  ls::test::write_bytes(q, bytes);
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(q); }, {q, "zip"}));
}

TEST(Pickle, LegacyCheckpoint) {
  PB magic;
  magic.proto(2).op('\x8a').u8(10);
  const uint8_t m[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  magic.b.append(reinterpret_cast<const char*>(m), 10);
  magic.stop();
  PB proto;
  proto.proto(2).op('M').le(1001, 2).stop();
  PB sys;
  sys.proto(2).op('}').mark().str("protocol_version").op('M').le(1001, 2).str("little_endian").op('\x88').op('u').stop();
  PB main;
  main.proto(2).global("collections", "OrderedDict").op(')').op('R');
  main.str("layer.weight").tensor("HalfStorage", "94001", 6, 0, {3, 2}, {2, 1}, /*legacy_pid=*/true).op('s').stop();
  PB keys;
  keys.proto(2).op(']').str("94001").op('a').stop();
  std::string data = PB().le(6, 8).b;
  for (uint16_t h : {0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600}) data += PB().le(h, 2).b;  // 1..6 in F16
  std::string p = tmp("legacy.pt");
  ls::test::write_bytes(p, magic.b + proto.b + sys.b + main.b + keys.b + data);
  auto f = io::read_checkpoint(p);
  const Tensor& w = f.get("layer.weight");
  EXPECT_EQ(w.dtype(), DType::F16);
  EXPECT_EQ(w.shape(), (Shape{3, 2}));
  EXPECT_EQ(w.to(DType::F32).f32()[5], 6.0f);
  // truncated storage data
  std::string q = tmp("legacy_trunc.pt");
  ls::test::write_bytes(q, magic.b + proto.b + sys.b + main.b + keys.b + data.substr(0, 12));
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(q); }, {q, "storage '94001'", "past the end"}));
  // a malicious main pickle in legacy form
  PB evil;
  evil.proto(2).global("posix", "system").str("touch " + kMarker).op('\x85').op('R').stop();
  std::string r = tmp("legacy_evil.pt");
  ls::test::write_bytes(r, magic.b + proto.b + sys.b + evil.b + keys.b + data);
  EXPECT_TRUE(throws_with([&] { io::read_checkpoint(r); }, {r, "'posix.system'", "refused"}));
  EXPECT_FALSE(std::filesystem::exists(kMarker));
}

TEST(Pickle, MutatedStreamsNeverCrash) {
  // Every truncation and many single-byte mutations of a valid pickle either load or throw ls::Error.
  const std::string good = good_pickle();
  size_t errors = 0, loads = 0;
  auto attempt = [&](const std::string& b) {
    try {
      io::Unpickler u(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "mut.pkl");
      io::pickle_state_dict_tensors(u.load(), "mut.pkl");
      ++loads;
    } catch (const Error&) {
      ++errors;
    }
  };
  for (size_t n = 0; n < good.size(); ++n) attempt(good.substr(0, n));
  for (size_t i = 0; i < good.size(); ++i)
    for (int v : {0x00, 0x01, 0x28, 0x2e, 0x51, 0x52, 0x71, 0x7f, 0x80, 0x94, 0xff}) {
      std::string b = good;
      b[i] = static_cast<char>(v);
      attempt(b);
    }
  EXPECT_GT(errors, good.size());
  EXPECT_GT(loads, 0u);
}

TEST(Pickle, QuadraticCopyingRefused) {
  // One memoised 1000-pair list fed to OrderedDict() 3000 times would copy 3M items from a 21 KB pickle.
  PB p;
  p.proto(2).op(']').op('q').u8(0);
  for (int i = 0; i < 1000; ++i) p.int1(1).int1(2).op('\x86').op('a');
  p.op('\x85').op('q').u8(1).op('0');
  p.global("collections", "OrderedDict").op('q').u8(2).op('0');
  for (int i = 0; i < 3000; ++i) p.op('h').u8(2).op('h').u8(1).op('R').op('0');
  p.op('N').stop();
  io::Unpickler u(reinterpret_cast<const uint8_t*>(p.b.data()), p.b.size(), "quad.pkl");
  EXPECT_TRUE(throws_with([&] { u.load(); }, {"quad.pkl", "copies more items"}));
}
