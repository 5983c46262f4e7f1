// POST /api/v2/login, POST /api/v2/user/changepassword and the x-captain-auth check every
// /user/* route runs.
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_login_routes(ApiRouter& router, ApiServices& services);

// CapRover's {oldPassword, newPassword}: 1000 "Password is too small." under 8 characters,
// 1105 for a wrong old password; every existing token stops working afterwards.
void register_password_routes(ApiRouter& router, ApiServices& services);

// The router's authenticator: a valid, unexpired token in x-captain-auth, else 1106 as CapRover
// answers (the caprover CLI then logs in again by itself).
Authenticator token_authenticator(ApiServices& services);

}  // namespace captain::api
