// A generation's life: queued on the scheduler, prepared and run on a worker (which reports
// started / text / done / failed events), answered by the HTTP thread streaming or whole.
#include "lathe/server/generation.h"

#include <httplib.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "lathe/core/error.h"
#include "lathe/engine/session.h"
#include "lathe/server/connection.h"
#include "lathe/server/errors.h"

namespace lathe::server {

namespace {

using Steady = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(50);

enum class EventKind { started, text, done, failed };

struct Event {
  EventKind kind;
  std::string text;  // text, or the failure's message
  int status = 0;    // failed: the HTTP status
  std::shared_ptr<Outcome> outcome;
};

// The channel between a worker and the HTTP thread answering the same request.
class Job {
 public:
  Job(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}

  void push(Event e) {
    {
      std::lock_guard lk(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  std::optional<Event> next(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return !events_.empty(); });
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

  // Polled by the worker at every step.
  bool should_cancel() {
    if (cancelled_.load() || stopping_.load()) return true;
    if (client_gone()) cancelled_ = true;
    return cancelled_.load();
  }

  bool client_gone() {
    std::lock_guard lk(fd_mu_);
    return fd_ >= 0 && peer_closed(fd_);
  }

  void cancel() { cancelled_ = true; }

  // The HTTP thread is done with the request: its socket may be closed and reused from now on.
  void detach() {
    cancelled_ = true;
    std::lock_guard lk(fd_mu_);
    fd_ = -1;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  std::mutex fd_mu_;
  int fd_;
  std::atomic<bool> cancelled_{false};
  const std::atomic<bool>& stopping_;
};

// A shared model seen by one request: graph construction is serialized (models keep small
// mutable state such as dynamic rope frequencies), evaluation is not.
class SerializedModel : public LanguageModel {
 public:
  SerializedModel(LanguageModel& m, std::mutex& mu) : m_(m), mu_(mu) {}
  Array forward(const Array& tokens, KVCaches& caches) override {
    std::lock_guard lk(mu_);
    return m_.forward(tokens, caches);
  }
  KVCaches make_caches(int batch, int max_tokens) const override {
    std::lock_guard lk(mu_);
    return m_.make_caches(batch, max_tokens);
  }
  std::vector<Array> weights() const override { return m_.weights(); }
  int vocab_size() const override { return m_.vocab_size(); }
  const std::string& model_type() const override { return m_.model_type(); }

 private:
  LanguageModel& m_;
  std::mutex& mu_;
};

std::vector<int32_t> prompt_ids(const LoadedModel& m, const GenerationRequest& rq) {
  const auto& tok = *m.tokenizer;
  // Ollama's generate wraps the prompt in the template; a folder without one gets it raw.
  if (!rq.messages && (!rq.templated || (!m.chat_template && !rq.system)))
    return tok.encode(rq.prompt, true);
  if (!m.chat_template)
    bad_request("model '" + rq.model +
                "' has no chat template (chat_template.jinja or tokenizer_config.json's "
                "chat_template); use a raw prompt instead");
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (rq.messages) {
    messages = *rq.messages;
  } else {
    if (rq.system) messages.push_back({{"role", "system"}, {"content", *rq.system}});
    messages.push_back({{"role", "user"}, {"content", rq.prompt}});
  }
  try {
    return chat_prompt_ids(*m.chat_template, tok, messages);
  } catch (const Error& e) {
    bad_request(std::string("the chat template could not render these messages: ") + e.what());
  }
}

SamplerConfig sampler_for(const LoadedModel& m, const GenerationRequest& rq) {
  SamplerConfig c = m.defaults;
  if (rq.temperature) c.temperature = *rq.temperature;
  if (rq.top_k) c.top_k = static_cast<int>(std::clamp<int64_t>(*rq.top_k, -1, INT32_MAX));
  if (rq.top_p) c.top_p = *rq.top_p;
  if (rq.min_p) c.min_p = *rq.min_p;
  if (rq.repeat_penalty) c.repetition_penalty = *rq.repeat_penalty;
  if (rq.presence_penalty) c.presence_penalty = *rq.presence_penalty;
  if (rq.frequency_penalty) c.frequency_penalty = *rq.frequency_penalty;
  if (rq.seed) c.seed = *rq.seed;
  return c;
}

// On a worker: everything from loading the model to the last token.
void run(Context& ctx, Job& job, const GenerationRequest& rq, Steady::time_point arrival) {
  if (job.should_cancel()) {
    job.push({EventKind::failed, "the request was cancelled", 499, nullptr});
    return;
  }
  try {
    std::optional<ModelPool::Lease> lease;
    try {
      lease.emplace(ctx.pool.acquire(rq.model, rq.keep_alive));
    } catch (const Error& e) {
      throw RequestError(500, "model '" + rq.model + "' could not be loaded: " + e.what());
    }
    LoadedModel& m = **lease;
    if (!m.tokenizer)
      bad_request("model '" + rq.model +
                  "' has no tokenizer (tokenizer.json): the server needs one to read prompts");
    std::vector<int32_t> ids = prompt_ids(m, rq);
    if (ids.empty()) bad_request("the prompt is empty (it encodes to no tokens)");
    int64_t context = rq.num_ctx.value_or(ctx.options.default_num_ctx);
    if (m.files.max_context > 0) context = std::min<int64_t>(context, m.files.max_context);
    if (static_cast<int64_t>(ids.size()) > context)
      bad_request("the prompt is " + std::to_string(ids.size()) +
                  " tokens, longer than the context of " + std::to_string(context) +
                  " tokens (num_ctx, at most the model's max_position_embeddings " +
                  std::to_string(m.files.max_context) + ")");

    GenerateOptions o;
    o.sampler = sampler_for(m, rq);
    o.max_tokens =
        static_cast<int>(std::clamp<int64_t>(rq.max_tokens.value_or(context), 0, context));
    o.stop_strings = rq.stop;
    try {
      validate(o);
    } catch (const Error& e) {
      bad_request(e.what());
    }
    const int cache = static_cast<int>(
        std::min<int64_t>(context, static_cast<int64_t>(ids.size()) + o.max_tokens));
    o.on_text = [&](std::string_view s) {
      job.push({EventKind::text, std::string(s), 0, nullptr});
    };
    o.cancelled = [&] { return job.should_cancel(); };
    job.push({EventKind::started, "", 0, nullptr});

    SerializedModel model(*m.model, m.forward_mutex);
    auto out = std::make_shared<Outcome>();
    out->model = rq.model;
    out->load_s = lease->load_seconds();
    out->result = Generator(model, &*m.tokenizer, cache).generate(ids, o);
    out->prompt_ids = std::move(ids);
    ctx.generations += 1;
    ctx.generated_tokens += static_cast<uint64_t>(out->result.generated_tokens);
    if (out->result.finish_reason == "cancelled") ctx.cancelled += 1;
    out->total_s = std::chrono::duration<double>(Steady::now() - arrival).count();
    // Released before the answer goes out, so that a client sees keep_alive take effect.
    lease.reset();
    job.push({EventKind::done, "", 0, out});
  } catch (const RequestError& e) {
    job.push({EventKind::failed, e.what(), e.status(), nullptr});
  } catch (const std::exception& e) {
    job.push({EventKind::failed, std::string("generation failed: ") + e.what(), 500, nullptr});
  }
}

}  // namespace

void serve_generation(Context& ctx, const httplib::Request& req, httplib::Response& res,
                      GenerationRequest request, bool stream, const Responder& responder) {
  const auto arrival = Steady::now();
  const ErrorStyle style = error_style_for(req.path);
  // An unknown model is answered without queuing.
  if (!ctx.pool.find(request.model))
    throw RequestError(404, "model '" + request.model + "' not found");
  auto job = std::make_shared<Job>(connection_fd(req), ctx.stopping);
  bool queued = ctx.scheduler.submit(
      [&ctx, job, rq = std::move(request), arrival] { run(ctx, *job, rq, arrival); });
  if (!queued) throw RequestError(503, "the server is shutting down");
  struct Detach {
    Job* job;
    bool armed = true;
    ~Detach() {
      if (armed) job->detach();
    }
  } detach{job.get()};

  // Until the first event, nothing is sent: failures still get their status.
  std::optional<Event> e;
  while (!(e = job->next(kPoll))) {
    if (job->client_gone()) {
      set_error(res, 499, "the client went away", style);
      return;
    }
  }
  if (e->kind == EventKind::failed) return set_error(res, e->status, e->text, style);

  if (!stream) {
    while (true) {
      e = job->next(kPoll);
      if (!e) {
        if (job->client_gone()) return set_error(res, 499, "the client went away", style);
        continue;
      }
      if (e->kind == EventKind::failed) return set_error(res, e->status, e->text, style);
      if (e->kind != EventKind::done) continue;
      if (e->outcome->result.finish_reason == "cancelled")
        return set_error(res, 503, "the server is shutting down", style);
      res.set_content(responder.whole(*e->outcome)
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      "application/json; charset=utf-8");
      return;
    }
  }

  detach.armed = false;
  res.set_chunked_content_provider(
      responder.stream_content_type,
      [job, responder](size_t, httplib::DataSink& sink) {
        auto ev = job->next(kPoll);
        if (!ev) {
          if (!job->client_gone()) return true;
          job->cancel();
          return false;
        }
        std::string bytes;
        bool end = true;
        switch (ev->kind) {
          case EventKind::started: return true;
          case EventKind::text:
            bytes = responder.piece(ev->text);
            end = false;
            break;
          case EventKind::done:
            bytes = ev->outcome->result.finish_reason == "cancelled"
                        ? responder.stream_error("the server is shutting down")
                        : responder.stream_end(*ev->outcome);
            break;
          case EventKind::failed: bytes = responder.stream_error(ev->text); break;
        }
        if (!sink.write(bytes.data(), bytes.size())) {
          job->cancel();
          return false;
        }
        if (end) sink.done();
        return true;
      },
      [job](bool) { job->detach(); });
}

}  // namespace lathe::server
