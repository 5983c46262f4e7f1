#include "controller/http/multipart_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "controller/http/message.h"

namespace captain::http {
namespace {

constexpr std::size_t kMaxPartHeader = 16 * 1024;
constexpr std::size_t kScanBlock = 1 << 20;

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~ReadOnlyFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::uint64_t size() const {
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    return end < 0 ? 0 : static_cast<std::uint64_t>(end);
  }
  // Up to `n` bytes at `offset` (fewer at the end of the file).
  std::string read(std::uint64_t offset, std::size_t n) const {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, out.data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }

  // The offset of the first `needle` at or after `from`, scanning a block at a time.
  std::optional<std::uint64_t> find(std::uint64_t from, std::string_view needle) const {
    const std::uint64_t end = size();
    while (from < end) {
      const std::string block = read(from, kScanBlock + needle.size());
      const auto at = block.find(needle);
      if (at != std::string::npos) return from + at;
      if (block.size() < needle.size()) return std::nullopt;
      from += block.size() - needle.size() + 1;
    }
    return std::nullopt;
  }

 private:
  int fd_;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A parameter of a header value: name="quoted" or name=token. Quoted strings keep their
// backslash escapes resolved.
std::optional<std::string> header_parameter(std::string_view value, std::string_view name) {
  std::size_t i = value.find(';');
  while (i != std::string_view::npos) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    const std::size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    const bool match = iequals(trim(value.substr(i, eq - i)), name);
    std::size_t j = eq + 1;
    std::string parsed;
    if (j < value.size() && value[j] == '"') {
      for (++j; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        parsed.push_back(value[j]);
      }
      j = value.find(';', j);
    } else {
      const std::size_t stop = value.find(';', j);
      parsed = std::string(trim(value.substr(j, stop == std::string_view::npos ? stop : stop - j)));
      j = stop;
    }
    if (match) return parsed;
    i = j;
  }
  return std::nullopt;
}

}  // namespace

Expected<std::string, std::string> multipart_boundary(std::string_view content_type) {
  const std::string_view type = trim(content_type.substr(0, content_type.find(';')));
  if (!iequals(type, "multipart/form-data")) {
    return Unexpected(
        "the body is not multipart/form-data (Content-Type: " + std::string(content_type) + ")");
  }
  auto boundary = header_parameter(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) {
    return Unexpected(std::string("multipart/form-data without a valid boundary parameter"));
  }
  return *boundary;
}

Expected<std::vector<MultipartPart>, std::string> read_multipart_file(const std::string& path,
                                                                      const std::string& boundary) {
  ReadOnlyFile file(path);
  if (!file.ok()) return Unexpected("cannot read the upload: " + std::string(std::strerror(errno)));
  const std::string delimiter = "\r\n--" + boundary;
  // The first delimiter may open the body without a CRLF before it.
  std::uint64_t at = 0;
  if (file.read(0, delimiter.size() - 2) == delimiter.substr(2)) {
    at = delimiter.size() - 2;
  } else {
    auto first = file.find(0, delimiter);
    if (!first) return Unexpected(std::string("the multipart body has no boundary line"));
    at = *first + delimiter.size();
  }

  std::vector<MultipartPart> parts;
  for (;;) {
    // After a delimiter: "--" closes the body; else optional padding, then CRLF.
    const std::string after = file.read(at, 2);
    if (after == "--") return parts;
    const auto line_end = file.find(at, "\r\n");
    if (!line_end || *line_end - at > 256) {
      return Unexpected(std::string("the multipart body ends before its closing boundary"));
    }
    const std::uint64_t header_start = *line_end + 2;
    const std::string head = file.read(header_start, kMaxPartHeader + 4);
    std::size_t header_end = head.find("\r\n\r\n");
    std::size_t content_skip = 4;
    if (head.compare(0, 2, "\r\n") == 0) {  // a part with no header fields at all
      header_end = 0;
      content_skip = 2;
    }
    if (header_end == std::string::npos) {
      return Unexpected(head.size() > kMaxPartHeader
                            ? std::string("a multipart part header is larger than 16 KiB")
                            : std::string("the multipart body ends inside a part header"));
    }
    MultipartPart part;
    std::string_view headers(head.data(), header_end);
    while (!headers.empty()) {
      const std::size_t eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view field = trim(line.substr(0, colon));
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(field, "Content-Disposition")) {
        part.name = header_parameter(value, "name").value_or("");
        part.filename = header_parameter(value, "filename");
      } else if (iequals(field, "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    if (part.name.empty()) {
      return Unexpected(std::string("a multipart part has no Content-Disposition name"));
    }
    part.offset = header_start + header_end + content_skip;
    const auto next = file.find(part.offset, delimiter);
    if (!next)
      return Unexpected(std::string("the multipart body ends before its closing boundary"));
    part.length = *next - part.offset;
    parts.push_back(std::move(part));
    at = *next + delimiter.size();
  }
}

Expected<std::string, std::string> read_part_text(const std::string& path,
                                                  const MultipartPart& part,
                                                  std::size_t max_bytes) {
  if (part.length > max_bytes) {
    return Unexpected("the form field " + part.name + " is longer than " +
                      std::to_string(max_bytes) + " bytes");
  }
  ReadOnlyFile file(path);
  if (!file.ok()) return Unexpected("cannot read the upload: " + std::string(std::strerror(errno)));
  return file.read(part.offset, static_cast<std::size_t>(part.length));
}

}  // namespace captain::http
