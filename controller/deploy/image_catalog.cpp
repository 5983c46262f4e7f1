#include "controller/deploy/image_catalog.h"

#include <algorithm>
#include <set>

#include "controller/apps/app_definition.h"
#include "controller/store/app_store.h"

namespace captain::deploy {
namespace {

constexpr std::string_view kBuiltPrefix = "img-captain--";

struct AppImages {
  std::set<std::string> referenced;  // every image a version was deployed from or built as
  std::set<std::string> in_use;      // deployed versions within the limit
};

store::Result<AppImages> app_images(store::Database& db, int most_recent) {
  return db.read([&](store::Transaction& tx) -> store::Result<AppImages> {
    store::AppStore apps;
    auto records = apps.list(tx);
    if (!records) return Unexpected(records.error());
    AppImages out;
    for (const auto& record : *records) {
      auto app = apps::from_json(record.definition);
      if (!app) continue;
      for (const auto& v : app->versions) {
        out.referenced.insert(v.image_name);
        if (v.deployed_image_name) out.referenced.insert(*v.deployed_image_name);
        const int age = app->deployed_version - v.version;
        if (v.deployed_image_name && age >= 0 && age <= most_recent) {
          out.in_use.insert(*v.deployed_image_name);
        }
      }
    }
    return out;
  });
}

}  // namespace

Expected<std::vector<UnusedImage>, std::string> ImageCatalog::unused(int most_recent) {
  if (most_recent < 0) return Unexpected(std::string("Most Recent Limit cannot be negative"));
  auto apps = app_images(db_, most_recent);
  if (!apps) return Unexpected("store: " + apps.error().message);
  auto images = docker_.list_images("", swarm::Urgency::interactive);
  if (!images) return Unexpected(images.error().message);
  std::vector<UnusedImage> out;
  for (const auto& image : *images) {
    UnusedImage entry;
    entry.id = image.value("Id", "");
    bool ours = false, used = false;
    if (auto tags = image.find("RepoTags"); tags != image.end() && tags->is_array()) {
      for (const auto& tag : *tags) {
        if (!tag.is_string()) continue;
        const std::string text = tag.get<std::string>();
        entry.tags.push_back(text);
        ours = ours || text.starts_with(kBuiltPrefix) || apps->referenced.count(text) != 0;
        used = used || apps->in_use.count(text) != 0;
      }
    }
    if (ours && !used && !entry.id.empty()) out.push_back(std::move(entry));
  }
  return out;
}

Expected<std::vector<std::string>, std::string> ImageCatalog::remove(
    const std::vector<std::string>& ids) {
  auto candidates = unused(0);
  if (!candidates) return Unexpected(candidates.error());
  std::vector<std::string> problems;
  for (const auto& id : ids) {
    const bool listed = std::any_of(candidates->begin(), candidates->end(),
                                    [&](const UnusedImage& i) { return i.id == id; });
    if (!listed) {
      problems.push_back(id + ": not an unused image of the apps");
      continue;
    }
    // Forced: Swarm keeps the stopped containers of old tasks (its task history), which would
    // hold every old image; a running container still refuses.
    auto removed = docker_.remove_image(id, swarm::Urgency::interactive, true);
    if (!removed) problems.push_back(id + ": " + removed.error().message);
  }
  return problems;
}

}  // namespace captain::deploy
