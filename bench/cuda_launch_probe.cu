// Host cost of a CUDA kernel launch, of cudaGetLastError and cudaEventRecord, and of a captured
// graph of 500 kernels, on the machine it runs on (bench/RESULTS.md, GPU decode v3). Not part of
// the build: nvcc -O2 -arch=sm_90 bench/cuda_launch_probe.cu -o /tmp/probe && /tmp/probe
#include <cuda_runtime.h>
#include <chrono>
#include <cstdio>
struct Big { long long v[32]; };
__global__ void empty() {}
__global__ void big(Big b, float* out) { if (threadIdx.x == 9999) out[0] = b.v[3]; }
int main() {
  cudaStream_t s; cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  float* d; cudaMalloc(&d, 1024);
  Big b{};
  auto time = [&](const char* what, auto f, int n) {
    for (int i = 0; i < 100; ++i) f();
    cudaStreamSynchronize(s);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f();
    auto t1 = std::chrono::steady_clock::now();
    cudaStreamSynchronize(s);
    auto t2 = std::chrono::steady_clock::now();
    printf("%-40s host %.2f us/call, until done %.2f us/call\n", what,
           std::chrono::duration<double>(t1 - t0).count() * 1e6 / n,
           std::chrono::duration<double>(t2 - t0).count() * 1e6 / n);
  };
  time("empty <<<1,32>>>", [&] { empty<<<1, 32, 0, s>>>(); }, 500);
  time("256-byte params <<<1,256>>>", [&] { big<<<1, 256, 0, s>>>(b, d); }, 500);
  time("256-byte params <<<132,256>>>", [&] { big<<<132, 256, 0, s>>>(b, d); }, 500);
  time("cudaGetLastError", [&] { cudaGetLastError(); }, 5000);
  cudaEvent_t ev; cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
  time("cudaEventRecord", [&] { cudaEventRecord(ev, s); }, 2000);
  time("empty + GetLastError", [&] { empty<<<1, 32, 0, s>>>(); cudaGetLastError(); }, 500);
  // Graph of 500 empty kernels replayed.
  cudaGraph_t g; cudaGraphExec_t ge;
  cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
  for (int i = 0; i < 500; ++i) big<<<1, 256, 0, s>>>(b, d);
  cudaStreamEndCapture(s, &g);
  cudaGraphInstantiate(&ge, g, 0);
  time("graph of 500 kernels (per kernel)", [&] { cudaGraphLaunch(ge, s); }, 20);
  return 0;
}
