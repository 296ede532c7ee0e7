// The OpenAI Batch API's JSONL format for `scout batch`: input lines
// {"custom_id", "method": "POST", "url": "/v1/chat/completions" |
// "/v1/completions", "body": {...}}, output lines {"id": "batch_req_...",
// "custom_id", "response": {"status_code", "request_id", "body"}, "error"}.
// A body is parsed by the server's own parser (server/request.h), so its
// fields mean what they mean for `scout serve`, and the response body is the
// chat.completion / text_completion object the server answers with.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "batch/job.h"
#include "engine/generate.h"
#include "tokenizer/tokenizer.h"

namespace scout::batch {

// Whether a JSONL line is a Batch request (an object with "custom_id" and "body").
bool is_batch_line(const std::string& line);

// Parses one Batch input line into a Job (id = custom_id, endpoint set).
// Never throws: a line scout cannot run (not JSON, no custom_id, a url scout
// does not serve, a body the server would answer 400, n > 1, stream) gives a
// Job with error (and error_param / error_code) set. Non-data: image urls are
// local paths from base_dir, as in scout's own format.
Job parse_batch_line(const std::string& line, size_t line_no, const std::string& base_dir = {});

// The output line of a job that ran: response.status_code 200, the body as
// completion_json builds it (tok turns logprobs' ids into text); model_name
// when the body named no model.
nlohmann::ordered_json batch_result_line(const Job& job, const engine::GenerateResult& r,
                                         const tokenizer::Tokenizer& tok, const std::string& model_name);

// The output line of a job that failed: response {status_code 400, body:
// {"error": ...}} and error {code, message}; a line without a custom_id has
// "custom_id": null, "response": null and its "line" number.
nlohmann::ordered_json batch_error_line(const Job& job, const std::string& message);

}  // namespace scout::batch
