// controller/source: reading a captain-definition, and turning an unpacked upload into a build
// plan the way CapRover does.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/source/captain_definition.h"

namespace captain::source {
namespace {

namespace fs = std::filesystem;

std::string error_of(std::string_view json) {
  auto parsed = parse_captain_definition(json);
  return parsed ? "(parsed)" : parsed.error();
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(SourceCaptainDefinition, ParsesEachKind) {
  auto image = parse_captain_definition(R"({"schemaVersion": 2, "imageName": "nginx:1.25"})");
  ASSERT_TRUE(image) << image.error();
  EXPECT_EQ(image->image_name, "nginx:1.25");
  EXPECT_TRUE(image->dockerfile_lines.empty());
  EXPECT_FALSE(image->dockerfile_path);

  auto lines = parse_captain_definition(
      R"({"schemaVersion": 2, "dockerfileLines": ["FROM alpine", "CMD [\"true\"]"], )"
      R"("imageName": ""})");
  ASSERT_TRUE(lines) << lines.error();
  EXPECT_EQ(lines->dockerfile_lines, (std::vector<std::string>{"FROM alpine", "CMD [\"true\"]"}));
  EXPECT_FALSE(lines->image_name);  // "" is absent, as in CapRover

  auto path = parse_captain_definition(
      "\xEF\xBB\xBF{\"schemaVersion\": 2, \"dockerfilePath\": \"./docker//Dockerfile.prod\", "
      "\"dockerfileLines\": [], \"other\": true}");
  ASSERT_TRUE(path) << path.error();
  EXPECT_EQ(path->dockerfile_path, "docker/Dockerfile.prod");
}

TEST(SourceCaptainDefinition, SchemaOneIsNoLongerSupported) {
  const std::string example = R"(e.g. {"schemaVersion": 2, "dockerfilePath": "./Dockerfile"})";
  EXPECT_EQ(error_of(R"({"templateId": "node/8.7.0"})"),
            "captain-definition has no schemaVersion, i.e. schema 1, which is no longer "
            "supported: write schema 2, " +
                example);
  EXPECT_EQ(error_of(R"({"schemaVersion": 1, "dockerfileLines": ["FROM alpine"]})"),
            "captain-definition has schemaVersion 1, which is no longer supported: write schema "
            "2, " +
                example);
  EXPECT_EQ(error_of(R"({"schemaVersion": "2", "imageName": "x"})"),
            R"(captain-definition's schemaVersion must be the number 2, not "2", )" + example);
  EXPECT_EQ(error_of(R"({"schemaVersion": 3, "imageName": "x"})"),
            "captain-definition's schemaVersion must be the number 2, not 3, " + example);
  EXPECT_TRUE(parse_captain_definition(R"({"schemaVersion": 2.0, "imageName": "x"})"));
}

TEST(SourceCaptainDefinition, TemplateIdIsNotSupported) {
  const auto error = error_of(R"({"schemaVersion": 2, "templateId": "node/18"})");
  EXPECT_EQ(error.rfind("captain-definition's templateId is not supported: write dockerfileLines "
                        "with the image instead, e.g. "
                        R"({"schemaVersion": 2, "dockerfileLines": ["FROM node:18-alpine", )",
                        0),
            0u)
      << error;
}

TEST(SourceCaptainDefinition, WantsExactlyOneWayToGetAnImage) {
  const std::string one =
      "One, and only one, of these properties should be present in captain-definition: "
      "imageName, dockerfilePath, or dockerfileLines";
  EXPECT_EQ(error_of(R"({"schemaVersion": 2})"), one + " (it has none)");
  EXPECT_EQ(error_of(R"({"schemaVersion": 2, "dockerfileLines": [], "imageName": null})"),
            one + " (it has none)");
  EXPECT_EQ(error_of(R"({"schemaVersion": 2, "imageName": "a", "dockerfilePath": "./Dockerfile"})"),
            one + " (it has imageName and dockerfilePath)");
  EXPECT_EQ(error_of(R"({"schemaVersion": 2, "imageName": "a", "dockerfilePath": "D",
                        "dockerfileLines": ["FROM a"]})"),
            one + " (it has imageName and dockerfilePath and dockerfileLines)");
}

TEST(SourceCaptainDefinition, NamesTheFieldOfTheWrongType) {
  EXPECT_EQ(error_of(R"({"schemaVersion": 2, "imageName": 5})"),
            "captain-definition's imageName must be a string, not number");
  EXPECT_EQ(error_of(R"({"schemaVersion": 2, "dockerfilePath": ["Dockerfile"]})"),
            "captain-definition's dockerfilePath must be a string, not array");
  EXPECT_EQ(error_of(R"({"schemaVersion": 2, "dockerfileLines": ["FROM a", 7]})"),
            "captain-definition's dockerfileLines[1] must be a string, not number");
  EXPECT_TRUE(contains(error_of(R"({"schemaVersion": 2, "dockerfileLines": "FROM a"})"),
                       "captain-definition's dockerfileLines must be an array of strings, not "
                       "string, e.g. "));
  EXPECT_TRUE(contains(error_of(R"(["schemaVersion", 2])"),
                       "captain-definition must be a JSON object, e.g. "));
}

TEST(SourceCaptainDefinition, InvalidJsonSaysWhere) {
  EXPECT_EQ(
      error_of(R"({"schemaVersion": 2,})")
          .rfind("captain-definition is not valid JSON (at byte 21): syntax error while parsing "
                 "object key",
                 0),
      0u)
      << error_of(R"({"schemaVersion": 2,})");
  EXPECT_TRUE(contains(error_of(""), "captain-definition is not valid JSON (at byte 1): "));
}

TEST(SourceCaptainDefinition, DockerfilePathStaysInside) {
  EXPECT_EQ(
      error_of(R"({"schemaVersion": 2, "dockerfilePath": "../Dockerfile"})"),
      R"(captain-definition's dockerfilePath "../Dockerfile" leaves the source directory (".."); )"
      R"(name a Dockerfile inside the folder of captain-definition, e.g. "./Dockerfile")");
  EXPECT_TRUE(contains(error_of(R"({"schemaVersion": 2, "dockerfilePath": "/etc/passwd"})"),
                       R"(dockerfilePath "/etc/passwd" is an absolute path; )"));
  EXPECT_TRUE(contains(error_of(R"({"schemaVersion": 2, "dockerfilePath": "./"})"),
                       R"(dockerfilePath "./" names no file; )"));
}

class SourceCaptainDefinitionBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = fs::temp_directory_path() / "captain-definition-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = fs::canonical(pattern);
    root_ = base_ / "src";
    fs::create_directory(root_);
  }
  void TearDown() override { fs::remove_all(base_); }

  void put(const std::string& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << text;
  }
  std::string read(const std::string& relative) {
    std::ifstream in(root_ / relative, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  Expected<BuildPlan, std::string> prepare(const std::string& relative = "./captain-definition") {
    return prepare_build(root_.string(), relative);
  }

  fs::path base_, root_;
};

const std::string kMissing =
    R"(Captain Definition file does not exist: looked for "./captain-definition" (or a )"
    "Dockerfile) at the root of the upload and inside its single top-level folder";

TEST_F(SourceCaptainDefinitionBuildTest, DockerfilePathAtTheRoot) {
  put("captain-definition",
      R"({"schemaVersion": 2, "dockerfilePath": "./docker/Dockerfile.prod"})");
  put("docker/Dockerfile.prod", "FROM alpine\n");
  auto plan = prepare();
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->context_dir, root_.string());
  EXPECT_EQ(plan->dockerfile, "docker/Dockerfile.prod");
  EXPECT_FALSE(plan->image_name);
}

