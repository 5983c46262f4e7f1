#include "controller/source/tar_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "controller/source/relative_path.h"
#include "controller/source/unique_fd.h"

namespace captain::source {
namespace {

using Error = Unexpected<std::string>;

// PATH_MAX: no real name comes near, and it bounds the directory walk each entry costs.
constexpr std::size_t kMaxNameBytes = 4096;
constexpr std::size_t kReadBlock = 64 * 1024;

// The tar's bytes inside the upload file, read with pread so nothing else in the file is seen.
struct ByteRange {
  int fd;
  std::uint64_t offset;
  std::uint64_t length;
  std::uint64_t pos = 0;
  std::vector<char> buffer = std::vector<char>(kReadBlock);
};

la_ssize_t read_range(archive* a, void* data, const void** block) {
  auto& range = *static_cast<ByteRange*>(data);
  *block = range.buffer.data();
  const auto want = static_cast<std::size_t>(
      std::min<std::uint64_t>(range.buffer.size(), range.length - range.pos));
  if (want == 0) return 0;
  ssize_t got;
  do {
    got =
        ::pread(range.fd, range.buffer.data(), want, static_cast<off_t>(range.offset + range.pos));
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    archive_set_error(a, errno, "reading the upload: %s", std::strerror(errno));
    return ARCHIVE_FATAL;
  }
  range.pos += static_cast<std::uint64_t>(got);
  return got;
}

la_int64_t seek_range(archive*, void* data, la_int64_t offset, int whence) {
  auto& range = *static_cast<ByteRange*>(data);
  const auto base = static_cast<la_int64_t>(whence == SEEK_CUR   ? range.pos
                                            : whence == SEEK_END ? range.length
                                                                 : 0);
  const la_int64_t target = base + offset;
  if (target < 0) return ARCHIVE_FATAL;
  // Past the end stays at the end: libarchive then sees a short skip, i.e. a truncated tar.
  range.pos = std::min(static_cast<std::uint64_t>(target), range.length);
  return static_cast<la_int64_t>(range.pos);
}

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_leaf(const std::string& name) {
  const auto slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

// Why a symlink target is refused, or nothing. ".." may only lead the target: the link's own
// parents are real directories (nothing is written through a symlink), so climbing from there is
// exact; after that the target only descends, and a symlink met on the way is held to the same
// rule. No chain of links can then leave the tree, whatever order the tar lists them in: "s/a"
// -> ".." is fine, but "s/b" -> "a/.." (lexically "s", really the tree's parent) is refused.
std::optional<std::string> symlink_problem(const std::string& name, std::string_view target) {
  if (target.empty()) return "is a symlink with an empty target";
  const std::string to = "is a symlink to " + quote(target);
  if (target.front() == '/') return to + ", an absolute path";
  std::size_t depth = components(split_leaf(name).first).size();
  bool named = false;
  for (const auto& part : components(target)) {
    if (part == ".") continue;
    if (part != "..") {
      named = true;
    } else if (named) {
      return to + R"(, with ".." after a name (allowed only at its start))";
    } else if (depth-- == 0) {
      return to + ", which leaves the source directory";
    }
  }
  return std::nullopt;
}

std::string refused(std::string_view name, std::string_view why) {
  return "the source tar is refused: entry " + quote(name) + " " + std::string(why);
}

std::string failed(const std::string& name, std::string_view doing, int error) {
  return "the source tar cannot be unpacked: entry " + quote(name) + ": " + std::string(doing) +
         ": " + std::strerror(error);
}

std::string unreadable(archive* a, const std::string& name = "") {
  const char* why = archive_error_string(a);
  return "the source tar cannot be read" + (name.empty() ? "" : " (entry " + quote(name) + ")") +
         ": " + (why != nullptr ? why : "unknown error");
}

bool write_all(int fd, const void* data, std::size_t size, off_t at) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, bytes, size, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
    at += n;
  }
  return true;
}

class Unpacker {
 public:
  Unpacker(archive* reader, int root, const UnpackLimits& limits)
      : reader_(reader), root_(root), limits_(limits) {}

  Expected<UnpackStats, std::string> run() {
    std::uint64_t headers = 0;
    for (;;) {
      archive_entry* entry = nullptr;
      const int rc = archive_read_next_header(reader_, &entry);
      if (rc == ARCHIVE_EOF) break;
      // ARCHIVE_WARN is e.g. a name not convertible to the locale: its bytes are kept as they are.
      if (rc < ARCHIVE_WARN) return Error(unreadable(reader_));
      if (++headers > limits_.max_entries) {
        return Error("the source tar has more than " + std::to_string(limits_.max_entries) +
                     " entries");
      }
      const char* raw = archive_entry_pathname(entry);
      if (raw == nullptr) return Error("the source tar is refused: an entry has no name");
      if (std::strlen(raw) > kMaxNameBytes) {
        return Error(refused(std::string(raw, 64) + "...",
                             "has a name longer than " + std::to_string(kMaxNameBytes) + " bytes"));
      }
      auto name = normalise_relative_path(raw);
      if (!name) return Error(refused(raw, name.error()));
      if (name->empty()) continue;  // the "./" root entry
      auto done = extract(entry, *name);
      if (!done) return Error(done.error());
      ++stats_.entries;
    }
    if (stats_.entries == 0) return Error("the source tar is empty");
    return stats_;
  }

