#include "attention/attention_plan.hpp"

#include "common/checked_math.hpp"
#include "rotor/rotor.h"

namespace rotor {
namespace {

// Appends a region of `count` x `unit` bytes at the 64-aligned end of *cursor.
bool carve(uint64_t count, uint64_t unit, uint64_t *cursor, size_t *offset) {
  uint64_t bytes, start, end;
  if (!align_up(*cursor, ROTOR_ARENA_ALIGNMENT, &start) || mul_overflows(count, unit, &bytes) ||
      add_overflows(start, bytes, &end))
    return false;
  if (start > SIZE_MAX) return false;
  *offset = static_cast<size_t>(start);
  *cursor = end;
  return true;
}

}  // namespace

bool plan_attention(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim, uint32_t new_tokens,
                    AttentionPlan *plan) {
  if (q_heads == 0 || kv_heads == 0 || head_dim == 0 || new_tokens == 0 || q_heads % kv_heads != 0)
    return false;
  AttentionPlan p{};
  p.group = q_heads / kv_heads;
  const uint32_t wanted = p.group >= kTaskRows ? 1 : kTaskRows / p.group;
  p.tokens_per_task = wanted < new_tokens ? wanted : new_tokens;
  p.rows = p.tokens_per_task * p.group;  // <= max(kTaskRows, q_heads): no overflow
  const uint64_t row_floats = uint64_t{p.rows} * head_dim;
  const uint64_t block_floats = uint64_t{kKeyBlock} * head_dim;
  const uint64_t rotated_heads = p.group > kv_heads ? p.group : kv_heads;
  uint64_t cursor = 0, end;
  if (!carve(row_floats, sizeof(float), &cursor, &p.queries) || !carve(row_floats, sizeof(float), &cursor, &p.accum) ||
      !carve(p.rows, sizeof(float), &cursor, &p.maxima) || !carve(p.rows, sizeof(float), &cursor, &p.sums) ||
      !carve(uint64_t{p.rows} * kKeyBlock, sizeof(float), &cursor, &p.scores) ||
      !carve(block_floats, sizeof(float), &cursor, &p.keys) || !carve(block_floats, sizeof(float), &cursor, &p.values) ||
      !carve(rotated_heads * head_dim, sizeof(float), &cursor, &p.rotation) ||
      !align_up(cursor, ROTOR_ARENA_ALIGNMENT, &end) || end > SIZE_MAX)
    return false;
  p.slot_bytes = static_cast<size_t>(end);
  *plan = p;
  return true;
}

size_t attention_workspace_bytes(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim, uint32_t new_tokens,
                                 uint32_t threads) {
  AttentionPlan plan;
  uint64_t total;
  if (threads == 0 || !plan_attention(q_heads, kv_heads, head_dim, new_tokens, &plan)) return 0;
  if (mul_overflows(plan.slot_bytes, threads, &total) || total > SIZE_MAX) return 0;
  return static_cast<size_t>(total);
}

}  // namespace rotor
