#include "io/weights.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "io/ckpt.h"

namespace ls::io {

TensorFile read_checkpoint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("{}: not a regular file", path);
  unsigned char head[16] = {};
  size_t got = 0;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("{}: cannot open for reading", path);
    in.read(reinterpret_cast<char*>(head), sizeof head);
    got = static_cast<size_t>(in.gcount());
  }
  if (got == 0) fail("{}: empty file, not a weights file", path);
  if (got >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return read_torch_zip(path);
  if (head[0] == 0x80 && got >= 2 && head[1] >= 2 && head[1] <= 5) return read_torch_legacy(path);
  if (got >= 9 && head[8] == '{') return read_safetensors(path);
  fail("{}: not a safetensors file, PyTorch zip checkpoint or pickle checkpoint (first bytes {:02x} {:02x} {:02x} {:02x})",
       path, head[0], got > 1 ? head[1] : 0, got > 2 ? head[2] : 0, got > 3 ? head[3] : 0);
}

}  // namespace ls::io
