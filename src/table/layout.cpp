#include "table/layout.hpp"

#include "common/enum_bits.hpp"
#include "table/config.hpp"

namespace rotor {

rotor_status validate_layout(const rotor_config &cfg) {
  const uint32_t half = cfg.rotary_dim / 2;
  switch (enum_bits(cfg.layout)) {
    case ROTOR_LAYOUT_1D:
      return ROTOR_OK;
    case ROTOR_LAYOUT_MROPE:
    case ROTOR_LAYOUT_MROPE_INTERLEAVED: {
      // Summed in 64 bits: three uint32 sections can wrap around to r/2.
      const uint64_t sum = uint64_t{cfg.mrope_section[0]} + cfg.mrope_section[1] + cfg.mrope_section[2];
      if (sum != half) return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    }
    case ROTOR_LAYOUT_VISION_HALVES:
    case ROTOR_LAYOUT_VISION_ALTERNATE:
      // Each axis gets r/4 pairs; the models that use these layouts have no scaling, and a
      // scaling formula's pair index would not say which frequency it scales.
      if (cfg.rotary_dim % 4 != 0 || enum_bits(cfg.scaling) != ROTOR_SCALING_NONE)
        return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    default:
      return ROTOR_ERR_INVALID_ARGUMENT;
  }
  return cfg.rotary_dim <= kMaxAxesRotaryDim ? ROTOR_OK : ROTOR_ERR_INVALID_ARGUMENT;
}

uint32_t layout_axes(const rotor_config &cfg) {
  switch (cfg.layout) {
    case ROTOR_LAYOUT_MROPE:
    case ROTOR_LAYOUT_MROPE_INTERLEAVED:
      return 3;
    case ROTOR_LAYOUT_VISION_HALVES:
    case ROTOR_LAYOUT_VISION_ALTERNATE:
      return 2;
    default:
      return 1;
  }
}

void pair_axes(const rotor_config &cfg, uint8_t *axis) {
  const uint32_t half = cfg.rotary_dim / 2;
  const uint32_t *section = cfg.mrope_section;
  for (uint32_t j = 0; j < half; ++j) {
    uint8_t a = 0;
    switch (cfg.layout) {
      case ROTOR_LAYOUT_MROPE:  // consecutive sections t, h, w
        a = j < section[0] ? 0 : j < section[0] + section[1] ? 1 : 2;
        break;
      case ROTOR_LAYOUT_MROPE_INTERLEAVED:  // t h w t h w ..., the rest t
        if (j % 3 == 1 && j < 3 * uint64_t{section[1]}) a = 1;
        else if (j % 3 == 2 && j < 3 * uint64_t{section[2]}) a = 2;
        break;
      case ROTOR_LAYOUT_VISION_HALVES:
      case ROTOR_LAYOUT_VISION_ALTERNATE:  // rows, then columns
        a = j < half / 2 ? 0 : 1;
        break;
      default:
        break;
    }
    axis[j] = a;
  }
}

uint32_t pair_frequency_index(const rotor_config &cfg, uint32_t i) {
  const uint32_t quarter = cfg.rotary_dim / 4;
  switch (cfg.layout) {
    case ROTOR_LAYOUT_VISION_HALVES:
      // Qwen2-VL: each axis has the r/4 frequencies of a rotary of r/2 dims,
      // (base^(-2k/(r/2)) = base^(-2(2k)/r)).
      return 2 * (i % quarter);
    case ROTOR_LAYOUT_VISION_ALTERNATE:
      // Pixtral: of the r/2 frequencies of the head, rows take the even ones, columns the odd.
      return i < quarter ? 2 * i : 2 * (i - quarter) + 1;
    default:
      return i;
  }
}

}  // namespace rotor
