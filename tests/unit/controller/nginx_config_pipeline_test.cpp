// ConfigPipeline against the real nginx binary (installed by scripts/setup): nginx -t on a
// generation, the atomic swap of `current`, pruning, and a SIGHUP reload of a real master.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/nginx/config_pipeline.h"
#include "controller/process/run_command.h"
#include "tests/unit/controller/loopback_port.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::nginx {
namespace {

namespace fs = std::filesystem;
constexpr const char* kNginx = "/usr/sbin/nginx";

class ConfigPipelineTest : public store::TempDirTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kNginx)) << kNginx << " missing: scripts/setup installs nginx";
    TempDirTest::SetUp();
    fs::create_directories(dir_ / "run");
    port_ = captain::testing::unused_loopback_port();
  }
  void TearDown() override {
    std::ifstream in(dir_ / "run" / "nginx.pid");
    long pid = 0;
    if (in >> pid && pid > 1 && ::kill(static_cast<pid_t>(pid), SIGQUIT) == 0) {
      // The exiting master deletes its pid file; removing the directory under it races that.
      for (int i = 0; i < 200 && ::kill(static_cast<pid_t>(pid), 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    }
    TempDirTest::TearDown();
  }

  std::vector<ConfigFile> tree(const std::string& server_body) const {
    const std::string run = (dir_ / "run").string();
    std::string main =
        "worker_processes 1;\npid " + run + "/nginx.pid;\nerror_log " + run +
        "/error.log;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      main += std::string("  ") + t + "_temp_path " + run + "/" + t + ";\n";
    }
    main += "  include servers/*.conf;\n}\n";
    return {{"nginx.conf", main},
            {"servers/app.conf", "server {\n  listen 127.0.0.1:" + std::to_string(port_) + ";\n" +
                                     server_body + "\n}\n"}};
  }

  PipelineOptions options(bool with_master) const {
    PipelineOptions o;
    o.conf_dir = dir_ / "conf";
    o.nginx_binary = kNginx;
    if (with_master) o.pid_file = dir_ / "run" / "nginx.pid";
    return o;
  }

  std::string get() const {
    auto ran = process::run_command(
        {"/usr/bin/curl", "-s", "http://127.0.0.1:" + std::to_string(port_) + "/"},
        std::chrono::seconds(10));
    return ran ? ran->output : "curl: " + ran.error();
  }

  int port_ = 0;
};

TEST_F(ConfigPipelineTest, ValidTreeBecomesCurrent) {
  ConfigPipeline pipeline(options(false));
  auto applied = pipeline.apply(tree("return 200 \"v1\";"));
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(fs::read_symlink(dir_ / "conf" / "current"), "gen-1");
  EXPECT_TRUE(fs::exists(pipeline.live_conf()));
  EXPECT_TRUE(fs::exists(dir_ / "conf" / "current" / "servers" / "app.conf"));
}

TEST_F(ConfigPipelineTest, InvalidTreeChangesNothingAndReportsNginxsMessage) {
  ConfigPipeline pipeline(options(false));
  ASSERT_TRUE(pipeline.apply(tree("return 200 \"v1\";")));
  auto applied = pipeline.apply(tree("return 200 \"v2\"; bogus_directive on;"));
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().kind, PipelineError::Kind::invalid_config);
  EXPECT_NE(applied.error().message.find("unknown directive \"bogus_directive\""),
            std::string::npos)
      << applied.error().message;
  EXPECT_NE(applied.error().message.find("servers/app.conf:3"), std::string::npos)
      << applied.error().message;
  EXPECT_EQ(fs::read_symlink(dir_ / "conf" / "current"), "gen-1");
  EXPECT_FALSE(fs::exists(dir_ / "conf" / "gen-2"));  // the refused tree is not kept
}

TEST_F(ConfigPipelineTest, TestOnlyLeavesNoGeneration) {
  ConfigPipeline pipeline(options(false));
  ASSERT_TRUE(pipeline.test(tree("return 204;")));
  ASSERT_FALSE(pipeline.test(tree("return 204")));  // missing ';'
  EXPECT_FALSE(fs::exists(dir_ / "conf" / "current"));
  EXPECT_FALSE(fs::exists(dir_ / "conf" / "gen-1"));
  EXPECT_FALSE(fs::exists(dir_ / "conf" / "gen-2"));
}

