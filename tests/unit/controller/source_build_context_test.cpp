// controller/source: the build context tar sent to Docker, read back with libarchive.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "controller/source/build_context.h"

namespace captain::source {
namespace {

namespace fs = std::filesystem;

struct Entry {
  mode_t type = 0;
  mode_t perm = 0;
  std::string content;  // a file's bytes, a symlink's target
};

std::map<std::string, Entry> read_tar(const std::string& bytes) {
  std::map<std::string, Entry> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Entry entry{archive_entry_filetype(e), archive_entry_perm(e), ""};
    if (entry.type == AE_IFLNK) entry.content = archive_entry_symlink(e);
    char buffer[4096];
    for (la_ssize_t n; (n = archive_read_data(a, buffer, sizeof buffer)) > 0;) {
      entry.content.append(buffer, static_cast<std::size_t>(n));
    }
    out[archive_entry_pathname(e)] = entry;
  }
  EXPECT_EQ(archive_errno(a), 0) << archive_error_string(a);
  archive_read_free(a);
  return out;
}

class SourceBuildContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = fs::temp_directory_path() / "captain-context-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    dir_ = base_ / "context";
    fs::create_directories(dir_ / "src" / "empty");
    std::ofstream(dir_ / "Dockerfile") << "FROM alpine\nCOPY . /app\n";
    std::ofstream(dir_ / "src" / "run.sh") << "#!/bin/sh\necho hi\n";
    fs::permissions(dir_ / "src" / "run.sh", fs::perms(0755));
    std::ofstream(base_ / "secret") << "outside";
    fs::create_symlink("src/run.sh", dir_ / "run");
    fs::create_symlink("../secret", dir_ / "escape");
  }
  void TearDown() override { fs::remove_all(base_); }

  void expect_context(const std::map<std::string, Entry>& tar) {
    ASSERT_EQ(tar.size(), 6u);
    EXPECT_EQ(tar.at("Dockerfile").type, AE_IFREG);
    EXPECT_EQ(tar.at("Dockerfile").content, "FROM alpine\nCOPY . /app\n");
    EXPECT_EQ(tar.at("src/").type, AE_IFDIR);
    EXPECT_EQ(tar.at("src/empty/").type, AE_IFDIR);
    EXPECT_EQ(tar.at("src/run.sh").content, "#!/bin/sh\necho hi\n");
    EXPECT_EQ(tar.at("src/run.sh").perm, 0755u);
    EXPECT_EQ(tar.at("run").type, AE_IFLNK);
    EXPECT_EQ(tar.at("run").content, "src/run.sh");
    // Stored as a link, never followed: the file outside is not in the tar.
    EXPECT_EQ(tar.at("escape").type, AE_IFLNK);
    EXPECT_EQ(tar.at("escape").content, "../secret");
  }

  fs::path base_, dir_;
};

TEST_F(SourceBuildContextTest, WritesTheTreeToAFile) {
  const fs::path out = base_ / "context.tar";
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto written = write_context_tar(dir_.string(), fd);
  ::close(fd);
  ASSERT_TRUE(written) << written.error();
  EXPECT_EQ(*written, fs::file_size(out));
  std::ifstream in(out, std::ios::binary);
  expect_context(read_tar(std::string(std::istreambuf_iterator<char>(in), {})));
}

TEST_F(SourceBuildContextTest, StreamsIntoAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::string received;
  std::thread reader([&] {
    char buffer[4096];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
      received.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
  });
  auto written = write_context_tar(dir_.string() + "/", fds[1]);
  ::close(fds[1]);
  reader.join();
  ASSERT_TRUE(written) << written.error();
  EXPECT_EQ(*written, received.size());
  expect_context(read_tar(received));
}

TEST_F(SourceBuildContextTest, SaysTheReaderWentAway) {
  std::ofstream(dir_ / "big") << std::string(1 << 20, 'b');  // more than a pipe holds
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ::sigaction(SIGPIPE, &ignore, &previous);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  auto written = write_context_tar(dir_.string(), fds[1]);
  ::close(fds[1]);
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().find("Broken pipe"), std::string::npos) << written.error();
}

TEST_F(SourceBuildContextTest, WantsADirectory) {
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  auto file = write_context_tar((dir_ / "Dockerfile").string(), null);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error(),
            "the build context " + (dir_ / "Dockerfile").string() + " is not a directory");
  auto missing = write_context_tar((base_ / "nope").string(), null);
  ::close(null);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cannot read the build context"), std::string::npos)
      << missing.error();
}

}  // namespace
}  // namespace captain::source
