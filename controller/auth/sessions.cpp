#include "controller/auth/sessions.h"

#include "controller/auth/password_hash.h"
#include "controller/store/settings_store.h"

namespace captain::auth {
namespace {

// The first-run transaction's error: its own messages, or the store's (BEGIN/COMMIT failing).
struct SetupError {
  std::string message;
  SetupError(std::string text) : message(std::move(text)) {}  // NOLINT: implicit
  SetupError(const store::StoreError& error)                  // NOLINT: implicit
      : message("store: " + error.message) {}
};

}  // namespace

Expected<std::unique_ptr<Sessions>, std::string> Sessions::open(
    store::Database& db, const std::optional<std::string>& first_run_password, Options options,
    std::chrono::system_clock::time_point now) {
  store::SettingsStore settings;
  bool created = false;
  auto loaded = db.write(
      [&](store::Transaction& tx) -> Expected<std::pair<std::string, SecretRing>, SetupError> {
        auto hash = settings.get(tx, kPasswordHashKey);
        if (!hash) return Unexpected("store: " + hash.error().message);
        std::string password_hash;
        if (*hash) {
          password_hash = **hash;
        } else {
          if (!first_run_password) {
            return Unexpected(std::string(
                "no password is set yet: give the first-run password in CAPTAIN_PASSWORD (or "
                "\"password\" in controller.yaml)"));
          }
          auto hashed = hash_password(*first_run_password);
          if (!hashed) return Unexpected("password: " + hashed.error());
          password_hash = *hashed;
          if (auto saved = settings.set(tx, kPasswordHashKey, password_hash); !saved) {
            return Unexpected("store: " + saved.error().message);
          }
          created = true;
        }

        auto ring_text = settings.get(tx, kSecretRingKey);
        if (!ring_text) return Unexpected("store: " + ring_text.error().message);
        SecretRing ring;
        if (*ring_text) {
          auto parsed = SecretRing::parse(**ring_text);
          if (!parsed) return Unexpected("stored token secret: " + parsed.error());
          ring = *parsed;
        } else {
          auto fresh = SecretRing::create(now);
          if (!fresh) return Unexpected("token secret: " + fresh.error());
          ring = *fresh;
          if (auto saved = settings.set(tx, kSecretRingKey, ring.serialize()); !saved) {
            return Unexpected("store: " + saved.error().message);
          }
        }
        return std::make_pair(std::move(password_hash), std::move(ring));
      });
  if (!loaded) return Unexpected(loaded.error().message);
  auto backoff = LoginBackoff::open(db, LoginBackoff::Limits{}, now);
  if (!backoff) return Unexpected("store: login failures: " + backoff.error().message);
  std::unique_ptr<Sessions> sessions(new Sessions(
      db, std::move(loaded->first), std::move(loaded->second), options, std::move(*backoff)));
  sessions->created_password_ = created;
  sessions->rotate_if_due(now);
  return sessions;
}

Sessions::Sessions(store::Database& db, std::string password_hash, SecretRing ring, Options options,
                   std::unique_ptr<LoginBackoff> backoff)
    : db_(db),
      password_hash_(std::move(password_hash)),
      options_(options),
      backoff_(std::move(backoff)),
      issuer_(std::make_shared<const TokenIssuer>(std::move(ring))) {}

void Sessions::rotate_if_due(std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  SecretRing ring = issuer_->ring();
  if (!ring.needs_rotation(now, options_.secret_rotation)) return;
  if (!ring.rotate(now)) return;  // keep signing with the current secret; retried next login
  store::SettingsStore settings;
  auto saved = db_.write(
      [&](store::Transaction& tx) { return settings.set(tx, kSecretRingKey, ring.serialize()); });
  if (saved) issuer_ = std::make_shared<const TokenIssuer>(std::move(ring));
}

LoginOutcome Sessions::login(std::string_view password, std::string_view client_ip,
                             std::chrono::system_clock::time_point now) {
  LoginOutcome outcome;
  if (auto wait = backoff_->blocked_for(client_ip, now)) {
    outcome.kind = LoginOutcome::Kind::back_off;
    outcome.wait = *wait;
    return outcome;
  }
  if (!verify_password(password, password_hash())) {
    if (auto recorded = backoff_->record_failure(client_ip, now); !recorded) {
      outcome.message = recorded.error().message;
    }
    outcome.kind = LoginOutcome::Kind::wrong_password;
    return outcome;
  }
  backoff_->record_success(client_ip, now);
  rotate_if_due(now);
  std::shared_ptr<const TokenIssuer> issuer;
  {
    std::lock_guard lock(mutex_);
    issuer = issuer_;
  }
  auto token = issuer->issue(now, kDefaultSubject, options_.token_ttl);
  if (!token) {
    outcome.kind = LoginOutcome::Kind::invalid;
    outcome.message = token.error();
    return outcome;
  }
  outcome.kind = LoginOutcome::Kind::ok;
  outcome.token = std::move(*token);
  return outcome;
}

std::string Sessions::password_hash() const {
  std::lock_guard lock(mutex_);
  return password_hash_;
}

PasswordChangeOutcome Sessions::change_password(std::string_view old_password,
                                                std::string_view new_password,
                                                std::string_view client_ip,
                                                std::chrono::system_clock::time_point now) {
  PasswordChangeOutcome outcome;
  if (old_password.empty() || new_password.size() < kMinPasswordLength) {
    outcome.kind = PasswordChangeOutcome::Kind::too_short;
    return outcome;
  }
  if (auto wait = backoff_->blocked_for(client_ip, now)) {
    outcome.kind = PasswordChangeOutcome::Kind::back_off;
    outcome.wait = *wait;
    return outcome;
  }
  if (!verify_password(old_password, password_hash())) {
    if (auto recorded = backoff_->record_failure(client_ip, now); !recorded) {
      outcome.message = recorded.error().message;
    }
    outcome.kind = PasswordChangeOutcome::Kind::wrong_password;
    return outcome;
  }
  auto hashed = hash_password(new_password);
  auto ring = SecretRing::create(now);
  if (!hashed || !ring) {
    outcome.message = !hashed ? "password: " + hashed.error() : "token secret: " + ring.error();
    return outcome;
  }
  store::SettingsStore settings;
  auto saved = db_.write([&](store::Transaction& tx) -> store::Status {
    if (auto s = settings.set(tx, kPasswordHashKey, *hashed); !s) return s;
    return settings.set(tx, kSecretRingKey, ring->serialize());
  });
  if (!saved) {
    outcome.message = "store: " + saved.error().message;
    return outcome;
  }
  std::lock_guard lock(mutex_);
  password_hash_ = std::move(*hashed);
  issuer_ = std::make_shared<const TokenIssuer>(std::move(*ring));
  outcome.kind = PasswordChangeOutcome::Kind::ok;
  return outcome;
}

Expected<nlohmann::json, JwtError> Sessions::check(
    std::string_view token, std::chrono::system_clock::time_point now) const {
  std::shared_ptr<const TokenIssuer> issuer;
  {
    std::lock_guard lock(mutex_);
    issuer = issuer_;
  }
  return issuer->check(token, now);
}

}  // namespace captain::auth