TEST_F(SourceCaptainDefinitionBuildTest, InsideTheSingleTopLevelFolder) {
  put("my-app/captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "./Dockerfile"})");
  put("my-app/Dockerfile", "FROM alpine\n");
  auto plan = prepare();
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->context_dir, (root_ / "my-app").string());
  EXPECT_EQ(plan->dockerfile, "Dockerfile");

  // A second top-level entry: the folder is no longer "the" folder.
  put("README.md", "hello");
  auto several = prepare();
  ASSERT_FALSE(several);
  EXPECT_EQ(several.error(), kMissing);
}

TEST_F(SourceCaptainDefinitionBuildTest, ASymlinkedTopLevelFolderIsNotFollowed) {
  put("../elsewhere/captain-definition", R"({"schemaVersion": 2, "imageName": "x"})");
  fs::create_directory_symlink(base_ / "elsewhere", root_ / "link");
  auto plan = prepare();
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error(), kMissing);
}

TEST_F(SourceCaptainDefinitionBuildTest, FallsBackToADockerfile) {
  put("Dockerfile", "FROM alpine\n");
  auto at_root = prepare();
  ASSERT_TRUE(at_root) << at_root.error();
  EXPECT_EQ(at_root->context_dir, root_.string());
  EXPECT_EQ(at_root->dockerfile, "Dockerfile");
  EXPECT_FALSE(fs::exists(root_ / "captain-definition"));  // nothing written, unlike CapRover

  fs::remove(root_ / "Dockerfile");
  put("app/Dockerfile", "FROM alpine\n");
  auto in_folder = prepare();
  ASSERT_TRUE(in_folder) << in_folder.error();
  EXPECT_EQ(in_folder->context_dir, (root_ / "app").string());
  EXPECT_EQ(in_folder->dockerfile, "Dockerfile");
}

TEST_F(SourceCaptainDefinitionBuildTest, DockerfileLinesBecomeADockerfile) {
  put("captain-definition",
      R"({"schemaVersion": 2, "dockerfileLines": ["FROM node:18-alpine", "COPY . /app"]})");
  put("Dockerfile", "FROM the-old-one\nRUN false\n");
  auto plan = prepare();
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->context_dir, root_.string());
  EXPECT_EQ(plan->dockerfile, "Dockerfile");
  EXPECT_EQ(read("Dockerfile"), "FROM node:18-alpine\nCOPY . /app\n");

  // A symlink named Dockerfile is replaced, not written through.
  fs::remove(root_ / "Dockerfile");
  put("keep.txt", "untouched");
  fs::create_symlink("keep.txt", root_ / "Dockerfile");
  ASSERT_TRUE(prepare());
  EXPECT_FALSE(fs::is_symlink(root_ / "Dockerfile"));
  EXPECT_EQ(read("Dockerfile"), "FROM node:18-alpine\nCOPY . /app\n");
  EXPECT_EQ(read("keep.txt"), "untouched");
}

