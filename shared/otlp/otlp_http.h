// Posting one OTLP/HTTP export request (https://opentelemetry.io/docs/specs/otlp/#otlphttp)
// with libcurl, from an exporter's background thread (it blocks up to the timeout).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace captain::otlp {

// The URL spans are posted to. An endpoint with no path (or "/") is a collector's base
// address and gets the signal path "/v1/traces", as OTEL_EXPORTER_OTLP_ENDPOINT does; any
// other path is used as given (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). nullopt with *error set
// when the endpoint is not an http:// or https:// URL with a host.
std::optional<std::string> traces_url(std::string_view endpoint, std::string* error);

struct PostResult {
  bool delivered = false;  // a 2xx answer
  long http_status = 0;    // 0 when no answer came (refused, timed out, DNS)
  std::string error;       // curl's message or the status line's meaning, when not delivered
};

class OtlpHttpClient {
 public:
  explicit OtlpHttpClient(std::string url);
  ~OtlpHttpClient();
  OtlpHttpClient(const OtlpHttpClient&) = delete;
  OtlpHttpClient& operator=(const OtlpHttpClient&) = delete;

  // One POST of body; the connection is kept for the next call.
  PostResult post(const std::string& body, std::string_view content_type,
                  std::chrono::milliseconds timeout);

  const std::string& url() const noexcept { return url_; }

 private:
  std::string url_;
  void* curl_ = nullptr;  // CURL*, kept out of this header
};

}  // namespace captain::otlp
