// Scaling: which frequencies a table's rows use, and when they change.
//
// A kernel only ever sees rows of cos and sin. Everything a scaling type does lives here: the
// per-pair inverse frequencies and the attention factor folded into the rows (a pure function
// of the config and a small ScaleState), and the rule that says, for a call whose sequence
// length (largest position + 1) is known, whether the current state serves it, whether the
// table must adopt a new state (a rescale), or whether a state serves that call alone.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// What, besides the config, determines a table's frequencies.
struct ScaleState {
  double ntk_k = 1.0;          // NTK: the current ratio k
  uint32_t dynamic_len = 0;    // DYNAMIC_NTK: the sequence length the base was computed for
  bool long_factors = false;   // LONGROPE: long (true) or short (false) factor set

  bool operator==(const ScaleState &o) const {
    return ntk_k == o.ntk_k && dynamic_len == o.dynamic_len && long_factors == o.long_factors;
  }
  bool operator!=(const ScaleState &o) const { return !(*this == o); }
};

// Checks the scaling fields of an otherwise valid config (INVALID_ARGUMENT or OK).
rotor_status validate_scaling(const rotor_config &cfg);

// Whether this scaling type can ever change its rows (then the table keeps two row sets).
bool scaling_is_adaptive(const rotor_config &cfg);
// Whether a call may need a state for itself alone (NTK without ntk_dynamic).
bool scaling_has_one_off(const rotor_config &cfg);

// The state a new table starts in.
ScaleState initial_scale_state(const rotor_config &cfg);

enum class ScalePlanKind { kKeep, kAdopt, kOneOff };
struct ScalePlan {
  ScalePlanKind kind = ScalePlanKind::kKeep;
  ScaleState state;  // for kAdopt and kOneOff
};
// What a call with sequence length seq_len does, given the table's current state.
ScalePlan plan_scale(const rotor_config &cfg, const ScaleState &current, uint32_t seq_len);

// Inverse frequencies (r/2 values) and the attention factor of a state.
void compute_frequencies(const rotor_config &cfg, const ScaleState &state, double *inv_freq,
                         double *attention_factor);

// The factor reported in the stats for a state (NTK: k; others: cfg.factor or 1).
double reported_factor(const rotor_config &cfg, const ScaleState &state);

// The softmax scale a (valid) config implies for heads of head_dim dims: 1 / sqrt(head_dim),
// times DeepSeek's YaRN correction m^2 (rotor_attention_scale).
double attention_softmax_scale(const rotor_config &cfg, uint32_t head_dim);

}  // namespace rotor
