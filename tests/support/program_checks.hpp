// The checks of the test programs that cannot be GoogleTest binaries (they replace a libc
// function for the whole process): each failed check prints its text; the program's exit
// status says whether any failed.
#pragma once
#include <cstdio>

namespace rotor_test {

struct ProgramChecks {
  int failures = 0;
  void operator()(bool ok, const char *what) {
    if (ok) return;
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
  // Prints the program's verdict and returns its exit status.
  int finish(const char *what) const {
    std::printf("%s: %s\n", failures == 0 ? "passed" : "FAILED", what);
    return failures == 0 ? 0 : 1;
  }
};

}  // namespace rotor_test
