// Reading and writing one app's definition inside a handler's transaction, with the refusals
// every app route answers the same way (1111 for an unknown app).
#pragma once

#include <string>

#include "controller/api/mutation.h"
#include "controller/apps/app_definition.h"
#include "controller/store/sqlite.h"

namespace captain::api {

// CapRover's sentence for an unknown app.
std::string app_not_found(const std::string& name);

// The stored app as the model, 1111 if there is none; an unreadable row is a store error.
Mutation<apps::AppDefinition> load_app(store::Transaction& tx, const std::string& name);

store::Status save_app(store::Transaction& tx, const apps::AppDefinition& app);

}  // namespace captain::api
