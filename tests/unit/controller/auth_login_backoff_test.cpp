// The back-off's policy in memory, then the same back-off over a real store: failures survive
// reopening it, and its rows stay bounded.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "controller/auth/login_backoff.h"
#include "controller/auth/sessions.h"
#include "controller/store/login_failure_store.h"
#include "tests/unit/controller/store_fixture.h"

namespace captain::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using Clock = LoginBackoff::Clock;

const Clock::time_point kStart = Clock::time_point(std::chrono::hours(1000));

void fail(LoginBackoff& backoff, std::string_view ip, Clock::time_point at) {
  const auto recorded = backoff.record_failure(ip, at);
  EXPECT_TRUE(recorded) << recorded.error().message;
}

TEST(LoginBackoff, FourFailuresStillAllowed) {
  LoginBackoff backoff;
  for (int i = 0; i < 4; ++i) fail(backoff, "10.0.0.1", kStart + seconds(i));
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + seconds(4)), std::nullopt);
}

TEST(LoginBackoff, FifthFailureBlocksUntilOldestIsFifteenMinutesOld) {
  LoginBackoff backoff;
  for (int i = 0; i < 5; ++i) fail(backoff, "10.0.0.1", kStart + seconds(10 * i));
  auto blocked = backoff.blocked_for("10.0.0.1", kStart + seconds(40));
  ASSERT_TRUE(blocked);
  EXPECT_EQ(*blocked, minutes(15) - seconds(40));

  // Rounded up: half a second left reads as one second.
  auto almost =
      backoff.blocked_for("10.0.0.1", kStart + minutes(15) - std::chrono::milliseconds(500));
  ASSERT_TRUE(almost);
  EXPECT_EQ(*almost, seconds(1));

  // The oldest counted failure leaves the window: four remain, so the client may try again.
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + minutes(15)), std::nullopt);
  // ...but one more failure re-blocks until the next-oldest ages out.
  fail(backoff, "10.0.0.1", kStart + minutes(15));
  auto again = backoff.blocked_for("10.0.0.1", kStart + minutes(15));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, seconds(10));
}

TEST(LoginBackoff, SpreadOutFailuresNeverBlock) {
  LoginBackoff backoff;
  for (int i = 0; i < 20; ++i) {
    const auto now = kStart + minutes(4) * i;  // at most 4 inside any 15 minutes
    EXPECT_EQ(backoff.blocked_for("10.0.0.1", now), std::nullopt) << i;
    fail(backoff, "10.0.0.1", now);
  }
}

TEST(LoginBackoff, UnblocksAfterWindowAndForgetsClient) {
  LoginBackoff backoff;
  for (int i = 0; i < 5; ++i) fail(backoff, "10.0.0.1", kStart);
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart + minutes(14)));
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + minutes(15)), std::nullopt);
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(15)), 0u);
}

TEST(LoginBackoff, SuccessDoesNotClearOrCount) {
  LoginBackoff backoff;
  for (int i = 0; i < 4; ++i) fail(backoff, "10.0.0.1", kStart);
  backoff.record_success("10.0.0.1", kStart + seconds(1));
  backoff.record_success("10.0.0.1", kStart + seconds(2));
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + seconds(3)), std::nullopt);  // not counted
  fail(backoff, "10.0.0.1", kStart + seconds(3));
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart + seconds(4)));  // not cleared
  backoff.record_success("10.0.0.1", kStart + seconds(5));
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart + seconds(6)));
}

TEST(LoginBackoff, IpsAreIndependent) {
  LoginBackoff backoff;
  for (int i = 0; i < 5; ++i) fail(backoff, "10.0.0.1", kStart);
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart));
  EXPECT_EQ(backoff.blocked_for("10.0.0.2", kStart), std::nullopt);
  EXPECT_EQ(backoff.blocked_for("::1", kStart), std::nullopt);
}

