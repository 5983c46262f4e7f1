// Unpacks an uploaded source tar (tar, ustar, pax or GNU tar; plain or gzip, detected) into a
// directory, refusing anything that could write or point outside it: absolute names, "..",
// devices, FIFOs and sockets, writes through a symlink an earlier entry planted, hard links to
// anything but a file already extracted, and symlinks that leave the tree (".." is allowed only
// at the start of a symlink's target, so no chain of links can climb out). Nothing is written
// outside dest_dir; on refusal, what was written inside it stays and the caller deletes dest_dir.
#pragma once

#include <cstdint>
#include <string>

#include "controller/common/expected.h"

namespace captain::source {

struct UnpackLimits {
  // Sum of entry sizes: their logical size, so a sparse 10 GB entry counts 10 GB.
  std::uint64_t max_total_bytes = 4ULL << 30;
  std::uint64_t max_entries = 50'000;
};

struct UnpackStats {
  std::uint64_t entries = 0;  // entries written (the "./" root entry is not one)
  std::uint64_t bytes = 0;    // sum of their declared sizes
};

// Reads the archive from bytes [offset, offset + length) of the file at archive_path (the tar is
// a part inside a multipart upload stored on disk) and writes it under dest_dir, an existing
// empty directory. Permission bits are kept without setuid, setgid and sticky (directories also
// keep owner rwx, so the tree can always be walked and deleted); owners are not restored; files
// keep their modification time.
Expected<UnpackStats, std::string> unpack_tar(const std::string& archive_path, std::uint64_t offset,
                                              std::uint64_t length, const std::string& dest_dir,
                                              const UnpackLimits& limits);

}  // namespace captain::source
