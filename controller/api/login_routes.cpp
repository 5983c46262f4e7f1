#include "controller/api/login_routes.h"

#include <chrono>

namespace captain::api {

namespace {
// A login body is a password of a few hundred bytes at most; anyone can call this route, so it
// takes no more than this (a chunked flood is refused with 413 after 64 KiB, not 8 MiB).
constexpr std::size_t kLoginBodyLimit = 64 * 1024;
}  // namespace

void register_login_routes(ApiRouter& router, ApiServices& services) {
  router.post(
      "/login", "/login",
      [&services](Call& call) -> ApiResult {
        audit::AuditEntry entry{"anonymous", "auth.login", "session", "", ""};
        const auto refuse = [&](ApiResult result, LoginResult metric) {
          entry.result = "error:" + std::to_string(static_cast<int>(result.status));
          entry.detail = result.description;
          services.metrics.record_login(metric);
          services.audit.record_alone(call.context, entry);
          return result;
        };

        const auto password = call.body.find("password");
        if (password == call.body.end() ||
            (password->is_string() && password->get_ref<const std::string&>().empty())) {
          // CapRover's status and words.
          return refuse(failure(ApiStatus::generic_error, "password is empty."),
                        LoginResult::invalid);
        }
        if (!password->is_string()) {
          return refuse(
              failure(ApiStatus::illegal_parameter,
                      std::string("password must be a string, not ") + password->type_name()),
              LoginResult::invalid);
        }

        const auto outcome =
            services.sessions.login(password->get_ref<const std::string&>(), call.context.client_ip,
                                    std::chrono::system_clock::now());
        switch (outcome.kind) {
          case auth::LoginOutcome::Kind::ok: {
            entry.result = "ok";
            services.metrics.record_login(LoginResult::success);
            services.audit.record_alone(call.context, entry);
            nlohmann::ordered_json data;
            data["token"] = outcome.token;
            return ok("Login succeeded", std::move(data));
          }
          case auth::LoginOutcome::Kind::wrong_password: {
            if (!outcome.message.empty()) {
              // Counted in memory, but a restart would forget it: say so.
              services.log.error(
                  "login failure not stored",
                  {{"error", outcome.message}, {"request_id", call.context.request_id}});
            }
            ApiResult wrong = failure(ApiStatus::wrong_password, "Invalid credentials");
            // For the generated nginx's login limiter (captain_limit failure_if=): CapRover's API
            // answers HTTP 200 either way, so the failure is flagged in a header.
            wrong.headers.emplace_back("X-Captain-Login-Failed", "1");
            return refuse(std::move(wrong), LoginResult::wrong_password);
          }
          case auth::LoginOutcome::Kind::back_off:
            return refuse(failure(ApiStatus::password_back_off,
                                  "Too many wrong passwords from this address. Wait " +
                                      std::to_string(outcome.wait.count()) + " seconds and retry."),
                          LoginResult::back_off);
          case auth::LoginOutcome::Kind::invalid:
            break;
        }
        return refuse(failure(ApiStatus::generic_error, "login failed: " + outcome.message),
                      LoginResult::invalid);
      },
      http::Lane::priority, kLoginBodyLimit);
}

namespace {

ApiResult change_password(ApiServices& services, Call& call) {
  audit::AuditEntry entry{"admin", "auth.changepassword", "password", "", ""};
  const auto text = [&](const char* field) -> std::string {
    auto it = call.body.find(field);
    return it != call.body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto outcome =
      services.sessions.change_password(text("oldPassword"), text("newPassword"),
                                        call.context.client_ip, std::chrono::system_clock::now());
  ApiResult result;
  switch (outcome.kind) {
    case auth::PasswordChangeOutcome::Kind::ok:
      result = ok("Password changed.");
      break;
    case auth::PasswordChangeOutcome::Kind::too_short:
      // CapRover's status and words (its minimum is the same 8 characters).
      result = failure(ApiStatus::generic_error, "Password is too small.");
      break;
    case auth::PasswordChangeOutcome::Kind::wrong_password:
      result = failure(ApiStatus::wrong_password, "Old password is incorrect.");
      break;
    case auth::PasswordChangeOutcome::Kind::back_off:
      result = failure(ApiStatus::password_back_off,
                       "Too many wrong passwords from this address. Wait " +
                           std::to_string(outcome.wait.count()) + " seconds and retry.");
      break;
    case auth::PasswordChangeOutcome::Kind::failed:
      services.log.error("password not changed",
                         {{"error", outcome.message}, {"request_id", call.context.request_id}});
      result = failure(ApiStatus::generic_error, "password not changed: " + outcome.message);
      break;
  }
  entry.result =
      result.succeeded() ? "ok" : "error:" + std::to_string(static_cast<int>(result.status));
  entry.detail = result.description;
  services.audit.record_alone(call.context, entry);
  return result;
}

}  // namespace

void register_password_routes(ApiRouter& router, ApiServices& services) {
  router.post("/user/changepassword", "/user/changepassword",
              [&services](Call& call) { return change_password(services, call); });
}

Authenticator token_authenticator(ApiServices& services) {
  return [&services](const Call& call) -> std::optional<ApiResult> {
    const std::string token = call.req.get_header_value("x-captain-auth");
    if (token.empty()) return failure(ApiStatus::auth_token_invalid, "Auth token corrupted");
    auto claims = services.sessions.check(token, std::chrono::system_clock::now());
    if (claims) return std::nullopt;
    if (claims.error() == auth::JwtError::expired) {
      return failure(ApiStatus::auth_token_invalid, "Auth token expired; log in again");
    }
    return failure(ApiStatus::auth_token_invalid, "Auth token corrupted");
  };
}

}  // namespace captain::api
