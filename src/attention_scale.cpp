// The softmax scale a config implies: 1 / sqrt(head_dim), times DeepSeek's YaRN correction.
//
// DeepSeek-V2/V3 fold mscale(s, mscale) / mscale(s, mscale_all_dim) into cos and sin (the
// table does that) and, separately, multiply the attention scale by mscale(s, mscale_all_dim)^2
// (modeling_deepseek.py: softmax_scale = q_head_dim^-0.5 * m * m when mscale_all_dim is set).
// Ports that forget the second part are off by about 1.59x (V2-Lite) to 1.87x (V3) at every
// position but 0. See docs/scaling.md.
#include <cmath>

#include "config.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_attention_scale(const rotor_config *cfg, uint32_t head_dim, float *scale_out) {
  if (scale_out == nullptr || validate_config(cfg) != ROTOR_OK) return ROTOR_ERR_INVALID_ARGUMENT;
  if (head_dim == 0 || head_dim < cfg->rotary_dim) return ROTOR_ERR_INVALID_ARGUMENT;
  double scale = 1.0 / std::sqrt(double(head_dim));
  const double s = cfg->factor;
  // DeepSeek applies it whenever mscale_all_dim is set (their configs set mscale too).
  if (cfg->scaling == ROTOR_SCALING_YARN && cfg->mscale_all_dim > 0.0f && s > 1.0) {
    const double m = 0.1 * double(cfg->mscale_all_dim) * std::log(s) + 1.0;
    scale *= m * m;
  }
  *scale_out = static_cast<float>(scale);
  return ROTOR_OK;
}

}  // extern "C"
