// controller/swarm/docker_client's free helpers (image references, API versions, X-Registry-Auth,
// path templates for span names) and docker_transport's url_encode.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "controller/auth/base64url.h"
#include "controller/swarm/docker_client.h"
#include "controller/swarm/docker_transport.h"

namespace captain::swarm {
namespace {

using nlohmann::json;
using Ref = std::pair<std::string, std::string>;

TEST(DockerClientPullReference, BareNameGetsLatest) {
  EXPECT_EQ(pull_reference("busybox"), Ref("busybox", "latest"));
  EXPECT_EQ(pull_reference("team/app"), Ref("team/app", "latest"));
}

TEST(DockerClientPullReference, TagIsSplitOff) {
  EXPECT_EQ(pull_reference("busybox:1.36"), Ref("busybox", "1.36"));
  EXPECT_EQ(pull_reference("reg.io:5000/team/app:3"), Ref("reg.io:5000/team/app", "3"));
  EXPECT_EQ(pull_reference("localhost:5000/app:v1.2-rc"), Ref("localhost:5000/app", "v1.2-rc"));
}

TEST(DockerClientPullReference, RegistryPortIsNotATag) {
  EXPECT_EQ(pull_reference("reg.io:5000/team/app"), Ref("reg.io:5000/team/app", "latest"));
  EXPECT_EQ(pull_reference("localhost:5000/app"), Ref("localhost:5000/app", "latest"));
}

TEST(DockerClientPullReference, DigestKeepsWholeReference) {
  const std::string digest =
      "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
  EXPECT_EQ(pull_reference("busybox@" + digest), Ref("busybox@" + digest, ""));
  EXPECT_EQ(pull_reference("reg.io:5000/team/app:3@" + digest),
            Ref("reg.io:5000/team/app:3@" + digest, ""));
}

TEST(DockerClientRegistryOf, DockerHubUnlessFirstComponentIsAHost) {
  EXPECT_EQ(registry_of("nginx"), "docker.io");
  EXPECT_EQ(registry_of("nginx:1.25"), "docker.io");
  EXPECT_EQ(registry_of("team/app"), "docker.io");
  EXPECT_EQ(registry_of("team/app:3"), "docker.io");
  EXPECT_EQ(registry_of("reg.io/app"), "reg.io");
  EXPECT_EQ(registry_of("reg.io/team/app:3"), "reg.io");
  EXPECT_EQ(registry_of("localhost:5000/app"), "localhost:5000");
  EXPECT_EQ(registry_of("localhost/app"), "localhost");
  EXPECT_EQ(registry_of("ghcr.io/owner/app@sha256:abcd"), "ghcr.io");
  EXPECT_EQ(registry_of("docker.io/library/nginx"), "docker.io");
}

TEST(DockerClientApiVersion, ComparesMajorThenMinorNumerically) {
  EXPECT_TRUE(api_version_at_least("1.41", "1.41"));
  EXPECT_TRUE(api_version_at_least("1.43", "1.41"));
  EXPECT_TRUE(api_version_at_least("1.100", "1.41"));  // numeric, not lexicographic
  EXPECT_TRUE(api_version_at_least("2.0", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.40", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.9", "1.41"));
  EXPECT_FALSE(api_version_at_least("0.99", "1.41"));
}

TEST(DockerClientApiVersion, MalformedVersionsAreNotEnough) {
  EXPECT_FALSE(api_version_at_least("", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.x", "1.41"));
  EXPECT_FALSE(api_version_at_least("1", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.", "1.41"));
  EXPECT_FALSE(api_version_at_least(".43", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.43.0", "1.41"));
  EXPECT_FALSE(api_version_at_least("v1.43", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.43 ", "1.41"));
  EXPECT_FALSE(api_version_at_least("1.43", ""));
}

// Base64url with or without '=' padding (Go's base64.URLEncoding, which the daemon decodes
// with, pads).
json decode_auth(std::string header) {
  while (!header.empty() && header.back() == '=') header.pop_back();
  const auto bytes = auth::base64url_decode(header);
  if (!bytes) return nullptr;
  return json::parse(*bytes, nullptr, false);
}

TEST(DockerClientRegistryAuth, HeaderIsBase64UrlOfCredentialsJson) {
  const std::string header = registry_auth_header("ci-bot", "s3cr3t", "reg.io:5000");
  EXPECT_EQ(
      header.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="),
      std::string::npos)
      << header;
  const json decoded = decode_auth(header);
  ASSERT_TRUE(decoded.is_object()) << header;
  EXPECT_EQ(
      decoded,
      json({{"username", "ci-bot"}, {"password", "s3cr3t"}, {"serveraddress", "reg.io:5000"}}));
}

TEST(DockerClientRegistryAuth, SpecialCharactersSurviveTheRoundTrip) {
  // JSON escapes, non-ASCII, and text whose standard base64 would contain '+' and '/' at every
  // alignment.
  for (const std::string password :
       {"p\"a\\ss/w+rd?\xC3\xA9~", ">?>?>?~~~~", ">?>?>?~~~~x", ">?>?>?~~~~xx"}) {
    const std::string header = registry_auth_header("user@example.com", password, "reg.io");
    EXPECT_EQ(header.find_first_of("+/"), std::string::npos) << header;
    const json decoded = decode_auth(header);
    ASSERT_TRUE(decoded.is_object()) << header;
    EXPECT_EQ(decoded["username"], "user@example.com");
    EXPECT_EQ(decoded["password"], password);
    EXPECT_EQ(decoded["serveraddress"], "reg.io");
  }
}

TEST(DockerClientRegistryAuth, EmptyServerAddressIsKept) {
  const json decoded = decode_auth(registry_auth_header("u", "p", ""));
  ASSERT_TRUE(decoded.is_object());
  EXPECT_EQ(decoded, json({{"username", "u"}, {"password", "p"}, {"serveraddress", ""}}));
}

// The daemon decodes X-Registry-Auth with Go's base64.URLEncoding, which requires '=' padding:
// moby's registry.DecodeAuthConfig (base64.URLEncoding.DecodeString in current releases, a
// base64.NewDecoder stream in 20.10-era ones) rejects or truncates an unpadded value whose
// length is not a multiple of 4, and the pull then runs without credentials.
TEST(DockerClientRegistryAuth, HeaderIsPaddedAsGoUrlEncodingExpects) {
  for (const std::string password : {"p", "pp", "ppp"}) {
    const std::string header = registry_auth_header("u", password, "");
    EXPECT_EQ(header.size() % 4, 0u) << header;
  }
}

TEST(DockerClientUrlEncode, FiltersJsonIsPercentEncoded) {
  const std::string filters = json{{"service", {"srv-captain--web"}}}.dump();
  ASSERT_EQ(filters, R"({"service":["srv-captain--web"]})");
  EXPECT_EQ(url_encode(filters), "%7B%22service%22%3A%5B%22srv-captain--web%22%5D%7D");
  EXPECT_EQ(url_encode(R"({"label":["com.caprover.managed=true"]})"),
            "%7B%22label%22%3A%5B%22com.caprover.managed%3Dtrue%22%5D%7D");
}

TEST(DockerClientUrlEncode, UnreservedKeptEverythingElseEncoded) {
  EXPECT_EQ(url_encode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(url_encode(""), "");
  EXPECT_EQ(url_encode("a b/c?d&e=f+g%"), "a%20b%2Fc%3Fd%26e%3Df%2Bg%25");
  EXPECT_EQ(url_encode("\xC3\xA9\xff"), "%C3%A9%FF");
  EXPECT_EQ(url_encode(std::string("\0x", 2)), "%00x");
}

TEST(DockerPathTemplate, NamesAndIdsBecomePlaceholders) {
  EXPECT_EQ(docker_path_template("/v1.41/services/create"), "/services/create");
  EXPECT_EQ(docker_path_template("/v1.41/services/srv-captain--web/update?version=12"),
            "/services/{id}/update");
  EXPECT_EQ(docker_path_template("/v1.41/services/srv-captain--web"), "/services/{id}");
  EXPECT_EQ(docker_path_template("/v1.41/tasks?filters=%7B%7D"), "/tasks");
  EXPECT_EQ(docker_path_template("/v1.41/images/captain-test%2Fweb%3A1/json"),
            "/images/{name}/json");
  EXPECT_EQ(docker_path_template("/v1.41/images/create?fromImage=busybox&tag=latest"),
            "/images/create");
  EXPECT_EQ(docker_path_template("/v1.41/images/json?filters=x"), "/images/json");
  EXPECT_EQ(docker_path_template("/v1.41/containers/abc123/exec"), "/containers/{id}/exec");
  EXPECT_EQ(docker_path_template("/v1.41/exec/e1/start"), "/exec/{id}/start");
  EXPECT_EQ(docker_path_template("/v1.41/networks/captain-overlay-network"), "/networks/{name}");
  EXPECT_EQ(docker_path_template("/v1.41/volumes/captain--data"), "/volumes/{name}");
  EXPECT_EQ(docker_path_template("/version"), "/version");
  EXPECT_EQ(docker_path_template("/_ping"), "/_ping");
  EXPECT_EQ(docker_path_template("/v1.41/build?t=img-captain--web%3A3&rm=1"), "/build");
}

}  // namespace
}  // namespace captain::swarm
