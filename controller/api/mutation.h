// One API mutation = one write transaction, with its audit record. The change and its "ok"
// audit row commit together; a refusal or a store failure rolls everything back and is audited
// on its own afterwards.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "controller/api/api_router.h"
#include "controller/api/api_services.h"

namespace captain::api {

// Why a mutation did not happen: a refusal to send as is, or a store failure.
struct MutationError {
  std::optional<store::StoreError> store;
  ApiResult refusal;

  MutationError(store::StoreError error) : store(std::move(error)) {}  // NOLINT: implicit
  MutationError(ApiResult result) : refusal(std::move(result)) {}      // NOLINT: implicit
};

template <class T>
using Mutation = Expected<T, MutationError>;

inline Unexpected<MutationError> refuse(ApiStatus status, std::string description) {
  return Unexpected(MutationError(failure(status, std::move(description))));
}

// Runs fn(tx) -> Mutation<ApiResult> in one write transaction and audits it as `entry`.
template <class F>
ApiResult mutate(ApiServices& services, const Call& call, audit::AuditEntry entry, F&& fn) {
  auto outcome = services.db.write([&](store::Transaction& tx) -> Mutation<ApiResult> {
    auto result = fn(tx);
    if (!result) return result;
    entry.result = "ok";
    entry.detail = result->description;
    if (auto recorded = services.audit.record(tx, call.context, entry); !recorded) {
      return Unexpected(MutationError(recorded.error()));
    }
    return result;
  });
  if (outcome) {
    services.app_list.invalidate();
    if (services.nginx_changed) services.nginx_changed();
    return std::move(*outcome);
  }
  ApiResult result = outcome.error().store
                         ? store_failure(services, *outcome.error().store, call.context.request_id)
                         : outcome.error().refusal;
  entry.result = "error:" + std::to_string(static_cast<int>(result.status));
  entry.detail = result.description;
  services.audit.record_alone(call.context, entry);
  return result;
}

// For a change Swarm must follow: refuses with 1000 and the reason when Docker cannot be used
// now. Called inside the mutation, so the refusal is audited and nothing is stored.
Mutation<void> require_docker(ApiServices& services);

// Reads a required string field of the body, or refuses with 1110 naming it.
Mutation<std::string> required_string(const nlohmann::json& body, const std::string& field);

}  // namespace captain::api
