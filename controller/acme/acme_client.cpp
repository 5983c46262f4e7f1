#include "controller/acme/acme_client.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "controller/process/run_command.h"

namespace captain::acme {
namespace {

// lego prefixes its log lines with "2026/12/06 21:29:03 ": the message is what follows.
std::string strip_timestamp(const std::string& line) {
  if (line.size() > 20 && line[4] == '/' && line[7] == '/' && line[10] == ' ' && line[13] == ':' &&
      line[16] == ':' && line[19] == ' ') {
    return line.substr(20);
  }
  return line;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

}  // namespace

AcmeError classify_lego_failure(const std::string& output, int exit_status, bool timed_out,
                                const std::string& directory) {
  if (timed_out) {
    return {AcmeError::Kind::failed,
            "the ACME client did not finish in time talking to " + directory};
  }
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string message = strip_timestamp(lines[i]);
    if (message.rfind("Could not create client:", 0) == 0) {
      return {AcmeError::Kind::unreachable,
              "ACME CA " + directory + " unreachable: " +
                  trim(message.substr(std::string("Could not create client:").size()))};
    }
    if (message.rfind("Could not obtain certificates:", 0) == 0 ||
        message.rfind("Could not complete registration", 0) == 0 ||
        message.rfind("Could not register", 0) == 0) {
      // What follows is the CA's problem document per domain:
      // "[name] acme: error: 400 :: urn:ietf:params:acme:error:connection :: <detail>".
      std::string detail;
      for (std::size_t k = i + 1; k < lines.size(); ++k) {
        std::string rest = trim(strip_timestamp(lines[k]));
        if (rest.empty() || rest == "error: one or more domains had a problem:") continue;
        if (auto at = rest.find("acme: error: "); at != std::string::npos) {
          rest = rest.substr(at + std::string("acme: error: ").size());
        }
        detail += (detail.empty() ? "" : "; ") + rest;
      }
      if (detail.empty()) detail = trim(message);
      // A transport failure while ordering is still the CA being away, not a refusal.
      const bool transport = detail.find("dial tcp") != std::string::npos &&
                             detail.find("urn:ietf:params:acme:error") == std::string::npos;
      return {transport ? AcmeError::Kind::unreachable : AcmeError::Kind::refused,
              "the ACME CA refused the certificate: " + detail};
    }
  }
  std::string last;
  for (auto it = lines.rbegin(); it != lines.rend() && last.empty(); ++it) {
    last = trim(strip_timestamp(*it));
  }
  return {AcmeError::Kind::failed, "the ACME client failed (exit status " +
                                       std::to_string(exit_status) + ")" +
                                       (last.empty() ? "" : ": " + last)};
}

LegoClient::LegoClient(LegoOptions options) : options_(std::move(options)) {}

std::filesystem::path LegoClient::account_file(const std::string& email) const {
  // lego keeps accounts under accounts/<host>_<port>/<email>/ (the directory URL's host).
  std::string host = options_.directory.substr(options_.directory.find("://") + 3);
  host = host.substr(0, host.find('/'));
  std::replace(host.begin(), host.end(), ':', '_');
  return options_.state_dir / "accounts" / host / email / "account.json";
}

Expected<void, AcmeError> LegoClient::obtain(const std::string& domain, const std::string& email) {
  std::vector<std::string> env;
  if (!options_.ca_bundle.empty()) {
    // lego crashes on a bundle it cannot read: say what is wrong instead.
    std::ifstream bundle(options_.ca_bundle);
    if (!bundle) {
      return Unexpected(AcmeError{AcmeError::Kind::failed,
                                  "acme_ca_bundle " + options_.ca_bundle + " cannot be read"});
    }
    env.push_back("LEGO_CA_CERTIFICATES=" + options_.ca_bundle);
  }
  for (int attempt = 0;; ++attempt) {
    // `run` issues a new certificate whether or not one exists: the caller decided it is due.
    auto ran = process::run_command(
        {options_.binary, "--server", options_.directory, "--email", email, "--accept-tos",
         "--key-type", "ec256", "--domains", domain, "--http", "--http.webroot",
         options_.webroot.string(), "--path", options_.state_dir.string(), "--http-timeout", "30",
         "run"},
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout), env);
    if (!ran) {
      return Unexpected(
          AcmeError{AcmeError::Kind::failed, "cannot run the ACME client: " + ran.error()});
    }
    if (ran->exit_status == 0 && !ran->timed_out) return {};
    // The CA no longer knows the account lego registered (deactivated, or a CA that lost its
    // state): register afresh once, with the same key.
    std::error_code ec;
    if (attempt == 0 && ran->output.find("accountDoesNotExist") != std::string::npos &&
        std::filesystem::remove(account_file(email), ec)) {
      continue;
    }
    return Unexpected(
        classify_lego_failure(ran->output, ran->exit_status, ran->timed_out, options_.directory));
  }
}

}  // namespace captain::acme
