// CapRover's disk cleanup calls: GET /user/apps/appDefinitions/unusedImages and
// POST /user/apps/appDefinitions/deleteImages.
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_image_routes(ApiRouter& router, ApiServices& services);

}  // namespace captain::api
