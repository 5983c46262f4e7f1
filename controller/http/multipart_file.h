// multipart/form-data (RFC 7578) read from a body spooled to disk: where each part's content
// lies in the file, so a large file part (an uploaded source tar) is used in place, never copied
// into memory. Hand-written: neither Boost nor any Debian C++ library parses multipart bodies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"

namespace captain::http {

struct MultipartPart {
  std::string name;                     // Content-Disposition name=
  std::optional<std::string> filename;  // filename=, for file parts
  std::string content_type;
  std::uint64_t offset = 0;  // of the content in the file
  std::uint64_t length = 0;
};

// The boundary parameter of a multipart/form-data Content-Type, or why there is none.
Expected<std::string, std::string> multipart_boundary(std::string_view content_type);

// Every part of the body in `path`. Fails on a missing boundary line, a part without a name,
// a part header over 16 KiB, or a body that ends before its closing boundary.
Expected<std::vector<MultipartPart>, std::string> read_multipart_file(const std::string& path,
                                                                      const std::string& boundary);

// The content of a (small) part; fails if it is longer than `max_bytes`.
Expected<std::string, std::string> read_part_text(const std::string& path,
                                                  const MultipartPart& part,
                                                  std::size_t max_bytes = 64 * 1024);

}  // namespace captain::http
