// Batch-1 decode and prefill on the GPU through lathe's generation loop, beside the device's
// copy bandwidth measured in the same process (what the roofline divides).
// Usage: bench_decode_gpu MODEL_DIR [--prompt-len 128] [--gen 256] [--prefill-len 2048]
//                         [--context 0] [--reps 3] [--label NAME]
// --context N also measures decode with N tokens already in the cache (long-context decode).
// Prints a line on stderr and one JSON object on stdout.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lathe/engine/generate.h"
#include "lathe/lathe.h"
#include "lathe/models/decoder.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// GB/s (bytes read + written) of lathe's elementwise negate over `mib` MiB on the device, best
// of 10: a copy through lathe's own kernels (the benchmark script also records PyTorch's copy).
double copy_bandwidth(size_t mib) {
  using namespace lathe;
  const int64_t n = static_cast<int64_t>(mib) * (1 << 20) / 4;
  Array src = to_device(zeros({n}, float32), Device::cuda);
  keep(src);
  eval(src);
  double best = 1e30;
  for (int r = 0; r < 12; ++r) {
    Array dst = -src;
    synchronize();
    auto t0 = Clock::now();
    eval(dst);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    if (r < 2) best = 1e30;  // warm-up: allocator cache, clocks
  }
  src.free();
  eval();
  clear_cache(Device::cuda);
  return 2.0 * n * 4 / best / 1e9;
}

struct Args {
  std::string dir, label;
  int prompt_len = 128, gen = 256, prefill_len = 2048, context = 0, reps = 3;
  size_t copy_mib = 2048;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw lathe::Error("[bench_decode_gpu] " + s + " needs a value");
      return argv[++i];
    };
    if (s == "--prompt-len") {
      a.prompt_len = std::stoi(value());
    } else if (s == "--gen") {
      a.gen = std::stoi(value());
    } else if (s == "--prefill-len") {
      a.prefill_len = std::stoi(value());
    } else if (s == "--context") {
      a.context = std::stoi(value());
    } else if (s == "--reps") {
      a.reps = std::stoi(value());
    } else if (s == "--label") {
      a.label = value();
    } else if (s == "--copy-mib") {
      a.copy_mib = std::stoul(value());
    } else if (!s.empty() && s[0] == '-') {
      throw lathe::Error("[bench_decode_gpu] unknown option " + s);
    } else {
      a.dir = s;
    }
  }
  if (a.dir.empty() || a.prompt_len < 1 || a.gen < 2 || a.reps < 1 || a.prefill_len < 0 ||
      a.context < 0) {
    throw lathe::Error(
        "usage: bench_decode_gpu MODEL_DIR [--prompt-len 128] [--gen 256] [--prefill-len 2048] "
        "[--context 0] [--reps 3] [--label NAME]");
  }
  if (a.label.empty()) a.label = a.dir;
  return a;
}

