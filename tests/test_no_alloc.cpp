// Proves that applying never allocates: this program links tests/support/counting_malloc.cpp,
// which replaces the malloc family (operator new included, which calls malloc) with versions
// that count calls while a flag is up. Every apply entry point then runs with the
// flag up, on every kernel set, sequentially and on a pool, growing the table on the way.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "support/aligned_buffer.hpp"
#include "support/counting_malloc.hpp"
#include "support/gguf_builder.hpp"
#include "support/reference.hpp"
#include "rotor/rotor.h"

namespace {

using counting_malloc::AllocationCounter;

// The counter must see allocations, or the real test below could not fail.
TEST(NoAlloc, TheCounterSeesAllocations) {
  long with_new, with_malloc = 1;
  {
    AllocationCounter counter;
    std::vector<int> *volatile v = new std::vector<int>(3);
    delete v;
    with_new = counter.count();
    void *(*volatile allocate)(size_t) = std::malloc;
    const long before = counter.count();
    void *p = allocate(32);
    with_malloc = counter.count() - before;
    std::free(p);
  }
  EXPECT_GE(with_new, 1);
  EXPECT_GE(with_malloc, 1);
}

struct Buffers {
  std::vector<float> q, k, out;
  std::vector<uint16_t> h16;
  std::vector<int32_t> positions;
  std::vector<float> cos_rows, sin_rows;
};

// Runs every apply entry point once; returns the number of calls that failed.
int apply_everything(rotor_table *half_table, rotor_table *inter_table, Buffers &b, rotor_pool *pool,
                     uint32_t offset) {
  int failures = 0;
  const uint32_t d = 128, seq = 256, hq = 8, hk = 2;
  rotor_tensor q = rotor_tensor_bshd(b.q.data(), ROTOR_DTYPE_F32, 1, seq, hq, d);
  rotor_tensor k = rotor_tensor_bshd(b.k.data(), ROTOR_DTYPE_F32, 1, seq, hk, d);
  rotor_tensor out = rotor_tensor_bhsd(b.out.data(), ROTOR_DTYPE_F32, 1, seq, hq, d);
  rotor_tensor q_decode = rotor_tensor_bshd(b.q.data(), ROTOR_DTYPE_F32, 1, 1, hq, d);
  rotor_tensor h16 = rotor_tensor_bshd(b.h16.data(), ROTOR_DTYPE_F16, 1, seq, hq, d);
  rotor_tensor bf16 = rotor_tensor_bshd(b.h16.data(), ROTOR_DTYPE_BF16, 1, seq, hq, d);
  failures += rotor_apply(half_table, &q, nullptr, offset, ROTOR_FORWARD, pool) != ROTOR_OK;
  failures += rotor_apply(inter_table, &q, b.positions.data(), 0, ROTOR_INVERSE, pool) != ROTOR_OK;
  failures += rotor_apply_qk(half_table, &q, &k, b.positions.data(), 0, ROTOR_FORWARD, pool) != ROTOR_OK;
  failures += rotor_apply_to(half_table, &q, &out, nullptr, offset, ROTOR_FORWARD, pool) != ROTOR_OK;
  failures += rotor_apply(half_table, &q_decode, nullptr, offset + seq, ROTOR_FORWARD, pool) != ROTOR_OK;
  failures += rotor_apply(half_table, &h16, nullptr, offset, ROTOR_FORWARD, pool) != ROTOR_OK;
  failures += rotor_apply(inter_table, &bf16, nullptr, offset, ROTOR_FORWARD, pool) != ROTOR_OK;
  failures += rotor_apply_cos_sin(b.cos_rows.data(), b.sin_rows.data(), 16, d, ROTOR_PAIRING_HALF, &k, &k,
                                  b.positions.data(), 0, ROTOR_FORWARD, pool) != ROTOR_OK;
  return failures;
}

TEST(NoAlloc, NoApplyCallAllocatesOnAnyKernelWithOrWithoutAPool) {
  const uint32_t d = 128, seq = 256, hq = 8, hk = 2;
  rotor_config half_cfg = ref::config(d, ROTOR_PAIRING_HALF, 1 << 16, 64);
  rotor_config inter_cfg = ref::config(d, ROTOR_PAIRING_INTERLEAVED, 1 << 16, 64);
  ref::Table half_table(half_cfg), inter_table(inter_cfg);
  ASSERT_NE(half_table.t, nullptr);
  ASSERT_NE(inter_table.t, nullptr);
  rotor_pool *pool = nullptr;
  ASSERT_EQ(rotor_pool_create(&pool, 2), ROTOR_OK);
  Buffers b;
  b.q = ref::random_floats(size_t(seq) * hq * d, 1);
  b.k = ref::random_floats(size_t(seq) * hk * d, 2);
  b.out.resize(b.q.size());
  b.h16.assign(b.q.size(), 0x3c00);
  b.positions.resize(seq);
  for (uint32_t i = 0; i < seq; ++i) b.positions[i] = int32_t((i * 7919u) % 16);
  b.cos_rows = ref::random_floats(16 * d / 2, 3);
  b.sin_rows = ref::random_floats(16 * d / 2, 4);
  const std::string before = rotor_kernel_name();
  uint32_t offset = 0;
  for (uint32_t i = 0; i < rotor_kernel_count(); ++i) {
    ASSERT_EQ(rotor_kernel_force(rotor_kernel_available(i)), ROTOR_OK);
    for (rotor_pool *p : {static_cast<rotor_pool *>(nullptr), pool}) {
      AllocationCounter counter;
      // The offset walks up, so the tables grow (inside their arenas) during the counted calls.
      const int failures = apply_everything(half_table, inter_table, b, p, offset);
      const long allocations = counter.count();
      EXPECT_EQ(failures, 0);
      EXPECT_EQ(allocations, 0) << "kernel " << rotor_kernel_available(i) << (p ? " with" : " without") << " a pool";
      offset += 3000;
    }
  }
  EXPECT_GT(half_table.stats().grow_events, 0u) << "the counted calls were meant to grow the table";
  rotor_kernel_force(before.c_str());
  rotor_pool_destroy(pool);
}

// Multi-axis calls (M-RoPE, gathered rows on the stack) allocate nothing either, on any kernel.
TEST(NoAlloc, AxesCallsDoNotAllocate) {
  rotor_config cfg;
  ASSERT_EQ(rotor_config_preset(&cfg, "qwen2-vl-7b"), ROTOR_OK);
  cfg.initial_len = 16;
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  rotor_pool *pool = nullptr;
  ASSERT_EQ(rotor_pool_create(&pool, 2), ROTOR_OK);
  const uint32_t tokens = 64, d = 128;
  std::vector<float> q(size_t{tokens} * 8 * d, 0.5f), k(size_t{tokens} * 2 * d, 0.25f);
  std::vector<int32_t> ids(3 * tokens);
  for (uint32_t i = 0; i < 3 * tokens; ++i) ids[i] = int32_t((i * 7919u) % 30000u);
  rotor_tensor vq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, tokens, 8, d);
  rotor_tensor vk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, tokens, 2, d);
  const std::string before = rotor_kernel_name();
  for (uint32_t i = 0; i < rotor_kernel_count(); ++i) {
    ASSERT_EQ(rotor_kernel_force(rotor_kernel_available(i)), ROTOR_OK);
    for (rotor_pool *p : {static_cast<rotor_pool *>(nullptr), pool}) {
      AllocationCounter counter;
      EXPECT_EQ(rotor_apply_qk_axes(t, &vq, &vk, ids.data(), ROTOR_FORWARD, p), ROTOR_OK);
      EXPECT_EQ(rotor_apply_axes(t, &vk, ids.data(), ROTOR_INVERSE, p), ROTOR_OK);
      EXPECT_EQ(counter.count(), 0) << rotor_kernel_available(i);
    }
  }
  rotor_kernel_force(before.c_str());
  rotor_pool_destroy(pool);
  rotor_table_destroy(t);
}

}  // namespace

