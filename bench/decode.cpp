// Batch-1 decode and prefill tok/s of a model folder through lathe's generation loop, beside
// the memory-bandwidth roofline measured in the same process run (a STREAM-like copy and
// triad in a forked child, so its buffers stay out of the peak resident set reported).
// Usage: bench_decode MODEL_DIR [--prompt-len 128] [--gen 64] [--reps 3] [--label NAME]
// Prints a table on stderr and one JSON object on stdout.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
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

// Best GB/s (bytes read + written, STREAM's convention) of copy and triad over
// float32 arrays of `mib` MiB each, with 1 and 2 threads; the roofline uses the best of them.
// Also a read-only pass (what a decode step does to the weights), reported beside it.
nlohmann::json stream_bandwidth(size_t mib) {
  const size_t n = mib * (1u << 20) / sizeof(float);
  std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n, 0.5f);
  nlohmann::json out;
  double best = 0;
  for (int threads : {1, 2}) {
    for (const char* kind : {"copy", "triad", "read"}) {
      const bool triad = std::strcmp(kind, "triad") == 0;
      const bool read_only = std::strcmp(kind, "read") == 0;
      const double bytes = (triad ? 3.0 : read_only ? 1.0 : 2.0) * n * sizeof(float);
      std::vector<uint64_t> sums(threads);
      double best_s = 1e30;
      for (int rep = 0; rep < 5; ++rep) {
        auto t0 = Clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
            float* pa = a.data();
            const float* pb = b.data();
            const float* pc = c.data();
            if (triad) {
              for (size_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0f * pc[i];
            } else if (read_only) {
              // 64-bit integer adds vectorize to one add per 32 bytes (a float sum would
              // not vectorize without -ffast-math, and widening adds would be compute-bound).
              // Four sequential streams per thread, a quarter of its range apart: one stream
              // per core is latency-bound on this VM (~10 GB/s), four approach the core's
              // read limit, as the bf16 GEMV's row streams do (RESULTS.md, decode v4).
              const uint64_t* p = reinterpret_cast<const uint64_t*>(pb);
              const size_t b0 = lo / 2, q = (hi / 2 - b0) / 4;
              uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
              for (size_t i = 0; i < q; ++i) {
                s0 += p[b0 + i];
                s1 += p[b0 + q + i];
                s2 += p[b0 + 2 * q + i];
                s3 += p[b0 + 3 * q + i];
              }
              for (size_t i = b0 + 4 * q; i < hi / 2; ++i) s0 += p[i];
              sums[t] = s0 + s1 + s2 + s3;
            } else {
              std::memcpy(pa + lo, pb + lo, (hi - lo) * sizeof(float));
            }
          });
        }
        for (auto& th : pool) th.join();
        best_s = std::min(best_s, std::chrono::duration<double>(Clock::now() - t0).count());
      }
      const double gbs = bytes / best_s / 1e9;
      out[std::string(kind) + "_" + std::to_string(threads) + "t_gbs"] = gbs;
      if (read_only) {
        out["read_best_gbs"] = std::max(out.value("read_best_gbs", 0.0), gbs);
        out["read_checksum"] = sums[0];
      } else {
        best = std::max(best, gbs);
      }
    }
  }
  out["best_gbs"] = best;
  return out;
}

