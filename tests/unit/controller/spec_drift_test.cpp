// controller/swarm/spec_drift: "the service Docker echoes back covers the spec we would send".
#include "controller/swarm/spec_drift.h"

#include <gtest/gtest.h>

namespace captain::swarm {
namespace {

using nlohmann::json;

// The first field that differs, "" for none (most cases below have exactly one).
std::string first_difference(const json& expected, const json& actual) {
  const SpecDrift drift = spec_drift(expected, actual);
  return drift.empty() ? "" : drift.fields.front();
}

json expected_spec() {
  return json::parse(R"({
    "Name": "srv-captain--web",
    "Labels": {"captain.version": "3", "com.caprover.managed": "true"},
    "TaskTemplate": {
      "ContainerSpec": {
        "Image": "nginx:1.25",
        "Env": ["A=1", "B=two words"],
        "Mounts": [{"Type": "volume", "Source": "captain--web-data", "Target": "/data"}]
      },
      "Resources": {"Limits": {"MemoryBytes": 268435456}},
      "RestartPolicy": {"Condition": "any", "Delay": 5000000000, "MaxAttempts": 0},
      "Networks": [{"Target": "captain-overlay-network", "Aliases": ["srv-captain--web"]}],
      "ForceUpdate": 0
    },
    "Mode": {"Replicated": {"Replicas": 2}},
    "UpdateConfig": {"Parallelism": 1, "FailureAction": "rollback", "Monitor": 15000000000,
                     "Order": "stop-first"},
    "EndpointSpec": {"Mode": "vip", "Ports": []}
  })");
}

TEST(SpecDrift, EveryDifferenceIsListedAndTheImageFlagged) {
  json actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Image"] = "nginx:1.26";
  actual["Mode"]["Replicated"]["Replicas"] = 3;
  actual["Labels"]["captain.version"] = "4";
  const SpecDrift drift = spec_drift(expected_spec(), actual);
  EXPECT_EQ(drift.fields,
            (std::vector<std::string>{"Labels.captain.version", "Mode.Replicated.Replicas",
                                      "TaskTemplate.ContainerSpec.Image"}));
  EXPECT_TRUE(drift.image);
  EXPECT_EQ(drift.summary(2), "Labels.captain.version, Mode.Replicated.Replicas and 1 more");
  // A digest-pinned echo of the same image is no difference.
  actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Image"] = "nginx:1.25@sha256:abc";
  EXPECT_TRUE(spec_drift(expected_spec(), actual).empty());
  EXPECT_FALSE(spec_drift(expected_spec(), actual).image);
}

TEST(SpecDrift, IdenticalSpecsHaveNoDifference) {
  EXPECT_TRUE(spec_drift(expected_spec(), expected_spec()).empty());
  EXPECT_TRUE(spec_drift(json::object(), json::object()).empty());
}

TEST(SpecDrift, ExtraFieldsInActualAreIgnored) {
  json actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Isolation"] = "default";
  actual["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] = 10000000000;
  actual["TaskTemplate"]["Placement"] =
      json::parse(R"({"Platforms": [{"Architecture": "amd64"}]})");
  actual["TaskTemplate"]["Runtime"] = "container";
  actual["RollbackConfig"] = {{"Parallelism", 1}};
  actual["Labels"]["com.docker.stack.namespace"] = "other";
  EXPECT_TRUE(spec_drift(expected_spec(), actual).empty());
}

TEST(SpecDrift, MissingNonZeroFieldIsReportedByPath) {
  json actual = expected_spec();
  actual["TaskTemplate"]["Resources"]["Limits"].erase("MemoryBytes");
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"TaskTemplate.Resources.Limits.MemoryBytes"});

  actual = expected_spec();
  actual.erase("UpdateConfig");
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields, std::vector<std::string>{"UpdateConfig"});

  actual = expected_spec();
  actual["Labels"].erase("captain.version");
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"Labels.captain.version"});
}

