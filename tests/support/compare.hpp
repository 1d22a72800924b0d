// Largest absolute difference between two results of the same shape: a float result against
// another (bit-for-bit checks expect 0) or against a double-precision reference.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace test_support {

inline double max_abs_diff(const std::vector<float> &got, const std::vector<float> &want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, double(std::fabs(got[i] - want[i])));
  return worst;
}

inline double max_abs_diff(const std::vector<float> &got, const std::vector<double> &want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
  return worst;
}

}  // namespace test_support
