// libFuzzer target for unpacking an uploaded source tar (source::unpack_tar, as the builder does
// for a deploy upload): the input is the tar (or tar.gz), stored inside a multipart-like file
// and read by byte range, unpacked into a fresh directory per input with small limits.
//
// Layout, made once per process under /dev/shm (or $TMPDIR):
//   fuzz-tar-XXXXXX/upload        the input between a multipart head and tail
//   fuzz-tar-XXXXXX/sandbox/job/  the destination, made empty for every input
//
// Tar headers carry a checksum that random mutations almost never keep right, and libarchive (not
// instrumented) would refuse such a header before the unpacker sees it; so every non-zero
// 512-byte block of a plain tar gets a correct checksum, and mutated names, types, sizes and
// link targets reach the unpacker. A gzip input is unpacked as it is.
//
// Invariants checked on every input, accepted or refused:
//   * nothing appears outside the destination: the sandbox holds only "job", the root only
//     "upload" and "sandbox";
//   * inside it, only files, directories and symlinks, none setuid, setgid or sticky, and every
//     symlink resolves inside the destination;
//   * the files hold at most the byte limit, and an accepted tar reports at most the limits;
//   * the destination can be deleted.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "controller/source/tar_unpack.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace fs = std::filesystem;
using captain::fuzz::check;
namespace source = captain::source;

constexpr std::string_view kHead =
    "--fuzz\r\nContent-Disposition: form-data; name=\"sourceFile\"; filename=\"s.tar\"\r\n\r\n";
constexpr std::string_view kTail = "\r\n--fuzz--\r\n";
constexpr source::UnpackLimits kLimits{/*max_total_bytes=*/1 << 20, /*max_entries=*/64};

// tmpfs when there is one: on a disk filesystem every rmdir and every close of a new file waits
// on the journal, which makes each input ten times slower.
fs::path scratch_directory() {
  std::error_code error;
  if (fs::is_directory("/dev/shm", error) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

struct Sandbox {
  fs::path root;
  fs::path upload;
  fs::path sandbox;
  fs::path job;

  Sandbox() {
    std::string pattern = scratch_directory() / "fuzz-tar-XXXXXX";
    check(mkdtemp(pattern.data()) != nullptr);
    root = pattern;
    upload = root / "upload";
    sandbox = root / "sandbox";
    job = sandbox / "job";
    fs::create_directory(sandbox);
  }
  ~Sandbox() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
};

constexpr std::size_t kBlock = 512;
constexpr std::size_t kChecksumAt = 148;
constexpr std::size_t kChecksumSize = 8;

// The POSIX header checksum: the sum of the block's bytes with the checksum field as spaces,
// written as six octal digits, NUL, space.
void set_checksum(char* block) {
  std::memset(block + kChecksumAt, ' ', kChecksumSize);
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(block[i]);
  std::snprintf(block + kChecksumAt, kChecksumSize, "%06o", sum & 0777777);
  block[kChecksumAt + kChecksumSize - 1] = ' ';
}

std::string with_tar_checksums(std::string_view input) {
  std::string tar(input);
  if (tar.starts_with("\x1f\x8b")) return tar;  // gzip
  for (std::size_t at = 0; at + kBlock <= tar.size(); at += kBlock) {
    const auto block = std::string_view(tar).substr(at, kBlock);
    // End-of-archive blocks stay zero.
    if (block.find_first_not_of('\0') != std::string_view::npos) set_checksum(&tar[at]);
  }
  return tar;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

bool inside(const fs::path& path, const fs::path& dir) {
  const fs::path relative = path.lexically_relative(dir);
  return !relative.empty() && *relative.begin() != "..";
}

// Walks the destination without following symlinks; returns the bytes its files hold.
std::uintmax_t check_tree(const fs::path& job) {
  const fs::path real_job = fs::canonical(job);
  std::set<std::pair<dev_t, ino_t>> files_seen;  // hard links share one inode
  std::uintmax_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(job)) {
    struct stat st {};
    check(::lstat(entry.path().c_str(), &st) == 0);
    check(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode));
    check((st.st_mode & (S_ISUID | S_ISGID | S_ISVTX)) == 0);
    if (S_ISREG(st.st_mode) && files_seen.insert({st.st_dev, st.st_ino}).second) {
      bytes += static_cast<std::uintmax_t>(st.st_size);
    }
    if (S_ISLNK(st.st_mode)) {
      std::error_code loop;  // a cycle of links cannot resolve anywhere, inside or out
      const fs::path resolved = fs::weakly_canonical(entry.path(), loop);
      if (!loop) check(inside(resolved, real_job));
    }
  }
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Sandbox box;
  {
    // A new file each time: rewriting a truncated one makes ext4 flush it on close
    // (auto_da_alloc), which costs milliseconds per input.
    fs::remove(box.upload);
    std::ofstream out(box.upload, std::ios::binary);
    out << kHead << with_tar_checksums(captain::fuzz::as_text(data, size)) << kTail;
    check(out.good());
  }
  check(fs::create_directory(box.job));

  const auto unpacked =
      source::unpack_tar(box.upload, kHead.size(), size, box.job.string(), kLimits);
  if (unpacked) {
    check(unpacked->entries <= kLimits.max_entries);
    check(unpacked->bytes <= kLimits.max_total_bytes);
  }
  check(names_in(box.sandbox) == std::set<std::string>{"job"});
  check(names_in(box.root) == std::set<std::string>{"sandbox", "upload"});
  check(check_tree(box.job) <= kLimits.max_total_bytes);

  std::error_code removed;
  fs::remove_all(box.job, removed);
  check(!removed && names_in(box.sandbox).empty());
  return 0;
}
