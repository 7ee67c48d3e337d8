// GPU side of compile's fused regions: the whole register program runs as one
// kernel generated for it (fused_source.cpp) and compiled at run time (rtc.cpp),
// reading each input once and writing only the result. Where that kernel cannot
// be had (no NVRTC, a compile failure, a limit), the program runs as one
// elementwise kernel per instruction on temporaries, with the same results.
#include "lathe/primitives/compiled.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "lathe/backend/cuda/fused_source.h"
#include "lathe/backend/cuda/rtc.h"
#include "lathe/backend/cuda/runtime.h"
#include "lathe/primitives/elementwise.h"

namespace lathe {

using detail::Node;

namespace {

// Past these the region runs op by op: kernel parameters stay small and
// generated sources quick to compile.
constexpr size_t kMaxInputs = 48;
constexpr size_t kMaxDims = 8;
constexpr size_t kMaxParamBytes = 4000;

std::shared_ptr<Node> temporary(const Shape& shape, Dtype dtype) {
  auto n = std::make_shared<Node>(shape, dtype, nullptr, std::vector<std::shared_ptr<Node>>{});
  n->device = Device::cuda;
  return n;
}

void run_op_by_op(const FusedProgram& p, const NodeList& in, Node& out) {
  std::vector<std::shared_ptr<Node>> regs(p.num_regs);
  for (size_t k = 0; k < in.size(); ++k) {
    const Node& x = *in[k];
    auto view = temporary(out.shape, x.dtype);
    view->share(x, broadcast_strides(x, out.shape), x.offset, x.data_size);
    regs[p.input_regs[k]] = std::move(view);
  }
  for (const FusedOp& op : p.ops) {
    auto r = temporary(out.shape, op.dtype);
    NodeList args;
    for (int a : op.args) {
      if (a >= 0) args.push_back(regs[a].get());
    }
    switch (op.kind) {
      case FusedOp::Kind::unary: Unary(static_cast<UnaryOp>(op.code)).eval_cuda(args, *r); break;
      case FusedOp::Kind::binary: Binary(static_cast<BinaryOp>(op.code)).eval_cuda(args, *r); break;
      case FusedOp::Kind::select: Select().eval_cuda(args, *r); break;
      case FusedOp::Kind::astype: AsType().eval_cuda(args, *r); break;
    }
    regs[op.out] = std::move(r);
  }
  const Node& result = *regs[p.result];
  out.share(result, result.strides, result.offset, result.data_size);
}

// The streamed inputs' broadcast strides over the output shape with size-1
// dimensions dropped and dimensions merged where every input is contiguous
// across them (the output is row-major, so it always is).
struct Walk {
  std::vector<int64_t> shape;                 // outer to inner
  std::vector<std::vector<int64_t>> strides;  // [streamed input][dim]
};

Walk collapse(const Shape& shape, const std::vector<Strides>& strides) {
  Walk w;
  w.strides.resize(strides.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !w.shape.empty();
    for (size_t k = 0; k < strides.size() && merge; ++k) {
      merge = w.strides[k].back() == strides[k][d] * shape[d];
    }
    if (merge) {
      w.shape.back() *= shape[d];
      for (size_t k = 0; k < strides.size(); ++k) w.strides[k].back() = strides[k][d];
    } else {
      w.shape.push_back(shape[d]);
      for (size_t k = 0; k < strides.size(); ++k) w.strides[k].push_back(strides[k][d]);
    }
  }
  return w;
}

// Everything that selects a generated kernel, as integers: the program and the variant.
std::vector<uint64_t> signature(int device, const FusedProgram& p, Dtype out,
                                const cuda::FusedVariant& v) {
  std::vector<uint64_t> s{static_cast<uint64_t>(device),
                          static_cast<uint64_t>(out.val),
                          static_cast<uint64_t>(p.num_regs),
                          static_cast<uint64_t>(p.result),
                          static_cast<uint64_t>(v.ndim),
                          static_cast<uint64_t>(v.vector),
                          v.wide_index ? 1u : 0u};
  for (size_t k = 0; k < p.input_dtypes.size(); ++k) {
    s.push_back(static_cast<uint64_t>(p.input_dtypes[k].val) |
                (static_cast<uint64_t>(v.access[k]) << 8) |
                (static_cast<uint64_t>(static_cast<uint32_t>(p.input_regs[k])) << 16));
    if (v.access[k] == cuda::FusedVariant::Access::constant) s.push_back(*p.input_values[k]);
  }
  for (const FusedOp& op : p.ops) {
    s.push_back(static_cast<uint64_t>(op.kind) | (static_cast<uint64_t>(op.arg_dtype.val) << 8) |
                (static_cast<uint64_t>(op.dtype.val) << 16) |
                (static_cast<uint64_t>(static_cast<uint32_t>(op.code)) << 32));
    s.push_back((static_cast<uint64_t>(static_cast<uint16_t>(op.args[0])) << 48) |
                (static_cast<uint64_t>(static_cast<uint16_t>(op.args[1])) << 32) |
                (static_cast<uint64_t>(static_cast<uint16_t>(op.args[2])) << 16) |
                static_cast<uint16_t>(op.out));
  }
  return s;
}

struct SignatureHash {
  size_t operator()(const std::vector<uint64_t>& s) const {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t v : s) h = (h ^ v) * 0x100000001b3ull;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

struct Kernel {
  CUfunction fn = nullptr;
  std::string why;  // when fn is null
};

// The kernel of a signature: a lookup after the first call, which generates
// the source and asks rtc_kernel (its own cache is keyed by the source).
Kernel find_kernel(int device, const FusedProgram& p, Dtype out, const cuda::FusedVariant& v) {
  static std::mutex mu;
  static auto* table =
      new std::unordered_map<std::vector<uint64_t>, Kernel, SignatureHash>();  // lives to exit
  std::vector<uint64_t> sig = signature(device, p, out, v);
  {
    std::lock_guard lk(mu);
    auto it = table->find(sig);
    if (it != table->end()) return it->second;
  }
  Kernel k;
  if (std::optional<std::string> src = cuda::fused_source(p, out, v)) {
    k.fn = cuda::rtc_kernel(*src, cuda::fused_kernel_name, k.why);
  } else {
    k.why = "the fused program has an instruction the code generator does not handle";
  }
  std::lock_guard lk(mu);
  return table->emplace(std::move(sig), std::move(k)).first->second;
}

// Runs the region as one generated kernel; false (with nothing changed) when
// that kernel cannot be had, and why.
bool run_fused(const FusedProgram& p, const NodeList& in, Node& out, std::string& why) {
  using Access = cuda::FusedVariant::Access;
  const size_t n_in = in.size();
  if (n_in != p.input_dtypes.size() || n_in > kMaxInputs) {
    why = "the region reads " + std::to_string(n_in) + " inputs (at most " +
          std::to_string(kMaxInputs) + " fuse on cuda)";
    return false;
  }
  if (out.size() == 0) {
    out.allocate();
    return true;
  }
  cuda::FusedVariant v;
  std::vector<Strides> streamed_strides;
  std::vector<size_t> streamed;
  for (size_t k = 0; k < n_in; ++k) {
    const Node& x = *in[k];
    if (x.device != Device::cuda || !x.buffer || x.dtype != p.input_dtypes[k]) {
      why = "an input is not a GPU array of the program's dtype";
      return false;
    }
    Strides st = broadcast_strides(x, out.shape);
    const bool uniform = std::all_of(st.begin(), st.end(), [](int64_t s) { return s == 0; });
    if (uniform && k < p.input_values.size() && p.input_values[k]) {
      v.access.push_back(Access::constant);
    } else if (uniform) {
      v.access.push_back(Access::uniform);
    } else {
      v.access.push_back(Access::streamed);
      streamed.push_back(k);
      streamed_strides.push_back(std::move(st));
    }
  }
  const Walk w = collapse(out.shape, streamed_strides);
  bool dense = w.shape.size() <= 1;
  for (const auto& st : w.strides) dense = dense && (st.empty() || st.back() == 1);
  const Dtype od = out.dtype;

  // An input the output may overwrite in place: nothing else reads it and it
  // is laid out as the output is, so each element is read before it is written.
  int donor = -1;
  for (size_t k : streamed) {
    const Node& x = *in[k];
    if (x.dtype == od && x.shape == out.shape && x.donatable()) {
      donor = static_cast<int>(k);
      break;
    }
  }
  if (dense) {
    // Vectors of up to 16 bytes of the widest operand, when every pointer is aligned to them.
    size_t widest = od.size();
    for (size_t k : streamed) widest = std::max(widest, in[k]->dtype.size());
    int vec = static_cast<int>(16 / widest);
    auto aligned = [&](const void* ptr, size_t item) {
      return reinterpret_cast<uintptr_t>(ptr) % (item * vec) == 0;
    };
    for (size_t k : streamed) {
      if (!aligned(in[k]->raw(), in[k]->dtype.size())) vec = 1;
    }
    // A fresh output is allocated 256-byte aligned; a donated one is its input's pointer.
    v.vector = std::max(vec, 1);
  } else {
    if (w.shape.size() > kMaxDims) {
      why = "the region's inputs walk " + std::to_string(w.shape.size()) + " dimensions";
      return false;
    }
    v.ndim = static_cast<int>(w.shape.size());
    v.wide_index = out.size() >= (size_t{1} << 31);
  }
  const size_t n_ptr = n_in - std::count(v.access.begin(), v.access.end(), Access::constant);
  const size_t words = 2 + std::max<size_t>(n_ptr, 1) +
                       (v.ndim ? static_cast<size_t>(v.ndim) * (1 + streamed.size()) : 0);
  if (words * sizeof(int64_t) > kMaxParamBytes) {
    why = "the fused kernel's parameters would exceed " + std::to_string(kMaxParamBytes) + " bytes";
    return false;
  }
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    why = "no current CUDA device";
    return false;
  }
  const Kernel kernel = find_kernel(device, p, od, v);
  if (!kernel.fn) {
    why = kernel.why;
    return false;
  }
  if (!cuda::ensure_context(why)) return false;

