// Qwen-VL M-RoPE position ids (rotor_vl_position_ids): transformers' get_rope_index for
// Qwen2-VL, Qwen2.5-VL and Qwen3-VL, from each token's kind and the vision grids, under either
// continuation rule (transformers 5.x, or Qwen's original one). The ids feed rotor_apply_axes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// One prompt as the C call describes it. model and rule hold valid enumerators (the C entry
// checks their bytes); every other field is checked by check_vl_prompt.
struct VlPrompt {
  rotor_vl_model model;
  rotor_vl_rule rule;
  const uint8_t *kinds;
  uint32_t n_tokens;
  const uint32_t *image_grids;  // [n_images][3]: t, h, w before merging
  uint32_t n_images;
  const uint32_t *video_grids;  // [n_videos][3]
  uint32_t n_videos;
  const float *seconds_per_grid;  // Qwen2.5-VL: n_videos values, or NULL (1 each)
  uint32_t tokens_per_second;
  uint32_t merge;  // spatial_merge_size
};

// Walks the whole prompt without writing: kinds, grids, run lengths, seconds_per_grid and every
// id's range. On OK, *next_position_out is the largest id + 1 (0 for no tokens). Errors through
// fail(): INVALID_ARGUMENT, OUT_OF_RANGE.
rotor_status check_vl_prompt(const VlPrompt &prompt, int32_t *next_position_out);

// Writes ids[a * row_stride + i]. Requires check_vl_prompt(prompt) == OK (it walks the same
// prompt again, so nothing it meets can fail).
void write_vl_position_ids(const VlPrompt &prompt, int32_t *ids, size_t row_stride);

}  // namespace rotor