 private:
  Expected<void, std::string> extract(archive_entry* entry, const std::string& name) {
    const char* hardlink = archive_entry_hardlink(entry);
    const auto type = archive_entry_filetype(entry);
    if (hardlink == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      const char* kind = type == AE_IFCHR    ? "a character device"
                         : type == AE_IFBLK  ? "a block device"
                         : type == AE_IFIFO  ? "a FIFO"
                         : type == AE_IFSOCK ? "a socket"
                                             : "of an unknown type";
      return Error(refused(
          name, std::string("is ") + kind + "; only files, directories and links are allowed"));
    }
    const la_int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
    const std::uint64_t declared = size > 0 ? static_cast<std::uint64_t>(size) : 0;
    // Checked before any byte is written, so a huge (or sparse) entry costs nothing.
    if (declared > limits_.max_total_bytes - stats_.bytes) {
      return Error("the source tar unpacks to more than " +
                   std::to_string(limits_.max_total_bytes) + " bytes (at entry " + quote(name) +
                   ")");
    }
    stats_.bytes += declared;

    const auto [parent, leaf] = split_leaf(name);
    auto dir = parent_dir(parent, name);
    if (!dir) return Error(dir.error());
    const mode_t perm = archive_entry_perm(entry) & 0777;  // never setuid, setgid or sticky
    if (hardlink != nullptr) return make_hardlink(*dir, leaf, name, hardlink);
    if (type == AE_IFDIR) return make_directory(*dir, leaf, name, perm | 0700);
    if (type == AE_IFLNK) return make_symlink(*dir, leaf, name, archive_entry_symlink(entry));
    return make_file(*dir, leaf, name, perm, declared, entry);
  }

  // The entry's parent directory; consecutive entries usually share one, so it is kept open.
  Expected<int, std::string> parent_dir(const std::string& parent, const std::string& name) {
    if (!parent_fd_ || parent != parent_path_) {
      auto opened = open_dir(parent, name);
      if (!opened) return Error(opened.error());
      parent_fd_ = std::move(*opened);
      parent_path_ = parent;
    }
    return parent_fd_.get();
  }

