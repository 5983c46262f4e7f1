#include "controller/source/build_context.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

namespace captain::source {
namespace {

using Error = Unexpected<std::string>;

std::string problem(archive* a, const std::string& what) {
  const char* why = archive_error_string(a);
  std::string out = what + ": " + (why != nullptr ? why : "unknown error");
  if (archive_errno(a) != 0) out += std::string(" (") + std::strerror(archive_errno(a)) + ")";
  return out;
}

// Writes straight to the descriptor, counting what went out (libarchive's own counter leaves out
// the last block's padding).
struct Sink {
  int fd;
  std::uint64_t written = 0;
  bool abandoned = false;  // after a failure: nothing more goes out, not even the tar's end
};

la_ssize_t write_to_fd(archive* a, void* data, const void* buffer, std::size_t size) {
  auto& sink = *static_cast<Sink*>(data);
  if (sink.abandoned) {
    archive_set_error(a, ECANCELED, "abandoned");
    return -1;
  }
  const char* bytes = static_cast<const char*>(buffer);
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(sink.fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      archive_set_error(a, errno, "write failed");
      return -1;
    }
    done += static_cast<std::size_t>(n);
  }
  sink.written += size;
  return static_cast<la_ssize_t>(size);
}

}  // namespace

Expected<std::uint64_t, std::string> write_context_tar(const std::string& dir, int fd) {
  Sink sink{fd};  // outlives the writer, whose destructor may still call it
  const std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(),
                                                                       archive_write_free);
  const std::unique_ptr<archive, decltype(&archive_read_free)> disk(archive_read_disk_new(),
                                                                    archive_read_free);
  const std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                            archive_entry_free);
  if (!writer || !disk || !entry) {
    return Error(std::string("cannot write the build context: out of memory"));
  }
  archive* out = writer.get();
  archive* in = disk.get();

  // ustar headers unless a name or size needs pax's extended ones.
  archive_write_set_format_pax_restricted(out);
  if (archive_write_open2(out, &sink, nullptr, write_to_fd, nullptr, nullptr) != ARCHIVE_OK) {
    return Error(problem(out, "cannot write the build context"));
  }
  // On failure nothing more goes to fd: freeing the writer would otherwise end the tar
  // properly, and the reader would take a partial context for a whole one. (Not
  // archive_write_fail: the writer's buffers then leak.)
  const auto fail = [&sink](std::string message) {
    sink.abandoned = true;
    return Error(std::move(message));
  };
  archive_read_disk_set_symlink_physical(in);
  archive_read_disk_set_behavior(in, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                         ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE);
  if (archive_read_disk_open(in, dir.c_str()) != ARCHIVE_OK) {
    return fail(problem(in, "cannot read the build context " + dir));
  }

  std::size_t prefix = 0;  // of the root's own name, stripped from every entry's
  bool root = true;
  char buffer[64 * 1024];
  for (;;) {
    const int rc = archive_read_next_header2(in, entry.get());
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return fail(problem(in, "cannot read the build context " + dir));
    archive_read_disk_descend(in);  // a no-op for anything but a directory
    const std::string path = archive_entry_pathname(entry.get());
    const auto type = archive_entry_filetype(entry.get());
    if (root) {
      if (type != AE_IFDIR) return fail("the build context " + dir + " is not a directory");
      prefix = path.size() + (path.ends_with('/') ? 0 : 1);
      root = false;
      continue;
    }
    if (type == AE_IFSOCK) continue;
    const std::string name = path.substr(prefix);
    archive_entry_set_pathname(entry.get(), name.c_str());
    if (archive_write_header(out, entry.get()) < ARCHIVE_WARN) {
      return fail(problem(out, "cannot write the build context (at " + name + ")"));
    }
    if (type != AE_IFREG) continue;
    for (;;) {
      const la_ssize_t got = archive_read_data(in, buffer, sizeof buffer);
      if (got == 0) break;
      if (got < 0) return fail(problem(in, "cannot read " + name));
      if (archive_write_data(out, buffer, static_cast<std::size_t>(got)) < 0) {
        return fail(problem(out, "cannot write the build context (at " + name + ")"));
      }
    }
  }
  if (archive_write_close(out) != ARCHIVE_OK) {
    return fail(problem(out, "cannot write the build context"));
  }
  return sink.written;
}

}  // namespace captain::source
