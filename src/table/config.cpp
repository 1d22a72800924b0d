// rotor_config_init and the one validation every entry point shares.
#include "table/config.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "common/enum_bits.hpp"
#include "common/last_error.hpp"
#include "table/layout.hpp"
#include "table/scaling.hpp"

namespace rotor {

// The largest max_len: positions are int32, so position max_len - 1 must fit.
constexpr uint32_t kMaxLenLimit = 0x7fffffffu;

rotor_config default_config(uint32_t rotary_dim) {
  rotor_config cfg{};  // zero: reserved fields, unset scaling parameters, no LongRoPE factors
  cfg.struct_size = sizeof(rotor_config);
  cfg.rotary_dim = rotary_dim;
  cfg.pairing = ROTOR_PAIRING_HALF;
  cfg.base = 10000.0;
  cfg.initial_len = 2048;
  cfg.max_len = 32768;
  cfg.growth = ROTOR_GROWTH_MARGIN;
  cfg.growth_increment = 1024;
  cfg.growth_margin = 0.25f;
  cfg.growth_threshold = 0.8f;
  cfg.scaling = ROTOR_SCALING_NONE;
  cfg.factor = 1.0f;
  return cfg;
}

namespace {

// Where each field of rotor_config ends: the sizes a caller's struct may have.
#define ROTOR_FIELD_END(field) offsetof(rotor_config, field) + sizeof(rotor_config::field)
constexpr size_t kFieldEnds[] = {
    ROTOR_FIELD_END(rotary_dim), ROTOR_FIELD_END(pairing), ROTOR_FIELD_END(reserved_0),
      ROTOR_FIELD_END(base), ROTOR_FIELD_END(initial_len), ROTOR_FIELD_END(max_len),
      ROTOR_FIELD_END(growth), ROTOR_FIELD_END(growth_increment), ROTOR_FIELD_END(growth_margin),
      ROTOR_FIELD_END(growth_threshold), ROTOR_FIELD_END(scaling), ROTOR_FIELD_END(factor),
      ROTOR_FIELD_END(original_max_len), ROTOR_FIELD_END(ntk_dynamic), ROTOR_FIELD_END(beta_fast),
      ROTOR_FIELD_END(beta_slow), ROTOR_FIELD_END(mscale), ROTOR_FIELD_END(mscale_all_dim),
      ROTOR_FIELD_END(attention_factor), ROTOR_FIELD_END(low_freq_factor),
      ROTOR_FIELD_END(high_freq_factor), ROTOR_FIELD_END(reserved_1), ROTOR_FIELD_END(long_factor),
      ROTOR_FIELD_END(short_factor),
      // rotor 1.1: position layouts and proportional RoPE.
      ROTOR_FIELD_END(layout), ROTOR_FIELD_END(mrope_section), ROTOR_FIELD_END(rope_pairs),
      ROTOR_FIELD_END(reserved_2),
      // rotor 1.2: the length of the LongRoPE factor arrays.
      ROTOR_FIELD_END(factor_count), ROTOR_FIELD_END(reserved_3)};
#undef ROTOR_FIELD_END

// reserved_1 sits before the pointers on 64-bit targets and after them on 32-bit ones, so the
// last field is found as the largest end rather than the last entry.
constexpr size_t largest_field_end() {
  size_t largest = 0;
  for (size_t end : kFieldEnds) largest = end > largest ? end : largest;
  return largest;
}
static_assert(largest_field_end() == sizeof(rotor_config),
              "every field of rotor_config is in kFieldEnds (a struct without tail padding)");

}  // namespace

// A caller's struct is a prefix of this one that ends where one of its fields ends (rotor 1.0's
// ends at short_factor; later versions append). A size cutting a field in two is refused: half
// a double or pointer from the caller and half from the defaults would be garbage.
bool accepted_config_size(size_t size) {
  for (size_t end : kFieldEnds)
    if (size == end) return true;
  return false;
}

rotor_status read_config(const rotor_config *cfg, rotor_config *full) {
  if (cfg == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "config is NULL");
  if (!accepted_config_size(cfg->struct_size))
    return fail(ROTOR_ERR_INVALID_ARGUMENT,
                "config struct_size is not a size rotor_config ever had (set it with rotor_config_init)");
  rotor_config read = default_config(cfg->rotary_dim);
  std::memcpy(&read, cfg, cfg->struct_size);  // the caller's fields; defaults past its size
  read.struct_size = sizeof(rotor_config);
  const rotor_status status = validate_config(&read);
  if (status == ROTOR_OK) *full = read;
  return status;
}

rotor_status validate_config(const rotor_config *cfg) {
  constexpr rotor_status kInvalid = ROTOR_ERR_INVALID_ARGUMENT;
  if (cfg == nullptr || cfg->struct_size != sizeof(rotor_config)) return fail(kInvalid, "config is NULL or not a full config");
  if (cfg->reserved_0 != 0 || cfg->reserved_1 != 0 || cfg->reserved_2 != 0 || cfg->reserved_3 != 0)
    return fail(kInvalid, "a reserved field of the config is not 0");
  if (cfg->rotary_dim == 0) return fail(kInvalid, "rotary_dim is 0");
  if (cfg->rotary_dim % 2 != 0) return fail(kInvalid, "rotary_dim is odd");
  if (!valid_pairing(enum_bits(cfg->pairing))) return fail(kInvalid, "pairing is not a rotor_pairing value");
  const int scaling = enum_bits(cfg->scaling);
  if (scaling < ROTOR_SCALING_NONE || scaling > ROTOR_SCALING_PROPORTIONAL)
    return fail(kInvalid, "scaling is not a rotor_scaling value");
  if (validate_layout(*cfg) != ROTOR_OK)
    return fail(kInvalid, "layout or mrope_section does not fit rotary_dim (see rotor_layout)");
  // base >= 1: every model's theta is (1e4 .. 1e7); a base below 1 (a subnormal one in
  // particular) would make the frequencies base^(-2i/r) overflow to inf and the rows NaN.
  if (!std::isfinite(cfg->base) || cfg->base < 1.0) return fail(kInvalid, "base is not finite or below 1");
  if (cfg->max_len == 0 || cfg->max_len > kMaxLenLimit) return fail(kInvalid, "max_len is 0 or above 2^31 - 1");
  switch (enum_bits(cfg->growth)) {
    case ROTOR_GROWTH_EXPONENTIAL:
    case ROTOR_GROWTH_EXACT:
      break;
    case ROTOR_GROWTH_LINEAR:
      if (cfg->growth_increment == 0) return fail(kInvalid, "growth LINEAR with growth_increment 0");
      break;
    case ROTOR_GROWTH_MARGIN:
      if (!std::isfinite(cfg->growth_margin) || cfg->growth_margin < 0.0f)
        return fail(kInvalid, "growth_margin is not finite or negative");
      break;
    default:
      return fail(kInvalid, "growth is not a rotor_growth value");
  }
  if (!std::isfinite(cfg->growth_threshold) || cfg->growth_threshold <= 0.0f ||
      cfg->growth_threshold > 1.0f)
    return fail(kInvalid, "growth_threshold is not in (0, 1]");
  const rotor_status status = validate_scaling(*cfg);
  if (status != ROTOR_OK) return fail(status, "the scaling parameters are invalid for the scaling type");
  return ROTOR_OK;
}

bool fits_in_caller_struct(const rotor_config &filled, size_t cfg_size) {
  const rotor_config defaults = default_config(filled.rotary_dim);
  const auto beyond = [cfg_size](size_t offset, size_t size) { return offset + size > cfg_size; };
  if (beyond(offsetof(rotor_config, layout), sizeof filled.layout) && filled.layout != defaults.layout) return false;
  if (beyond(offsetof(rotor_config, mrope_section), sizeof filled.mrope_section) &&
      std::memcmp(filled.mrope_section, defaults.mrope_section, sizeof filled.mrope_section) != 0)
    return false;
  if (beyond(offsetof(rotor_config, rope_pairs), sizeof filled.rope_pairs) && filled.rope_pairs != defaults.rope_pairs)
    return false;
  return true;
}

}  // namespace rotor
