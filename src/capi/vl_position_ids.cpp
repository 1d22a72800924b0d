// rotor_vl_position_ids: the C entry of Qwen-VL position ids (src/apply/vl_position_ids.*):
// pointers, enums and the output's extent checked here, the prompt by check_vl_prompt, then
// the ids written in a second walk.
#include <cstdint>

#include "apply/vl_position_ids.hpp"
#include "capi/guard.hpp"
#include "common/enum_bits.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_vl_position_ids(rotor_vl_model model, rotor_vl_rule rule, const uint8_t *kinds,
                                             uint32_t n_tokens, const uint32_t *image_grids, uint32_t n_images,
                                             const uint32_t *video_grids, uint32_t n_videos,
                                             const float *seconds_per_grid, uint32_t tokens_per_second,
                                             uint32_t spatial_merge_size, int32_t *ids, size_t ids_row_stride,
                                             int32_t *next_position_out) {
  return guarded([&]() -> rotor_status {
    const int model_value = enum_bits(model), rule_value = enum_bits(rule);
    if (model_value < ROTOR_VL_QWEN2_VL || model_value > ROTOR_VL_QWEN3_VL)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "model is not a rotor_vl_model");
    if (rule_value != ROTOR_VL_RULE_TRANSFORMERS_5 && rule_value != ROTOR_VL_RULE_ORIGINAL)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "rule is not a rotor_vl_rule");
    if (ids == nullptr || next_position_out == nullptr)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "ids or next_position_out is NULL");
    if (n_tokens > 0 && kinds == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "kinds is NULL");
    if ((n_images > 0 && image_grids == nullptr) || (n_videos > 0 && video_grids == nullptr))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "a grid array is NULL while its count is not 0");
    if (ids_row_stride < n_tokens) return fail(ROTOR_ERR_INVALID_ARGUMENT, "ids_row_stride is below n_tokens");
    // The last id written is ids[2 * stride + n_tokens - 1]: its index must fit a size_t (armv7).
    if (ids_row_stride > (SIZE_MAX - n_tokens) / 2)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "ids_row_stride's three rows overflow size_t");

    const VlPrompt prompt{static_cast<rotor_vl_model>(model_value),
                          static_cast<rotor_vl_rule>(rule_value),
                          kinds,
                          n_tokens,
                          image_grids,
                          n_images,
                          video_grids,
                          n_videos,
                          seconds_per_grid,
                          tokens_per_second,
                          spatial_merge_size};
    int32_t next_position = 0;
    const rotor_status status = check_vl_prompt(prompt, &next_position);
    if (status != ROTOR_OK) return status;
    write_vl_position_ids(prompt, ids, ids_row_stride);
    *next_position_out = next_position;
    return ROTOR_OK;
  });
}

}  // extern "C"