  // Walks `path` from the root one component at a time with O_NOFOLLOW, making missing
  // directories (tars often list files without their parents): a symlink or a file on the way
  // is refused, never followed.
  Expected<UniqueFd, std::string> open_dir(const std::string& path, const std::string& name) {
    UniqueFd current(::fcntl(root_, F_DUPFD_CLOEXEC, 0));
    if (!current) return Error(failed(name, "opening the destination", errno));
    std::string walked;
    for (const auto& part : components(path)) {
      walked += (walked.empty() ? "" : "/") + part;
      const auto open_next = [&] {
        return ::openat(current.get(), part.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      };
      int next = open_next();
      if (next < 0 && errno == ENOENT) {
        if (::mkdirat(current.get(), part.c_str(), 0755) != 0) {
          return Error(failed(name, "creating " + quote(walked), errno));
        }
        next = open_next();
      }
      if (next < 0) {
        const int error = errno;
        struct stat st {};
        if (::fstatat(current.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            !S_ISDIR(st.st_mode)) {
          return Error(refused(name, "would be written through " + quote(walked) + ", which is " +
                                         (S_ISLNK(st.st_mode) ? "a symlink" : "not a directory")));
        }
        return Error(failed(name, "opening " + quote(walked), error));
      }
      current = UniqueFd(next);
    }
    return current;
  }

  // A later entry of the same name replaces a file or a link, as tar does; a directory stays.
  Expected<void, std::string> make_room(int dir, const std::string& leaf, const std::string& name) {
    struct stat st {};
    if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return {};
      return Error(failed(name, "inspecting it", errno));
    }
    if (S_ISDIR(st.st_mode)) {
      return Error(refused(name, "would replace the directory of the same name"));
    }
    if (::unlinkat(dir, leaf.c_str(), 0) != 0) {
      return Error(failed(name, "replacing the earlier entry", errno));
    }
    return {};
  }

  Expected<void, std::string> make_directory(int dir, const std::string& leaf,
                                             const std::string& name, mode_t mode) {
    struct stat st {};
    if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
      auto room = make_room(dir, leaf, name);
      if (!room) return room;
      if (::mkdirat(dir, leaf.c_str(), 0700) != 0) return Error(failed(name, "creating it", errno));
    }
    const UniqueFd created(
        ::openat(dir, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!created || ::fchmod(created.get(), mode) != 0) {
      return Error(failed(name, "setting its mode", errno));
    }
    return {};
  }

  Expected<void, std::string> make_file(int dir, const std::string& leaf, const std::string& name,
                                        mode_t mode, std::uint64_t declared, archive_entry* entry) {
    auto room = make_room(dir, leaf, name);
    if (!room) return room;
    const UniqueFd out(
        ::openat(dir, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return Error(failed(name, "creating it", errno));
    for (;;) {
      const void* block = nullptr;
      std::size_t size = 0;
      la_int64_t at = 0;
      const int rc = archive_read_data_block(reader_, &block, &size, &at);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) return Error(unreadable(reader_, name));
      // Data only within the declared size, so the bytes written never exceed what the limit
      // was checked against (a sparse map could otherwise point anywhere).
      if (at < 0 || static_cast<std::uint64_t>(at) > declared ||
          size > declared - static_cast<std::uint64_t>(at)) {
        return Error(refused(name, "holds data beyond its declared size"));
      }
      if (!write_all(out.get(), block, size, static_cast<off_t>(at))) {
        return Error(failed(name, "writing it", errno));
      }
    }
    // The length covers a sparse file's trailing hole.
    if (::ftruncate(out.get(), static_cast<off_t>(declared)) != 0 ||
        ::fchmod(out.get(), mode) != 0) {
      return Error(failed(name, "finishing it", errno));
    }
    if (archive_entry_mtime_is_set(entry)) {
      const timespec times[2] = {{0, UTIME_OMIT},
                                 {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
      if (::futimens(out.get(), times) != 0) return Error(failed(name, "setting its time", errno));
    }
    return {};
  }

  Expected<void, std::string> make_symlink(int dir, const std::string& leaf,
                                           const std::string& name, const char* target) {
    if (auto problem = symlink_problem(name, target != nullptr ? target : "")) {
      return Error(refused(name, *problem));
    }
    auto room = make_room(dir, leaf, name);
    if (!room) return room;
    if (::symlinkat(target, dir, leaf.c_str()) != 0) {
      return Error(failed(name, "creating the symlink", errno));
    }
    return {};
  }

  Expected<void, std::string> make_hardlink(int dir, const std::string& leaf,
                                            const std::string& name, const char* link) {
    const auto not_extracted = [&] {
      return Error(refused(
          name, "is a hard link to " + quote(link) + ", which is not a file extracted before it"));
    };
    if (std::strlen(link) > kMaxNameBytes) return not_extracted();
    auto target = normalise_relative_path(link);
    if (!target) {
      return Error(refused(name, "is a hard link to " + quote(link) + ", which " + target.error()));
    }
    if (target->empty()) return not_extracted();
    if (*target == name) return Error(refused(name, "is a hard link to itself"));
    const auto [target_parent, target_leaf] = split_leaf(*target);
    auto target_dir = open_dir_existing(target_parent);
    struct stat st {};
    // A regular file only: a hard link to a symlink would be a new symlink whose relative target
    // means something else where it lands.
    if (!target_dir ||
        ::fstatat(target_dir.get(), target_leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      return not_extracted();
    }
    auto room = make_room(dir, leaf, name);
    if (!room) return room;
    if (::linkat(target_dir.get(), target_leaf.c_str(), dir, leaf.c_str(), 0) != 0) {
      return Error(failed(name, "creating the hard link", errno));
    }
    return {};
  }

  // Like open_dir without creating anything; an invalid UniqueFd when the path is not a chain of
  // real directories.
  UniqueFd open_dir_existing(const std::string& path) const {
    UniqueFd current(::fcntl(root_, F_DUPFD_CLOEXEC, 0));
    for (const auto& part : components(path)) {
      if (!current) break;
      current = UniqueFd(
          ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    return current;
  }

  archive* reader_;
  int root_;
  const UnpackLimits& limits_;
  UnpackStats stats_;
  std::string parent_path_;
  UniqueFd parent_fd_;
};

}  // namespace

Expected<UnpackStats, std::string> unpack_tar(const std::string& archive_path, std::uint64_t offset,
                                              std::uint64_t length, const std::string& dest_dir,
                                              const UnpackLimits& limits) {
  constexpr auto kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
  if (offset > kMaxOffset || length > kMaxOffset - offset) {
    return Error("the source tar's byte range is out of bounds");
  }
  const UniqueFd file(::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return Error("cannot open the upload " + archive_path + ": " + std::strerror(errno));
  const UniqueFd root(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error("cannot open " + dest_dir + ": " + std::strerror(errno));

  const std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(),
                                                                      archive_read_free);
  if (!reader) return Error(std::string("the source tar cannot be read: out of memory"));
  archive_read_support_format_tar(reader.get());    // v7, ustar, pax, GNU tar
  archive_read_support_format_empty(reader.get());  // a 0-byte upload: "empty", not "not a tar"
  archive_read_support_filter_gzip(reader.get());   // "none" is always on
  ByteRange range{file.get(), offset, length};
  archive_read_set_seek_callback(reader.get(), seek_range);
  if (archive_read_open(reader.get(), &range, nullptr, read_range, nullptr) < ARCHIVE_WARN) {
    return Error(unreadable(reader.get()));
  }
  return Unpacker(reader.get(), root.get(), limits).run();
}

}  // namespace captain::source
