// Position layouts: which position id (axis) each rotary pair takes its angle from, and the
// frequency order a layout gives the table's rows (rotor_layout in rotor.h).
//
// A multi-axis table is still one exact, growable table of rows indexed by one position value:
// pair j of row p holds cos/sin(p * theta_j). A token with ids (p_0, p_1, p_2) uses, for pair j,
// row p_axis(j)'s entry j. So the rows stay a pure function of (p, frequencies) and only the
// gather differs; kernels see one combined row as for 1-D RoPE.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

constexpr uint32_t kMaxAxes = 3;
constexpr uint32_t kMaxAxesRotaryDim = ROTOR_MAX_AXES_ROTARY_DIM;

// INVALID_ARGUMENT for a bad enum, sections that do not sum to r/2, a vision layout with
// r % 4 != 0 or a scaling other than NONE, or a multi-axis r above kMaxAxesRotaryDim.
rotor_status validate_layout(const rotor_config &cfg);

// Position ids per token: 1 (1-D), 3 (M-RoPE), 2 (vision).
uint32_t layout_axes(const rotor_config &cfg);

// axis[j] for each of the r/2 pairs of a valid config.
void pair_axes(const rotor_config &cfg, uint8_t *axis);

// The exponent index e of pair i: its unscaled frequency is base^(-2e/r). i for 1-D and M-RoPE;
// the vision layouts reorder (Pixtral) or repeat (Qwen2-VL) the frequencies per axis.
uint32_t pair_frequency_index(const rotor_config &cfg, uint32_t i);

}  // namespace rotor
