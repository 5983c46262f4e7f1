#include "controller/api/api_services.h"

namespace captain::api {

ApiResult store_failure(ApiServices& services, const store::StoreError& error,
                        const std::string& request_id) {
  using Kind = store::StoreError::Kind;
  switch (error.kind) {
    case Kind::not_found:
      return failure(ApiStatus::not_found, error.message);
    case Kind::exists:
      return failure(ApiStatus::already_exists, error.message);
    case Kind::busy:
      services.metrics.record_store_error();
      return failure(ApiStatus::generic_error, "the store is busy; retry the request");
    default:
      services.metrics.record_store_error();
      services.log.error(
          "store error",
          {{"request_id", request_id}, {"code", error.code}, {"error", error.message}});
      return failure(ApiStatus::generic_error,
                     "store error; see the controller log for request " + request_id);
  }
}

}  // namespace captain::api
