#include "controller/nginx/config_pipeline.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "controller/process/run_command.h"
#include "controller/trace/tracer.h"

namespace captain::nginx {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGenerationPrefix = "gen-";
constexpr const char* kCurrent = "current";

Unexpected<PipelineError> io_error(std::string message) {
  return Unexpected(PipelineError{PipelineError::Kind::io, std::move(message)});
}

unsigned long generation_number(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind(kGenerationPrefix, 0) != 0) return 0;
  try {
    return std::stoul(name.substr(std::strlen(kGenerationPrefix)));
  } catch (const std::exception&) {
    return 0;
  }
}

// fsync a file or directory so a power loss cannot leave a swapped symlink to an empty tree.
void sync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// The PIDs of a process's children, from /proc (the master's workers).
std::vector<std::string> children_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<std::string> out;
  std::string child;
  while (in >> child) out.push_back(child);
  std::sort(out.begin(), out.end());
  return out;
}

// Whether a worker is draining: nginx retitles it "nginx: worker process is shutting down".
bool shutting_down(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/cmdline", std::ios::binary);
  std::string title((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return !in.is_open() || title.empty() || title.find("shutting down") != std::string::npos;
}

}  // namespace

bool safe_relative_path(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  for (const auto& part : fs::path(path)) {
    if (part == "." || part == ".." || part.empty()) return false;
  }
  return path.find('\0') == std::string::npos;
}

ConfigPipeline::ConfigPipeline(PipelineOptions options) : options_(std::move(options)) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.conf_dir, ec)) {
    next_generation_ = std::max(next_generation_, generation_number(entry.path()));
  }
}

fs::path ConfigPipeline::live_conf() const {
  return options_.conf_dir / kCurrent / "nginx.conf";
}

Expected<fs::path, PipelineError> ConfigPipeline::write_generation(
    const std::vector<ConfigFile>& files) {
  std::error_code ec;
  fs::create_directories(options_.conf_dir, ec);
  if (ec) return io_error(options_.conf_dir.string() + ": " + ec.message());
  const fs::path dir = options_.conf_dir / (kGenerationPrefix + std::to_string(++next_generation_));
  fs::remove_all(dir, ec);  // a leftover of a crash mid-write
  fs::create_directory(dir, ec);
  if (ec) return io_error(dir.string() + ": " + ec.message());
  for (const ConfigFile& file : files) {
    if (!safe_relative_path(file.path))
      return io_error("refusing config path \"" + file.path + "\"");
    const fs::path target = dir / file.path;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return io_error(target.parent_path().string() + ": " + ec.message());
    // Created with its final mode, so a key is never readable by others, not even briefly.
    const int fd =
        ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, file.secret ? 0600 : 0644);
    if (fd < 0) return io_error(target.string() + ": " + std::strerror(errno));
    std::size_t written = 0;
    while (written < file.content.size()) {
      const ssize_t n = ::write(fd, file.content.data() + written, file.content.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = errno;
        ::close(fd);
        return io_error(target.string() + ": write failed: " + std::strerror(error));
      }
      written += static_cast<std::size_t>(n);
    }
    ::fsync(fd);
    ::close(fd);
  }
  sync_path(dir);
  return dir;
}

Expected<void, PipelineError> ConfigPipeline::nginx_test(const fs::path& generation) {
  tracing::ScopedSpan span(tracing::start_span("nginx test"));
  span->set("captain.nginx.generation", generation.filename().string());
  auto tested = run_nginx_test(generation);
  if (!tested) span->set_error(tested.error().message);
  return tested;
}

Expected<void, PipelineError> ConfigPipeline::run_nginx_test(const fs::path& generation) {
  if (options_.control) return options_.control->test(generation / "nginx.conf");
  auto ran = process::run_command(
      {options_.nginx_binary, "-t", "-q", "-c", (generation / "nginx.conf").string()},
      options_.test_timeout);
  if (!ran) return io_error(ran.error());
  if (ran->timed_out) {
    return Unexpected(PipelineError{
        PipelineError::Kind::invalid_config,
        "nginx -t did not finish within " + std::to_string(options_.test_timeout.count()) + " ms"});
  }
  if (ran->exit_status != 0) {
    std::string message = ran->output;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    if (message.empty())
      message = "nginx -t failed with status " + std::to_string(ran->exit_status);
    return Unexpected(PipelineError{PipelineError::Kind::invalid_config, message});
  }
  return {};
}

Expected<void, PipelineError> ConfigPipeline::point_current_at(const fs::path& generation) {
  // A new symlink renamed over the old one: readers see the old tree or the new, never neither.
  const fs::path link = options_.conf_dir / kCurrent;
  const fs::path staging = options_.conf_dir / (std::string(kCurrent) + ".new");
  std::error_code ec;
  fs::remove(staging, ec);
  fs::create_directory_symlink(generation.filename(), staging, ec);
  if (ec) return io_error(staging.string() + ": " + ec.message());
  fs::rename(staging, link, ec);
  if (ec) return io_error(link.string() + ": " + ec.message());
  sync_path(options_.conf_dir);
  return {};
}

