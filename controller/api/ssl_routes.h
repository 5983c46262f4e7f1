// HTTPS through CapRover's API: certificates from the ACME CA for an app's default domain, a
// custom domain or captain.<root>, forcing HTTPS, and changing the root domain.
//   POST /user/apps/appDefinitions/enablebasedomainssl   {appName}
//   POST /user/apps/appDefinitions/enablecustomdomainssl {appName, customDomain}
//   POST /user/system/enablessl                          {emailAddress}
//   POST /user/system/forcessl                           {isEnabled}
//   POST /user/system/changerootdomain                   {rootDomain, force}
// Issuing happens before anything is stored: a refused challenge answers 1107 with the CA's
// message and changes nothing. Once stored, the call returns when nginx serves the result.
#pragma once

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

void register_ssl_routes(ApiRouter& router, ApiServices& services);

}  // namespace captain::api
