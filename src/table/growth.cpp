#include "table/growth.hpp"

#include <algorithm>
#include <cmath>

namespace rotor {

uint32_t growth_target(const rotor_config &cfg, uint32_t current, uint32_t required) {
  const uint64_t limit = cfg.max_len;
  uint64_t target = required;
  switch (cfg.growth) {
    case ROTOR_GROWTH_EXPONENTIAL: {
      uint64_t n = std::max<uint64_t>(current, 1);
      while (n < required) n *= 2;
      target = n;
      break;
    }
    case ROTOR_GROWTH_LINEAR: {
      uint64_t inc = cfg.growth_increment;
      target = (uint64_t{required} + inc - 1) / inc * inc;
      break;
    }
    case ROTOR_GROWTH_EXACT:
    default:  // validated configs hold one of the four (FORCE_32BIT is never one)
      target = required;
      break;
    case ROTOR_GROWTH_MARGIN: {
      // The margin is a float: 0.1f is 0.100000001..., and 100 * 1.100000001 must still give
      // 110, not 111. Shaving one float ulp (relative) before ceil ignores that representation
      // error while keeping exact margins (0.5 of 100 is 150) exact.
      double exact = double(required) * (1.0 + double(cfg.growth_margin));
      double wanted = std::ceil(exact - exact * 0x1p-23);
      target = wanted >= double(limit) ? limit : static_cast<uint64_t>(wanted);
      break;
    }
  }
  target = std::max<uint64_t>(target, required);
  return static_cast<uint32_t>(std::min(target, limit));
}

uint32_t growth_ahead_target(const rotor_config &cfg, uint32_t current, uint32_t required) {
  if (cfg.growth == ROTOR_GROWTH_EXACT || cfg.growth_threshold >= 1.0f) return current;
  if (current >= cfg.max_len || required > current) return current;
  if (double(required) <= double(cfg.growth_threshold) * double(current)) return current;
  return growth_target(cfg, current, current + 1);
}

}  // namespace rotor
