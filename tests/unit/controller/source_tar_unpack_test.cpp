// controller/source: unpacking an uploaded source tar, and everything it refuses. Each test
// builds its tar with libarchive in a fresh directory laid out as
//   <base>/upload.tar   the upload
//   <base>/a/dest/      where it is unpacked
// so a "../x" lands in <base>/a and a "../../x" in <base>, both checked to stay empty.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "controller/source/relative_path.h"
#include "controller/source/tar_unpack.h"

namespace captain::source {
namespace {

namespace fs = std::filesystem;

// Builds a tar entry by entry (pax, as bsdtar and docker write; gzip optional).
class TarWriter {
 public:
  explicit TarWriter(const fs::path& file, bool gzip = false) : writer_(archive_write_new()) {
    archive_write_set_format_pax_restricted(writer_);
    if (gzip) archive_write_add_filter_gzip(writer_);
    EXPECT_EQ(archive_write_open_filename(writer_, file.c_str()), ARCHIVE_OK);
  }
  ~TarWriter() { close(); }

  TarWriter& file(const std::string& name, const std::string& content, mode_t perm = 0644) {
    archive_entry* e = start(name, AE_IFREG, perm);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_mtime(e, 1'600'000'000, 0);
    header(e);
    EXPECT_EQ(archive_write_data(writer_, content.data(), content.size()),
              static_cast<la_ssize_t>(content.size()));
    return *this;
  }
  TarWriter& dir(const std::string& name, mode_t perm = 0755) {
    header(start(name, AE_IFDIR, perm));
    return *this;
  }
  TarWriter& symlink(const std::string& name, const std::string& target) {
    archive_entry* e = start(name, AE_IFLNK, 0777);
    archive_entry_set_symlink(e, target.c_str());
    header(e);
    return *this;
  }
  TarWriter& hardlink(const std::string& name, const std::string& target) {
    archive_entry* e = start(name, AE_IFREG, 0644);
    archive_entry_set_hardlink(e, target.c_str());
    header(e);
    return *this;
  }
  TarWriter& special(const std::string& name, mode_t type) {
    header(start(name, type, 0644));
    return *this;
  }
  // A sparse entry: `size` bytes long, holding `data` at `offset` and holes elsewhere, so the
  // tar stays small whatever the size. libarchive takes the logical bytes up to the end of the
  // data (dropping the hole's) and pads nothing after it.
  TarWriter& sparse(const std::string& name, la_int64_t size, std::size_t offset,
                    const std::string& data) {
    archive_entry* e = start(name, AE_IFREG, 0644);
    archive_entry_set_size(e, size);
    archive_entry_sparse_add_entry(e, static_cast<la_int64_t>(offset),
                                   static_cast<la_int64_t>(data.size()));
    header(e);
    const std::string logical = std::string(offset, '\0') + data;
    EXPECT_EQ(archive_write_data(writer_, logical.data(), logical.size()),
              static_cast<la_ssize_t>(logical.size()));
    return *this;
  }
  void close() {
    if (writer_ == nullptr) return;
    EXPECT_EQ(archive_write_close(writer_), ARCHIVE_OK) << archive_error_string(writer_);
    archive_write_free(writer_);
    archive_entry_free(entry_);
    writer_ = nullptr;
  }

 private:
  archive_entry* start(const std::string& name, mode_t type, mode_t perm) {
    archive_entry_clear(entry_);
    archive_entry_set_pathname(entry_, name.c_str());
    archive_entry_set_filetype(entry_, type);
    archive_entry_set_perm(entry_, perm);
    return entry_;
  }
  void header(archive_entry* e) {
    EXPECT_EQ(archive_write_header(writer_, e), ARCHIVE_OK) << archive_error_string(writer_);
  }

  archive* writer_;
  archive_entry* entry_ = archive_entry_new();
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class SourceTarUnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = fs::temp_directory_path() / "captain-source-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    tar_ = base_ / "upload.tar";
    dest_ = base_ / "a" / "dest";
    fs::create_directories(dest_);
  }
  void TearDown() override {
    fs::remove_all(base_);
    fs::remove(escape_);
  }