TEST_F(SourceCaptainDefinitionBuildTest, ImageNameNeedsNoBuild) {
  put("captain-definition", R"({"schemaVersion": 2, "imageName": "nginx:1.25-alpine"})");
  auto plan = prepare();
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->image_name, "nginx:1.25-alpine");
  EXPECT_FALSE(fs::exists(root_ / "Dockerfile"));
}

TEST_F(SourceCaptainDefinitionBuildTest, DockerfilePathMustNameAFileInsideTheContext) {
  put("captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "../x"})");
  auto dotdot = prepare();
  ASSERT_FALSE(dotdot);
  EXPECT_TRUE(contains(dotdot.error(), R"(dockerfilePath "../x" leaves the source directory)"))
      << dotdot.error();

  put("captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "Dockerfile.missing"})");
  EXPECT_EQ(prepare().error(), R"(captain-definition's dockerfilePath "Dockerfile.missing" )"
                               R"(("./Dockerfile.missing") does not exist)");

  put("captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "docker"})");
  fs::create_directory(root_ / "docker");
  EXPECT_EQ(prepare().error(),
            R"(captain-definition's dockerfilePath "docker" ("./docker") is not a regular file)");

  put("../outside", "FROM evil\n");
  fs::create_symlink("../outside", root_ / "Dockerfile.link");
  put("captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "Dockerfile.link"})");
  EXPECT_EQ(prepare().error(), R"("./Dockerfile.link" leads outside the upload through a symlink)");

  // An in-tree symlink is resolved, so Docker needs to follow none.
  put("docker/Dockerfile", "FROM alpine\n");
  fs::remove(root_ / "Dockerfile.link");
  fs::create_symlink("docker/Dockerfile", root_ / "Dockerfile.link");
  auto linked = prepare();
  ASSERT_TRUE(linked) << linked.error();
  EXPECT_EQ(linked->dockerfile, "docker/Dockerfile");
}

TEST_F(SourceCaptainDefinitionBuildTest, DockerfilePathOutsideTheDefinitionsFolder) {
  put("deploy/captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "Dockerfile"})");
  put("Dockerfile", "FROM alpine\n");
  fs::create_symlink("../Dockerfile", root_ / "deploy/Dockerfile");
  EXPECT_EQ(prepare("./deploy/captain-definition").error(),
            R"(captain-definition's dockerfilePath "Dockerfile" ("./deploy/Dockerfile") leads )"
            "outside the folder of captain-definition through a symlink");
}

TEST_F(SourceCaptainDefinitionBuildTest, CustomRelativePath) {
  put("deploy/captain-definition", R"({"schemaVersion": 2, "dockerfilePath": "./Dockerfile"})");
  put("deploy/Dockerfile", "FROM alpine\n");
  put("captain-definition", R"({"schemaVersion": 2, "imageName": "not-this-one"})");
  auto plan = prepare("./deploy/captain-definition");
  ASSERT_TRUE(plan) << plan.error();
  EXPECT_EQ(plan->context_dir, (root_ / "deploy").string());
  EXPECT_EQ(plan->dockerfile, "Dockerfile");
  EXPECT_FALSE(plan->image_name);
}

TEST_F(SourceCaptainDefinitionBuildTest, RelativePathMustBeSafe) {
  put("captain-definition", R"({"schemaVersion": 2, "imageName": "x"})");
  EXPECT_EQ(prepare("../captain-definition").error(),
            R"(the captain-definition path "../captain-definition" leaves the source directory )"
            R"((".."); give a path inside the upload, e.g. "./captain-definition")");
  EXPECT_TRUE(contains(prepare("/etc/captain-definition").error(), "is an absolute path"));
  EXPECT_TRUE(contains(prepare("./").error(), R"(the captain-definition path "./" names no file)"));
}

TEST_F(SourceCaptainDefinitionBuildTest, NothingToBuild) {
  put("index.js", "console.log(1)");
  auto plan = prepare();
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error(), kMissing);
  EXPECT_TRUE(contains(prepare("deploy/cd.json").error(), R"(looked for "deploy/cd.json")"));
}

TEST_F(SourceCaptainDefinitionBuildTest, ReportsAnInvalidDefinition) {
  put("captain-definition", R"({"schemaVersion": 2, "imageName": )");
  auto plan = prepare();
  ASSERT_FALSE(plan);
  EXPECT_TRUE(contains(plan.error(), "captain-definition is not valid JSON (at byte "))
      << plan.error();
}

}  // namespace
}  // namespace captain::source