TEST(SpecDrift, ChangedScalarIsReportedByPath) {
  json actual = expected_spec();
  actual["Mode"]["Replicated"]["Replicas"] = 3;
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"Mode.Replicated.Replicas"});

  actual = expected_spec();
  actual["UpdateConfig"]["FailureAction"] = "pause";
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"UpdateConfig.FailureAction"});

  actual = expected_spec();
  actual["Labels"]["captain.version"] = "2";
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"Labels.captain.version"});
}

TEST(SpecDrift, ZeroValuesMayBeAbsentInActual) {
  const json expected = {{"Count", 0},        {"Ratio", 0.0},          {"ReadOnly", false},
                         {"Hostname", ""},    {"Args", json::array()}, {"Labels", json::object()},
                         {"Nothing", nullptr}};
  EXPECT_TRUE(spec_drift(expected, json::object()).empty());
  // A present zero value must still match what is there.
  EXPECT_EQ(spec_drift(expected, {{"ReadOnly", true}}).fields,
            std::vector<std::string>{"ReadOnly"});
  EXPECT_EQ(spec_drift(expected, {{"Count", 4}}).fields, std::vector<std::string>{"Count"});
  EXPECT_EQ(spec_drift(expected, {{"Args", json::array({"x"})}}).fields,
            std::vector<std::string>{"Args"});
  EXPECT_TRUE(spec_drift(expected, {{"Labels", {{"a", "b"}}}}).empty());  // extra keys
}

TEST(SpecDrift, NestedZeroValuesMayBeAbsentInsideAPresentObject) {
  const json expected = {{"Nested", {{"Inner", {{"Flag", false}, {"List", json::array()}}}}}};
  EXPECT_TRUE(spec_drift(expected, {{"Nested", {{"Inner", json::object()}}}}).empty());
  EXPECT_EQ(first_difference(expected, {{"Nested", {{"Inner", {{"Flag", true}}}}}}),
            "Nested.Inner.Flag");
  // Only the documented zero values may be absent: an object holding (zero) fields is not {}.
  EXPECT_EQ(spec_drift(expected, json::object()).fields, std::vector<std::string>{"Nested"});
}

TEST(SpecDrift, NonZeroValuesMustBePresent) {
  EXPECT_EQ(spec_drift({{"ReadOnly", true}}, json::object()).fields,
            std::vector<std::string>{"ReadOnly"});
  EXPECT_EQ(spec_drift({{"Count", 1}}, json::object()).fields, std::vector<std::string>{"Count"});
  EXPECT_EQ(spec_drift({{"Hostname", "h"}}, json::object()).fields,
            std::vector<std::string>{"Hostname"});
  EXPECT_EQ(spec_drift({{"Args", json::array({"x"})}}, json::object()).fields,
            std::vector<std::string>{"Args"});
  EXPECT_EQ(spec_drift({{"Labels", {{"a", "b"}}}}, json::object()).fields,
            std::vector<std::string>{"Labels"});
}

TEST(SpecDrift, ArrayDifferencesNameTheIndex) {
  json actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Env"][1] = "B=changed";
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"TaskTemplate.ContainerSpec.Env[1]"});

  actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Mounts"][0]["Target"] = "/other";
  EXPECT_EQ(first_difference(expected_spec(), actual),
            "TaskTemplate.ContainerSpec.Mounts[0].Target");

  actual = expected_spec();
  actual["TaskTemplate"]["Networks"][0]["Aliases"][0] = "x";
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"TaskTemplate.Networks[0].Aliases[0]"});
}

TEST(SpecDrift, ArrayLengthDifferenceNamesTheArray) {
  json actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Env"].push_back("C=3");
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"TaskTemplate.ContainerSpec.Env"});

  actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Env"].erase(0);
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            std::vector<std::string>{"TaskTemplate.ContainerSpec.Env"});

  // Order matters: Env is a list, not a set.
  actual = expected_spec();
  std::swap(actual["TaskTemplate"]["ContainerSpec"]["Env"][0],
            actual["TaskTemplate"]["ContainerSpec"]["Env"][1]);
  EXPECT_EQ(spec_drift(expected_spec(), actual).fields,
            (std::vector<std::string>{"TaskTemplate.ContainerSpec.Env[0]",
                                      "TaskTemplate.ContainerSpec.Env[1]"}));
}

