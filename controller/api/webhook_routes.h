// CapRover's push webhook: POST /api/v2/user/apps/webhooks/triggerbuild?namespace=captain&token=
// <the app's pushWebhookToken>, as GitHub, GitLab and Bitbucket call it on a push. The app's
// branch is fetched with git, built and deployed; a push to another branch is ignored; a bad
// token is refused with HTTP 401 so the sender records a failure (CapRover answers 200).
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_webhook_routes(ApiRouter& router, ApiServices& services);

}  // namespace captain::api
