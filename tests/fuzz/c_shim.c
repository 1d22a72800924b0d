/* The fuzz targets pass arbitrary ints where the API takes enums, as any C caller may. In C an
   enum is an int-compatible type, so the conversion is defined here; doing it in C++ would be
   undefined in the harness itself. Compiled as C99. */
#include "c_shim.h"

void fz_set_view_dtype(rotor_tensor *v, int dtype) { v->dtype = (rotor_dtype)dtype; }

void fz_set_config_enums(rotor_config *cfg, int pairing, int growth, int scaling) {
  cfg->pairing = (rotor_pairing)pairing;
  cfg->growth = (rotor_growth)growth;
  cfg->scaling = (rotor_scaling)scaling;
}

rotor_status fz_apply(rotor_table *t, const rotor_tensor *x, const int32_t *positions, uint32_t offset, int dir,
                      rotor_pool *pool) {
  return rotor_apply(t, x, positions, offset, (rotor_direction)dir, pool);
}

rotor_status fz_apply_qk(rotor_table *t, const rotor_tensor *q, const rotor_tensor *k, const int32_t *positions,
                         uint32_t offset, int dir, rotor_pool *pool) {
  return rotor_apply_qk(t, q, k, positions, offset, (rotor_direction)dir, pool);
}

rotor_status fz_apply_to(rotor_table *t, const rotor_tensor *in, const rotor_tensor *out, const int32_t *positions,
                         uint32_t offset, int dir, rotor_pool *pool) {
  return rotor_apply_to(t, in, out, positions, offset, (rotor_direction)dir, pool);
}

rotor_status fz_apply_cos_sin(const float *cos, const float *sin, uint32_t rows, uint32_t rotary_dim, int pairing,
                              const rotor_tensor *in, const rotor_tensor *out, const int32_t *positions,
                              uint32_t offset, int dir, rotor_pool *pool) {
  return rotor_apply_cos_sin(cos, sin, rows, rotary_dim, (rotor_pairing)pairing, in, out, positions, offset,
                             (rotor_direction)dir, pool);
}

rotor_status fz_table_cos_sin(rotor_table *t, uint32_t start, uint32_t count, int dtype, int duplicated,
                              void *cos_out, void *sin_out) {
  return rotor_table_cos_sin(t, start, count, (rotor_dtype)dtype, duplicated, cos_out, sin_out);
}

const char *fz_status_string(int status) { return rotor_status_string((rotor_status)status); }

size_t fz_kv_cache_arena_size(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, int dtype) {
  return rotor_kv_cache_arena_size(kv_heads, head_dim, max_len, (rotor_dtype)dtype);
}

rotor_status fz_kv_cache_init(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                              int dtype, void *arena, size_t arena_size) {
  return rotor_kv_cache_init(out, kv_heads, head_dim, max_len, (rotor_dtype)dtype, arena, arena_size);
}

rotor_status fz_kv_cache_config_init_sized(rotor_kv_cache_config *c, size_t c_size, int dtype) {
  return rotor_kv_cache_config_init_sized(c, c_size, (rotor_dtype)dtype);
}

rotor_status fz_table_set_rescale_policy(rotor_table *t, int policy) {
  return rotor_table_set_rescale_policy(t, (rotor_rescale_policy)policy);
}

rotor_status fz_vl_position_ids(int model, int rule, const uint8_t *kinds, uint32_t n_tokens,
                                const uint32_t *image_grids, uint32_t n_images, const uint32_t *video_grids,
                                uint32_t n_videos, const float *seconds_per_grid, uint32_t tokens_per_second,
                                uint32_t spatial_merge_size, int32_t *ids, size_t ids_row_stride,
                                int32_t *next_position_out) {
  return rotor_vl_position_ids((rotor_vl_model)model, (rotor_vl_rule)rule, kinds, n_tokens, image_grids, n_images,
                               video_grids, n_videos, seconds_per_grid, tokens_per_second, spatial_merge_size, ids,
                               ids_row_stride, next_position_out);
}
