// One generation request, API-neutral: the prompt (chat messages or text), sampling settings
// and limits; served on a scheduler worker and answered streaming or whole by a Responder that
// writes the API's own shapes.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lathe/engine/generate.h"
#include "lathe/server/context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace lathe::server {

struct GenerationRequest {
  std::string model;
  // Chat: messages rendered with the model's chat template.
  std::optional<nlohmann::ordered_json> messages;
  // Otherwise the prompt text, sent as one user message through the template when `templated`
  // (with `system` before it), else encoded as is (with the tokenizer's BOS).
  std::string prompt;
  bool templated = false;
  std::optional<std::string> system;

  std::optional<double> temperature, top_p, min_p, repeat_penalty, presence_penalty,
      frequency_penalty;
  std::optional<int64_t> top_k;
  std::optional<uint64_t> seed;
  std::optional<int64_t> max_tokens;  // unset: until the context is full
  std::vector<std::string> stop;
  std::optional<int64_t> num_ctx;
  std::optional<KeepAlive> keep_alive;
};

struct Outcome {
  std::string model;  // the name the request used
  GenerationResult result;
  std::vector<int32_t> prompt_ids;
  double load_s = 0;
  double total_s = 0;  // from the request's arrival to the last token
};

// How one API writes a generation.
struct Responder {
  std::string stream_content_type;
  // A streamed piece of text -> the bytes to send (one NDJSON line, one SSE event).
  std::function<std::string(std::string_view text)> piece;
  // What ends a stream (final object, usage, [DONE]).
  std::function<std::string(const Outcome&)> stream_end;
  // A failure after the stream began (the status line is gone): the bytes that report it.
  std::function<std::string(const std::string& message)> stream_error;
  // The body of a non-streaming answer.
  std::function<nlohmann::ordered_json(const Outcome&)> whole;
};

// Queues the generation and answers `res`: errors found before the first token (unknown
// model, no tokenizer or template, prompt past the context, bad sampler values) as 4xx JSON in
// the API's style; else the stream, or the whole answer. A client that disconnects cancels
// its generation, queued or running.
void serve_generation(Context& ctx, const httplib::Request& req, httplib::Response& res,
                      GenerationRequest request, bool stream, const Responder& responder);

}  // namespace lathe::server
