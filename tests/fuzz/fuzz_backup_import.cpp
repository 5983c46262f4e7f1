// libFuzzer target for POST /api/v2/user/system/backup: a JSON document imported into the store
// (store::import_backup, with the validation system_routes.cpp gives it), against a real
// SQLite store in a temporary directory. Each input runs in one write transaction that is rolled
// back, so every input starts from an empty store.
//
// Invariants checked on every input:
//   * into an empty store, a refused import is `invalid` (never `exists`) and writes nothing;
//   * an accepted import writes one app per definition, and exporting gives the same document;
//   * importing it again is refused as `exists` without `replace` and changes nothing, and with
//     `replace` writes the same apps again and exports the same document.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "controller/apps/app_definition.h"
#include "controller/apps/validation.h"
#include "controller/store/backup.h"
#include "controller/store/schema.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using captain::fuzz::check;
using nlohmann::json;
namespace store = captain::store;
namespace apps = captain::apps;

// The route's validator (system_routes.cpp, validate_backup_app): every definition must read
// back as an app of the model, under a valid name that matches its appName.
store::Status validate_like_the_route(std::string_view name, const json& definition) {
  if (!apps::validate_app_name(name)) {
    return store::store_error(store::StoreError::Kind::invalid, "bad app name");
  }
  const auto app = apps::from_json(definition);
  if (!app || app->app_name != name) {
    return store::store_error(store::StoreError::Kind::invalid, "bad definition");
  }
  return {};
}

struct TempStore {
  std::filesystem::path dir;
  std::unique_ptr<store::Database> db;

  TempStore() {
    std::string pattern = std::filesystem::temp_directory_path() / "fuzz-backup-XXXXXX";
    check(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    auto opened = store::open_store(dir / "captain.db");
    check(opened.has_value());
    db = std::move(*opened);
  }
  ~TempStore() {
    db.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

json exported(store::Transaction& tx) {
  auto backup = store::export_backup(tx);
  check(backup.has_value());
  return *backup;
}

void check_import(store::Transaction& tx, const json& document) {
  const json empty = {{"appDefinitions", json::object()}};
  store::AppStore app_store;
  store::ImportOptions options;
  options.validate = validate_like_the_route;

  const auto imported = store::import_backup(tx, app_store, document, options);
  if (!imported) {
    check(imported.error().kind == store::StoreError::Kind::invalid);
    check(exported(tx) == empty);
    return;
  }
  const json& definitions = document["appDefinitions"];
  check(*imported == definitions.size());
  const json expected = {{"appDefinitions", definitions}};
  check(exported(tx) == expected);
  if (definitions.empty()) return;

  const auto twice = store::import_backup(tx, app_store, document, options);
  check(!twice && twice.error().kind == store::StoreError::Kind::exists);
  check(exported(tx) == expected);

  options.replace = true;
  const auto replaced = store::import_backup(tx, app_store, document, options);
  check(replaced.has_value() && *replaced == definitions.size());
  check(exported(tx) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static TempStore temp;
  const auto document =
      json::parse(captain::fuzz::as_text(data, size), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return 0;
  auto tx = temp.db->begin(store::Transaction::Mode::write);
  check(tx.has_value());
  check_import(*tx, document);
  return 0;  // tx ends without commit: rolled back, the store is empty again
}
