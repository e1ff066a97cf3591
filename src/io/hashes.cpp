#include "io/hashes.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "runtime/error.h"

namespace ls::io {

namespace {
std::string hash_from(const std::string& path, bool skip_safetensors_header) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) fail("{}: cannot open for hashing", path);
  if (skip_safetensors_header) {
    unsigned char len[8];
    if (std::fread(len, 1, 8, f.get()) == 8) {
      uint64_t n = 0;
      for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
      if (std::fseek(f.get(), static_cast<long>(8 + n), SEEK_SET) != 0) std::rewind(f.get());
    } else {
      std::rewind(f.get());
    }
  }
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) fail("{}: SHA-256 unavailable", path);
  std::vector<unsigned char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) EVP_DigestUpdate(ctx.get(), buf.data(), n);
  if (std::ferror(f.get())) fail("{}: read error while hashing", path);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}
}  // namespace

std::string sha256_file(const std::string& path) { return hash_from(path, false); }

std::string addnet_hash(const std::string& path) {
  bool st = path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
  return hash_from(path, st);
}

}  // namespace ls::io
