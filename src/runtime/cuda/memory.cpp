// CUDA device selection, the caching allocator and copies (runtime/cuda/backend.h).
#ifdef LORASTACK_HAS_CUDA

#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "runtime/cuda/backend.h"
#include "runtime/cuda/common.h"

namespace ls::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA: {} failed: {} ({})", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail("CUDA: kernel {} failed to launch: {}", kernel, cudaGetErrorString(e));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
  return n;
}

void set_device(int index) {
  const int n = device_count();
  if (index < 0 || index >= n) fail("--device cuda:{}: no such GPU ({} CUDA device(s) found)", index, n);
  check(cudaSetDevice(index), "cudaSetDevice");
}

std::string device_name() {
  const int n = device_count();
  if (n == 0) fail("CUDA: no GPU found");
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  return fmt::format("{} (sm_{}{}, {:.1f} GiB)", p.name, p.major, p.minor, p.totalGlobalMem / double(1ull << 30));
}

namespace {

/// Free blocks by exact rounded size. Never destroyed (tensors may be freed during static destruction).
struct Cache {
  std::mutex m;
  std::multimap<size_t, void*> free;
  size_t in_use = 0, peak = 0, cached = 0;
};
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

/// Small blocks round to 512 B, large ones to 2 MiB, so repeated shapes hit the cache exactly.
size_t round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t q = bytes <= (size_t{1} << 20) ? 512 : (size_t{2} << 20);
  return (bytes + q - 1) / q * q;
}

void release_cached_locked(Cache& c) {
  for (auto& [sz, p] : c.free) cudaFree(p);
  c.free.clear();
  c.cached = 0;
}

}  // namespace

std::shared_ptr<Storage> alloc(size_t bytes) {
  const size_t r = round_size(bytes);
  Cache& c = cache();
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(c.m);
    auto it = c.free.find(r);
    if (it != c.free.end()) {
      p = it->second;
      c.free.erase(it);
      c.cached -= r;
    } else {
      cudaError_t e = cudaMalloc(&p, r);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        release_cached_locked(c);
        e = cudaMalloc(&p, r);
        if (e != cudaSuccess) {
          (void)cudaGetLastError();
          fail("CUDA: out of memory allocating {} bytes ({:.1f} MiB in use)", bytes, c.in_use / 1048576.0);
        }
      }
    }
    c.in_use += r;
    c.peak = std::max(c.peak, c.in_use);
  }
  auto st = std::make_shared<Storage>();
  st->data = p;
  st->bytes = bytes;
  st->device = Device::CUDA;
  st->owner = std::shared_ptr<void>(p, [r](void* q) {
    Cache& cc = cache();
    std::lock_guard<std::mutex> lock(cc.m);
    cc.free.emplace(r, q);
    cc.in_use -= r;
    cc.cached += r;
  });
  return st;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  release_cached_locked(c);
}

size_t bytes_in_use() {
  std::lock_guard<std::mutex> lock(cache().m);
  return cache().in_use;
}
size_t peak_bytes() {
  std::lock_guard<std::mutex> lock(cache().m);
  return cache().peak;
}
void reset_peak() {
  std::lock_guard<std::mutex> lock(cache().m);
  cache().peak = cache().in_use;
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy host→device");
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy device→host");
}
void copy_on_device(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0), "cudaMemcpy device→device");
}
void copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes, size_t rows) {
  if (row_bytes && rows)
    check(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, row_bytes, rows, cudaMemcpyDeviceToDevice, 0),
          "cudaMemcpy2D");
}
void memset_zero(void* dst, size_t bytes) {
  if (bytes) check(cudaMemsetAsync(dst, 0, bytes, 0), "cudaMemset");
}
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void convert(const void* src, DType from, void* dst, DType to, int64_t n) {
  k::convert(src, elem(from, "convert"), dst, elem(to, "convert"), n);
}

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
