// How a forward call splits its work and carves the caller's workspace: one slot per thread,
// each holding what one task (a block of tokens x the q heads of one kv head) needs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/attention_kernels.hpp"  // kKeyBlock

namespace rotor {

// Query rows (tokens x grouped heads) a task aims for: enough that a block of keys and of values
// is reused by many row tiles from L1/L2 (256 rows: 7% faster than 64 at 2048 tokens,
// docs/performance-history.md, first pass; 128 measured no different), small enough that queries and accumulators
// (2 x 128 KiB at head_dim 128) stay in L2.
constexpr uint32_t kTaskRows = 256;

struct AttentionPlan {
  uint32_t group;            // q heads per kv head
  uint32_t tokens_per_task;  // tokens of one task
  uint32_t rows;             // tokens_per_task * group: query rows of a full task
  // Byte offsets inside a slot (each 64-byte aligned) and the slot size.
  size_t queries;   // rows x d floats: rotated queries
  size_t accum;     // rows x d floats: weighted sums of values
  size_t maxima;    // rows floats: running maxima
  size_t sums;      // rows floats: running sums
  size_t scores;    // rows x kKeyBlock floats: one block of scores, then weights
  size_t keys;      // kKeyBlock x d floats: a key block converted from f16/bf16 (portable set); while
                    // appending, one head of keys converted to the cache's type
  size_t values;    // kKeyBlock x d floats: a block of values converted from f16/bf16
  size_t rotation;  // max(group, kv_heads) x d x 4 bytes: rotated heads before conversion
  size_t slot_bytes;
};

// False when an argument is zero, q_heads is not a multiple of kv_heads or a size overflows.
bool plan_attention(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim, uint32_t new_tokens,
                    AttentionPlan *plan);

// Workspace bytes for `threads` slots; 0 on overflow or a bad argument.
size_t attention_workspace_bytes(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim, uint32_t new_tokens,
                                 uint32_t threads);

}  // namespace rotor
