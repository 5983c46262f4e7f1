// Images the apps no longer use, as CapRover's disk cleanup lists them
// (GET /user/apps/appDefinitions/unusedImages, POST .../deleteImages), narrowed to images that
// are the apps' own: those Tyaprover built (img-captain--<app>:<version>) and those a version
// was deployed from. CapRover lists every image on the engine, its own and the proxy's included.
#pragma once

#include <string>
#include <vector>

#include "controller/common/expected.h"
#include "controller/store/sqlite.h"
#include "controller/swarm/docker_client.h"

namespace captain::deploy {

struct UnusedImage {
  std::string id;
  std::vector<std::string> tags;
};

class ImageCatalog {
 public:
  ImageCatalog(swarm::DockerClient& docker, store::Database& db) : docker_(docker), db_(db) {}

  // Images of the apps not used by any app's deployed version nor by the `most_recent` versions
  // before it (CapRover's mostRecentLimit). The error says why the list could not be made.
  Expected<std::vector<UnusedImage>, std::string> unused(int most_recent);

  // Removes those of `ids` that unused(0) lists, even when stopped containers (Swarm's task
  // history) still refer to them; returns what was not removed and why.
  Expected<std::vector<std::string>, std::string> remove(const std::vector<std::string>& ids);

 private:
  swarm::DockerClient& docker_;
  store::Database& db_;
};

}  // namespace captain::deploy
