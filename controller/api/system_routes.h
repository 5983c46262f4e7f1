// /api/v2/user/system: info (what the caprover CLI asks before every `api` call), versioninfo
// (CapRover's update check, answered offline) and backups of the app definitions as CapRover-style
// JSON.
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_system_routes(ApiRouter& router, ApiServices& services);

}  // namespace captain::api