TEST(LoginBackoff, MemoryIsCappedEvictingLeastRecent) {
  LoginBackoff::Limits limits;
  limits.max_tracked_clients = 100;
  LoginBackoff backoff(limits);
  for (int i = 0; i < 5; ++i) fail(backoff, "attacker", kStart);
  for (int i = 0; i < 1000; ++i) {
    fail(backoff, "10.1." + std::to_string(i), kStart + seconds(1));
    EXPECT_LE(backoff.tracked_clients(kStart + seconds(1)), 100u);
  }
  EXPECT_EQ(backoff.tracked_clients(kStart + seconds(1)), 100u);
  // The oldest entries were evicted; the newest survive.
  EXPECT_EQ(backoff.blocked_for("attacker", kStart + seconds(1)), std::nullopt);
  for (int i = 0; i < 4; ++i) fail(backoff, "10.1.999", kStart + seconds(2));
  EXPECT_TRUE(backoff.blocked_for("10.1.999", kStart + seconds(2)));
}

TEST(LoginBackoff, ExpiredEntriesArePruned) {
  LoginBackoff backoff;
  for (int i = 0; i < 50; ++i) fail(backoff, "10.2." + std::to_string(i), kStart);
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(1)), 50u);
  fail(backoff, "10.3.0", kStart + minutes(10));
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(16)), 1u);
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(26)), 0u);
}

TEST(LoginBackoff, LongKeysAreTruncated) {
  LoginBackoff backoff;
  const std::string base(LoginBackoff::kMaxKeyLength, 'k');
  for (int i = 0; i < 5; ++i) fail(backoff, base + std::to_string(i), kStart);
  EXPECT_EQ(backoff.tracked_clients(kStart), 1u);
  EXPECT_TRUE(backoff.blocked_for(base + "zzz", kStart));
}

TEST(LoginBackoff, CustomLimits) {
  LoginBackoff::Limits limits;
  limits.max_failures = 2;
  limits.window = minutes(1);
  LoginBackoff backoff(limits);
  fail(backoff, "a", kStart);
  EXPECT_EQ(backoff.blocked_for("a", kStart), std::nullopt);
  fail(backoff, "a", kStart + seconds(30));
  EXPECT_EQ(backoff.blocked_for("a", kStart + seconds(30)), seconds(30));
}

TEST(LoginBackoff, ConcurrentUseIsSafe) {
  LoginBackoff::Limits limits;
  limits.max_tracked_clients = 64;
  LoginBackoff backoff(limits);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&backoff, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string ip = "10." + std::to_string(t) + "." + std::to_string(i % 100);
        fail(backoff, ip, kStart + seconds(i));
        (void)backoff.blocked_for(ip, kStart + seconds(i));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(backoff.tracked_clients(kStart + seconds(2000)), 64u);
}

// ---------------------------------------------------------------------------------------------
// Over the store

class LoginBackoffStore : public store::OpenStoreTest {
 protected:
  std::unique_ptr<LoginBackoff> open(LoginBackoff::Limits limits = {},
                                     Clock::time_point now = kStart) {
    auto backoff = LoginBackoff::open(*db_, limits, now);
    EXPECT_TRUE(backoff) << (backoff ? "" : backoff.error().message);
    return backoff ? std::move(*backoff) : nullptr;
  }

  // A restart: the back-off and the store closed, the store reopened.
  std::unique_ptr<LoginBackoff> restart(std::unique_ptr<LoginBackoff>& backoff,
                                        LoginBackoff::Limits limits, Clock::time_point now) {
    backoff.reset();
    reopen();
    return open(limits, now);
  }

