// rotor_last_error_message is "" after every call that returned ROTOR_OK, though the guards
// clear the thread's reason only once some call has recorded one (src/capi/guard.hpp: a
// process-wide mark spares every call a thread-local access until then). ctest runs each test
// in a process of its own, so each one below starts with the mark unset and checks that the
// first reason of the process, whichever kind of entry point recorded it, is cleared by the
// next successful call.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "support/reference.hpp"

namespace {

// A table and a [1, 4, 2, 64] f32 tensor; apply() rotates it in place.
struct Fixture {
  rotor_table *table = nullptr;
  std::vector<float> data = ref::random_floats(4 * 2 * 64, 7);
  rotor_tensor x{};

  Fixture() {
    const rotor_config cfg = ref::config(64);
    EXPECT_EQ(rotor_table_create(&table, &cfg), ROTOR_OK);
    x = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_F32, 1, 4, 2, 64);
  }
  ~Fixture() { rotor_table_destroy(table); }
  rotor_status apply() { return rotor_apply(table, &x, nullptr, 0, ROTOR_FORWARD, nullptr); }
  // data NULL: INVALID_ARGUMENT with validate_view's reason, nothing written.
  rotor_status apply_null_data() {
    rotor_tensor bad = x;
    bad.data = nullptr;
    return rotor_apply(table, &bad, nullptr, 0, ROTOR_FORWARD, nullptr);
  }
};

TEST(ReasonMark, OkCallsBeforeAnyFailureReportNothing) {
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(f.apply(), ROTOR_OK);
    EXPECT_STREQ(rotor_last_error_message(), "");
  }
}

TEST(ReasonMark, AFailedCallsReasonIsClearedByTheNextOkCall) {
  Fixture f;
  ASSERT_EQ(f.apply(), ROTOR_OK);
  ASSERT_EQ(f.apply_null_data(), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(rotor_last_error_message(), "a tensor's data is NULL");
  ASSERT_EQ(f.apply(), ROTOR_OK);
  EXPECT_STREQ(rotor_last_error_message(), "");
}

// The first reason of the process recorded by a size function returning 0 (guarded_value):
// no status says it failed, yet the next successful call clears it.
TEST(ReasonMark, ASizeFunctionsReasonIsClearedByTheNextOkCall) {
  Fixture f;
  rotor_config odd = ref::config(64);
  odd.rotary_dim = 63;
  ASSERT_EQ(rotor_table_arena_size(&odd), size_t{0});
  EXPECT_STRNE(rotor_last_error_message(), "");
  ASSERT_EQ(f.apply(), ROTOR_OK);
  EXPECT_STREQ(rotor_last_error_message(), "");
}

// Each thread's reason is its own: a failure on one thread leaves another's "" and is cleared
// by that thread's next successful call, made after the other thread's calls.
TEST(ReasonMark, EachThreadsReasonIsClearedByItsOwnNextOkCall) {
  Fixture f;
  std::string failed_reason, after_ok, other_thread;
  std::thread failing([&] {
    (void)f.apply_null_data();
    failed_reason = rotor_last_error_message();
    std::thread other([&] {
      EXPECT_EQ(f.apply(), ROTOR_OK);
      other_thread = rotor_last_error_message();
    });
    other.join();
    EXPECT_EQ(f.apply(), ROTOR_OK);
    after_ok = rotor_last_error_message();
  });
  failing.join();
  EXPECT_EQ(failed_reason, "a tensor's data is NULL");
  EXPECT_EQ(other_thread, "");
  EXPECT_EQ(after_ok, "");
  // This thread never failed: its reason is "" before and after its own successful call.
  EXPECT_STREQ(rotor_last_error_message(), "");
  ASSERT_EQ(f.apply(), ROTOR_OK);
  EXPECT_STREQ(rotor_last_error_message(), "");
}

}  // namespace
