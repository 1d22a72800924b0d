// Which kernel set this build runs, printed in the test output (CI greps for it in the ARM
// builds run under qemu), and a guard against a silent fallback: a build for ARM with NEON
// (every aarch64 CPU has it; armv7 when compiled with NEON, as toolchains/armv7-*.cmake does)
// must not end up on the scalar reference, as it would if a cross build did not find xsimd or
// CPU detection failed on the target's OS. Kernel correctness is test_kernels.cpp's business.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rotor/rotor.h"

namespace {

// The kernel set a NEON build must choose by itself, or nullptr when the build gives no such
// promise (x86 picks by CPUID at run time; armv7 without NEON has only the scalar set).
const char *required_kernel_for_this_build() {
#if defined(__aarch64__)
  return "neon64";
#elif defined(__arm__) && defined(__ARM_NEON)
  return "neon";
#else
  return nullptr;
#endif
}

std::vector<std::string> available_kernels() {
  std::vector<std::string> names;
  const uint32_t count = rotor_kernel_count();
  for (uint32_t i = 0; i < count; ++i) {
    const char *name = rotor_kernel_available(i);
    if (name == nullptr) break;  // count and list disagree: caught by the size check below
    names.emplace_back(name);
  }
  EXPECT_EQ(names.size(), count) << "rotor_kernel_available returned NULL inside the count";
  EXPECT_EQ(rotor_kernel_available(count), nullptr) << "an entry past rotor_kernel_count";
  return names;
}

std::string joined(const std::vector<std::string> &names) {
  std::string out;
  for (const std::string &name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

TEST(TargetKernel, ReportsTheKernelInUse) {
  ASSERT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);  // the automatic choice, whatever ran before
  const char *name = rotor_kernel_name();
  ASSERT_NE(name, nullptr);
  const std::vector<std::string> available = available_kernels();
  const char *env = std::getenv("ROTOR_KERNEL");
  // Printed, not only recorded: ctest -V and the device bundle's run show it.
  std::printf("[ KERNEL   ] rotor kernel in use: %s (available: %s)%s%s\n", name,
              joined(available).c_str(), env ? "; ROTOR_KERNEL=" : "", env ? env : "");
  std::fflush(stdout);
  RecordProperty("rotor_kernel", name);

  ASSERT_FALSE(available.empty());
  EXPECT_EQ(available.back(), "scalar") << "the scalar reference is always there, last";
  bool listed = false;
  for (const std::string &candidate : available) listed = listed || candidate == name;
  EXPECT_TRUE(listed) << name << " is in use but not among: " << joined(available);
  if (env == nullptr) {
    EXPECT_EQ(available.front(), name) << "the automatic choice is the best kernel available";
  }
}

TEST(TargetKernel, NeonBuildDoesNotFallBackToScalar) {
  const char *required = required_kernel_for_this_build();
  if (required == nullptr) GTEST_SKIP() << "not an ARM build with NEON";
  if (const char *env = std::getenv("ROTOR_KERNEL")) {
    GTEST_SKIP() << "ROTOR_KERNEL=" << env << " overrides the automatic choice";
  }
  ASSERT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);
  const std::string name = rotor_kernel_name();
  EXPECT_NE(name, "scalar") << "this build targets NEON but the dispatcher chose the scalar "
                               "reference: were the arch/arm kernels built (xsimd found)?";
  EXPECT_EQ(name, required);
  // Forcing it by name works as well: the NEON set is registered, not just named.
  EXPECT_EQ(rotor_kernel_force(required), ROTOR_OK);
  EXPECT_EQ(std::string(rotor_kernel_name()), required);
  EXPECT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);
}
