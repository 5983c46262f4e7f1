// controller/deploy/work_queue: apps coalesced, never twice at once, re-queued after a change
// during their pass, retried once Docker answers, redone at once after a conflict.
#include "controller/deploy/work_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace captain::deploy {
namespace {

api::RequestContext context(const std::string& id) {
  api::RequestContext c;
  c.request_id = id;
  return c;
}

TEST(WorkQueue, CoalescesAndKeepsTheLatestContext) {
  WorkQueue q;
  q.push("a", context("1"));
  q.push("b", context("2"));
  q.push("a", context("3"));
  auto first = q.take();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->app, "a");
  EXPECT_EQ(first->context.request_id, "3");
  EXPECT_EQ(q.take()->app, "b");
  EXPECT_FALSE(q.done("a", ConvergeResult::done));  // b still running
  EXPECT_TRUE(q.done("b", ConvergeResult::done));
  EXPECT_TRUE(q.idle());
}

TEST(WorkQueue, APushDuringAPassQueuesItAgainAfterwards) {
  WorkQueue q;
  q.push("a", context("1"));
  auto running = q.take();
  q.push("a", context("2"));  // a change while the worker has it
  EXPECT_FALSE(q.idle());
  EXPECT_FALSE(q.done("a", ConvergeResult::done));
  auto again = q.take();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->context.request_id, "2");
  EXPECT_TRUE(q.done("a", ConvergeResult::done));
}

TEST(WorkQueue, ConflictRedoesAtOnceRetryWaitsForDocker) {
  WorkQueue q;
  q.push("a", context("1"));
  q.take();
  EXPECT_FALSE(q.done("a", ConvergeResult::conflict));
  EXPECT_EQ(q.take()->app, "a");
  EXPECT_TRUE(q.done("a", ConvergeResult::retry));
  EXPECT_TRUE(q.idle());  // waiting for Docker is not work in hand
  q.retry_waiting();
  EXPECT_FALSE(q.idle());
  EXPECT_EQ(q.take()->app, "a");
}

TEST(WorkQueue, AReconcileKeepsAClientsPendingContext) {
  WorkQueue q;
  q.push("a", context("client"));
  q.push({"a", "b"}, context("reconcile"), /*keep_context=*/true);
  EXPECT_EQ(q.take()->context.request_id, "client");
  EXPECT_EQ(q.take()->context.request_id, "reconcile");
}

TEST(WorkQueue, StopWakesAWaitingWorker) {
  WorkQueue q;
  std::optional<WorkQueue::Item> got = WorkQueue::Item{"x", {}};
  std::thread worker([&] { got = q.take(); });
  q.stop();
  worker.join();
  EXPECT_FALSE(got);
}

}  // namespace
}  // namespace captain::deploy
