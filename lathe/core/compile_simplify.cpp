// Simplification passes over a compile tape: duplicate scalar constants and
// common subexpressions.
#include <cstring>
#include <tuple>
#include <typeinfo>
#include <unordered_map>

#include "lathe/core/compile_tape.h"
#include "lathe/primitives/compiled.h"
#include "lathe/primitives/device.h"

namespace lathe::detail {

Dtype Tape::dtype_of(Ref r) const {
  switch (r.kind) {
    case Ref::Kind::input: return input_dtypes[r.index];
    case Ref::Kind::constant: return constants[r.index].node().dtype;
    case Ref::Kind::step: return steps[r.index].dtype;
  }
  return float32;
}

namespace {

// Rewrites every reference of the given kind through map.
void remap(Tape& tape, Ref::Kind kind, const std::vector<Ref>& map) {
  auto fix = [&](Ref& r) {
    if (r.kind == kind) r = map[r.index];
  };
  for (auto& s : tape.steps) {
    for (auto& r : s.inputs) fix(r);
  }
  for (auto& r : tape.outputs) fix(r);
}

size_t hash_combine(size_t h, size_t v) {
  return h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
}

}  // namespace

void dedup_scalar_constants(Tape& tape) {
  std::vector<Array> kept;
  std::vector<Ref> map(tape.constants.size());
  // (dtype, value bytes, device) of each weak scalar kept so far.
  std::vector<std::tuple<Dtype, uint64_t, Device>> scalars;
  std::vector<int> scalar_index;
  for (size_t i = 0; i < tape.constants.size(); ++i) {
    const Node& n = tape.constants[i].node();
    // A GPU op's copy of a C++ scalar (see record()) holds the scalar's value.
    const bool copy = n.status.load() == Status::lazy && n.inputs.size() == 1 &&
                      dynamic_cast<const ToDevice*>(n.primitive.get()) != nullptr;
    const Node& v = copy ? *n.inputs[0] : n;
    bool weak = v.weak_scalar && v.status.load() == Status::available && v.size() == 1;
    if (weak) {
      uint64_t bits = 0;
      std::memcpy(&bits, v.raw(), v.dtype.size());
      const auto key = std::make_tuple(v.dtype, bits, n.device);
      bool found = false;
      for (size_t k = 0; k < scalars.size(); ++k) {
        if (scalars[k] == key) {
          map[i] = {Ref::Kind::constant, scalar_index[k]};
          found = true;
          break;
        }
      }
      if (found) continue;
      scalars.push_back(key);
      scalar_index.push_back(static_cast<int>(kept.size()));
    }
    map[i] = {Ref::Kind::constant, static_cast<int>(kept.size())};
    kept.push_back(tape.constants[i]);
  }
  remap(tape, Ref::Kind::constant, map);
  tape.constants = std::move(kept);
}

void eliminate_common_subexpressions(Tape& tape) {
  std::vector<Step> kept;
  std::vector<Ref> map(tape.steps.size());
  std::unordered_multimap<size_t, int> seen;
  for (size_t i = 0; i < tape.steps.size(); ++i) {
    Step s = std::move(tape.steps[i]);
    for (auto& r : s.inputs) {
      if (r.kind == Ref::Kind::step) r = map[r.index];
    }
    const std::type_info& type = typeid(*s.prim);
    size_t h = hash_combine(type.hash_code(), static_cast<size_t>(s.dtype.val));
    for (auto d : s.shape) h = hash_combine(h, static_cast<size_t>(d));
    for (auto& r : s.inputs) {
      h = hash_combine(h, static_cast<size_t>(r.kind) * 1000003u + static_cast<size_t>(r.index));
    }
    int match = -1;
    auto [lo, hi] = seen.equal_range(h);
    for (auto it = lo; it != hi; ++it) {
      const Step& o = kept[it->second];
      if (typeid(*o.prim) == type && o.inputs == s.inputs && o.shape == s.shape &&
          o.dtype == s.dtype && (o.prim == s.prim || o.prim->equivalent(*s.prim))) {
        match = it->second;
        break;
      }
    }
    if (match >= 0) {
      map[i] = {Ref::Kind::step, match};
      continue;
    }
    map[i] = {Ref::Kind::step, static_cast<int>(kept.size())};
    seen.emplace(h, static_cast<int>(kept.size()));
    kept.push_back(std::move(s));
  }
  tape.steps = std::move(kept);
  for (auto& r : tape.outputs) {
    if (r.kind == Ref::Kind::step) r = map[r.index];
  }
}

bool shape_generic(const Tape& tape) {
  for (auto& s : tape.steps) {
    if (!s.prim->is_elementwise() && !dynamic_cast<const Compiled*>(s.prim.get())) return false;
    if (s.inputs.empty()) return false;
  }
  return true;
}

}  // namespace lathe::detail
