// remove_list_element against a replica of nginx's ngx_list_t: same fields, same push
// algorithm (src/core/ngx_list.c) and the walk idiom nginx modules use (proxy, headers). Every
// allocation is exactly sized, so under ASan a push past a part's room is reported.
#include "ngx_module/core/list_removal.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

namespace {

struct Part {
  void* elts;
  std::size_t nelts;
  Part* next;
};

struct List {
  Part* last;
  Part part;
  std::size_t size;
  std::size_t nalloc;
};

struct Pool {
  std::vector<std::unique_ptr<char[]>> blocks;
  void* allocate(std::size_t bytes) {
    blocks.emplace_back(new char[bytes == 0 ? 1 : bytes]);
    return blocks.back().get();
  }
};

void init(List& l, Pool& pool, std::size_t n) {
  l.size = sizeof(int);
  l.nalloc = n;
  l.part = {pool.allocate(n * l.size), 0, nullptr};
  l.last = &l.part;
}

// ngx_list_push
int* push(List& l, Pool& pool) {
  Part* last = l.last;
  if (last->nelts == l.nalloc) {
    last = static_cast<Part*>(pool.allocate(sizeof(Part)));
    last->elts = pool.allocate(l.nalloc * l.size);
    last->nelts = 0;
    last->next = nullptr;
    l.last->next = last;
    l.last = last;
  }
  int* elt = static_cast<int*>(last->elts) + last->nelts;
  ++last->nelts;
  return elt;
}

// The idiom of ngx_http_proxy_create_request and friends: it steps into part->next and reads
// element 0 without checking that the part is non-empty.
std::vector<int*> walk(List& l) {
  std::vector<int*> out;
  Part* part = &l.part;
  int* data = static_cast<int*>(part->elts);
  for (std::size_t i = 0;; i++) {
    if (i >= part->nelts) {
      if (part->next == nullptr) break;
      part = part->next;
      data = static_cast<int*>(part->elts);
      i = 0;
    }
    out.push_back(&data[i]);
  }
  return out;
}

std::vector<int> values(List& l) {
  std::vector<int> out;
  for (int* p : walk(l)) out.push_back(*p);
  return out;
}

// Removes every element whose value satisfies `drop`, the way set_request_header does.
template <typename Drop>
void remove_if(List& l, Pool& pool, Drop drop) {
  auto allocate = [&pool](std::size_t bytes) { return pool.allocate(bytes); };
  captain::ListCursor<Part> at{nullptr, &l.part, 0};
  while (at.part != nullptr) {
    if (at.index >= at.part->nelts) {
      at = {at.part, at.part->next, 0};
      continue;
    }
    if (!drop(static_cast<int*>(at.part->elts)[at.index])) {
      ++at.index;
      continue;
    }
    ASSERT_TRUE(captain::remove_list_element(l, at.prev, at.part, at.index, allocate, &at));
  }
}

List make_list(Pool& pool, std::size_t nalloc, int count) {
  List l;
  init(l, pool, nalloc);
  for (int i = 0; i < count; ++i) *push(l, pool) = i;
  return l;
}

TEST(ListRemoval, MiddleElementKeepsOthersInPlace) {
  Pool pool;
  List l = make_list(pool, 8, 5);
  const std::vector<int*> before = walk(l);
  remove_if(l, pool, [](int v) { return v == 2; });
  EXPECT_EQ(values(l), (std::vector<int>{0, 1, 3, 4}));
  const std::vector<int*> after = walk(l);
  EXPECT_EQ(after[2], before[3]);
  EXPECT_EQ(after[3], before[4]);
}

TEST(ListRemoval, FirstLastAndOnlyElements) {
  Pool pool;
  List l = make_list(pool, 4, 3);
  remove_if(l, pool, [](int v) { return v == 0; });
  EXPECT_EQ(values(l), (std::vector<int>{1, 2}));
  remove_if(l, pool, [](int v) { return v == 2; });
  EXPECT_EQ(values(l), (std::vector<int>{1}));
  remove_if(l, pool, [](int v) { return v == 1; });
  EXPECT_EQ(values(l), std::vector<int>{});
  for (int i = 10; i < 20; ++i) *push(l, pool) = i;
  EXPECT_EQ(values(l), (std::vector<int>{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
}

TEST(ListRemoval, EmptiedLaterPartIsUnlinkedSoWalksNeverReadAnEmptyPart) {
  Pool pool;
  List l = make_list(pool, 2, 5);  // parts {0,1} {2,3} {4}
  remove_if(l, pool, [](int v) { return v == 2 || v == 3; });
  EXPECT_EQ(values(l), (std::vector<int>{0, 1, 4}));
  remove_if(l, pool, [](int v) { return v == 4; });
  EXPECT_EQ(values(l), (std::vector<int>{0, 1}));
  *push(l, pool) = 7;
  EXPECT_EQ(values(l), (std::vector<int>{0, 1, 7}));
}

TEST(ListRemoval, EmptyFirstPartStaysAtTheHead) {
  Pool pool;
  List l = make_list(pool, 2, 4);  // {0,1} {2,3}
  remove_if(l, pool, [](int v) { return v < 2; });
  EXPECT_EQ(values(l), (std::vector<int>{2, 3}));
  remove_if(l, pool, [](int) { return true; });
  EXPECT_EQ(values(l), std::vector<int>{});
  *push(l, pool) = 9;
  EXPECT_EQ(values(l), std::vector<int>{9});
}

TEST(ListRemoval, PushesAfterASplitNeverOverrunTheSplitPart) {
  Pool pool;
  List l = make_list(pool, 20, 6);
  remove_if(l, pool, [](int v) { return v == 1; });
  for (int i = 100; i < 160; ++i) *push(l, pool) = i;  // ASan reports any overrun
  std::vector<int> expected{0, 2, 3, 4, 5};
  for (int i = 100; i < 160; ++i) expected.push_back(i);
  EXPECT_EQ(values(l), expected);
}

// Random interleavings of pushes and removals against a plain vector model; surviving
// elements never move.
TEST(ListRemoval, RandomOperationsMatchAModel) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    Pool pool;
    List l;
    init(l, pool, 1 + rng() % 5);
    std::vector<int> model;
    int next_value = 0;
    for (int step = 0; step < 60; ++step) {
      if (model.empty() || rng() % 3 != 0) {
        *push(l, pool) = next_value;
        model.push_back(next_value++);
        continue;
      }
      const std::vector<int*> before = walk(l);
      const int victim = model[rng() % model.size()];
      remove_if(l, pool, [victim](int v) { return v == victim; });
      std::vector<int*> expected_addresses;
      for (int* p : before) {
        if (*p != victim) expected_addresses.push_back(p);
      }
      std::erase(model, victim);
      ASSERT_EQ(walk(l), expected_addresses) << "round " << round << " step " << step;
      ASSERT_EQ(values(l), model);
    }
  }
}

}  // namespace