// rotor_config_from_gguf and rotor_gguf_layers read the caller's image in place: no allocation,
// for a good file (with LongRoPE tensors), a NoPE layer and a refused one alike.
namespace {

TEST(NoAlloc, GgufReadsDoNotAllocate) {
  rotor_test::GgufBuilder builder("phi3");
  builder.u32("phi3.context_length", 131072).u32("phi3.rope.scaling.original_context_length", 4096);
  builder.u32("phi3.block_count", 4).u32("phi3.rope.dimension_count", 8);
  builder.tensor_f32("rope_factors_long.weight", {1, 2, 3, 4}).tensor_f32("rope_factors_short.weight", {1, 1, 1, 1});
  const std::vector<uint8_t> image = builder.build();
  rotor_test::GgufBuilder nope("llama4");
  nope.u32("llama4.context_length", 8192).u32("llama4.block_count", 4).u32("llama4.rope.dimension_count", 8);
  const std::vector<uint8_t> nope_image = nope.build();
  rotor_config cfg;
  uint32_t layers = 0;
  rotor_status good, no_rotary, refused, counted;
  long allocations;
  {
    AllocationCounter counter;
    good = rotor_config_from_gguf(&cfg, image.data(), image.size(), 0);
    no_rotary = rotor_config_from_gguf(&cfg, nope_image.data(), nope_image.size(), 3);
    refused = rotor_config_from_gguf(&cfg, image.data(), image.size() - 1, 0);
    counted = rotor_gguf_layers(image.data(), image.size(), &layers);
    allocations = counter.count();
  }
  EXPECT_EQ(good, ROTOR_OK) << rotor_last_error_message();
  EXPECT_EQ(no_rotary, ROTOR_ERR_NO_ROTARY);
  EXPECT_EQ(refused, ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(counted, ROTOR_OK);
  EXPECT_EQ(layers, 4u);
  EXPECT_EQ(allocations, 0);
}

}  // namespace

// Quantized and un-rotated KV caches (1.3): sizing and building one from a rotor_kv_cache_config,
// a prefill, decode steps, a context shift and decode after it allocate nothing, on every kernel
// set, with and without a pool of 2 threads. Dequantized key blocks, un-rotated keys' rotation
// and re-quantized shifted keys all live in the workspace, the cache's arena or the stack.
namespace {

struct KvStorageCase {
  rotor_dtype key, value;
  uint32_t flags;
};

TEST(NoAlloc, QuantizedKvCachesDoNotAllocate) {
  const uint32_t hq = 8, hk = 2, d = 64, prompt = 100, steps = 8, max_len = 256, threads = 2;
  ref::Table table(ref::config(d, ROTOR_PAIRING_HALF, max_len, 16));
  ASSERT_NE(table.t, nullptr);
  rotor_pool *pool = nullptr;
  ASSERT_EQ(rotor_pool_create(&pool, threads), ROTOR_OK);
  const std::vector<float> q = ref::random_floats(size_t{prompt} * hq * d, 5);
  const std::vector<float> k = ref::random_floats(size_t{prompt} * hk * d, 6);
  const std::vector<float> v = ref::random_floats(size_t{prompt} * hk * d, 7);
  std::vector<float> out(q.size());
  // The tensors are only read: the views cast away const as the C API's views do.
  auto view = [&](const std::vector<float> &x, uint32_t s, uint32_t heads) {
    return rotor_tensor_bshd(const_cast<float *>(x.data()), ROTOR_DTYPE_F32, 1, s, heads, d);
  };
  const rotor_tensor tq = view(q, prompt, hq), tk = view(k, prompt, hk), tv = view(v, prompt, hk);
  const rotor_tensor to = view(out, prompt, hq);
  const rotor_tensor dq = view(q, 1, hq), dk = view(k, 1, hk), dv = view(v, 1, hk), dout = view(out, 1, hq);
  const size_t ws_bytes = std::max(rotor_attention_workspace_size(hq, hk, d, prompt, threads),
                                   rotor_attention_workspace_size(hq, hk, d, prompt, 1));
  const test_support::AlignedBuffer workspace = test_support::aligned_buffer(ws_bytes);
  const KvStorageCase cases[] = {
      {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, 0},
      {ROTOR_DTYPE_Q4_0, ROTOR_DTYPE_Q4_0, 0},
      {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS},
      {ROTOR_DTYPE_Q4_0, ROTOR_DTYPE_Q4_0, ROTOR_KV_UNROTATED_KEYS},
      {ROTOR_DTYPE_F16, ROTOR_DTYPE_Q4_0, ROTOR_KV_UNROTATED_KEYS},
      {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_F32, 0},
  };
  // Arenas allocated before counting, at the largest size any case asks for.
  size_t arena_bytes = 0;
  for (const KvStorageCase &c : cases) {
    rotor_kv_cache_config config;
    ASSERT_EQ(rotor_kv_cache_config_init(&config, c.key), ROTOR_OK);
    config.value_dtype = c.value;
    config.flags = c.flags;
    arena_bytes = std::max(arena_bytes, rotor_kv_cache_arena_size_ex(hk, d, max_len, &config));
  }
  ASSERT_GT(arena_bytes, 0u);
  const test_support::AlignedBuffer arena = test_support::aligned_buffer(arena_bytes);
  const std::string before = rotor_kernel_name();
  for (uint32_t i = 0; i < rotor_kernel_count(); ++i) {
    ASSERT_EQ(rotor_kernel_force(rotor_kernel_available(i)), ROTOR_OK);
    for (rotor_pool *p : {static_cast<rotor_pool *>(nullptr), pool})
      for (const KvStorageCase &c : cases) {
        int failures = 0;
        uint32_t length = 0;
        rotor_kv_cache_config read_back;
        read_back.struct_size = sizeof read_back;
        long allocations;
        {
          AllocationCounter counter;
          rotor_kv_cache_config config;
          failures += rotor_kv_cache_config_init(&config, c.key) != ROTOR_OK;
          config.value_dtype = c.value;
          config.flags = c.flags;
          const size_t bytes = rotor_kv_cache_arena_size_ex(hk, d, max_len, &config);
          rotor_kv_cache *cache = nullptr;
          failures += rotor_kv_cache_init_ex(&cache, hk, d, max_len, &config, arena.get(), bytes) != ROTOR_OK;
          failures += rotor_attention_forward(table.t, &cache, &tq, &tk, &tv, &to, 0.125f, workspace.get(), ws_bytes,
                                              p) != ROTOR_OK;
          for (uint32_t step = 0; step < steps; ++step)
            failures += rotor_attention_forward(table.t, &cache, &dq, &dk, &dv, &dout, 0.125f, workspace.get(),
                                                ws_bytes, p) != ROTOR_OK;
          // StreamingLLM's shift: keep 4 sink tokens, drop 40 (moves 64 keys across key blocks).
          failures += rotor_kv_cache_evict(table.t, cache, 4, 40, p) != ROTOR_OK;
          for (uint32_t step = 0; step < steps; ++step)
            failures += rotor_attention_forward(table.t, &cache, &dq, &dk, &dv, &dout, 0.125f, workspace.get(),
                                                ws_bytes, p) != ROTOR_OK;
          failures += rotor_kv_cache_get_config(cache, &read_back) != ROTOR_OK;
          failures += rotor_kv_cache_get_length(cache, &length) != ROTOR_OK;
          allocations = counter.count();
        }
        const std::string what = std::string("kernel ") + rotor_kernel_available(i) + (p ? " with" : " without") +
                                 " a pool, key " + std::to_string(c.key) + " value " + std::to_string(c.value) +
                                 " flags " + std::to_string(c.flags);
        EXPECT_EQ(failures, 0) << what;
        EXPECT_EQ(allocations, 0) << what;
        EXPECT_EQ(length, prompt + 2 * steps - 40) << what;
        EXPECT_EQ(read_back.flags, c.flags) << what;
      }
  }
  rotor_kernel_force(before.c_str());
  rotor_pool_destroy(pool);
}

}  // namespace