  // Rows in login_failures, of one client or (nullopt) of all.
  std::int64_t rows(std::optional<std::string_view> client = std::nullopt) {
    auto count = db_->read([&](store::Transaction& tx) -> store::Result<std::int64_t> {
      auto stmt = tx.prepare("SELECT COUNT(*) FROM login_failures WHERE ?1 IS NULL OR client = ?1");
      if (!stmt) return Unexpected(stmt.error());
      if (client) stmt->bind_text(1, *client);
      auto row = stmt->step();
      if (!row) return Unexpected(row.error());
      return stmt->column_int64(0);
    });
    EXPECT_TRUE(count);
    return count ? *count : -1;
  }

  std::int64_t clients() {
    auto count = db_->read([&](store::Transaction& tx) -> store::Result<std::int64_t> {
      auto stmt = tx.prepare("SELECT COUNT(DISTINCT client) FROM login_failures");
      if (!stmt) return Unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return Unexpected(row.error());
      return stmt->column_int64(0);
    });
    EXPECT_TRUE(count);
    return count ? *count : -1;
  }
};

TEST_F(LoginBackoffStore, BlockSurvivesRestartUntilOldestFailureAgesOut) {
  auto backoff = open();
  for (int i = 0; i < 5; ++i) fail(*backoff, "10.0.0.1", kStart + seconds(10 * i));
  ASSERT_TRUE(backoff->blocked_for("10.0.0.1", kStart + seconds(40)));

  backoff = restart(backoff, {}, kStart + minutes(1));
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + minutes(1)), minutes(14));
  EXPECT_EQ(backoff->blocked_for("10.0.0.2", kStart + minutes(1)), std::nullopt);
  // The oldest failure leaves the window: four remain, and one more blocks again until the
  // next-oldest (kStart + 10 s) ages out, as without a restart.
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + minutes(15)), std::nullopt);
  fail(*backoff, "10.0.0.1", kStart + minutes(15));
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + minutes(15)), seconds(10));
}

TEST_F(LoginBackoffStore, FailuresCountAcrossRestarts) {
  auto backoff = open();
  for (int i = 0; i < 3; ++i) fail(*backoff, "10.0.0.1", kStart + seconds(i));
  backoff = restart(backoff, {}, kStart + minutes(1));
  fail(*backoff, "10.0.0.1", kStart + minutes(1));
  backoff = restart(backoff, {}, kStart + minutes(2));
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + minutes(2)), std::nullopt);  // four
  fail(*backoff, "10.0.0.1", kStart + minutes(2));
  backoff = restart(backoff, {}, kStart + minutes(3));
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + minutes(3)), minutes(12));
}

TEST_F(LoginBackoffStore, SuccessWritesNothingAndClearsNothing) {
  auto backoff = open();
  for (int i = 0; i < 5; ++i) fail(*backoff, "10.0.0.1", kStart);
  backoff->record_success("10.0.0.1", kStart + seconds(1));
  backoff = restart(backoff, {}, kStart + seconds(2));
  EXPECT_TRUE(backoff->blocked_for("10.0.0.1", kStart + seconds(2)));
  EXPECT_EQ(rows(), 5);
}

TEST_F(LoginBackoffStore, BlockedChecksDoNotWrite) {
  auto backoff = open();
  for (int i = 0; i < 5; ++i) fail(*backoff, "10.0.0.1", kStart);
  // A second connection sees PRAGMA data_version change when another connection commits.
  auto other = store::Database::open(dir_ / "captain.db");
  ASSERT_TRUE(other);
  const auto data_version = [&]() -> std::int64_t {
    auto version = (*other)->read([](store::Transaction& tx) -> store::Result<std::int64_t> {
      auto stmt = tx.prepare("PRAGMA data_version");
      if (!stmt) return Unexpected(stmt.error());
      auto row = stmt->step();
      if (!row) return Unexpected(row.error());
      return stmt->column_int64(0);
    });
    EXPECT_TRUE(version);
    return version ? *version : -1;
  };
  const std::int64_t before = data_version();
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(backoff->blocked_for("10.0.0.1", kStart + seconds(i)));
    EXPECT_EQ(backoff->blocked_for("10.0.0.2", kStart + seconds(i)), std::nullopt);
  }
  backoff->record_success("10.0.0.2", kStart + seconds(20));
  EXPECT_EQ(backoff->tracked_clients(kStart + minutes(16)), 0u);  // pruned in memory only
  EXPECT_EQ(data_version(), before);
  fail(*backoff, "10.0.0.3", kStart + minutes(16));  // the probe does see a write
  EXPECT_NE(data_version(), before);
}

