// /api/v2/user/apps/appDefinitions: list, register, update, delete, custom domains.
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_app_routes(ApiRouter& router, ApiServices& services);

}  // namespace captain::api
