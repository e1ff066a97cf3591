#include "io/pickle.h"

#include <cstring>
#include <unordered_map>

namespace ls::io {

using K = PickleObject::Kind;

const PickleObject* PickleObject::find(const std::string& key) const {
  if (kind != K::Dict) return nullptr;
  const PickleObject* r = nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2)
    if (items[i]->kind == K::String && items[i]->s == key) r = items[i + 1];
  return r;
}

struct Unpickler::Impl {
  std::vector<std::unique_ptr<PickleObject>> arena;
  std::unordered_map<uint64_t, PickleObject*> memo;
  PickleObject* none = nullptr;
};

namespace {

struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorages[] = {
    {"FloatStorage", DType::F32}, {"HalfStorage", DType::F16},  {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16}, {"CharStorage", DType::I8},   {"ByteStorage", DType::U8},
    {"BoolStorage", DType::BOOL}};

bool allowed_global(const std::string& module, const std::string& name) {
  if (module == "collections" && name == "OrderedDict") return true;
  if (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter")) return true;
  if (module == "torch" && name == "Size") return true;
  if (module == "torch")
    for (const auto& s : kStorages)
      if (name == s.name) return true;
  return false;
}

/// Printable form of untrusted text for messages: at most 80 chars, control bytes as '?'.
std::string printable(const std::string& s) {
  std::string r;
  for (char c : s.substr(0, 80)) r.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  if (s.size() > 80) r += "...";
  return r;
}

}  // namespace

Unpickler::Unpickler(const uint8_t* data, size_t size, std::string name)
    : data_(data), size_(size), name_(std::move(name)), impl_(std::make_unique<Impl>()) {}
Unpickler::~Unpickler() = default;

std::vector<const PickleObject*> Unpickler::storages() const {
  std::vector<const PickleObject*> r;
  for (const auto& o : impl_->arena)
    if (o->kind == K::Storage) r.push_back(o.get());
  return r;
}

const PickleObject* Unpickler::load() {
  Impl& im = *impl_;
  std::vector<PickleObject*> stack;
  std::vector<size_t> marks;
  size_t op_at = pos_;

  auto bad = [&](const std::string& why) -> void {
    fail("{}: pickle byte {}: {}", name_, op_at, why);
  };
  auto make = [&](K k) {
    im.arena.push_back(std::make_unique<PickleObject>());
    im.arena.back()->kind = k;
    return im.arena.back().get();
  };
  auto need = [&](size_t n) {
    if (n > size_ - pos_) fail("{}: pickle byte {}: truncated (needs {} more bytes, {} left)", name_, op_at, n, size_ - pos_);
  };
  auto u8 = [&]() { need(1); return data_[pos_++]; };
  auto le = [&](int n) {
    need(static_cast<size_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  };
  auto bytes = [&](uint64_t n) {
    if (n > size_ - pos_) fail("{}: pickle byte {}: length {} runs past the end ({} bytes left)", name_, op_at, n, size_ - pos_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  };
  auto line = [&]() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (!nl) fail("{}: pickle byte {}: unterminated text argument", name_, op_at);
    size_t n = static_cast<const uint8_t*>(nl) - (data_ + pos_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n + 1;
    return s;
  };
  auto push = [&](PickleObject* o) {
    if (stack.size() > size_) bad("stack overflow");
    stack.push_back(o);
  };
  auto base = [&]() -> size_t { return marks.empty() ? 0 : marks.back(); };
  auto pop = [&]() {
    if (stack.size() <= base()) bad("stack underflow");
    PickleObject* o = stack.back();
    stack.pop_back();
    return o;
  };
  auto top = [&]() {
    if (stack.size() <= base()) bad("stack underflow");
    return stack.back();
  };
  auto pop_mark = [&]() {
    if (marks.empty()) bad("no MARK on the stack");
    size_t m = marks.back();
    marks.pop_back();
    std::vector<PickleObject*> items(stack.begin() + static_cast<std::ptrdiff_t>(m), stack.end());
    stack.resize(m);
    return items;
  };
  auto make_int = [&](int64_t v) {
    auto* o = make(K::Int);
    o->i = v;
    return o;
  };
  auto make_str = [&](K k, std::string s) {
    auto* o = make(k);
    o->s = std::move(s);
    return o;
  };
  auto make_global = [&](const std::string& module, const std::string& gname) {
    if (!allowed_global(module, gname))
      fail("{}: pickle asks for global '{}.{}' — refused, only tensor rebuilds are allowed", name_, printable(module),
           printable(gname));
    return make_str(K::Global, module + "." + gname);
  };
  auto long_from = [&](const std::string& b) {
    if (b.size() <= 8) {
      uint64_t v = 0;
      for (size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
      if (!b.empty() && b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80)) v |= ~uint64_t(0) << (8 * b.size());
      return make_int(static_cast<int64_t>(v));
    }
    return make_str(K::BigInt, b);
  };
  auto parse_dec = [&](std::string s) -> int64_t {
    if (!s.empty() && s.back() == 'L') s.pop_back();
    if (s.empty() || s.size() > 20) bad("integer '" + printable(s) + "' out of range");
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') neg = s[i++] == '-';
    if (i == s.size()) bad("bad integer '" + printable(s) + "'");
    if (s.size() - i > 19) bad("integer '" + printable(s) + "' out of range");
    uint64_t v = 0;  // ≤ 19 digits fit in uint64; the int64 range is checked before converting
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') bad("bad integer '" + printable(s) + "'");
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    if (v > static_cast<uint64_t>(INT64_MAX) + (neg ? 1 : 0)) bad("integer '" + printable(s) + "' out of range");
    return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  };
  auto as_int = [&](const PickleObject* o, const char* what) -> int64_t {
    if (o->kind != K::Int) bad(std::string(what) + " is not an integer");
    return o->i;
  };
  auto as_string = [&](const PickleObject* o, const char* what) -> const std::string& {
    if (o->kind != K::String) bad(std::string(what) + " is not a string");
    return o->s;
  };
  auto memo_put = [&](uint64_t idx) {
    if (stack.size() <= base()) bad("memo store with an empty stack");
    im.memo[idx] = stack.back();
  };
  auto memo_get = [&](uint64_t idx) {
    auto it = im.memo.find(idx);
    if (it == im.memo.end()) bad("memo key " + std::to_string(idx) + " was never stored");
    push(it->second);
  };
  auto add_items = [&](PickleObject* container, const std::vector<PickleObject*>& items, bool pairs) {
    if (pairs) {
      if (container->kind != K::Dict) bad("SETITEM(S) on a non-dict");
      if (items.size() % 2) bad("SETITEMS with an odd number of items");
    } else if (container->kind != K::List) {
      bad("APPEND(S)/ADDITEMS on a non-list");
    }
    container->items.insert(container->items.end(), items.begin(), items.end());
  };
  auto storage_from_pid = [&](PickleObject* pid) {
    if (pid->kind != K::Tuple || pid->items.size() < 5 || pid->items.size() > 6)
      bad("persistent id is not ('storage', type, key, location, numel)");
    const auto& it = pid->items;
    if (as_string(it[0], "persistent id tag") != "storage") bad("persistent id tag '" + printable(it[0]->s) + "' is not 'storage'");
    if (it[1]->kind != K::Global) bad("persistent id storage type is not a torch storage class");
    const std::string& t = it[1]->s;
    auto* st = make(K::Storage);
    bool found = false;
    for (const auto& s : kStorages)
      if (t == std::string("torch.") + s.name) {
        st->dtype = s.dtype;
        found = true;
      }
    if (!found) bad("persistent id storage type '" + printable(t) + "' is not a storage class");
    st->s = as_string(it[2], "storage key");
    st->numel = as_int(it[4], "storage size");
    if (st->numel < 0) bad("negative storage size");
    if (it.size() == 6 && it[5]->kind != K::None) bad("storage views (legacy view_metadata) are not supported");
    return st;
  };
  auto int_tuple = [&](const PickleObject* o, const char* what) {
    if (o->kind != K::Tuple || o->items.size() > 16) bad(std::string(what) + " is not a tuple of at most 16 ints");
    std::vector<int64_t> v;
    for (auto* x : o->items) {
      int64_t d = as_int(x, what);
      if (d < 0) bad(std::string(what) + " has a negative entry");
      v.push_back(d);
    }
    return v;
  };
  // Items copied by REDUCE (OrderedDict(list), torch.Size(tuple)) could be made quadratic by reusing one
  // memoised list: bound the total by the input size.
  uint64_t copied = 0;
  auto charge = [&](size_t n) {
    copied += n;
    if (copied > 4 * static_cast<uint64_t>(size_) + 4096) bad("pickle copies more items than its size allows");
  };
  auto reduce = [&](PickleObject* fn, PickleObject* args) -> PickleObject* {
    if (fn->kind != K::Global) bad("REDUCE on a non-callable object");
    if (args->kind != K::Tuple) bad("REDUCE arguments are not a tuple");
    const auto& a = args->items;
    const std::string& g = fn->s;
    if (g == "collections.OrderedDict") {
      auto* d = make(K::Dict);
      if (!a.empty() && a[0]->kind == K::List) charge(a[0]->items.size());
      if (!a.empty() && a[0]->kind == K::List)
        for (auto* pair : a[0]->items) {
          if (pair->kind != K::Tuple || pair->items.size() != 2) bad("OrderedDict item is not a pair");
          d->items.push_back(pair->items[0]);
          d->items.push_back(pair->items[1]);
        }
      return d;
    }
    if (g == "torch._utils._rebuild_tensor_v2") {
      if (a.size() < 4) bad("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)");
      if (a[0]->kind != K::Storage) bad("_rebuild_tensor_v2 argument 0 is not a storage");
      auto* t = make(K::Tensor);
      t->storage = a[0];
      t->dtype = a[0]->dtype;
      t->offset = as_int(a[1], "storage offset");
      if (t->offset < 0) bad("negative storage offset");
      auto sh = int_tuple(a[2], "tensor size");
      t->shape.assign(sh.begin(), sh.end());
      t->stride = int_tuple(a[3], "tensor stride");
      if (t->stride.size() != t->shape.size()) bad("tensor size and stride have different lengths");
      return t;
    }
    if (g == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->kind != K::Tensor) bad("_rebuild_parameter argument 0 is not a tensor");
      return a[0];
    }
    if (g == "torch.Size") {
      auto* t = make(K::Tuple);
      if (!a.empty()) {
        if (a[0]->kind != K::Tuple) bad("torch.Size argument is not a tuple");
        charge(a[0]->items.size());
        t->items = a[0]->items;
      }
      return t;
    }
    fail("{}: pickle asks to call '{}' — refused, only tensor rebuilds are allowed", name_, printable(g));
  };
  auto refuse_instance = [&](const PickleObject* cls, const char* op) {
    std::string what = cls && cls->kind == K::Global ? cls->s : std::string("an object");
    fail("{}: pickle asks to instantiate '{}' ({}) — refused, only tensor rebuilds are allowed", name_, printable(what), op);
  };

  if (!im.none) im.none = make(K::None);
  if (pos_ >= size_) fail("{}: pickle byte {}: empty pickle stream", name_, pos_);
  for (;;) {
    op_at = pos_;
    const uint8_t op = u8();
    switch (op) {
      case 0x80: {  // PROTO
        uint8_t v = u8();
        if (v > 5) bad("pickle protocol " + std::to_string(v) + " is not supported");
        break;
      }
      case 0x95: le(8); break;  // FRAME: frames are inline, the length is only a hint
      case '.': {               // STOP
        if (stack.empty()) bad("STOP with an empty stack");
        if (!marks.empty()) bad("STOP with an open MARK");
        return stack.back();
      }
      case '(': marks.push_back(stack.size()); break;  // MARK
      case '0':                                        // POP
        if (stack.size() == base() && !marks.empty()) marks.pop_back();
        else pop();
        break;
      case '1': pop_mark(); break;   // POP_MARK
      case '2': push(top()); break;  // DUP
      case 'N': push(im.none); break;
      case 0x88: case 0x89: {  // NEWTRUE / NEWFALSE
        auto* o = make(K::Bool);
        o->i = op == 0x88;
        push(o);
        break;
      }
      case 'J': push(make_int(static_cast<int32_t>(le(4)))); break;  // BININT
      case 'K': push(make_int(u8())); break;                         // BININT1
      case 'M': push(make_int(static_cast<int64_t>(le(2)))); break;  // BININT2
      case 0x8a: push(long_from(bytes(u8()))); break;                // LONG1
      case 0x8b: {                                                   // LONG4
        uint64_t n = le(4);
        if (n > 64) bad("LONG4 of " + std::to_string(n) + " bytes is too large");
        push(long_from(bytes(n)));
        break;
      }
      case 'I': {  // INT (text); "I01"/"I00" are True/False in protocol 0
        std::string s = line();
        if (s == "01" || s == "00") {
          auto* o = make(K::Bool);
          o->i = s == "01";
          push(o);
        } else {
          push(make_int(parse_dec(s)));
        }
        break;
      }
      case 'L': push(make_int(parse_dec(line()))); break;  // LONG (text)
      case 'G': {                                          // BINFLOAT (big endian)
        need(8);
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | data_[pos_ + i];
        pos_ += 8;
        auto* o = make(K::Float);
        std::memcpy(&o->f, &v, 8);
        push(o);
        break;
      }
      case 'F': {  // FLOAT (text)
        std::string s = line();
        auto* o = make(K::Float);
        o->f = std::strtod(s.c_str(), nullptr);
        push(o);
        break;
      }
      case 'X': push(make_str(K::String, bytes(le(4)))); break;     // BINUNICODE
      case 0x8c: push(make_str(K::String, bytes(u8()))); break;     // SHORT_BINUNICODE
      case 0x8d: push(make_str(K::String, bytes(le(8)))); break;    // BINUNICODE8
      case 'V': push(make_str(K::String, line())); break;           // UNICODE (raw-unicode-escape, kept as is)
      case 'T': push(make_str(K::String, bytes(le(4)))); break;     // BINSTRING
      case 'U': push(make_str(K::String, bytes(u8()))); break;      // SHORT_BINSTRING
      case 'S': {                                                   // STRING (quoted repr)
        std::string s = line();
        if (s.size() >= 2 && (s[0] == '\'' || s[0] == '"') && s.back() == s[0]) s = s.substr(1, s.size() - 2);
        else bad("STRING argument is not quoted");
        push(make_str(K::String, s));
        break;
      }
      case 'B': push(make_str(K::Bytes, bytes(le(4)))); break;   // BINBYTES
      case 'C': push(make_str(K::Bytes, bytes(u8()))); break;    // SHORT_BINBYTES
      case 0x8e: push(make_str(K::Bytes, bytes(le(8)))); break;  // BINBYTES8
      case 0x96: push(make_str(K::Bytes, bytes(le(8)))); break;  // BYTEARRAY8
      case '}': push(make(K::Dict)); break;                      // EMPTY_DICT
      case ']': push(make(K::List)); break;                      // EMPTY_LIST
      case ')': push(make(K::Tuple)); break;                     // EMPTY_TUPLE
      case 0x8f: push(make(K::List)); break;                     // EMPTY_SET (kept as a list)
      case 't': {                                                // TUPLE
        auto* o = make(K::Tuple);
        o->items = pop_mark();
        push(o);
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        int n = op - 0x84;
        auto* o = make(K::Tuple);
        o->items.resize(n);
        for (int i = n - 1; i >= 0; --i) o->items[i] = pop();
        push(o);
        break;
      }
      case 'l': case 0x91: {  // LIST, FROZENSET
        auto* o = make(K::List);
        o->items = pop_mark();
        push(o);
        break;
      }
      case 'd': {  // DICT
        auto* o = make(K::Dict);
        auto items = pop_mark();
        if (items.size() % 2) bad("DICT with an odd number of items");
        o->items = std::move(items);
        push(o);
        break;
      }
      case 'a': {  // APPEND
        auto* v = pop();
        add_items(top(), {v}, false);
        break;
      }
      case 'e': case 0x90: {  // APPENDS, ADDITEMS
        auto items = pop_mark();
        add_items(top(), items, false);
        break;
      }
      case 's': {  // SETITEM
        auto* v = pop();
        auto* k = pop();
        add_items(top(), {k, v}, true);
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        add_items(top(), items, true);
        break;
      }
      case 'p': memo_put(static_cast<uint64_t>(parse_dec(line()))); break;  // PUT
      case 'q': memo_put(u8()); break;                                       // BINPUT
      case 'r': memo_put(le(4)); break;                                      // LONG_BINPUT
      case 0x94: memo_put(im.memo.size()); break;                            // MEMOIZE
      case 'g': memo_get(static_cast<uint64_t>(parse_dec(line()))); break;  // GET
      case 'h': memo_get(u8()); break;                                       // BINGET
      case 'j': memo_get(le(4)); break;                                      // LONG_BINGET
      case 'c': {                                                            // GLOBAL
        std::string module = line();
        std::string gname = line();
        push(make_global(module, gname));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto* n = pop();
        auto* m = pop();
        if (m->kind != K::String || n->kind != K::String) bad("STACK_GLOBAL arguments are not strings");
        push(make_global(m->s, n->s));
        break;
      }
      case 'R': {  // REDUCE
        auto* args = pop();
        auto* fn = pop();
        push(reduce(fn, args));
        break;
      }
      case 'b': {  // BUILD: only dicts / tensors; state ignored
        pop();
        auto* o = top();
        if (o->kind != K::Dict && o->kind != K::Tensor)
          fail("{}: pickle asks to BUILD (set state of) a {} — refused, only tensor rebuilds are allowed", name_,
               o->kind == K::Global ? "'" + printable(o->s) + "'" : std::string("non-tensor object"));
        break;
      }
      case 'Q': push(storage_from_pid(pop())); break;  // BINPERSID
      case 'P': bad("text persistent ids (PERSID) are not supported"); break;
      case 'i': {  // INST module\nname\n
        std::string module = line();
        std::string gname = line();
        make_global(module, gname);  // refuses non-allowed names with the standard message
        fail("{}: pickle asks to instantiate '{}.{}' (INST) — refused, only tensor rebuilds are allowed", name_,
             printable(module), printable(gname));
        break;
      }
      case 'o': {  // OBJ
        auto items = pop_mark();
        refuse_instance(items.empty() ? nullptr : items[0], "OBJ");
        break;
      }
      case 0x81: {  // NEWOBJ
        pop();
        refuse_instance(pop(), "NEWOBJ");
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        pop();
        pop();
        refuse_instance(pop(), "NEWOBJ_EX");
        break;
      }
      case 0x82: case 0x83: case 0x84: bad("extension registry opcodes (EXT1/2/4) are refused");
        break;
      case 0x97: case 0x98: bad("out-of-band buffers are refused");
        break;
      default: bad(fmt::format("unknown opcode 0x{:02x}", op));
    }
  }
}

std::vector<std::pair<std::string, const PickleObject*>> pickle_state_dict_tensors(const PickleObject* root,
                                                                                  const std::string& name) {
  if (!root || root->kind != K::Dict) fail("{}: checkpoint does not hold a dict (state dict) at the top", name);
  const PickleObject* sd = root->find("state_dict");
  if (!sd || sd->kind != K::Dict) sd = root;
  std::vector<std::pair<std::string, const PickleObject*>> out;
  for (size_t i = 0; i + 1 < sd->items.size(); i += 2)
    if (sd->items[i]->kind == K::String && sd->items[i + 1]->kind == K::Tensor)
      out.emplace_back(sd->items[i]->s, sd->items[i + 1]);
  return out;
}

}  // namespace ls::io
