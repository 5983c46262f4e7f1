// CapRover's captain-definition (schema 2): what to deploy from an uploaded source tree, and the
// build it implies. Follows CapRover's ImageMaker: the definition is looked for at the app's
// captainDefinitionRelativeFilePath, then inside the upload's single top-level folder; a plain
// Dockerfile stands in for a missing definition; dockerfileLines become a Dockerfile.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"

namespace captain::source {

struct CaptainDefinition {
  std::optional<std::string> image_name;       // imageName: a prebuilt image, no build
  std::vector<std::string> dockerfile_lines;   // dockerfileLines
  std::optional<std::string> dockerfile_path;  // dockerfilePath, relative to the definition's
                                               // directory, normalised ("./a//b" -> "a/b")
};

// Exactly one of imageName, dockerfileLines (non-empty), dockerfilePath; schemaVersion must be 2.
// As in CapRover, null, "" and [] count as absent. Never throws; the error says what to write.
Expected<CaptainDefinition, std::string> parse_captain_definition(std::string_view json_text);

struct BuildPlan {
  std::string context_dir;  // the build context Docker gets: the definition's directory
  std::string dockerfile = "Dockerfile";  // path of the Dockerfile, relative to context_dir
  std::optional<std::string> image_name;  // set: no build, deploy this image
};

// Finds the captain-definition in source_dir at `relative_path` (the app's
// captainDefinitionRelativeFilePath, e.g. "./captain-definition"), or, when absent there, inside
// source_dir's single top-level directory (users tar the folder instead of its content). With no
// captain-definition but a Dockerfile in the same place, the Dockerfile is built with that place
// as context. dockerfileLines are written to "Dockerfile" next to the definition, replacing any
// file of that name (as CapRover does). dockerfilePath must name a regular file inside the
// definition's directory (no absolute path, no "..", no symlink out of it); context_dir is
// canonical and `dockerfile` has its symlinks resolved, so Docker needs to follow none.
Expected<BuildPlan, std::string> prepare_build(const std::string& source_dir,
                                               const std::string& relative_path);

}  // namespace captain::source
