#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ngx_module/core/metrics/series_labels.h"

namespace captain::metrics {
namespace {

TEST(MetricsMethods, KnownMethodsKeepTheirNameOthersFoldIntoOther) {
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    EXPECT_EQ(method_label(method_index(m)), m);
  }
  for (const char* m : {"PROPFIND", "get", "", "BREW", "CONNECT"}) {
    EXPECT_EQ(method_label(method_index(m)), "OTHER") << m;
  }
}

TEST(MetricsStatuses, ExactSetKeepsItsCodes) {
  for (const int status : kExactStatuses) {
    EXPECT_EQ(status_label(status_index(status)), std::to_string(status));
  }
}

TEST(MetricsStatuses, OtherStatusesLandInTheirClass) {
  EXPECT_EQ(status_label(status_index(101)), "1xx");
  EXPECT_EQ(status_label(status_index(203)), "2xx");
  EXPECT_EQ(status_label(status_index(303)), "3xx");
  EXPECT_EQ(status_label(status_index(418)), "4xx");
  EXPECT_EQ(status_label(status_index(444)), "4xx");
  EXPECT_EQ(status_label(status_index(599)), "5xx");
  EXPECT_EQ(status_label(status_index(0)), "other");
  EXPECT_EQ(status_label(status_index(99)), "other");
  EXPECT_EQ(status_label(status_index(600)), "other");
  EXPECT_EQ(status_label(status_index(-1)), "other");
}

TEST(MetricsStatuses, EveryStatusMapsIntoTheBoundedSet) {
  std::set<std::string> seen;
  for (int status = -10; status < 1000; ++status) {
    const std::size_t index = status_index(status);
    ASSERT_LT(index, kStatusCount);
    seen.insert(std::string(status_label(index)));
  }
  EXPECT_EQ(seen.size(), kStatusCount);
}

}  // namespace
}  // namespace captain::metrics
