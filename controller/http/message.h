// HTTP requests and responses as the API's handlers see them: plain data, no socket, no
// library types (the listener, server.h, fills and sends them).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace captain::http {

// Header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1).
class Headers {
 public:
  void add(std::string name, std::string value);
  // Replaces every field of that name with one.
  void set(std::string name, std::string value);
  // The first value of `name`, or "" when absent.
  std::string get(std::string_view name) const;
  bool has(std::string_view name) const;
  std::size_t count(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b) noexcept;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/api/v2/user/apps/appData/web?detached=1"
  std::string path;    // the target's path, percent-decoding left to handlers
  std::multimap<std::string, std::string> params;  // the query, percent-decoded
  Headers headers;
  std::string body;
  // A spooled body (RouteOptions::spool_dir): the file holding it. The handler may move it
  // away; whatever is left there is removed once the answer is sent.
  std::string body_file;
  // The route's admission check (RouteOptions::admit) passed: the handler need not repeat it.
  bool admitted = false;
  std::string remote_addr;           // the TCP peer
  std::vector<std::string> matches;  // the route's regex captures; [0] is the whole path

  std::string get_header_value(std::string_view name) const { return headers.get(name); }
  bool has_header(std::string_view name) const { return headers.has(name); }
  bool has_param(const std::string& name) const { return params.count(name) != 0; }
  std::string get_param_value(const std::string& name) const;
  bool is_multipart_form_data() const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  void set_header(std::string name, std::string value) {
    headers.set(std::move(name), std::move(value));
  }
  void set_content(std::string content, std::string content_type) {
    body = std::move(content);
    headers.set("Content-Type", std::move(content_type));
  }
};

// "/a/b?x=1&y=%20z" -> path "/a/b", params {x: "1", y: " z"} ('+' is a space in a query).
void split_target(std::string_view target, std::string& path,
                  std::multimap<std::string, std::string>& params);

}  // namespace captain::http
