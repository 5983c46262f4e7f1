// JSON bodies for requests no route answered (404, 400, 413, ...) and for handlers that throw,
// so a client never sees an HTML page or an exception message.
#pragma once

#include <string>
#include <string_view>

#include "controller/http/router.h"
#include "controller/log/json_log.h"

namespace captain::api {

// {"status":"error","description":<description>}. The CapRover envelope replaces this once
// /api/v2 lands.
std::string error_body(std::string_view description);

// The description for an error status nothing else described: "not found: <path>" for 404,
// otherwise the reason phrase.
std::string describe_status(int status, std::string_view path);

// Installs the error handler and the exception handler; exceptions are logged, not echoed.
void install_error_responses(http::Router& http, logging::JsonLog& log);

}  // namespace captain::api
