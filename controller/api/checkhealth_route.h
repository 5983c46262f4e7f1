// CapRover's GET /checkhealth (src/app.ts): HTTP 200 whose body is the instance's health-check id,
// a UUID sent as text/html (Express's res.send of a string). CapRover fetches it through
// captain.<root> and compares the id with its own to learn that nginx reaches this very instance;
// uptime monitors pointed at a CapRover only look for the 200. It says the process serves, like
// /health/live: dependencies are /health's job.
#pragma once

#include <string>

#include "controller/http/router.h"

namespace captain::api {

// A random RFC 4122 version-4 UUID (CapRover's format for the id). Not a secret: anyone may read
// /checkhealth; it only has to differ between instances.
std::string random_uuid_v4();

void register_checkhealth_route(http::Router& http, std::string instance_id);

}  // namespace captain::api
