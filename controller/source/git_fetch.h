// Fetches one branch of a git repository for a build (CapRover's push webhooks), with git
// itself: credentials go through the environment (never the command line, which `ps` shows),
// nothing of the machine's git configuration is read, and only network protocols are allowed,
// submodules included.
#pragma once

#include <chrono>
#include <string>

#include "controller/common/expected.h"

namespace captain::source {

struct GitRemote {
  std::string repo;    // https://, http://, ssh://, git:// or user@host:path
  std::string branch;
  std::string user;      // with password: HTTP basic authentication
  std::string password;
  std::string ssh_key;   // a private key for ssh:// and user@host:path
};

// Clones `remote.branch` (its last commit, with submodules) into `dest` (must not exist);
// `scratch` is a private directory for the key and known hosts. Returns the commit's hash, or
// why the fetch failed (git's own words, credentials left out).
Expected<std::string, std::string> fetch_branch(const GitRemote& remote, const std::string& dest,
                                                const std::string& scratch,
                                                std::chrono::seconds timeout);

// The repository as it may be shown: without a password in its URL.
std::string printable_repo(const std::string& repo);

}  // namespace captain::source