TEST(SpecDrift, TypeMismatchIsADifference) {
  EXPECT_EQ(first_difference({{"Mode", {{"Replicated", {{"Replicas", 1}}}}}}, {{"Mode", "x"}}),
            "Mode");
  EXPECT_EQ(spec_drift({{"Env", json::array({"A=1"})}}, {{"Env", "A=1"}}).fields,
            std::vector<std::string>{"Env"});
  EXPECT_EQ(spec_drift({{"Replicas", 1}}, {{"Replicas", "1"}}).fields,
            std::vector<std::string>{"Replicas"});
  EXPECT_EQ(spec_drift({{"Flag", true}}, {{"Flag", 1}}).fields, std::vector<std::string>{"Flag"});
  EXPECT_EQ(spec_drift(json::object(), json::array()).fields, std::vector<std::string>{"(root)"});
}

TEST(SpecDrift, ImageDigestSuffixIsTolerated) {
  const json expected = {{"TaskTemplate", {{"ContainerSpec", {{"Image", "a:1"}}}}}};
  const auto with_image = [](const std::string& image) {
    return json{{"TaskTemplate", {{"ContainerSpec", {{"Image", image}}}}}};
  };
  EXPECT_TRUE(spec_drift(expected, with_image("a:1")).empty());
  EXPECT_EQ(first_difference(expected, with_image("a:1@sha256:"
                                                  "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
                                                  "8293a4b5c6d7e8f9")),
            "");
  EXPECT_EQ(spec_drift(expected, with_image("a:2")).fields,
            std::vector<std::string>{"TaskTemplate.ContainerSpec.Image"});
  EXPECT_EQ(first_difference(expected, with_image("a:2@sha256:abcd")),
            "TaskTemplate.ContainerSpec.Image");
  // A longer tag that merely starts with the wanted one is another image.
  EXPECT_EQ(spec_drift(expected, with_image("a:10")).fields,
            std::vector<std::string>{"TaskTemplate.ContainerSpec.Image"});
  EXPECT_EQ(first_difference(expected, with_image("a:1-alpine")),
            "TaskTemplate.ContainerSpec.Image");
  // Only actual may carry the digest: a wanted digest is not covered by a bare tag.
  EXPECT_EQ(first_difference(with_image("a:1@sha256:abcd"), with_image("a:1")),
            "TaskTemplate.ContainerSpec.Image");
  EXPECT_EQ(first_difference(expected, json{{"TaskTemplate", {{"ContainerSpec", json::object()}}}}),
            "TaskTemplate.ContainerSpec.Image");
}

TEST(SpecDrift, IntegerAndDoubleOfTheSameValueAreEqual) {
  EXPECT_TRUE(spec_drift({{"NanoCPUs", 500000000}}, {{"NanoCPUs", 500000000.0}}).empty());
  EXPECT_TRUE(spec_drift({{"Replicas", 2.0}}, {{"Replicas", 2}}).empty());
  EXPECT_TRUE(spec_drift({{"Replicas", 2u}}, {{"Replicas", 2}}).empty());
  EXPECT_EQ(spec_drift({{"Replicas", 2}}, {{"Replicas", 2.5}}).fields,
            std::vector<std::string>{"Replicas"});
  EXPECT_EQ(spec_drift({{"Ratio", 0.5}}, {{"Ratio", 0.25}}).fields,
            std::vector<std::string>{"Ratio"});
}

TEST(SpecDrift, DifferencesAreListedInKeyOrder) {
  // nlohmann's object keeps keys sorted: "A" is compared before "B".
  EXPECT_EQ(spec_drift({{"B", 1}, {"A", 1}}, {{"A", 2}, {"B", 2}}).fields,
            (std::vector<std::string>{"A", "B"}));
}

}  // namespace
}  // namespace captain::swarm
