// The build context Docker's POST /build reads: a directory as an uncompressed tar, streamed to
// a file descriptor (a pipe or a socket), never held in memory.
#pragma once

#include <cstdint>
#include <string>

#include "controller/common/expected.h"

namespace captain::source {

// Writes the tree under `dir` (a real directory, not a symlink to one) as a pax tar to `fd`.
// Entry names are relative to `dir`; symlinks are stored as symlinks, never followed; owners,
// permission bits and modification times are kept; xattrs, ACLs and sparseness are not; sockets
// are skipped (tar cannot hold them). Returns the number of bytes written, or why it failed
// (e.g. the reader closed the pipe: EPIPE; the caller ignores SIGPIPE, as the controller does).
Expected<std::uint64_t, std::string> write_context_tar(const std::string& dir, int fd);

}  // namespace captain::source
