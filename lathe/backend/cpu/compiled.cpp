// CPU evaluation of a fused elementwise region: one pass over the output in
// blocks; inputs are gathered into registers by broadcast strides, the program
// runs on the block, and only the result is written to memory.
#include <algorithm>
#include <vector>

#include "lathe/backend/cpu/compiled_kernels.h"

namespace lathe {

using detail::Node;

namespace {

namespace fused = cpu::fused;

// The inputs' broadcast strides over the output shape, with dimensions merged
// where every input is contiguous across them. Row-major output order.
struct Walk {
  std::vector<int64_t> shape;                 // outer to inner
  std::vector<std::vector<int64_t>> strides;  // [input][dim]
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
  if (w.shape.empty()) {
    w.shape.push_back(1);
    for (auto& s : w.strides) s.push_back(0);
  }
  return w;
}

struct Input {
  const char* base;  // element 0 of the input
  size_t itemsize;
  size_t reg_item;  // bytes of one register value (its compute type)
  fused::LoadFn load;
  void* reg;
  bool uniform;  // one value for the whole output: loaded once
};

struct Instr {
  fused::OpFn fn;
  fused::RoundFn round;
  const void* args[3];
  void* out;
};

}  // namespace

void Compiled::eval_cpu(const NodeList& in, Node& out) {
  const FusedProgram& p = program_;
  const size_t total = out.size();
  std::vector<Strides> strides;
  std::vector<Input> inputs;
  for (size_t k = 0; k < in.size(); ++k) {
    strides.push_back(broadcast_strides(*in[k], out.shape));
    bool uniform =
        std::all_of(strides[k].begin(), strides[k].end(), [](int64_t s) { return s == 0; });
    // raw() before any donation below moves the buffer to the output.
    Dtype d = in[k]->dtype;
    size_t reg_item = d == float16 || d == bfloat16 ? sizeof(float) : d.size();
    inputs.push_back({static_cast<const char*>(in[k]->raw()), d.size(), reg_item, fused::load_fn(d),
                      nullptr, uniform});
  }
  // Write in place over an input that nothing else reads and that the output covers exactly.
  bool donated = false;
  for (Node* x : in) {
    if (x->dtype == out.dtype && x->shape == out.shape && x->donatable()) {
      out.donate_from(*x);
      donated = true;
      break;
    }
  }
  if (!donated) out.allocate();
  if (total == 0) return;

  std::vector<uint64_t> regs(static_cast<size_t>(p.num_regs) * fused::block);
  auto reg = [&](int r) { return static_cast<void*>(regs.data() + r * fused::block); };
  for (size_t k = 0; k < inputs.size(); ++k) inputs[k].reg = reg(p.input_regs[k]);
  std::vector<Instr> prog;
  for (const FusedOp& op : p.ops) {
    Instr ins{
        fused::op_fn(op), fused::round_fn(op.dtype), {nullptr, nullptr, nullptr}, reg(op.out)};
    for (int a = 0; a < 3; ++a) ins.args[a] = op.args[a] >= 0 ? reg(op.args[a]) : nullptr;
    prog.push_back(ins);
  }
  const fused::StoreFn store = fused::store_fn(out.dtype);
  const void* result = reg(p.result);
  char* dst = static_cast<char*>(out.raw());
  const size_t out_item = out.dtype.size();

  for (auto& x : inputs) {
    if (x.uniform) x.load(x.base, 0, x.reg, fused::block);
  }
  std::vector<size_t> streamed;  // inputs loaded block by block
  std::vector<Strides> streamed_strides;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].uniform) {
      streamed.push_back(k);
      streamed_strides.push_back(strides[k]);
    }
  }
  const Walk w = collapse(out.shape, streamed_strides);
  const int nd = static_cast<int>(w.shape.size());
  const int64_t row = w.shape[nd - 1];
  std::vector<int64_t> idx(nd, 0);  // position of the next element to load
  std::vector<int64_t> off(streamed.size(), 0);

  for (size_t start = 0; start < total; start += fused::block) {
    const int64_t n = std::min<int64_t>(fused::block, static_cast<int64_t>(total - start));
    // Fill the block from as many (pieces of) rows as it spans.
    for (int64_t filled = 0; filled < n;) {
      const int64_t m = std::min(n - filled, row - idx[nd - 1]);
      for (size_t j = 0; j < streamed.size(); ++j) {
        const Input& x = inputs[streamed[j]];
        x.load(x.base + off[j] * static_cast<int64_t>(x.itemsize), w.strides[j][nd - 1],
               static_cast<char*>(x.reg) + filled * static_cast<int64_t>(x.reg_item), m);
      }
      filled += m;
      idx[nd - 1] += m;
      for (size_t j = 0; j < streamed.size(); ++j) off[j] += m * w.strides[j][nd - 1];
      // Carry into the outer dimensions at the end of a row.
      for (int d = nd - 1; d > 0 && idx[d] == w.shape[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
        for (size_t j = 0; j < streamed.size(); ++j) {
          off[j] += w.strides[j][d - 1] - w.shape[d] * w.strides[j][d];
        }
      }
    }
    for (const Instr& i : prog) {
      i.fn(i.args[0], i.args[1], i.args[2], i.out, n);
      if (i.round) i.round(i.out, n);
    }
    store(result, dst + start * out_item, n);
  }
}

}  // namespace lathe
