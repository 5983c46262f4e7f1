#include "controller/source/git_fetch.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "controller/process/run_command.h"

namespace captain::source {
namespace {

constexpr const char* kGit = "/usr/bin/git";

std::string base64(const std::string& text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string last_lines(const std::string& output) {
  std::string text = output;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
  return text;
}

}  // namespace

std::string printable_repo(const std::string& repo) {
  // scheme://user:password@host/... -> scheme://user@host/...
  const auto scheme = repo.find("://");
  if (scheme == std::string::npos) return repo;
  const auto at = repo.find('@', scheme + 3);
  const auto slash = repo.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return repo;
  const auto colon = repo.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return repo;
  return repo.substr(0, colon) + repo.substr(at);
}

Expected<std::string, std::string> fetch_branch(const GitRemote& remote, const std::string& dest,
                                                const std::string& scratch,
                                                std::chrono::seconds timeout) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(scratch, ec);
  if (ec) return Unexpected("cannot create " + scratch + ": " + ec.message());
  std::vector<std::string> env = {
      "GIT_TERMINAL_PROMPT=0",  // a missing credential fails instead of waiting on a prompt
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",
      "HOME=" + scratch,
      "GIT_ALLOW_PROTOCOL=https:http:ssh:git",  // for submodules too: never file:// or ext::
  };
  std::vector<std::pair<std::string, std::string>> config;
  if (!remote.user.empty()) {
    config.emplace_back("http.extraHeader",
                        "Authorization: Basic " + base64(remote.user + ":" + remote.password));
  }
  for (std::size_t i = 0; i < config.size(); ++i) {
    env.push_back("GIT_CONFIG_KEY_" + std::to_string(i) + "=" + config[i].first);
    env.push_back("GIT_CONFIG_VALUE_" + std::to_string(i) + "=" + config[i].second);
  }
  env.push_back("GIT_CONFIG_COUNT=" + std::to_string(config.size()));
  if (!remote.ssh_key.empty()) {
    const std::string key = scratch + "/ssh-key";
    {
      std::ofstream out(key, std::ios::binary | std::ios::trunc);
      out << remote.ssh_key;
      if (remote.ssh_key.back() != '\n') out << '\n';
      if (!out.flush()) return Unexpected("cannot write the SSH key to " + key);
    }
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, ec);
    // The host key is trusted on first use for this fetch, as CapRover's ssh-keyscan does.
    env.push_back("GIT_SSH_COMMAND=ssh -i " + key +
                  " -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
                  " -o UserKnownHostsFile=" +
                  scratch + "/known_hosts");
  }
  const std::vector<std::string> clone = {kGit,
                                          "clone",
                                          "--quiet",
                                          "--depth",
                                          "1",
                                          "--recurse-submodules",
                                          "--shallow-submodules",
                                          "--branch",
                                          remote.branch,
                                          "--",
                                          remote.repo,
                                          dest};
  auto cloned = process::run_command(clone, timeout, env);
  if (!cloned) return Unexpected("cannot run git: " + cloned.error());
  if (cloned->timed_out) {
    return Unexpected("git clone of " + printable_repo(remote.repo) + " took longer than " +
                      std::to_string(timeout.count()) + " s");
  }
  if (cloned->exit_status != 0) {
    return Unexpected("git clone of branch " + remote.branch + " of " +
                      printable_repo(remote.repo) + " failed: " + last_lines(cloned->output));
  }
  auto head =
      process::run_command({kGit, "-C", dest, "rev-parse", "HEAD"}, std::chrono::seconds(30), env);
  if (!head || head->exit_status != 0) {
    return Unexpected(std::string("git rev-parse HEAD failed after the clone"));
  }
  return last_lines(head->output);
}

}  // namespace captain::source