std::vector<int32_t> prompt_of(int len, int vocab) {
  std::vector<int32_t> p(len);
  for (int i = 0; i < len; ++i) p[i] = (1000 + 7 * i) % vocab;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lathe;
  try {
    Args args = parse(argc, argv);
    if (!cuda_available()) throw Error("[bench_decode_gpu] no CUDA device");
    const double copy_gbs = copy_bandwidth(args.copy_mib);

    LoadOptions lo;
    lo.device = Device::cuda;
    auto t_load = Clock::now();
    auto model = load_model(args.dir, lo);
    keep(model->weights());
    eval(model->weights());
    synchronize();
    const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
    auto* decoder = dynamic_cast<DecoderModel*>(model.get());
    if (!decoder) throw Error("[bench_decode_gpu] not a decoder model: " + args.dir);
    const TextConfig& c = decoder->config();

    // Bytes read per decoded token: every weight once, except that an untied input embedding
    // contributes one row (a tied one is read in full as the output head).
    double weight_bytes = 0, embed_bytes = 0;
    for (const Array& w : model->weights()) {
      weight_bytes += static_cast<double>(w.nbytes());
      if (w.ndim() == 2 && w.shape(0) == c.vocab_size && w.shape(1) == c.hidden_size) {
        embed_bytes = static_cast<double>(w.nbytes());
      }
    }
    double bytes_per_token = weight_bytes;
    if (!c.tie_word_embeddings) bytes_per_token -= embed_bytes * (1.0 - 1.0 / c.vocab_size);
    const double roofline = copy_gbs * 1e9 / bytes_per_token;

    GenerateOptions o;
    o.sampler.temperature = 0;
    o.ignore_eos = true;
    const auto prompt = prompt_of(args.prompt_len, c.vocab_size);
    o.max_tokens = 8;
    generate(*model, prompt, o);  // warm-up: allocator cache, cuBLAS handles, kernels

    std::vector<double> decode, ttft;
    size_t peak = 0;
    for (int r = 0; r < args.reps; ++r) {
      reset_peak_memory(Device::cuda);
      o.max_tokens = args.gen;
      GenerationResult res = generate(*model, prompt, o);
      decode.push_back(res.timings.decode_tokens_per_s(res.generated_tokens));
      ttft.push_back(res.timings.ttft_s * 1e3);
      peak = std::max(peak, peak_memory(Device::cuda));
    }
    // KV cache bytes of prompt + generated positions (sliding layers hold their window).
    const int ctx = args.prompt_len + args.gen;
    const double act_size = model->weights().front().dtype().size();
    double kv_bytes = 0;
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const int len = c.is_sliding(l) ? std::min(ctx, c.sliding_window) : ctx;
      kv_bytes += 2.0 * c.num_key_value_heads * c.head_dim * len * act_size;
    }

    std::vector<double> prefill;
    if (args.prefill_len > 0) {
      const auto long_prompt = prompt_of(args.prefill_len, c.vocab_size);
      o.max_tokens = 1;
      generate(*model, long_prompt, o);
      for (int r = 0; r < args.reps; ++r) {
        GenerationResult res = generate(*model, long_prompt, o);
        prefill.push_back(res.timings.prefill_tokens_per_s(res.prompt_tokens));
      }
    }

    // Where a decode step's time goes on the host: building the step's graph (forward +
    // argmax), handing it to the stream (async_eval), and waiting for the id (item), with the
    // next step built before the current id is read, as the generation loop does.
    nlohmann::json steps;
    {
      const int n = 64;
      KVCaches caches = model->make_caches(1, args.prompt_len + n + 1);
      Array logits = model->forward(array(prompt, {1, args.prompt_len}), caches);
      Array next = argmax(slice_axis(logits, 1, -1, logits.shape(1)), -1);
      keep(cache_state(caches));
      eval(next);
      double build = 0, submit = 0, wait = 0;
      reset_profile();
      const double tasks0 = task_seconds();
      auto t_all = Clock::now();
      for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        Array l = model->forward(reshape(next, {1, 1}), caches);
        Array nn = argmax(slice_axis(l, 1, -1, l.shape(1)), -1);
        auto t1 = Clock::now();
        keep(cache_state(caches));
        async_eval(nn);
        auto t2 = Clock::now();
        next.item<int32_t>();
        auto t3 = Clock::now();
        next = nn;
        build += std::chrono::duration<double>(t1 - t0).count();
        submit += std::chrono::duration<double>(t2 - t1).count();
        wait += std::chrono::duration<double>(t3 - t2).count();
      }
      next.item<int32_t>();
      const double all = std::chrono::duration<double>(Clock::now() - t_all).count();
      const double tasks = (task_seconds() - tasks0) / n;
      steps["task_ms"] = tasks * 1e3;
      steps["steps"] = n;
      steps["step_ms"] = all / n * 1e3;
      steps["build_ms"] = build / n * 1e3;
      steps["submit_ms"] = submit / n * 1e3;
      steps["wait_ms"] = wait / n * 1e3;
      size_t launches = 0;
      for (auto& e : profile_entries()) {
        if (e.name.rfind("gpu ", 0) != 0) launches += e.count;
      }
      steps["evaluated_nodes_per_step"] = static_cast<double>(launches) / n;
      std::fprintf(stderr,
                   "%s: step %.3f ms = build %.3f + submit %.3f + wait %.3f (host); the stream "
                   "worker ran tasks %.3f ms a step; %.0f nodes a step%s\n",
                   args.label.c_str(), all / n * 1e3, build / n * 1e3, submit / n * 1e3,
                   wait / n * 1e3, tasks * 1e3, static_cast<double>(launches) / n,
                   profiling() ? "" : " (LATHE_PROFILE=1 counts them)");
      if (profiling()) std::fputs(profile_report().c_str(), stderr);
      reset_profile();
    }

    std::vector<double> long_decode;
    if (args.context > 0) {
      const auto ctx_prompt = prompt_of(args.context, c.vocab_size);
      o.max_tokens = 64;
      for (int r = 0; r < std::max(1, args.reps - 1); ++r) {
        GenerationResult res = generate(*model, ctx_prompt, o);
        long_decode.push_back(res.timings.decode_tokens_per_s(res.generated_tokens));
      }
    }

    nlohmann::json j;
    j["engine"] = "lathe";
    j["label"] = args.label;
    j["model"] = args.dir;
    j["prompt_tokens"] = args.prompt_len;
    j["generated_tokens"] = args.gen;
    j["reps"] = args.reps;
    j["copy_GBps"] = copy_gbs;
    j["load_s"] = load_s;
    j["weight_bytes"] = weight_bytes;
    j["bytes_per_token"] = bytes_per_token;
    j["roofline_tok_s"] = roofline;
    j["decode_tok_s"] = median(decode);
    j["decode_tok_s_all"] = decode;
    j["decode_vs_roofline"] = median(decode) / roofline;
    j["ttft_ms"] = median(ttft);
    j["peak_gpu_bytes"] = peak;
    j["kv_cache_bytes"] = kv_bytes;
    j["peak_vs_weights_kv"] = peak / (weight_bytes + kv_bytes);
    if (!prefill.empty()) {
      j["prefill_tokens"] = args.prefill_len;
      j["prefill_tok_s"] = median(prefill);
      j["prefill_tok_s_all"] = prefill;
    }
    j["host_step"] = steps;
    if (!long_decode.empty()) {
      j["long_context_tokens"] = args.context;
      j["long_context_decode_tok_s"] = median(long_decode);
    }
    std::fprintf(stderr,
                 "%s: decode %.1f tok/s (%.0f%% of %.1f roofline at %.0f GB/s) | prefill %.0f "
                 "tok/s | ttft %.1f ms | peak %.2f GiB vs weights+KV %.2f GiB | load %.2f s\n",
                 args.label.c_str(), median(decode), 100.0 * median(decode) / roofline, roofline,
                 copy_gbs, prefill.empty() ? 0.0 : median(prefill), median(ttft),
                 peak / 1073741824.0, (weight_bytes + kv_bytes) / 1073741824.0, load_s);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode_gpu: %s\n", e.what());
    return 1;
  }
}
