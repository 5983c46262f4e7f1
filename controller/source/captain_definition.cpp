#include "controller/source/captain_definition.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "controller/source/relative_path.h"
#include "controller/source/unique_fd.h"

namespace captain::source {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Error = Unexpected<std::string>;

const std::string kPathExample = R"({"schemaVersion": 2, "dockerfilePath": "./Dockerfile"})";
const std::string kLinesExample =
    R"({"schemaVersion": 2, "dockerfileLines": ["FROM node:18-alpine", "COPY ./ /app", )"
    R"("CMD [\"node\", \"/app/server.js\"]"]})";
// A definition is a few lines; a file this big is not one.
constexpr std::uintmax_t kMaxDefinitionBytes = 1 << 20;

// A string property; absent, null and "" all mean "not given", as CapRover tests truthiness.
Expected<std::optional<std::string>, std::string> string_property(const json& doc,
                                                                  const std::string& key) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return Error("captain-definition's " + key + " must be a string, not " + it->type_name());
  }
  auto value = it->get<std::string>();
  if (value.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(value));
}

Expected<std::vector<std::string>, std::string> lines_property(const json& doc) {
  std::vector<std::string> lines;
  const auto it = doc.find("dockerfileLines");
  if (it == doc.end() || it->is_null()) return lines;
  if (!it->is_array()) {
    return Error("captain-definition's dockerfileLines must be an array of strings, not " +
                 std::string(it->type_name()) + ", e.g. " + kLinesExample);
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& line = (*it)[i];
    if (!line.is_string()) {
      return Error("captain-definition's dockerfileLines[" + std::to_string(i) +
                   "] must be a string, not " + line.type_name());
    }
    lines.push_back(line.get<std::string>());
  }
  return lines;
}

Expected<CaptainDefinition, std::string> parse_document(const json& doc) {
  if (!doc.is_object()) {
    return Error("captain-definition must be a JSON object, e.g. " + kPathExample);
  }
  const auto version = doc.find("schemaVersion");
  if (version == doc.end() || version->is_null() || *version == 1) {
    return Error("captain-definition " +
                 std::string(version == doc.end() || version->is_null()
                                 ? "has no schemaVersion, i.e. schema 1"
                                 : "has schemaVersion 1") +
                 ", which is no longer supported: write schema 2, e.g. " + kPathExample);
  }
  if (!version->is_number() || *version != 2) {
    return Error("captain-definition's schemaVersion must be the number 2, not " + version->dump() +
                 ", e.g. " + kPathExample);
  }
  if (const auto it = doc.find("templateId"); it != doc.end() && !it->is_null() && *it != "") {
    return Error(
        "captain-definition's templateId is not supported: write dockerfileLines with the image "
        "instead, e.g. " +
        kLinesExample);
  }
  auto image = string_property(doc, "imageName");
  if (!image) return Error(image.error());
  auto path = string_property(doc, "dockerfilePath");
  if (!path) return Error(path.error());
  auto lines = lines_property(doc);
  if (!lines) return Error(lines.error());

  std::vector<std::string> given;
  if (*image) given.emplace_back("imageName");
  if (*path) given.emplace_back("dockerfilePath");
  if (!lines->empty()) given.emplace_back("dockerfileLines");
  if (given.size() != 1) {
    std::string found = given.empty() ? "none" : given.front();
    for (std::size_t i = 1; i < given.size(); ++i) found += " and " + given[i];
    return Error(
        "One, and only one, of these properties should be present in captain-definition: "
        "imageName, dockerfilePath, or dockerfileLines (it has " +
        found + ")");
  }

  CaptainDefinition out;
  out.image_name = std::move(*image);
  out.dockerfile_lines = std::move(*lines);
  if (*path) {
    auto normal = normalise_relative_path(**path);
    const std::string instead =
        "; name a Dockerfile inside the folder of captain-definition, e.g. \"./Dockerfile\"";
    if (!normal) {
      return Error("captain-definition's dockerfilePath " + quote(**path) + " " + normal.error() +
                   instead);
    }
    if (normal->empty()) {
      return Error("captain-definition's dockerfilePath " + quote(**path) + " names no file" +
                   instead);
    }
    out.dockerfile_path = std::move(*normal);
  }
  return out;
}

