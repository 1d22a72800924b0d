/* C wrappers that take enums as int (see c_shim.c). */
#ifndef ROTOR_FUZZ_C_SHIM_H
#define ROTOR_FUZZ_C_SHIM_H

#include "rotor/rotor.h"

#ifdef __cplusplus
extern "C" {
#endif

void fz_set_view_dtype(rotor_tensor *v, int dtype);
void fz_set_config_enums(rotor_config *cfg, int pairing, int growth, int scaling);
rotor_status fz_apply(rotor_table *t, const rotor_tensor *x, const int32_t *positions, uint32_t offset, int dir,
                      rotor_pool *pool);
rotor_status fz_apply_qk(rotor_table *t, const rotor_tensor *q, const rotor_tensor *k, const int32_t *positions,
                         uint32_t offset, int dir, rotor_pool *pool);
rotor_status fz_apply_to(rotor_table *t, const rotor_tensor *in, const rotor_tensor *out, const int32_t *positions,
                         uint32_t offset, int dir, rotor_pool *pool);
rotor_status fz_apply_cos_sin(const float *cos, const float *sin, uint32_t rows, uint32_t rotary_dim, int pairing,
                              const rotor_tensor *in, const rotor_tensor *out, const int32_t *positions,
                              uint32_t offset, int dir, rotor_pool *pool);
rotor_status fz_table_cos_sin(rotor_table *t, uint32_t start, uint32_t count, int dtype, int duplicated,
                              void *cos_out, void *sin_out);
const char *fz_status_string(int status);
size_t fz_kv_cache_arena_size(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, int dtype);
rotor_status fz_kv_cache_init(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                              int dtype, void *arena, size_t arena_size);
rotor_status fz_kv_cache_config_init_sized(rotor_kv_cache_config *c, size_t c_size, int dtype);
rotor_status fz_table_set_rescale_policy(rotor_table *t, int policy);

rotor_status fz_vl_position_ids(int model, int rule, const uint8_t *kinds, uint32_t n_tokens,
                                const uint32_t *image_grids, uint32_t n_images, const uint32_t *video_grids,
                                uint32_t n_videos, const float *seconds_per_grid, uint32_t tokens_per_second,
                                uint32_t spatial_merge_size, int32_t *ids, size_t ids_row_stride,
                                int32_t *next_position_out);

#ifdef __cplusplus
}
#endif

#endif