  Expected<UnpackStats, std::string> unpack(const UnpackLimits& limits = {}) {
    return unpack_tar(tar_, 0, fs::file_size(tar_), dest_, limits);
  }

  // What exists under <base> besides the upload and the destination: must stay {"a"}.
  std::set<std::string> outside() const {
    std::set<std::string> found;
    for (auto it = fs::recursive_directory_iterator(base_); it != fs::end(it); ++it) {
      const std::string relative = it->path().lexically_relative(base_).string();
      if (relative == "a/dest") it.disable_recursion_pending();
      if (relative != "a/dest" && relative != "upload.tar") found.insert(relative);
    }
    return found;
  }

  void expect_refused(const std::string& message) {
    auto result = unpack();
    ASSERT_FALSE(result) << "unpacked " << result->entries << " entries";
    EXPECT_EQ(result.error(), message);
    EXPECT_EQ(outside(), std::set<std::string>{"a"});
    EXPECT_FALSE(fs::exists(fs::symlink_status(escape_)));
  }
  void expect_entry_refused(const std::string& why) {
    expect_refused("the source tar is refused: entry " + why);
  }

  fs::path base_, tar_, dest_;
  // An absolute path a broken unpacker would write to, harmless and checked absent.
  const fs::path escape_ =
      fs::temp_directory_path() / ("captain-escape-" + std::to_string(::getpid()));
};

TEST_F(SourceTarUnpackTest, UnpacksFilesDirectoriesLinksAndModes) {
  TarWriter(tar_)
      .dir("./")
      .dir("src/")
      .file("src/app.js", "console.log(1)\n")
      .file("bin/run.sh", "#!/bin/sh\n", 0755)  // its parent is not listed: made implicitly
      .file("./setuid", "x", 06755)
      .dir("private", 0500)
      .file("empty", "")
      .symlink("latest", "src/app.js")
      .symlink("src/self", ".")
      .hardlink("src/copy.js", "src/app.js");
  auto stats = unpack();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->entries, 9u);  // the "./" root entry is not one
  EXPECT_EQ(stats->bytes, 15u + 10u + 1u);
  EXPECT_EQ(read(dest_ / "src/app.js"), "console.log(1)\n");
  EXPECT_EQ(read(dest_ / "bin/run.sh"), "#!/bin/sh\n");
  EXPECT_EQ(mode_of(dest_ / "bin/run.sh"), 0755u);
  EXPECT_EQ(mode_of(dest_ / "src/app.js"), 0644u);
  EXPECT_EQ(mode_of(dest_ / "setuid"), 0755u);   // setuid and setgid dropped
  EXPECT_EQ(mode_of(dest_ / "private"), 0700u);  // directories keep owner rwx
  EXPECT_EQ(fs::file_size(dest_ / "empty"), 0u);
  EXPECT_EQ(fs::read_symlink(dest_ / "latest"), "src/app.js");
  EXPECT_EQ(fs::read_symlink(dest_ / "src/self"), ".");
  EXPECT_TRUE(fs::equivalent(dest_ / "src/copy.js", dest_ / "src/app.js"));
  struct stat st {};
  ASSERT_EQ(::stat((dest_ / "src/app.js").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 1'600'000'000);
  EXPECT_EQ(outside(), std::set<std::string>{"a"});
}

TEST_F(SourceTarUnpackTest, UnpacksAGzippedTar) {
  TarWriter(tar_, /*gzip=*/true)
      .dir("app/")
      .file("app/Dockerfile", "FROM alpine\n")
      .file("app/x/y", "y");
  auto stats = unpack();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->entries, 3u);
  EXPECT_EQ(read(dest_ / "app/Dockerfile"), "FROM alpine\n");
  EXPECT_EQ(read(dest_ / "app/x/y"), "y");
}

TEST_F(SourceTarUnpackTest, ReadsOnlyItsByteRangeOfALargerFile) {
  const fs::path inner = base_ / "inner.tar";
  TarWriter(inner).file("captain-definition", R"({"schemaVersion": 2})");
  const std::string tar = read(inner);
  fs::remove(inner);
  const std::string before =
      "--boundary\r\nContent-Disposition: form-data; name=\"sourceFile\"\r\n\r\n";
  const std::string after = "\r\n--boundary--\r\n" + std::string(5000, 'z');
  std::ofstream(tar_, std::ios::binary) << before << tar << after;

  auto stats = unpack_tar(tar_, before.size(), tar.size(), dest_, {});
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(read(dest_ / "captain-definition"), R"({"schemaVersion": 2})");
  // Cut short, the same range is a truncated tar.
  fs::remove_all(dest_);
  fs::create_directory(dest_);
  auto cut = unpack_tar(tar_, before.size(), 700, dest_, {});
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().rfind("the source tar cannot be read", 0), 0u) << cut.error();
}

TEST_F(SourceTarUnpackTest, RefusesNamesThatLeaveTheDirectory) {
  TarWriter(tar_).file("ok", "1").file("../x", "evil");
  expect_refused(R"(the source tar is refused: entry "../x" leaves the source directory (".."))");
  EXPECT_EQ(read(dest_ / "ok"), "1");  // what came before stays; the caller deletes dest_dir

  fs::remove_all(dest_);
  fs::create_directory(dest_);
  TarWriter(tar_).file("sub/../../../x", "evil");
  expect_entry_refused(R"("sub/../../../x" leaves the source directory (".."))");
}

TEST_F(SourceTarUnpackTest, RefusesAbsoluteNames) {
  TarWriter(tar_).file(escape_.string(), "evil");
  expect_refused("the source tar is refused: entry " + quote(escape_.string()) +
                 " is an absolute path");
}

TEST_F(SourceTarUnpackTest, RefusesSymlinksThatLeaveTheTree) {
  TarWriter(tar_).symlink("etc", "/etc");
  expect_entry_refused(R"("etc" is a symlink to "/etc", an absolute path)");

  TarWriter(tar_).dir("d").symlink("d/up", "../../x");
  expect_entry_refused(R"("d/up" is a symlink to "../../x", which leaves the source directory)");

  TarWriter(tar_).symlink("a", "..");
  expect_entry_refused(R"("a" is a symlink to "..", which leaves the source directory)");
}

TEST_F(SourceTarUnpackTest, AcceptsSymlinksThatStayInside) {
  TarWriter(tar_).symlink("a", ".").dir("d").symlink("d/up", "..").symlink("d/sibling", "../e/f");
  auto stats = unpack();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(fs::read_symlink(dest_ / "a"), ".");
  EXPECT_EQ(fs::read_symlink(dest_ / "d/sibling"), "../e/f");
}

// "s/a" -> ".." is the root and "s/b" -> "a/.." looks like "s", but the kernel follows "a"
// first: "s/b" would be the root's parent. ".." after a name is refused, in either order.
TEST_F(SourceTarUnpackTest, RefusesSymlinkChainsThatLeaveTheTree) {
  const std::string refused =
      R"(the source tar is refused: entry "s/b" is a symlink to "a/..", with ".." after a name )"
      "(allowed only at its start)";
  TarWriter(tar_).dir("s").symlink("s/a", "..").symlink("s/b", "a/..");
  expect_refused(refused);

  fs::remove_all(dest_);
  fs::create_directory(dest_);
  TarWriter(tar_).dir("s").symlink("s/b", "a/..").symlink("s/a", "..");
  expect_refused(refused);
}

TEST_F(SourceTarUnpackTest, RefusesOverlongNames) {
  TarWriter(tar_).file(std::string(5000, 'n'), "x");
  expect_refused("the source tar is refused: entry \"" + std::string(64, 'n') +
                 "...\" has a name longer than 4096 bytes");
}

TEST_F(SourceTarUnpackTest, NeverWritesThroughASymlink) {
  TarWriter(tar_).dir("sub").symlink("d", "sub").file("d/file", "x");
  expect_entry_refused(R"("d/file" would be written through "d", which is a symlink)");
  EXPECT_FALSE(fs::exists(dest_ / "sub/file"));

  fs::remove_all(dest_);
  fs::create_directory(dest_);
  TarWriter(tar_).symlink("a", ".").dir("a/b");
  expect_entry_refused(R"("a/b" would be written through "a", which is a symlink)");
  EXPECT_FALSE(fs::exists(dest_ / "b"));

  fs::remove_all(dest_);
  fs::create_directory(dest_);
  TarWriter(tar_).file("f", "x").file("f/g", "y");
  expect_entry_refused(R"("f/g" would be written through "f", which is not a directory)");
}

TEST_F(SourceTarUnpackTest, LaterEntriesReplaceFilesAndLinksButNotDirectories) {
  TarWriter(tar_).file("x", "old").symlink("x", "y").symlink("l", "x").file("l", "new");
  auto stats = unpack();
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(fs::read_symlink(dest_ / "x"), "y");
  EXPECT_FALSE(fs::is_symlink(dest_ / "l"));
  EXPECT_EQ(read(dest_ / "l"), "new");

  fs::remove_all(dest_);
  fs::create_directory(dest_);
  TarWriter(tar_).file("d/f", "x").file("d", "file over a directory");
  expect_entry_refused(R"("d" would replace the directory of the same name)");
}

TEST_F(SourceTarUnpackTest, RefusesHardLinksToAnythingButAnExtractedFile) {
  TarWriter(tar_).hardlink("h", "../outside");
  expect_entry_refused(
      R"("h" is a hard link to "../outside", which leaves the source directory (".."))");

  TarWriter(tar_).hardlink("h", "/etc/passwd");
  expect_entry_refused(R"("h" is a hard link to "/etc/passwd", which is an absolute path)");

  TarWriter(tar_).hardlink("h", "later").file("later", "x");
  expect_entry_refused(R"("h" is a hard link to "later", which is not a file extracted before it)");

  // Linking the symlink itself would make a new symlink whose target means something else.
  TarWriter(tar_).dir("d").symlink("d/up", "..").hardlink("h", "d/up");
  expect_entry_refused(R"("h" is a hard link to "d/up", which is not a file extracted before it)");
}

TEST_F(SourceTarUnpackTest, RefusesDevicesAndFifos) {
  const std::string kOnly = "; only files, directories and links are allowed";
  TarWriter(tar_).special("dev/null", AE_IFCHR);
  expect_entry_refused(R"("dev/null" is a character device)" + kOnly);
  TarWriter(tar_).special("disk", AE_IFBLK);
  expect_entry_refused(R"("disk" is a block device)" + kOnly);
  TarWriter(tar_).special("pipe", AE_IFIFO);
  expect_entry_refused(R"("pipe" is a FIFO)" + kOnly);
  EXPECT_FALSE(fs::exists(fs::symlink_status(dest_ / "pipe")));
}

TEST_F(SourceTarUnpackTest, LimitsTheNumberOfEntries) {
  {
    TarWriter tar(tar_);
    for (int i = 0; i < 10; ++i) tar.file("f" + std::to_string(i), "x");
  }
  ASSERT_TRUE(unpack({.max_entries = 10}));
  {
    TarWriter tar(tar_);
    for (int i = 0; i < 11; ++i) tar.file("g" + std::to_string(i), "x");
  }
  auto over = unpack({.max_entries = 10});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), "the source tar has more than 10 entries");
  EXPECT_FALSE(fs::exists(dest_ / "g10"));
}

