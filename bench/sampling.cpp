// The per-step cost of sampling one token from a 262,144-token row of logits (float32, as
// a model's lm_head gives them), each step read back to the host as the generation loop does:
//   before  the sampler as it was: the row copied to the host, then the slow twin made of
//           ops (sort, softmax, cumsum, ...) there; greedy: argmax on the device;
//   after   Sampler::sample: key split, uniforms and the fused sample_tokens on the logits'
//           device (plus count_tokens with penalties);
//   floor   one tiny op on a 1-element array and its readback: the round trip any step pays;
//   twin_on_device  the slow twin on the logits' device (what expressing the samplers with
//           the existing ops would cost there);
//   fused_op  sample_tokens alone, with fixed uniforms;
//   fused_op_x64  64 of those evaluated together and read back once: the time per op is
//           the kernel's, with the launch overhead overlapped (per_op; cuda only).
// Devices: cpu, and cuda when a GPU is present. LATHE_CUDA_SAMPLE_CLUSTER=1..8 forces the
// blocks per row of the CUDA kernel.
#include "lathe/ops/sampling.h"

#include <benchmark/benchmark.h>

#include <optional>
#include <vector>

#include "lathe/engine/sampler.h"
#include "lathe/lathe.h"

using namespace lathe;

namespace {

constexpr int kVocab = 262144;

enum class Path { before, after, twin_on_device, fused_op, fused_op_x64, floor };

SamplerConfig config_of(int mode) {
  SamplerConfig c;
  c.seed = 1;
  switch (mode) {
    case 0: c.temperature = 0; break;  // greedy
    case 1:                            // top-p + temperature
      c.temperature = 0.7;
      c.top_p = 0.9;
      break;
    case 2:  // top-k + top-p + temperature
      c.temperature = 0.7;
      c.top_k = 50;
      c.top_p = 0.9;
      break;
    case 3:  // penalties + top-p + temperature
      c.temperature = 0.7;
      c.top_p = 0.9;
      c.repetition_penalty = 1.1;
      c.frequency_penalty = 0.1;
      break;
    default: break;
  }
  return c;
}

const char* mode_name(int mode) {
  static const char* names[] = {"greedy", "top_p_temperature", "top_k_top_p_temperature",
                                "penalties_top_p_temperature"};
  return names[mode];
}

void run(benchmark::State& state, Device device, Path path, int mode) {
  if (device == Device::cuda && !cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  DeviceScope scope(device);
  const SamplerConfig config = config_of(mode);
  Array logits = random::normal({1, kVocab}, float32, random::key(7), 0.0, 3.0);
  keep(logits);
  eval(logits);
  std::optional<Sampler> sampler;
  {
    // The "before" sampler lived on the host; the others where the logits are.
    DeviceScope host(path == Path::before ? Device::cpu : device);
    sampler.emplace(config, kVocab);
    sampler->reset(std::vector<int32_t>{1, 2, 3});
  }
  Array uniforms = random::uniform({1}, float32, random::key(3));
  keep(uniforms);
  fast::SamplingParams params;
  params.temperature = static_cast<float>(config.temperature);
  params.top_k = config.top_k;
  params.top_p = config.top_p;
  for (auto _ : state) {
    Array token(0);
    if (path == Path::floor) {
      token = uniforms + 1.0f;
    } else if (path == Path::before) {
      token = config.temperature == 0 && config.repetition_penalty == 1.0
                  ? astype(argmax(logits, 1), int32)
                  : sampler->sample_reference(to_device(logits, Device::cpu));
    } else if (path == Path::after) {
      token = sampler->sample(logits);
    } else if (path == Path::twin_on_device) {
      token = sampler->sample_reference(logits);
    } else {
      fast::SamplingInputs in;
      if (!params.greedy()) in.uniforms = uniforms;
      token = fast::sample_tokens(logits, params, in);
      if (path == Path::fused_op_x64) {
        std::vector<Array> tokens{token};
        for (int i = 1; i < 64; ++i) tokens.push_back(fast::sample_tokens(logits, params, in));
        async_eval(tokens);
        token = tokens.back();
      }
    }
    async_eval(token, sampler->state());
    if (path == Path::floor) {
      benchmark::DoNotOptimize(token.item<float>());
    } else {
      benchmark::DoNotOptimize(token.item<int32_t>());
    }
  }
  state.SetLabel(path == Path::floor ? "round trip" : mode_name(mode));
  const double ops = double(state.iterations()) * (path == Path::fused_op_x64 ? 64 : 1);
  state.counters["per_op"] =
      benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  sampler.reset();
  logits.free();
  uniforms.free();
  eval();
}

void register_all() {
  const std::pair<Device, const char*> devices[] = {{Device::cpu, "cpu"}, {Device::cuda, "cuda"}};
  const std::pair<Path, const char*> paths[] = {{Path::floor, "floor"},
                                                {Path::before, "before"},
                                                {Path::after, "after"},
                                                {Path::fused_op, "fused_op"},
                                                {Path::fused_op_x64, "fused_op_x64"},
                                                {Path::twin_on_device, "twin_on_device"}};
  for (auto [device, dname] : devices) {
    for (auto [path, pname] : paths) {
      for (int mode = 0; mode < 4; ++mode) {
        if ((path == Path::fused_op || path == Path::fused_op_x64) && mode == 3) continue;
        if (path == Path::twin_on_device && (device == Device::cpu || mode != 1)) continue;
        if (path == Path::fused_op_x64 && device == Device::cpu) continue;
        if (path == Path::floor && mode != 0) continue;
        std::string name = std::string("sample/") + dname + "/" + pname + "/" + mode_name(mode);
        benchmark::RegisterBenchmark(name.c_str(),
                                     [=](benchmark::State& s) { run(s, device, path, mode); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
