#include <gtest/gtest.h>

#include "rotor/rotor.h"

TEST(Smoke, CreateApplyDestroy) {
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  std::vector<float> x(2 * 3 * 4 * 64, 1.0f);
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 2, 3, 4, 64);
  EXPECT_EQ(rotor_apply(t, &v, nullptr, 5, ROTOR_FORWARD, nullptr), ROTOR_OK);
  rotor_table_destroy(t);
}
