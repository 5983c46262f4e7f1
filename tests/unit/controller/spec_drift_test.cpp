// controller/swarm/spec_drift: "the service Docker echoes back covers the spec we would send".
#include "controller/swarm/spec_drift.h"

#include <gtest/gtest.h>

namespace captain::swarm {
namespace {

using nlohmann::json;

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

TEST(SpecDrift, IdenticalSpecsHaveNoDifference) {
  EXPECT_EQ(spec_difference(expected_spec(), expected_spec()), "");
  EXPECT_EQ(spec_difference(json::object(), json::object()), "");
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
  EXPECT_EQ(spec_difference(expected_spec(), actual), "");
}

TEST(SpecDrift, MissingNonZeroFieldIsReportedByPath) {
  json actual = expected_spec();
  actual["TaskTemplate"]["Resources"]["Limits"].erase("MemoryBytes");
  EXPECT_EQ(spec_difference(expected_spec(), actual), "TaskTemplate.Resources.Limits.MemoryBytes");

  actual = expected_spec();
  actual.erase("UpdateConfig");
  EXPECT_EQ(spec_difference(expected_spec(), actual), "UpdateConfig");

  actual = expected_spec();
  actual["Labels"].erase("captain.version");
  EXPECT_EQ(spec_difference(expected_spec(), actual), "Labels.captain.version");
}

TEST(SpecDrift, ChangedScalarIsReportedByPath) {
  json actual = expected_spec();
  actual["Mode"]["Replicated"]["Replicas"] = 3;
  EXPECT_EQ(spec_difference(expected_spec(), actual), "Mode.Replicated.Replicas");

  actual = expected_spec();
  actual["UpdateConfig"]["FailureAction"] = "pause";
  EXPECT_EQ(spec_difference(expected_spec(), actual), "UpdateConfig.FailureAction");

  actual = expected_spec();
  actual["Labels"]["captain.version"] = "2";
  EXPECT_EQ(spec_difference(expected_spec(), actual), "Labels.captain.version");
}

TEST(SpecDrift, ZeroValuesMayBeAbsentInActual) {
  const json expected = {{"Count", 0},        {"Ratio", 0.0},          {"ReadOnly", false},
                         {"Hostname", ""},    {"Args", json::array()}, {"Labels", json::object()},
                         {"Nothing", nullptr}};
  EXPECT_EQ(spec_difference(expected, json::object()), "");
  // A present zero value must still match what is there.
  EXPECT_EQ(spec_difference(expected, {{"ReadOnly", true}}), "ReadOnly");
  EXPECT_EQ(spec_difference(expected, {{"Count", 4}}), "Count");
  EXPECT_EQ(spec_difference(expected, {{"Args", json::array({"x"})}}), "Args");
  EXPECT_EQ(spec_difference(expected, {{"Labels", {{"a", "b"}}}}), "");  // extra keys
}

TEST(SpecDrift, NestedZeroValuesMayBeAbsentInsideAPresentObject) {
  const json expected = {{"Nested", {{"Inner", {{"Flag", false}, {"List", json::array()}}}}}};
  EXPECT_EQ(spec_difference(expected, {{"Nested", {{"Inner", json::object()}}}}), "");
  EXPECT_EQ(spec_difference(expected, {{"Nested", {{"Inner", {{"Flag", true}}}}}}),
            "Nested.Inner.Flag");
  // Only the documented zero values may be absent: an object holding (zero) fields is not {}.
  EXPECT_EQ(spec_difference(expected, json::object()), "Nested");
}

TEST(SpecDrift, NonZeroValuesMustBePresent) {
  EXPECT_EQ(spec_difference({{"ReadOnly", true}}, json::object()), "ReadOnly");
  EXPECT_EQ(spec_difference({{"Count", 1}}, json::object()), "Count");
  EXPECT_EQ(spec_difference({{"Hostname", "h"}}, json::object()), "Hostname");
  EXPECT_EQ(spec_difference({{"Args", json::array({"x"})}}, json::object()), "Args");
  EXPECT_EQ(spec_difference({{"Labels", {{"a", "b"}}}}, json::object()), "Labels");
}

TEST(SpecDrift, ArrayDifferencesNameTheIndex) {
  json actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Env"][1] = "B=changed";
  EXPECT_EQ(spec_difference(expected_spec(), actual), "TaskTemplate.ContainerSpec.Env[1]");

  actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Mounts"][0]["Target"] = "/other";
  EXPECT_EQ(spec_difference(expected_spec(), actual),
            "TaskTemplate.ContainerSpec.Mounts[0].Target");

  actual = expected_spec();
  actual["TaskTemplate"]["Networks"][0]["Aliases"][0] = "x";
  EXPECT_EQ(spec_difference(expected_spec(), actual), "TaskTemplate.Networks[0].Aliases[0]");
}

TEST(SpecDrift, ArrayLengthDifferenceNamesTheArray) {
  json actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Env"].push_back("C=3");
  EXPECT_EQ(spec_difference(expected_spec(), actual), "TaskTemplate.ContainerSpec.Env");

  actual = expected_spec();
  actual["TaskTemplate"]["ContainerSpec"]["Env"].erase(0);
  EXPECT_EQ(spec_difference(expected_spec(), actual), "TaskTemplate.ContainerSpec.Env");

  // Order matters: Env is a list, not a set.
  actual = expected_spec();
  std::swap(actual["TaskTemplate"]["ContainerSpec"]["Env"][0],
            actual["TaskTemplate"]["ContainerSpec"]["Env"][1]);
  EXPECT_EQ(spec_difference(expected_spec(), actual), "TaskTemplate.ContainerSpec.Env[0]");
}

TEST(SpecDrift, TypeMismatchIsADifference) {
  EXPECT_EQ(spec_difference({{"Mode", {{"Replicated", {{"Replicas", 1}}}}}}, {{"Mode", "x"}}),
            "Mode");
  EXPECT_EQ(spec_difference({{"Env", json::array({"A=1"})}}, {{"Env", "A=1"}}), "Env");
  EXPECT_EQ(spec_difference({{"Replicas", 1}}, {{"Replicas", "1"}}), "Replicas");
  EXPECT_EQ(spec_difference({{"Flag", true}}, {{"Flag", 1}}), "Flag");
  EXPECT_EQ(spec_difference(json::object(), json::array()), "(root)");
}

TEST(SpecDrift, ImageDigestSuffixIsTolerated) {
  const json expected = {{"TaskTemplate", {{"ContainerSpec", {{"Image", "a:1"}}}}}};
  const auto with_image = [](const std::string& image) {
    return json{{"TaskTemplate", {{"ContainerSpec", {{"Image", image}}}}}};
  };
  EXPECT_EQ(spec_difference(expected, with_image("a:1")), "");
  EXPECT_EQ(spec_difference(expected, with_image("a:1@sha256:"
                                                 "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
                                                 "8293a4b5c6d7e8f9")),
            "");
  EXPECT_EQ(spec_difference(expected, with_image("a:2")), "TaskTemplate.ContainerSpec.Image");
  EXPECT_EQ(spec_difference(expected, with_image("a:2@sha256:abcd")),
            "TaskTemplate.ContainerSpec.Image");
  // A longer tag that merely starts with the wanted one is another image.
  EXPECT_EQ(spec_difference(expected, with_image("a:10")), "TaskTemplate.ContainerSpec.Image");
  EXPECT_EQ(spec_difference(expected, with_image("a:1-alpine")),
            "TaskTemplate.ContainerSpec.Image");
  // Only actual may carry the digest: a wanted digest is not covered by a bare tag.
  EXPECT_EQ(spec_difference(with_image("a:1@sha256:abcd"), with_image("a:1")),
            "TaskTemplate.ContainerSpec.Image");
  EXPECT_EQ(spec_difference(expected, json{{"TaskTemplate", {{"ContainerSpec", json::object()}}}}),
            "TaskTemplate.ContainerSpec.Image");
}

TEST(SpecDrift, IntegerAndDoubleOfTheSameValueAreEqual) {
  EXPECT_EQ(spec_difference({{"NanoCPUs", 500000000}}, {{"NanoCPUs", 500000000.0}}), "");
  EXPECT_EQ(spec_difference({{"Replicas", 2.0}}, {{"Replicas", 2}}), "");
  EXPECT_EQ(spec_difference({{"Replicas", 2u}}, {{"Replicas", 2}}), "");
  EXPECT_EQ(spec_difference({{"Replicas", 2}}, {{"Replicas", 2.5}}), "Replicas");
  EXPECT_EQ(spec_difference({{"Ratio", 0.5}}, {{"Ratio", 0.25}}), "Ratio");
}

TEST(SpecDrift, FirstDifferenceInKeyOrderIsReported) {
  // nlohmann's object keeps keys sorted: "A" is compared before "B".
  EXPECT_EQ(spec_difference({{"B", 1}, {"A", 1}}, {{"A", 2}, {"B", 2}}), "A");
}

}  // namespace
}  // namespace captain::swarm
