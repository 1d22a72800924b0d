// A sequence of tokens over one table and KV caches, for the tests of caches kept across calls
// (tests/test_rescale_cache.cpp, tests/test_context_shift.cpp): the table (and a pool when
// threads > 1), raw f32 q, k, v for token ids 0 .. total-1 ([id][head][d], values in [-1, 1)
// drawn from the seed), caches of the model's shape in arenas of their own, and one
// rotor_attention_forward call over any list of ids. Each test keeps its own bookkeeping and
// reference on top of this, so the library calls and buffers are written once.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rotor/rotor.h"
#include "support/aligned_buffer.hpp"
#include "support/reference.hpp"

namespace test_support {

// A KV cache built inside an arena of its own (bytes: the arena size the library asked for).
struct KvArena {
  AlignedBuffer arena;
  size_t bytes = 0;
  rotor_kv_cache *cache = nullptr;
};

// Token ids first .. last-1, in order: a contiguous run of the sequence.
inline std::vector<uint32_t> token_ids(uint32_t first, uint32_t last) {
  std::vector<uint32_t> ids;
  for (uint32_t i = first; i < last; ++i) ids.push_back(i);
  return ids;
}

class KvModel {
 public:
  KvModel(const rotor_config &cfg, uint32_t hq, uint32_t hk, uint32_t d, uint32_t total, unsigned seed,
          rotor_dtype cache_dtype, uint32_t threads)
      : cfg_(cfg), hq_(hq), hk_(hk), d_(d), threads_(threads), cache_dtype_(cache_dtype) {
    EXPECT_EQ(rotor_table_create(&table_, &cfg), ROTOR_OK);
    if (threads > 1) EXPECT_EQ(rotor_pool_create(&pool_, threads), ROTOR_OK);
    q_ = ref::random_floats(size_t{total} * hq * d, seed, -1.0f, 1.0f);
    k_ = ref::random_floats(size_t{total} * hk * d, seed + 1, -1.0f, 1.0f);
    v_ = ref::random_floats(size_t{total} * hk * d, seed + 2, -1.0f, 1.0f);
    scale_ = 1.0f / std::sqrt(float(d));
  }
  ~KvModel() {
    rotor_pool_destroy(pool_);
    rotor_table_destroy(table_);
  }
  KvModel(const KvModel &) = delete;
  KvModel &operator=(const KvModel &) = delete;

  // Builds an empty cache of max_len tokens of this model's shape and cache dtype in c (a
  // KvArena or a test's cache type derived from it).
  void init_cache(KvArena *c, uint32_t max_len) const {
    c->bytes = rotor_kv_cache_arena_size(hk_, d_, max_len, cache_dtype_);
    c->arena = aligned_buffer(c->bytes);
    EXPECT_EQ(rotor_kv_cache_init(&c->cache, hk_, d_, max_len, cache_dtype_, c->arena.get(), c->bytes), ROTOR_OK);
  }

  // Appends tokens `ids` (any list: a fresh prefill of non-contiguous kept tokens is one call)
  // to the cache in one forward call under the table's current policy; out: [ids][hq][d],
  // written over a fill of 7 so unwritten rows show.
  rotor_status forward_ids(rotor_kv_cache *cache, const std::vector<uint32_t> &ids, std::vector<float> *out) const {
    const uint32_t s = uint32_t(ids.size()), d = d_;
    std::vector<float> q, k, v;
    for (uint32_t id : ids) {
      q.insert(q.end(), q_.begin() + ptrdiff_t(size_t{id} * hq_ * d), q_.begin() + ptrdiff_t(size_t{id + 1} * hq_ * d));
      k.insert(k.end(), k_.begin() + ptrdiff_t(size_t{id} * hk_ * d), k_.begin() + ptrdiff_t(size_t{id + 1} * hk_ * d));
      v.insert(v.end(), v_.begin() + ptrdiff_t(size_t{id} * hk_ * d), v_.begin() + ptrdiff_t(size_t{id + 1} * hk_ * d));
    }
    out->assign(size_t{s} * hq_ * d, 7.0f);
    const rotor_tensor tq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, s, hq_, d);
    const rotor_tensor tk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, s, hk_, d);
    const rotor_tensor tv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, s, hk_, d);
    const rotor_tensor to = rotor_tensor_bshd(out->data(), ROTOR_DTYPE_F32, 1, s, hq_, d);
    const size_t ws_bytes = rotor_attention_workspace_size(hq_, hk_, d, s, threads_);
    AlignedBuffer ws = aligned_buffer(ws_bytes);
    rotor_kv_cache *caches[1] = {cache};
    return rotor_attention_forward(table_, caches, &tq, &tk, &tv, &to, scale_, ws.get(), ws_bytes, pool_);
  }

  rotor_table *table() const { return table_; }
  const rotor_config &config() const { return cfg_; }
  uint32_t kv_heads() const { return hk_; }

 protected:
  rotor_config cfg_;
  uint32_t hq_, hk_, d_, threads_;
  rotor_dtype cache_dtype_;
  rotor_table *table_ = nullptr;
  rotor_pool *pool_ = nullptr;
  std::vector<float> q_, k_, v_;  // [id][head][d]
  float scale_;
};

// The cache's epoch (the rows its keys carry) and how often it was re-rotated.
inline uint64_t cache_epoch(const rotor_kv_cache *cache) {
  uint64_t e = 0;
  EXPECT_EQ(rotor_kv_cache_epoch(cache, &e), ROTOR_OK);
  return e;
}
inline uint64_t cache_rerotations(const rotor_kv_cache *cache) {
  uint64_t n = 0;
  EXPECT_EQ(rotor_kv_cache_rerotations(cache, &n), ROTOR_OK);
  return n;
}

}  // namespace test_support