TEST_F(LoginBackoffStore, RowsThatLeftTheWindowArePrunedOnTheNextFailure) {
  auto backoff = open();
  for (int i = 0; i < 50; ++i) fail(*backoff, "10.2." + std::to_string(i), kStart);
  fail(*backoff, "10.3.0", kStart + minutes(10));
  EXPECT_EQ(rows(), 51);
  fail(*backoff, "10.3.1", kStart + minutes(15));  // the 50 are exactly 15 minutes old
  EXPECT_EQ(rows(), 2);
  EXPECT_EQ(clients(), 2);
}

TEST_F(LoginBackoffStore, RestartDropsRowsThatLeftTheWindow) {
  auto backoff = open();
  for (int i = 0; i < 5; ++i) fail(*backoff, "10.0.0.1", kStart);
  fail(*backoff, "10.0.0.2", kStart + minutes(5));
  backoff = restart(backoff, {}, kStart + minutes(15));
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + minutes(15)), std::nullopt);
  EXPECT_EQ(backoff->tracked_clients(kStart + minutes(15)), 1u);
  EXPECT_EQ(rows(), 1);
  EXPECT_EQ(rows("10.0.0.2"), 1);
}

TEST_F(LoginBackoffStore, RowsPerClientStayAtTheThreshold) {
  auto backoff = open();
  // Blocked after five, but a caller may record more (change_password racing a login, say).
  for (int i = 0; i < 12; ++i) fail(*backoff, "10.0.0.1", kStart + seconds(i));
  EXPECT_EQ(rows("10.0.0.1"), 5);
  backoff = restart(backoff, {}, kStart + seconds(12));
  // The newest five were kept: the block lasts until kStart + 7 s + 15 min.
  EXPECT_EQ(backoff->blocked_for("10.0.0.1", kStart + seconds(12)), minutes(15) - seconds(5));
}

TEST_F(LoginBackoffStore, CapHoldsInTheStoreEvictingLeastRecent) {
  LoginBackoff::Limits limits;
  limits.max_tracked_clients = 10;
  auto backoff = open(limits);
  for (int i = 0; i < 5; ++i) fail(*backoff, "attacker", kStart);
  for (int i = 0; i < 100; ++i) {
    fail(*backoff, "10.1." + std::to_string(i), kStart + seconds(1) + std::chrono::milliseconds(i));
    ASSERT_LE(clients(), 10);
  }
  EXPECT_EQ(rows("attacker"), 0);
  EXPECT_EQ(rows(), 10);

  backoff = restart(backoff, limits, kStart + seconds(2));
  EXPECT_EQ(backoff->tracked_clients(kStart + seconds(2)), 10u);
  EXPECT_EQ(backoff->blocked_for("attacker", kStart + seconds(2)), std::nullopt);
  for (int i = 0; i < 4; ++i) fail(*backoff, "10.1.99", kStart + seconds(2));
  EXPECT_TRUE(backoff->blocked_for("10.1.99", kStart + seconds(2)));

  // A lower cap at the next start keeps the most recent clients, in memory and in the store.
  limits.max_tracked_clients = 3;
  backoff = restart(backoff, limits, kStart + seconds(3));
  EXPECT_EQ(backoff->tracked_clients(kStart + seconds(3)), 3u);
  EXPECT_EQ(clients(), 3);
  EXPECT_TRUE(backoff->blocked_for("10.1.99", kStart + seconds(3)));
}

