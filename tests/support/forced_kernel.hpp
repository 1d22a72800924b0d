// Forces a kernel set (rotor_kernel_force) for one scope and restores the one in use before.
#pragma once
#include <string>

#include "rotor/rotor.h"

namespace test_support {

class ForcedKernel {
 public:
  explicit ForcedKernel(const char *name) : previous_(rotor_kernel_name()), status_(rotor_kernel_force(name)) {}
  ~ForcedKernel() { rotor_kernel_force(previous_.c_str()); }
  ForcedKernel(const ForcedKernel &) = delete;
  ForcedKernel &operator=(const ForcedKernel &) = delete;
  rotor_status status() const { return status_; }

 private:
  std::string previous_;
  rotor_status status_;
};

}  // namespace test_support
