// Validation and defaults of rotor_config, shared by every entry point that takes one.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// The smallest struct_size accepted: struct_size and rotary_dim (every other field defaults).
constexpr size_t kMinConfigSize = 2 * sizeof(uint32_t);

// The size of rotor_config in rotor 1.0, which binaries built against 1.0 were compiled with:
// every field up to short_factor (the explicit padding added since sits in the old gaps).
// On 32-bit targets 1.0's struct ended at short_factor too (reserved_1 is the padding after it).
constexpr size_t kConfigSize_1_0 = offsetof(rotor_config, short_factor) + sizeof(const float *);

// A full, current-size config holding every default for rotary_dim.
rotor_config default_config(uint32_t rotary_dim);

// Sizes of a caller's rotor_config the library accepts: kMinConfigSize .. its own sizeof, ending
// at a field's end.
bool accepted_config_size(size_t size);

// The one way the library reads a caller's config: the caller's struct_size bytes over the
// defaults (an older, smaller struct gets the fields it lacks as defaults), then validated.
// *full is written only on ROTOR_OK. Entry points keep *full and never look at cfg again.
rotor_status read_config(const rotor_config *cfg, rotor_config *full);

// Whether a filled config survives being cut to a caller's cfg_size: every field it sets to
// something other than its default (layout, mrope_section, rope_pairs) lies inside cfg_size.
// Dropped, such a field would leave a config that describes another model (Qwen2-VL without
// its M-RoPE sections is plain 1-D RoPE; Gemma 4's full layers without rope_pairs rotate every
// pair). factor_count is not among them: it only guards the factor arrays' length, which is
// rotary_dim / 2 for every array the library hands out (a preset's or a GGUF file's).
// Used by rotor_config_preset_sized and rotor_config_from_gguf_sized.
bool fits_in_caller_struct(const rotor_config &filled, size_t cfg_size);

// Checks every field of a full config (enums, ranges, NaNs, the scaling parameters its type
// needs). Returns ROTOR_OK or ROTOR_ERR_INVALID_ARGUMENT.
rotor_status validate_config(const rotor_config *cfg);


}  // namespace rotor
