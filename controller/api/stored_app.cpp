#include "controller/api/stored_app.h"

#include "controller/store/app_store.h"

namespace captain::api {

std::string app_not_found(const std::string& name) {
  return "App (" + name + ") could not be found. Make sure that you have created the app.";
}

Mutation<apps::AppDefinition> load_app(store::Transaction& tx, const std::string& name) {
  auto record = store::AppStore().get(tx, name);
  if (!record) {
    if (record.error().kind == store::StoreError::Kind::not_found) {
      return refuse(ApiStatus::not_found, app_not_found(name));
    }
    return Unexpected(MutationError(record.error()));
  }
  auto app = apps::from_json(record->definition);
  if (!app) {
    return Unexpected(MutationError(store::StoreError{store::StoreError::Kind::invalid, 0,
                                                      "stored app " + name + ": " + app.error()}));
  }
  return std::move(*app);
}

store::Status save_app(store::Transaction& tx, const apps::AppDefinition& app) {
  return store::AppStore().update(tx, app.app_name, apps::to_json(app));
}

}  // namespace captain::api