// Runs stream_bandwidth in a child process (its buffers never count in this one's RSS).
nlohmann::json bandwidth_in_child(size_t mib) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string s = stream_bandwidth(mib).dump();
    ssize_t w = write(fds[1], s.data(), s.size());
    _exit(w == static_cast<ssize_t>(s.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string s;
  char buf[4096];
  ssize_t r;
  while ((r = read(fds[0], buf, sizeof buf)) > 0) s.append(buf, r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return s.empty() ? nlohmann::json{} : nlohmann::json::parse(s);
}

// The resident set now (the program and its libraries before a model is loaded).
size_t current_rss_bytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<size_t>(u.ru_maxrss) * 1024;
}

struct Args {
  std::string dir, label;
  int prompt_len = 128, gen = 64, reps = 3;
  size_t stream_mib = 512;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw lathe::Error("[bench_decode] " + s + " needs a value");
      return argv[++i];
    };
    if (s == "--prompt-len") {
      a.prompt_len = std::stoi(value());
    } else if (s == "--gen") {
      a.gen = std::stoi(value());
    } else if (s == "--reps") {
      a.reps = std::stoi(value());
    } else if (s == "--label") {
      a.label = value();
    } else if (s == "--stream-mib") {
      a.stream_mib = std::stoul(value());
    } else if (!s.empty() && s[0] == '-') {
      throw lathe::Error("[bench_decode] unknown option " + s);
    } else {
      a.dir = s;
    }
  }
  if (a.dir.empty() || a.prompt_len < 1 || a.gen < 2 || a.reps < 1) {
    throw lathe::Error(
        "usage: bench_decode MODEL_DIR [--prompt-len 128] [--gen 64] [--reps 3] [--label NAME]");
  }
  if (a.label.empty()) a.label = a.dir;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lathe;
  try {
    Args args = parse(argc, argv);
    nlohmann::json bw = bandwidth_in_child(args.stream_mib);

    const size_t rss_before_load = current_rss_bytes();
    auto model = load_model(args.dir);
    keep(model->weights());
    auto* decoder = dynamic_cast<DecoderModel*>(model.get());
    if (!decoder) throw Error("[bench_decode] not a decoder model: " + args.dir);
    const TextConfig& c = decoder->config();

    // Bytes of weights read per decoded token: everything once, except that an
    // untied input embedding contributes one row (a tied one is read in full as the head).
    double weight_bytes = 0, embed_bytes = 0;
    for (const Array& w : model->weights()) {
      weight_bytes += static_cast<double>(w.nbytes());
      if (w.ndim() == 2 && w.shape(0) == c.vocab_size && w.shape(1) == c.hidden_size) {
        embed_bytes = static_cast<double>(w.nbytes());
      }
    }
    double bytes_per_token = weight_bytes;
    if (!c.tie_word_embeddings) bytes_per_token -= embed_bytes * (1.0 - 1.0 / c.vocab_size);
    const int ctx = args.prompt_len + args.gen;
    // The caches hold keys and values in the dtype of the projections (the largest weights).
    Dtype act = model->weights().front().dtype();
    size_t largest = 0;
    for (const Array& w : model->weights()) {
      if (w.nbytes() > largest) {
        largest = w.nbytes();
        act = w.dtype();
      }
    }
    double kv_bytes = 0;
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const int len = c.is_sliding(l) ? std::min(ctx, c.sliding_window) : ctx;
      kv_bytes += 2.0 * c.num_key_value_heads * c.head_dim * len * act.size();
    }

    std::vector<int32_t> prompt(args.prompt_len);
    for (int i = 0; i < args.prompt_len; ++i) prompt[i] = (1000 + 7 * i) % c.vocab_size;
    GenerateOptions o;
    o.sampler.temperature = 0;
    o.ignore_eos = true;
    // Warm-up: pages the weights in and sizes the allocator's cache.
    o.max_tokens = 4;
    generate(*model, prompt, o);
    o.max_tokens = args.gen;
    std::vector<double> decode, prefill;
    for (int r = 0; r < args.reps; ++r) {
      GenerationResult res = generate(*model, prompt, o);
      decode.push_back(res.timings.decode_tokens_per_s(res.generated_tokens));
      prefill.push_back(res.timings.prefill_tokens_per_s(res.prompt_tokens));
    }
    const double bw_gbs = bw.value("best_gbs", 0.0);
    const double roofline = bw_gbs * 1e9 / bytes_per_token;
    nlohmann::json j;
    j["engine"] = "lathe";
    j["label"] = args.label;
    j["model"] = args.dir;
    j["prompt_tokens"] = args.prompt_len;
    j["generated_tokens"] = args.gen;
    j["reps"] = args.reps;
    j["decode_tok_s"] = median(decode);
    j["decode_tok_s_all"] = decode;
    j["prefill_tok_s"] = median(prefill);
    j["prefill_tok_s_all"] = prefill;
    j["bandwidth"] = bw;
    j["weight_bytes"] = weight_bytes;
    j["bytes_per_token"] = bytes_per_token;
    j["kv_cache_bytes"] = kv_bytes;
    j["roofline_tok_s"] = roofline;
    j["read_roofline_tok_s"] = bw.value("read_best_gbs", 0.0) * 1e9 / bytes_per_token;
    j["decode_vs_roofline"] = roofline > 0 ? median(decode) / roofline : 0.0;
    j["peak_rss_bytes"] = peak_rss_bytes();
    j["peak_rss_vs_weights_kv"] = peak_rss_bytes() / (weight_bytes + kv_bytes);
    j["rss_before_load_bytes"] = rss_before_load;
    std::fprintf(stderr,
                 "%s: decode %.2f tok/s, prefill %.1f tok/s | bandwidth %.2f GB/s, %.0f MB/token, "
                 "roofline %.2f tok/s (%.0f%%) | peak RSS %.0f MiB vs weights+KV %.0f MiB\n",
                 args.label.c_str(), median(decode), median(prefill), bw_gbs, bytes_per_token / 1e6,
                 roofline, 100.0 * median(decode) / roofline, peak_rss_bytes() / 1048576.0,
                 (weight_bytes + kv_bytes) / 1048576.0);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode: %s\n", e.what());
    return 1;
  }
}