TEST_F(ConfigPipelineTest, UnsafePathsAreRefused) {
  ConfigPipeline pipeline(options(false));
  auto files = tree("return 204;");
  files.push_back({"../escape.conf", "x"});
  auto applied = pipeline.apply(files);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().kind, PipelineError::Kind::io);
  EXPECT_FALSE(fs::exists(dir_ / "escape.conf"));
  EXPECT_FALSE(safe_relative_path("/etc/nginx.conf"));
  EXPECT_FALSE(safe_relative_path("a/../../b"));
  EXPECT_TRUE(safe_relative_path("servers/app-web.conf"));
}

TEST_F(ConfigPipelineTest, OldGenerationsArePruned) {
  PipelineOptions o = options(false);
  o.keep_generations = 2;
  ConfigPipeline pipeline(o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pipeline.apply(tree("return 204;")));
  EXPECT_FALSE(fs::exists(dir_ / "conf" / "gen-3"));
  EXPECT_TRUE(fs::exists(dir_ / "conf" / "gen-4"));
  EXPECT_TRUE(fs::exists(dir_ / "conf" / "gen-5"));
  // A new pipeline (a restarted controller) continues the numbering.
  ConfigPipeline again(o);
  ASSERT_TRUE(again.apply(tree("return 204;")));
  EXPECT_EQ(fs::read_symlink(dir_ / "conf" / "current"), "gen-6");
}

// A reload that fails (a fault a real master does not produce on demand, hence the stand-in
// control): `current` goes back to the last good tree, which is reloaded again.
TEST_F(ConfigPipelineTest, AFailedReloadRestoresTheLastGoodTree) {
  PipelineOptions o = options(false);
  int reloads = 0;
  bool fail_next = false;
  o.control = NginxControl{
      [](const fs::path&) -> Expected<void, PipelineError> { return {}; },
      [&]() -> Expected<bool, PipelineError> {
        ++reloads;
        if (fail_next) {
          fail_next = false;
          return Unexpected(PipelineError{PipelineError::Kind::reload_failed, "workers died"});
        }
        return true;
      }};
  ConfigPipeline pipeline(o);
  ASSERT_TRUE(pipeline.apply(tree("return 200 \"v1\";")));
  EXPECT_TRUE(pipeline.last_apply_reloaded());
  fail_next = true;
  auto applied = pipeline.apply(tree("return 200 \"v2\";"));
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().kind, PipelineError::Kind::reload_failed);
  EXPECT_EQ(applied.error().message, "workers died");
  EXPECT_EQ(fs::read_symlink(dir_ / "conf" / "current"), "gen-1");
  EXPECT_EQ(reloads, 3);  // v1, the failed v2, v1 again
}

TEST_F(ConfigPipelineTest, NoRunningMasterIsNotAFailure) {
  // After a reboot the controller may come up before nginx: the tree goes live by the swap
  // alone and nginx starts with it.
  PipelineOptions o = options(true);  // a pid file that does not exist
  ConfigPipeline pipeline(o);
  ASSERT_TRUE(pipeline.apply(tree("return 204;")));
  EXPECT_FALSE(pipeline.last_apply_reloaded());
  std::ofstream(dir_ / "run" / "nginx.pid") << "999999999\n";  // stale: no such process
  ASSERT_TRUE(pipeline.apply(tree("return 200 \"x\";")));
  EXPECT_FALSE(pipeline.last_apply_reloaded());
  EXPECT_EQ(fs::read_symlink(dir_ / "conf" / "current"), "gen-2");
}

TEST_F(ConfigPipelineTest, ReloadsARealMasterWithoutDowntime) {
  // The first tree goes live before any master runs (nothing to reload yet).
  ASSERT_TRUE(ConfigPipeline(options(false)).apply(tree("return 200 \"v1\";")));
  ConfigPipeline pipeline(options(true));
  // Start the master on the live tree, as captain-nginx does.
  auto started =
      process::run_command({kNginx, "-c", pipeline.live_conf().string()}, std::chrono::seconds(10));
  ASSERT_TRUE(started && started->exit_status == 0) << (started ? started->output : "");
  for (int i = 0; i < 100 && get() != "v1"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(get(), "v1");

  auto applied = pipeline.apply(tree("return 200 \"v2\";"));
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(get(), "v2");
  // A refused tree leaves the running config alone.
  ASSERT_FALSE(pipeline.apply(tree("return 200 \"v3\"")));
  EXPECT_EQ(get(), "v2");
}

}  // namespace
}  // namespace captain::nginx
