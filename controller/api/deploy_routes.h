// /api/v2/user/apps/appData/<app>: deploy an imageName captain-definition (POST) and the
// deploy status the caprover CLI polls (GET).
//
// Until the Swarm stage lands, a deploy is validated, recorded as a new version ("recorded")
// and reported in the build log as pending rollout; nothing runs.
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_deploy_routes(ApiRouter& router, ApiServices& services);

}  // namespace captain::api