Expected<bool, PipelineError> ConfigPipeline::reload() {
  if (options_.control) return options_.control->reload();
  return reload_local_master();
}

namespace {

// The master's pid from its pid file, if that process runs. No pid file, or a stale one after a
// reboot: none runs.
std::optional<long> running_master(const std::filesystem::path& pid_file) {
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1 || ::kill(static_cast<pid_t>(pid), 0) != 0) return std::nullopt;
  return pid;
}

}  // namespace

std::optional<bool> ConfigPipeline::master_running() const {
  if (options_.control || options_.pid_file.empty()) return std::nullopt;
  return running_master(options_.pid_file).has_value();
}

Expected<bool, PipelineError> ConfigPipeline::reload_local_master() {
  if (options_.pid_file.empty()) return false;
  // None runs: it starts with `current`.
  const std::optional<long> master = running_master(options_.pid_file);
  if (!master) return false;
  const long pid = *master;
  const auto before = children_of(pid);
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    return Unexpected(PipelineError{
        PipelineError::Kind::reload_failed,
        "cannot signal nginx master " + std::to_string(pid) + ": " + std::strerror(errno)});
  }
  // Healthy once the master runs workers it did not have before the HUP and every old one has
  // stopped accepting (gone, or titled "is shutting down": the master tells them only ~100 ms
  // after starting the new ones, and until then a new connection may still get the old tree).
  // A master that refused the tree starts no worker and keeps its old ones. Old workers are not
  // waited for to exit: they drain their open connections first, and one of those may be the
  // very API call waiting for this reload (enablessl through captain.<root>), or a websocket
  // open for hours.
  const auto deadline = std::chrono::steady_clock::now() + options_.reload_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(static_cast<pid_t>(pid), 0) != 0) {
      return Unexpected(PipelineError{PipelineError::Kind::reload_failed,
                                      "the nginx master exited during the reload"});
    }
    const auto now = children_of(pid);
    const bool started = std::any_of(now.begin(), now.end(), [&](const auto& c) {
      return !std::binary_search(before.begin(), before.end(), c);
    });
    const bool old_stopped = std::all_of(now.begin(), now.end(), [&](const auto& c) {
      return !std::binary_search(before.begin(), before.end(), c) || shutting_down(c);
    });
    const bool fresh = started && old_stopped;
    if (fresh) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Unexpected(PipelineError{PipelineError::Kind::reload_failed,
                                  "nginx did not start new workers within " +
                                      std::to_string(options_.reload_timeout.count()) + " ms"});
}

Expected<void, PipelineError> ConfigPipeline::test(const std::vector<ConfigFile>& files) {
  auto generation = write_generation(files);
  if (!generation) return Unexpected(generation.error());
  auto tested = nginx_test(*generation);
  std::error_code ec;
  fs::remove_all(*generation, ec);
  return tested;
}

Expected<void, PipelineError> ConfigPipeline::apply(const std::vector<ConfigFile>& files) {
  auto generation = write_generation(files);
  if (!generation) return Unexpected(generation.error());
  if (auto tested = nginx_test(*generation); !tested) {
    std::error_code ec;
    fs::remove_all(*generation, ec);
    return tested;
  }
  // The swap and the reload (and, when the reload fails, the way back) in one span.
  tracing::ScopedSpan span(tracing::start_span("nginx reload"));
  std::error_code ec;
  const fs::path previous = fs::read_symlink(options_.conf_dir / kCurrent, ec);
  if (auto swapped = point_current_at(*generation); !swapped) {
    span->set_error(swapped.error().message);
    return swapped;
  }
  auto reloaded = reload();
  if (!reloaded) {
    span->set_error(reloaded.error().message);
    if (!previous.empty()) {
      (void)point_current_at(options_.conf_dir / previous);
      (void)reload();
    }
    return Unexpected(reloaded.error());
  }
  span->set("captain.nginx.reloaded", *reloaded);  // false: no nginx ran to reload
  last_reloaded_ = *reloaded;
  prune();
  return {};
}

void ConfigPipeline::prune() {
  std::vector<fs::path> generations;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.conf_dir, ec)) {
    if (generation_number(entry.path()) != 0 && entry.is_directory()) {
      generations.push_back(entry.path());
    }
  }
  std::sort(generations.begin(), generations.end(), [](const fs::path& a, const fs::path& b) {
    return generation_number(a) > generation_number(b);
  });
  const fs::path current = fs::read_symlink(options_.conf_dir / kCurrent, ec);
  for (std::size_t i = static_cast<std::size_t>(std::max(1, options_.keep_generations));
       i < generations.size(); ++i) {
    if (generations[i].filename() == current) continue;
    fs::remove_all(generations[i], ec);
  }
}

}  // namespace captain::nginx