TEST_F(SourceTarUnpackTest, RefusesAHugeDeclaredSizeBeforeWritingIt) {
  TarWriter(tar_).file("small", "x").sparse("huge", 10LL << 30, 0, "data");
  ASSERT_LT(fs::file_size(tar_), 64u * 1024);
  expect_refused(R"(the source tar unpacks to more than 4294967296 bytes (at entry "huge"))");
  EXPECT_FALSE(fs::exists(dest_ / "huge"));

  auto small_limit = unpack({.max_total_bytes = 1 << 20});
  ASSERT_FALSE(small_limit);
  EXPECT_EQ(small_limit.error(),
            R"(the source tar unpacks to more than 1048576 bytes (at entry "huge"))");
}

TEST_F(SourceTarUnpackTest, CountsTheSumOfEntries) {
  const std::string chunk(600 * 1024, 'c');
  TarWriter(tar_).file("one", chunk).file("two", chunk);
  auto over = unpack({.max_total_bytes = 1 << 20});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), R"(the source tar unpacks to more than 1048576 bytes (at entry "two"))");
  EXPECT_FALSE(fs::exists(dest_ / "two"));
}

TEST_F(SourceTarUnpackTest, UnpacksASparseFileWithinTheLimit) {
  TarWriter(tar_).sparse("holes", 8 << 20, 1 << 20, "middle");
  auto stats = unpack({.max_total_bytes = 16 << 20});
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->bytes, 8u << 20);
  const std::string content = read(dest_ / "holes");
  ASSERT_EQ(content.size(), 8u << 20);
  EXPECT_EQ(content.substr(1 << 20, 6), "middle");
  EXPECT_EQ(content.find_first_not_of('\0'), 1u << 20);
  EXPECT_EQ(content.find_last_not_of('\0'), (1u << 20) + 5);
}

