#include "shared/otlp/otlp_http.h"

#include <curl/curl.h>

namespace captain::otlp {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

size_t discard_body(char*, size_t size, size_t count, void*) {
  return size * count;
}

}  // namespace

std::optional<std::string> traces_url(std::string_view endpoint, std::string* error) {
  std::string_view rest;
  if (starts_with(endpoint, "http://")) {
    rest = endpoint.substr(7);
  } else if (starts_with(endpoint, "https://")) {
    rest = endpoint.substr(8);
  } else {
    *error = "must start with http:// or https://";
    return std::nullopt;
  }
  for (char c : endpoint) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      *error = "must not contain spaces or control characters";
      return std::nullopt;
    }
  }
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (authority.empty() || authority.front() == ':' || authority.find('@') != std::string_view::npos) {
    *error = "needs a host (user info is not supported)";
    return std::nullopt;
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    *error = "must not have a query or fragment";
    return std::nullopt;
  }
  std::string url(endpoint);
  if (slash == std::string_view::npos) {
    url += "/v1/traces";
  } else if (rest.substr(slash) == "/") {
    url += "v1/traces";
  }
  return url;
}

OtlpHttpClient::OtlpHttpClient(std::string url) : url_(std::move(url)) {}

OtlpHttpClient::~OtlpHttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

PostResult OtlpHttpClient::post(const std::string& body, std::string_view content_type,
                                std::chrono::milliseconds timeout) {
  PostResult result;
  if (curl_ == nullptr) curl_ = curl_easy_init();
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  const std::string content_type_header = "Content-Type: " + std::string(content_type);
  curl_slist* headers = curl_slist_append(nullptr, content_type_header.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  // A background thread of a process with signal handlers: no SIGALRM for DNS timeouts.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    result.error = curl_easy_strerror(rc);
    return result;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.http_status);
  result.delivered = result.http_status >= 200 && result.http_status < 300;
  if (!result.delivered) result.error = "collector answered " + std::to_string(result.http_status);
  return result;
}

}  // namespace captain::otlp