bool inside(const fs::path& root, const fs::path& path) {
  const fs::path relative = path.lexically_relative(root);
  return !relative.empty() && *relative.begin() != "..";
}

// A path of the upload as the user knows it, for messages.
std::string shown(const fs::path& root, const fs::path& path) {
  return quote("./" + path.lexically_relative(root).string());
}

// `path` with its symlinks followed: nothing when it does not resolve (missing, dangling, a
// loop), its canonical form when it does, refused when that is outside `root`.
Expected<std::optional<fs::path>, std::string> resolve(const fs::path& root, const fs::path& path) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);
  if (ec) return std::optional<fs::path>();
  if (!inside(root, real)) {
    return Error(shown(root, path) + " leads outside the upload through a symlink");
  }
  return std::optional<fs::path>(std::move(real));
}

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

Expected<std::string, std::string> read_definition(const fs::path& root, const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (!ec && size > kMaxDefinitionBytes) {
    return Error(shown(root, file) + " is larger than 1 MiB: it is not a captain-definition");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (ec || !in) return Error("cannot read " + shown(root, file));
  return text.str();
}

// Replaces `dir`/Dockerfile without following a symlink of that name: the lines must land in a
// new file, not in whatever an in-tree link or hard link points at.
Expected<void, std::string> write_dockerfile(const fs::path& root, const fs::path& dir,
                                             const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  const std::string where = shown(root, dir / "Dockerfile");
  const auto failed = [&](const char* doing) {
    return Error("cannot write the Dockerfile from dockerfileLines: " + std::string(doing) + " " +
                 where + ": " + std::strerror(errno));
  };
  const UniqueFd parent(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!parent) return failed("opening the folder of");
  struct stat st {};
  if (::fstatat(parent.get(), "Dockerfile", &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return Error("cannot write the Dockerfile from dockerfileLines: " + where +
                   " is a directory");
    }
    if (::unlinkat(parent.get(), "Dockerfile", 0) != 0) return failed("replacing");
  }
  const UniqueFd out(::openat(parent.get(), "Dockerfile",
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out) return failed("creating");
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(out.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("writing");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// The plan for a captain-definition found at `file` (canonical), whose folder is `context`
// (canonical; the folder of the path as written, as in CapRover).
Expected<BuildPlan, std::string> plan_from_definition(const fs::path& root, const fs::path& file,
                                                      const fs::path& context) {
  auto text = read_definition(root, file);
  if (!text) return Error(text.error());
  auto definition = parse_captain_definition(*text);
  if (!definition) return Error(definition.error());
  BuildPlan plan;
  plan.context_dir = context.string();
  if (definition->image_name) {
    plan.image_name = definition->image_name;
    return plan;
  }
  if (!definition->dockerfile_lines.empty()) {
    auto written = write_dockerfile(root, context, definition->dockerfile_lines);
    if (!written) return Error(written.error());
    return plan;
  }
  const std::string named = "captain-definition's dockerfilePath " +
                            quote(*definition->dockerfile_path) + " (" +
                            shown(root, context / *definition->dockerfile_path) + ")";
  auto dockerfile = resolve(root, context / *definition->dockerfile_path);
  if (!dockerfile) return Error(dockerfile.error());
  if (!*dockerfile) return Error(named + " does not exist");
  // Docker reads the Dockerfile from the context it is sent, so the file must be in it.
  if (!inside(context, **dockerfile)) {
    return Error(named + " leads outside the folder of captain-definition through a symlink");
  }
  if (!is_file(**dockerfile)) return Error(named + " is not a regular file");
  plan.dockerfile = (*dockerfile)->lexically_relative(context).string();
  return plan;
}

// The plan when `dir` (canonical) holds the captain-definition at `relative`, or a Dockerfile;
// nothing when it holds neither.
Expected<std::optional<BuildPlan>, std::string> plan_in(const fs::path& root, const fs::path& dir,
                                                        const fs::path& relative) {
  auto definition = resolve(root, dir / relative);
  if (!definition) return Error(definition.error());
  if (*definition && is_file(**definition)) {
    auto context = resolve(root, (dir / relative).parent_path());
    if (!context) return Error(context.error());
    auto plan = plan_from_definition(root, **definition, **context);
    if (!plan) return Error(plan.error());
    return std::optional<BuildPlan>(std::move(*plan));
  }
  auto dockerfile = resolve(root, dir / "Dockerfile");
  if (!dockerfile) return Error(dockerfile.error());
  if (!*dockerfile || !is_file(**dockerfile)) return std::optional<BuildPlan>();
  if (!inside(dir, **dockerfile)) {
    return Error(shown(root, dir / "Dockerfile") +
                 " leads outside its folder (the build context) through a symlink");
  }
  BuildPlan plan;
  plan.context_dir = dir.string();
  plan.dockerfile = (*dockerfile)->lexically_relative(dir).string();
  return std::optional<BuildPlan>(std::move(plan));
}

// The upload's only top-level entry when it is a directory (not a symlink to one).
std::optional<fs::path> single_top_directory(const fs::path& root) {
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  if (ec || it == fs::directory_iterator()) return std::nullopt;
  const fs::directory_entry only = *it;
  if (it.increment(ec); ec || it != fs::directory_iterator()) return std::nullopt;
  if (!only.is_directory(ec) || only.is_symlink(ec)) return std::nullopt;
  return only.path();
}

}  // namespace

Expected<CaptainDefinition, std::string> parse_captain_definition(std::string_view json_text) {
  try {
    return parse_document(json::parse(json_text.begin(), json_text.end()));
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: <why>".
    const std::string_view what = e.what();
    const auto colon = what.find(": ");
    return Error("captain-definition is not valid JSON (at byte " + std::to_string(e.byte) + "): " +
                 std::string(colon == std::string_view::npos ? what : what.substr(colon + 2)));
  } catch (const std::exception& e) {
    return Error("captain-definition cannot be read: " + std::string(e.what()));
  }
}

Expected<BuildPlan, std::string> prepare_build(const std::string& source_dir,
                                               const std::string& relative_path) {
  const std::string instead = "; give a path inside the upload, e.g. \"./captain-definition\"";
  auto relative = normalise_relative_path(relative_path);
  if (!relative) {
    return Error("the captain-definition path " + quote(relative_path) + " " + relative.error() +
                 instead);
  }
  if (relative->empty()) {
    return Error("the captain-definition path " + quote(relative_path) + " names no file" +
                 instead);
  }
  std::error_code ec;
  const fs::path root = fs::canonical(source_dir, ec);
  if (ec) return Error("cannot open the source directory " + source_dir + ": " + ec.message());

  try {
    auto plan = plan_in(root, root, *relative);
    if (!plan) return Error(plan.error());
    if (*plan) return std::move(**plan);
    if (const auto top = single_top_directory(root)) {
      plan = plan_in(root, *top, *relative);
      if (!plan) return Error(plan.error());
      if (*plan) return std::move(**plan);
    }
  } catch (const std::exception& e) {  // std::filesystem's allocation and path errors
    return Error("cannot prepare the build: " + std::string(e.what()));
  }
  return Error("Captain Definition file does not exist: looked for " + quote(relative_path) +
               " (or a Dockerfile) at the root of the upload and inside its single top-level "
               "folder");
}

}  // namespace captain::source
