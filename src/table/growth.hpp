// The four growth strategies and the pre-emptive threshold, as pure functions of the config,
// so the rules live in one place and are tested directly.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// Rows to compute when `required` rows are needed and `current` exist (required > current).
// Clipped to max_len; the caller has already rejected required > max_len.
uint32_t growth_target(const rotor_config &cfg, uint32_t current, uint32_t required);

// Rows to grow to ahead of need (see growth_threshold in rotor.h), or `current` when no
// pre-emptive growth is due.
uint32_t growth_ahead_target(const rotor_config &cfg, uint32_t current, uint32_t required);

}  // namespace rotor