  // Pointers first: donation moves the buffer to the output.
  std::vector<int64_t> params(words, 0);
  const int64_t n = static_cast<int64_t>(out.size());
  params[0] = n;
  for (size_t k = 0, j = 2; k < n_in; ++k) {
    if (v.access[k] != Access::constant) {
      params[j++] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(in[k]->raw()));
    }
  }
  if (v.ndim) {
    const size_t base = 2 + std::max<size_t>(n_ptr, 1);
    for (int d = 0; d < v.ndim; ++d) params[base + d] = w.shape[d];
    for (size_t j = 0; j < streamed.size(); ++j) {
      for (int d = 0; d < v.ndim; ++d) params[base + v.ndim * (1 + j) + d] = w.strides[j][d];
    }
  }
  if (donor >= 0) {
    out.donate_from(*in[donor]);
  } else {
    out.allocate();
  }
  params[1] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(out.raw()));

  const size_t units =
      v.ndim ? static_cast<size_t>(n) : (static_cast<size_t>(n) + v.vector - 1) / v.vector;
  void* args[] = {params.data()};
  CUresult r = cuda::driver().launch_kernel(kernel.fn, cuda::grid_for(units), 1, 1, 256, 1, 1, 0,
                                            cuda::current_stream(), args, nullptr);
  if (r != CUDA_SUCCESS) {
    throw Error("[compiled] launching the fused kernel failed: " + cuda::driver_error(r));
  }
  return true;
}

}  // namespace

void Compiled::eval_cuda(const NodeList& in, Node& out) {
  std::string why;
  if (run_fused(program_, in, out, why)) {
    cuda::note_fused_launch();
    return;
  }
  cuda::note_fused_fallback(why);
  run_op_by_op(program_, in, out);
}

}  // namespace lathe
