// rotor_config_init and the one validation every entry point shares.
#include "config.hpp"

#include <cmath>

#include "scaling.hpp"

namespace rotor {

bool valid_dtype(int dtype) {
  return dtype == ROTOR_DTYPE_F32 || dtype == ROTOR_DTYPE_F16 || dtype == ROTOR_DTYPE_BF16;
}
bool valid_pairing(int pairing) {
  return pairing == ROTOR_PAIRING_HALF || pairing == ROTOR_PAIRING_INTERLEAVED;
}
bool valid_direction(int dir) { return dir == ROTOR_FORWARD || dir == ROTOR_INVERSE; }

// The largest max_len: positions are int32, so position max_len - 1 must fit.
constexpr uint32_t kMaxLenLimit = 0x7fffffffu;

rotor_status validate_config(const rotor_config *cfg) {
  if (cfg == nullptr || cfg->struct_size != sizeof(rotor_config)) return ROTOR_ERR_INVALID_ARGUMENT;
  if (cfg->rotary_dim == 0 || cfg->rotary_dim % 2 != 0) return ROTOR_ERR_INVALID_ARGUMENT;
  if (!valid_pairing(enum_bits(cfg->pairing))) return ROTOR_ERR_INVALID_ARGUMENT;
  const int scaling = enum_bits(cfg->scaling);
  if (scaling < ROTOR_SCALING_NONE || scaling > ROTOR_SCALING_LONGROPE) return ROTOR_ERR_INVALID_ARGUMENT;
  // base >= 1: every model's theta is (1e4 .. 1e7); a base below 1 (a subnormal one in
  // particular) would make the frequencies base^(-2i/r) overflow to inf and the rows NaN.
  if (!std::isfinite(cfg->base) || cfg->base < 1.0) return ROTOR_ERR_INVALID_ARGUMENT;
  if (cfg->max_len == 0 || cfg->max_len > kMaxLenLimit) return ROTOR_ERR_INVALID_ARGUMENT;
  switch (enum_bits(cfg->growth)) {
    case ROTOR_GROWTH_EXPONENTIAL:
    case ROTOR_GROWTH_EXACT:
      break;
    case ROTOR_GROWTH_LINEAR:
      if (cfg->growth_increment == 0) return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    case ROTOR_GROWTH_MARGIN:
      if (!std::isfinite(cfg->growth_margin) || cfg->growth_margin < 0.0f)
        return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    default:
      return ROTOR_ERR_INVALID_ARGUMENT;
  }
  if (!std::isfinite(cfg->growth_threshold) || cfg->growth_threshold <= 0.0f ||
      cfg->growth_threshold > 1.0f)
    return ROTOR_ERR_INVALID_ARGUMENT;
  return validate_scaling(*cfg);
}

}  // namespace rotor

extern "C" ROTOR_API void rotor_config_init(rotor_config *cfg, uint32_t rotary_dim) {
  if (cfg == nullptr) return;
  *cfg = rotor_config{};
  cfg->struct_size = sizeof(rotor_config);
  cfg->rotary_dim = rotary_dim;
  cfg->pairing = ROTOR_PAIRING_HALF;
  cfg->base = 10000.0;
  cfg->initial_len = 2048;
  cfg->max_len = 32768;
  cfg->growth = ROTOR_GROWTH_MARGIN;
  cfg->growth_increment = 1024;
  cfg->growth_margin = 0.25f;
  cfg->growth_threshold = 0.8f;
  cfg->scaling = ROTOR_SCALING_NONE;
  cfg->factor = 1.0f;
  cfg->original_max_len = 0;
  cfg->ntk_dynamic = 0;
  cfg->beta_fast = 0.0f;
  cfg->beta_slow = 0.0f;
  cfg->mscale = 0.0f;
  cfg->mscale_all_dim = 0.0f;
  cfg->attention_factor = 0.0f;
  cfg->low_freq_factor = 0.0f;
  cfg->high_freq_factor = 0.0f;
  cfg->long_factor = nullptr;
  cfg->short_factor = nullptr;
}
