// A prefill timed for two librotor builds call by call (rotor_compare --prefill): the machines
// these comparisons run on change speed from one tenth of a second to the next (another
// tenant's load moved a 512-token prefill between 3.6, 5.0 and 7.2 ms on a 2-vCPU EPYC), too fast
// for rows timed one library after the other to see the same machine. Here each pair of calls,
// one per library, runs within milliseconds, the order alternating by pair, and the result is
// the distribution of the per-pair time ratio.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"
#include "rotor_api.hpp"

namespace bench {

// The attention calls of rotor 1.0's API (which every later version keeps) a prefill needs
// beside RotorApi's tables, tensors, pools and kernel name.
struct AttentionApi {
  decltype(&rotor_kv_cache_arena_size) kv_cache_arena_size;
  decltype(&rotor_kv_cache_init) kv_cache_init;
  decltype(&rotor_kv_cache_reset) kv_cache_reset;
  decltype(&rotor_attention_workspace_size) attention_workspace_size;
  decltype(&rotor_attention_forward) attention_forward;
};

// One f32 prefill of `tokens` tokens into an empty cache ([1, tokens, heads, head_dim] tensors)
// or, with cached > 0, a decode step (tokens 1) on a cache that `cached` tokens were prefilled
// into before the timing; each pair's steps then find both caches at the same length, one longer
// than the pair before.
struct PrefillShape {
  uint32_t tokens, q_heads, kv_heads, head_dim, threads, cached;
};

// Parses "TOKENSxQHEADSxKVHEADSxDIM[xTHREADS]" (threads default 1) as a prefill, or with
// `decode` the same text as CACHEDxQHEADSxKVHEADSxDIM[xTHREADS] for a decode step; false when
// malformed.
bool parse_prefill_shape(const char *text, bool decode, PrefillShape *shape);

// Runs `pairs` pairs (after a few unmeasured ones) and prints a markdown table: per library the
// kernel set, the fastest and median call, GFLOP/s at the fastest (2 x 2 x q_heads x head_dim
// x S(S+1)/2 flops) and that as a fraction of the FMA loop measured before and after the pairs;
// then the per-pair ratio B/A (median, quartiles, min-max) and whether both libraries wrote the
// same output bytes; for a prefill, last, each library's per-call fraction of the FMA loop run
// inside the same pair (median, quartiles, min-max). Returns 0, or 1 when a call fails.
int run_prefill_pairs(const RotorApi api[2], const AttentionApi attention[2], const char *const label[2],
                      const PrefillShape &shape, int pairs);

}  // namespace bench
