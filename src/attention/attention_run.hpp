// Execution of a validated forward call: append the rotated keys and the values to every cache,
// then attend, each phase spread over the pool (one fork and one join per phase).
#pragma once
#include <cstdint>

#include "apply/apply_plan.hpp"
#include "kernels/rotate_kernel.hpp"
#include "kernels/attention_kernels.hpp"
#include "attention/attention_plan.hpp"
#include "attention/kv_cache.hpp"
#include "rotor/rotor.h"

namespace rotor {

class Pool;

struct ForwardCall {
  AttentionPlan plan;
  unsigned char *workspace;  // plan.slot_bytes per thread
  const float *rows;         // table rows: position p at rows + p * 2 * half (cos, then sin)
  uint32_t half;
  KvCache *const *caches;    // lengths are those before the call until run_forward returns
  rotor_tensor q, k, v, out;
  float scale;
  RotateTokenFn rotate;      // for the tensors' dtype and the table's pairing
  rotor_pairing pairing;     // the table's: un-rotated cached keys are rotated with it
  const AttentionKernels *kernels;
  // Rescale scratch (rerotate_keys.hpp layout, one slot per thread): a cache with own_rows set
  // (policy PIN, table moved on) rotates its new tokens with rows of its own state, computed
  // per token into the thread's slot.
  unsigned char *row_scratch;
  // Caller ids (rotor_attention_forward_axes): ids [axes][batch * seq]; the row of a token is
  // gathered into the thread's rescale slot. ids == nullptr: token i of entry b is at L_b + i.
  AxisPositions axes;
};

// Runs a call whose every argument has been validated (shapes, lengths, workspace size for the
// pool's thread count) and whose rows cover every position it reads. Sets the cache lengths.
void run_forward(const ForwardCall &call, Pool *pool);

}  // namespace rotor
