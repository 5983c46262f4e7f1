// Apps and their deploy history in the store; definitions travel as JSON so the store does not
// depend on the app model (controller/apps validates and interprets them).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "controller/store/sqlite.h"

namespace captain::store {

// Now as ISO-8601 UTC text with milliseconds ("2024-05-01T12:00:00.123Z"); injectable so tests
// can pin timestamps.
using Clock = std::function<std::string()>;
std::string utc_now_iso8601();

struct AppRecord {
  std::string name;
  nlohmann::json definition;  // always an object
  std::string created_at;
  std::string updated_at;
};

struct AppVersion {
  std::string app;
  std::int64_t version = 0;
  std::string image;
  std::string status;
  std::string created_at;
  std::string log;
};

// Every method runs inside the caller's transaction (Database::write / read), so one API call
// is one transaction however many rows it touches. Mutations need a write transaction.
class AppStore {
 public:
  explicit AppStore(Clock clock = utc_now_iso8601) : clock_(std::move(clock)) {}

  // All apps, ordered by name.
  Result<std::vector<AppRecord>> list(Transaction& tx) const;
  // One app; Kind::not_found if absent.
  Result<AppRecord> get(Transaction& tx, std::string_view name) const;
  // Adds an app; Kind::exists if the name is taken, Kind::invalid if definition is not an object.
  Status insert(Transaction& tx, std::string_view name, const nlohmann::json& definition);
  // Replaces an app's definition; Kind::not_found if absent.
  Status update(Transaction& tx, std::string_view name, const nlohmann::json& definition);
  // Deletes an app and (cascade) its versions; Kind::not_found if absent.
  Status remove(Transaction& tx, std::string_view name);

  // Records a deploy of `image`; returns its version number: 0 for the first, then max + 1
  // (CapRover's numbering). Kind::not_found if the app is absent.
  Result<std::int64_t> add_version(Transaction& tx, std::string_view app, std::string_view image,
                                   std::string_view status);
  // Kind::not_found if the app or version is absent.
  Status set_version_status(Transaction& tx, std::string_view app, std::int64_t version,
                            std::string_view status);
  // Appends text to a version's build/deploy log (the caller adds newlines).
  Status append_version_log(Transaction& tx, std::string_view app, std::int64_t version,
                            std::string_view text);
  // An app's versions, oldest first; empty (not an error) for an app without any.
  Result<std::vector<AppVersion>> versions(Transaction& tx, std::string_view app) const;

 private:
  Clock clock_;
};

// The definition as stored text; Kind::invalid for a non-object or JSON that cannot be dumped
// (invalid UTF-8 in a string).
Result<std::string> definition_text(const nlohmann::json& definition);
// Stored text back to JSON; Kind::invalid if it does not parse as an object.
Result<nlohmann::json> parse_definition(std::string_view app, const std::string& text);

}  // namespace captain::store
