// controller/api/checkhealth_route: the instance id CapRover's /checkhealth answers with is a
// version-4 UUID, different for every instance.
#include "controller/api/checkhealth_route.h"

#include <gtest/gtest.h>

namespace captain::api {
namespace {

TEST(CheckHealth, InstanceIdsAreVersion4Uuids) {
  const std::string id = random_uuid_v4();
  ASSERT_EQ(id.size(), 36U);
  for (std::size_t i : {8U, 13U, 18U, 23U}) EXPECT_EQ(id[i], '-') << id;
  EXPECT_EQ(id[14], '4') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef-"), std::string::npos) << id;
  EXPECT_NE(random_uuid_v4(), id);
}

}  // namespace
}  // namespace captain::api
