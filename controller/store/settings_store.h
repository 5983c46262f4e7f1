// Key-value settings in the store (password hash, JWT secret, ...), values as text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/store/sqlite.h"

namespace captain::store {

// Runs inside the caller's transaction.
class SettingsStore {
 public:
  // The value, or nullopt if the key was never set.
  Result<std::optional<std::string>> get(Transaction& tx, std::string_view key) const;
  // Inserts or replaces.
  Status set(Transaction& tx, std::string_view key, std::string_view value);
  // Removes the key; removing an absent key is not an error.
  Status erase(Transaction& tx, std::string_view key);
};

}  // namespace captain::store
