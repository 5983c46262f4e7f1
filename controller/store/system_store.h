// The captain's own state that the API changes at run time (CapRover keeps the same in its
// config store): the root domain once changerootdomain set it, whether captain.<root> has a
// certificate (hasRootSsl) and redirects HTTP to HTTPS (forceSsl), and the ACME account's
// e-mail once enablessl gave one. Rows of the settings table, read and written in the caller's
// transaction.
#pragma once

#include <optional>
#include <string>

#include "controller/store/sqlite.h"

namespace captain::store {

struct SystemState {
  std::optional<std::string> root_domain;  // unset: the root_domain setting
  bool has_root_ssl = false;
  bool force_ssl = false;
  std::optional<std::string> acme_email;  // unset: the acme_email setting

  const std::string& root_or(const std::string& configured) const {
    return root_domain ? *root_domain : configured;
  }
  friend bool operator==(const SystemState&, const SystemState&) = default;
};

class SystemStore {
 public:
  Result<SystemState> load(Transaction& tx) const;
  Status save(Transaction& tx, const SystemState& state);
};

}  // namespace captain::store
