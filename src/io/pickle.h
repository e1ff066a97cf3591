// A restricted unpickler: interprets Python pickle streams (protocols 0–5) far enough to rebuild PyTorch
// state dicts, and nothing else. No Python object is ever constructed or called.
//
// Allowed globals (exactly): collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch.Size, torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,
// Bool}Storage. Any other GLOBAL / STACK_GLOBAL (posix.system, builtins.eval, subprocess.Popen, ...) is
// refused as soon as it is read, with an ls::Error naming the file and the global. REDUCE only applies the
// allowed callables; INST / OBJ / NEWOBJ / NEWOBJ_EX / EXT* / out-of-band buffers are refused; BUILD is only
// accepted on dicts and tensors (and ignored there). Persistent ids must be
// ('storage', torch.XStorage, key, location, numel[, view_metadata=None]) and become storage references.
// Resource bounds: every length is checked against the bytes left, each opcode creates O(1) objects (so
// stack, memo and objects are bounded by the input size), integers wider than 64 bits are kept as bytes.
// Objects live in an arena and are never walked recursively, so cyclic or deep structures are harmless.
// Opcode semantics: CPython Lib/pickletools.py (read as reference).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace ls::io {

/// One unpickled value. Only the fields of its kind are meaningful.
struct PickleObject {
  enum class Kind { None, Bool, Int, BigInt, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  int64_t i = 0;                        ///< Bool / Int
  double f = 0;                         ///< Float
  std::string s;                        ///< String / Bytes; BigInt: little-endian two's complement bytes;
                                        ///< Global: "module.name"; Storage: the storage key
  std::vector<PickleObject*> items;     ///< Tuple / List; Dict: key, value, key, value, ...
  DType dtype = DType::F32;             ///< Storage / Tensor element type
  int64_t numel = 0;                    ///< Storage: element count
  PickleObject* storage = nullptr;      ///< Tensor: its Storage object
  int64_t offset = 0;                   ///< Tensor: storage offset in elements
  Shape shape;                          ///< Tensor: size
  std::vector<int64_t> stride;          ///< Tensor: stride in elements

  /// Dict lookup by string key (nullptr when absent or not a dict).
  const PickleObject* find(const std::string& key) const;
};

/// Interprets pickle streams from one byte buffer; consecutive pickles (legacy checkpoints) are read by
/// calling load() repeatedly. Objects stay valid as long as the Unpickler.
class Unpickler {
 public:
  /// `name` is the file (or file + entry) named in error messages. `data` must outlive the Unpickler.
  Unpickler(const uint8_t* data, size_t size, std::string name);
  ~Unpickler();
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  /// Run one pickle from the current position to its STOP opcode; returns the top object. Throws
  /// ls::Error naming the file, the byte offset and the reason on malformed or refused input.
  const PickleObject* load();
  /// Byte offset just past the last STOP read.
  size_t position() const { return pos_; }
  /// Every storage reference (Kind::Storage) created so far, in order of appearance.
  std::vector<const PickleObject*> storages() const;

 private:
  struct Impl;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string name_;
  std::unique_ptr<Impl> impl_;
};

/// The tensors of a state dict: `root["state_dict"]` when that is a dict, else `root` itself (a dict).
/// Entries whose value is not a tensor (global_step, nested dicts, ...) are skipped. Throws ls::Error
/// naming `name` if `root` is not a dict.
std::vector<std::pair<std::string, const PickleObject*>> pickle_state_dict_tensors(const PickleObject* root,
                                                                                  const std::string& name);

}  // namespace ls::io