TEST_F(SourceTarUnpackTest, SaysWhyItCannotReadCorruptInput) {
  std::ofstream(tar_, std::ios::binary) << std::string(3000, 'j') << "not a tar";
  auto junk = unpack();
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error(), "the source tar cannot be read: Unrecognized archive format");

  TarWriter(tar_).file("big", std::string(100'000, 'b'));
  fs::resize_file(tar_, 50'000);
  auto truncated = unpack();
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().rfind(R"(the source tar cannot be read (entry "big"): )", 0), 0u)
      << truncated.error();

  TarWriter(tar_, /*gzip=*/true).file("big", std::string(100'000, 'b'));
  fs::resize_file(tar_, fs::file_size(tar_) / 2);
  auto cut_gzip = unpack();
  ASSERT_FALSE(cut_gzip);
  EXPECT_EQ(cut_gzip.error().rfind("the source tar cannot be read", 0), 0u) << cut_gzip.error();
  EXPECT_EQ(outside(), std::set<std::string>{"a"});
}

TEST_F(SourceTarUnpackTest, RefusesAnEmptyArchive) {
  TarWriter(tar_).close();
  auto no_entries = unpack();
  ASSERT_FALSE(no_entries);
  EXPECT_EQ(no_entries.error(), "the source tar is empty");

  TarWriter(tar_).dir("./");
  auto only_root = unpack();
  ASSERT_FALSE(only_root);
  EXPECT_EQ(only_root.error(), "the source tar is empty");

  std::ofstream(tar_, std::ios::trunc);
  auto zero_bytes = unpack();
  ASSERT_FALSE(zero_bytes);
  EXPECT_EQ(zero_bytes.error(), "the source tar is empty");
}

TEST(SourceRelativePath, NormalisesAndRefuses) {
  EXPECT_EQ(*normalise_relative_path("./a//b/./c/"), "a/b/c");
  EXPECT_EQ(*normalise_relative_path("./"), "");
  EXPECT_EQ(*normalise_relative_path("..a/b.."), "..a/b..");
  EXPECT_EQ(normalise_relative_path("/etc").error(), "is an absolute path");
  EXPECT_EQ(normalise_relative_path("a/../b").error(), R"(leaves the source directory (".."))");
  EXPECT_EQ(quote("a\"b\\c\n\x7f"), R"("a\"b\\c\x0a\x7f")");
}

}  // namespace
}  // namespace captain::source