TEST_F(LoginBackoffStore, LoweredCapAtStartKeepsAClientThatFailedAgain) {
  auto backoff = open();
  fail(*backoff, "a", kStart + seconds(1));
  fail(*backoff, "b", kStart + seconds(2));
  fail(*backoff, "c", kStart + seconds(3));
  fail(*backoff, "a", kStart + seconds(4));
  LoginBackoff::Limits limits;
  limits.max_tracked_clients = 2;
  // Replayed in time order, "a" is evicted by "c", then comes back and evicts "b".
  backoff = restart(backoff, limits, kStart + seconds(5));
  EXPECT_EQ(backoff->tracked_clients(kStart + seconds(5)), 2u);
  EXPECT_EQ(rows("b"), 0);
  EXPECT_EQ(rows("c"), 1);
  EXPECT_GE(rows("a"), 1);
  for (int i = 0; i < 4; ++i) fail(*backoff, "a", kStart + seconds(6));
  EXPECT_TRUE(backoff->blocked_for("a", kStart + seconds(6)));
}

TEST_F(LoginBackoffStore, ClockSetBackKeepsFailuresAtMostOneWindowAhead) {
  // Rows written while the clock was ahead (each failure would prune the other client's).
  store::LoginFailureStore failures;
  ASSERT_TRUE(db_->write([&](store::Transaction& tx) -> store::Status {
    for (int i = 0; i < 5; ++i) {
      if (auto added = failures.add(tx, "near", kStart + minutes(5)); !added) return added;
      if (auto added = failures.add(tx, "far", kStart + minutes(60)); !added) return added;
    }
    return {};
  }));
  // Started with the clock at kStart: "near"'s failures are five minutes ahead and still
  // count; "far"'s are more than a window ahead and are forgotten.
  auto backoff = open();
  EXPECT_EQ(backoff->blocked_for("near", kStart), minutes(20));
  EXPECT_EQ(backoff->blocked_for("far", kStart), std::nullopt);
  EXPECT_EQ(rows("far"), 0);
  EXPECT_EQ(rows("near"), 5);
}

TEST_F(LoginBackoffStore, SessionsKeepTheBlockAcrossRestart) {
  const auto now = std::chrono::system_clock::now();
  const std::string password = "correct horse battery";
  {
    auto sessions = Sessions::open(*db_, password, {}, now);
    ASSERT_TRUE(sessions) << sessions.error();
    for (int i = 0; i < 5; ++i) {
      const auto outcome = (*sessions)->login("wrong", "10.0.0.1", now + seconds(i));
      EXPECT_EQ(outcome.kind, LoginOutcome::Kind::wrong_password);
      EXPECT_EQ(outcome.message, "");
    }
  }
  reopen();
  auto sessions = Sessions::open(*db_, std::nullopt, {}, now + minutes(1));
  ASSERT_TRUE(sessions) << sessions.error();
  const auto blocked = (*sessions)->login(password, "10.0.0.1", now + minutes(1));
  EXPECT_EQ(blocked.kind, LoginOutcome::Kind::back_off);
  EXPECT_EQ(blocked.wait, minutes(14));
  const auto change =
      (*sessions)->change_password(password, "long enough 1", "10.0.0.1", now + minutes(1));
  EXPECT_EQ(change.kind, PasswordChangeOutcome::Kind::back_off);
  EXPECT_EQ((*sessions)->login(password, "10.0.0.2", now + minutes(1)).kind,
            LoginOutcome::Kind::ok);
  // The former signature (with a steady time, now unused) still compiles and answers the same.
  EXPECT_EQ((*sessions)->login(password, "10.0.0.1", now + minutes(1)).kind,
            LoginOutcome::Kind::back_off);
  EXPECT_EQ((*sessions)->login(password, "10.0.0.1", now + minutes(15)).kind,
            LoginOutcome::Kind::ok);
}

}  // namespace
}  // namespace captain::auth
