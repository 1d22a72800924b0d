// The two phases of a forward call. Work is handed out per workspace slot (run_slots: one
// thread at a time per slot); within the attention phase, slots take tasks from a shared counter (the causal mask makes later query blocks longer,
// and they are handed out first).
#include "attention/attention_run.hpp"

#include <atomic>
#include <limits>

#include "common/dtype.hpp"
#include "runtime/pool.hpp"
#include "attention/rerotate_keys.hpp"
#include "table/row_compute.hpp"
#include "apply/tensor_view.hpp"
#include "common/element_convert.hpp"
#include "common/prefetch.hpp"
#include "common/quant_blocks.hpp"
#include "attention/quantized_keys.hpp"

namespace rotor {
namespace {

struct Phase {
  const ForwardCall *call;
  uint64_t tasks;
  std::atomic<uint64_t> next{0};
};

uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

// The row of `position` for entry b: the table's, or, for a cache pinned to rows the table has
// left (policy PIN), its own state's row computed into this thread's rescale scratch.
const float *row_for(const ForwardCall &c, uint32_t b, uint32_t position, const unsigned char *slot) {
  const KvCache &cache = *c.caches[b];
  if (!cache.own_rows) return c.rows + uint64_t{position} * 2 * c.half;
  const uint32_t thread = uint32_t(size_t(slot - c.workspace) / c.plan.slot_bytes);
  float *row = reinterpret_cast<float *>(rerotate_thread_slot(c.row_scratch, c.q.head_dim, thread));
  compute_rows_into(RowFrequencies{cache.freqs, c.half, cache.freq_factor}, position, position + 1, row);
  return row;
}

// The row of new token `token` of entry b: at the caller's ids (forward_axes), else at its
// cache index L_b + token.
const float *token_row(const ForwardCall &c, uint32_t b, uint32_t token, uint32_t length, const unsigned char *slot) {
  if (c.axes.ids == nullptr) return row_for(c, b, length + token, slot);
  const uint32_t thread = uint32_t(size_t(slot - c.workspace) / c.plan.slot_bytes);
  float *scratch = reinterpret_cast<float *>(rerotate_thread_slot(c.row_scratch, c.q.head_dim, thread));
  const RowSource rows{c.rows, c.rows + c.half, uint64_t{2} * c.half, c.half};
  const uint64_t tokens = uint64_t{c.q.batch} * c.q.seq;
  // Either the table's row or the gathered one: cos then sin, r/2 apart, in both.
  return gather_axes_row(rows, c.axes, uint64_t{b} * c.q.seq + token, tokens, scratch);
}

TokenHeads rotation_job(const ForwardCall &c, uint32_t b, const unsigned char *slot, uint32_t token,
                        uint32_t length, const void *in, int64_t in_stride, uint32_t heads) {
  TokenHeads job{};
  job.cos = token_row(c, b, token, length, slot);
  job.sin = job.cos + c.half;
  job.half = c.half;
  job.in = in;
  job.in_head_stride = in_stride;
  job.heads = heads;
  job.head_dim = c.q.head_dim;
  job.inverse = false;
  return job;
}

// ---- phase 1: rotated keys and values into the caches -------------------------------------
//
// Work items are (entry, kv head, run): run r of an entry is its new tokens inside the r-th key
// block they touch. A run's keys are rotated one by one into the slot, then written into the
// block dimension by dimension, so that each row of the block is written in one stretch (writing
// key by key touches head_dim cache lines per key, and at 512 tokens took twice the time the
// transposes it replaced had).

// Runs per entry, at most: the new tokens span this many blocks whatever the cache length.
uint32_t runs_per_entry(uint32_t seq) { return (seq + kKeyBlock - 1) / kKeyBlock + 1; }

// count elements into the cache's type: f32 tensors into an f16/bf16 cache through the kernel
// set's vector rounding when it has one (the same bits as the portable conversion).
void to_cache_type(const ForwardCall &c, const void *from, rotor_dtype from_type, uint32_t count, void *to,
                   rotor_dtype to_type) {
  if (from_type == ROTOR_DTYPE_F32 && to_type != ROTOR_DTYPE_F32 && c.kernels->narrow[to_type] != nullptr)
    c.kernels->narrow[to_type](static_cast<const float *>(from), count, to);
  else
    convert_elements(from, from_type, count, to, to_type);
}

// One new key as the cache stores it, at `key`: rotated (unless the cache keeps keys
// un-rotated) and in the cache's key type, or as floats for a quantized cache (store_keys
// quantizes a run's keys together).
void stage_key(const ForwardCall &c, unsigned char *slot, uint32_t b, uint32_t head, uint32_t token, uint32_t length,
               unsigned char *key) {
  const KvCache &cache = *c.caches[b];
  const uint32_t d = cache.head_dim;
  const rotor_dtype dtype = c.k.dtype;
  const rotor_dtype staged = dtype_is_quantized(cache.key_dtype) ? ROTOR_DTYPE_F32 : cache.key_dtype;
  const void *in = head_address(c.k, b, token, head);
  if (cache.unrotated()) {
    to_cache_type(c, in, dtype, d, key, staged);
    return;
  }
  // Rotate in the tensors' type (as rotor_apply would), then round to the cache's type.
  TokenHeads job = rotation_job(c, b, slot, token, length, in, c.k.stride_head, 1);
  job.out = dtype == staged ? key : slot + c.plan.rotation;
  job.out_head_stride = d;
  c.rotate(job);
  if (dtype != staged) to_cache_type(c, job.out, dtype, d, key, staged);
}

// One new value into its row of the cache.
void store_value(const ForwardCall &c, unsigned char *slot, uint32_t b, uint32_t head, uint32_t token,
                 uint32_t position) {
  KvCache &cache = *c.caches[b];
  const void *in = head_address(c.v, b, token, head);
  if (!dtype_is_quantized(cache.value_dtype)) {
    to_cache_type(c, in, c.v.dtype, cache.head_dim, cache.value_at(head, position), cache.value_dtype);
    return;
  }
  float *row = reinterpret_cast<float *>(slot + c.plan.rotation);
  to_float(in, c.v.dtype, cache.head_dim, row);
  quantize_row(cache.value_dtype, row, cache.head_dim, cache.value_at(head, position));
}

// Asks for the lines of one head of one token of a view (its head_dim elements).
void prefetch_head(const rotor_tensor &view, uint32_t b, uint32_t token, uint32_t head) {
  prefetch_lines(head_address(view, b, token, head), size_t{view.head_dim} * dtype_size(view.dtype));
}

// A run's new keys and values are asked for this many tokens before they are rotated and
// stored. One head of a token is a short run of lines (512 bytes at 128 f32) one token stride
// (all kv heads: 4 KiB at 8 x 128 f32) from the next, so each token starts a new page, where
// the hardware's prefetchers stop, and every token waited on its own misses. A whole run asked
// for at once gained nothing measurable (the burst stalls once the miss buffers fill); a few
// tokens ahead overlaps each token's misses with the work on the tokens before it: the append
// phase a fifth shorter, 0.7-0.85% of a 512-token prefill on a Zen 3 (bench/phase_shares.py,
// performance.md; 3 or 16 tokens ahead measured the same).
constexpr uint32_t kAppendAheadTokens = 6;

void append_run(const ForwardCall &c, unsigned char *slot, uint32_t b, uint32_t head, uint32_t run) {
  KvCache &cache = *c.caches[b];
  const uint32_t length = cache.length, block = length / kKeyBlock + run;
  const uint32_t begin = block * kKeyBlock > length ? block * kKeyBlock : length;
  const uint32_t end = (block + 1) * kKeyBlock < length + c.k.seq ? (block + 1) * kKeyBlock : length + c.k.seq;
  if (begin >= end) return;  // this entry's tokens span fewer blocks
  const uint32_t d = cache.head_dim;
  const size_t staged_elem = dtype_is_quantized(cache.key_dtype) ? sizeof(float) : dtype_size(cache.key_dtype);
  unsigned char *staged = slot + c.plan.keys;  // the run's keys as store_keys takes them, key-major
  for (uint32_t position = begin; position < end; ++position) {
    const uint32_t token = position - length;
    if (position + kAppendAheadTokens < end) {
      prefetch_head(c.k, b, token + kAppendAheadTokens, head);
      prefetch_head(c.v, b, token + kAppendAheadTokens, head);
    }
    stage_key(c, slot, b, head, token, length, staged + size_t{position - begin} * d * staged_elem);
    store_value(c, slot, b, head, token, position);
  }
  store_keys(cache, head, begin, end - begin, staged);
}

void append_share(void *context, uint32_t slot_index, uint32_t slots) {
  Phase &phase = *static_cast<Phase *>(context);
  const ForwardCall &c = *phase.call;
  unsigned char *slot = c.workspace + uint64_t{slot_index} * c.plan.slot_bytes;
  const uint32_t runs = runs_per_entry(c.k.seq), heads = c.k.heads;
  uint64_t first, last;
  slot_range(uint64_t{c.k.batch} * heads * runs, slot_index, slots, &first, &last);
  for (uint64_t i = first; i < last; ++i)
    append_run(c, slot, uint32_t(i / (uint64_t{heads} * runs)), uint32_t(i / runs % heads), uint32_t(i % runs));
}

// ---- phase 2: attention of one task --------------------------------------------------------

struct Task {
  uint32_t b, kv_head, first_token, tokens;
};

// Rotated queries of the task as float rows, token-major: row r is token first + r / group,
// q head kv_head * group + r % group.
void load_queries(const ForwardCall &c, const Task &task, uint32_t length, unsigned char *slot) {
  const uint32_t group = c.plan.group, d = c.q.head_dim;
  float *queries = reinterpret_cast<float *>(slot + c.plan.queries);
  // Every token's query bytes asked for first: a token's group of heads is a short run (2 KiB at
  // 4 x 128 f32) one token stride (16 KiB for 32 heads) from the next, so the hardware's stream
  // prefetch starts over at each token and the rotation waited on each run in turn (4% of a
  // 512-token prefill whose queries come from memory). Asked for all at once, the misses
  // overlap: 0.7% less time on a Zen 3 (bench/compare.sh --prefill; 4 tokens ahead gained nothing).
  for (uint32_t t = 0; t < task.tokens; ++t)
    for (uint32_t h = 0; h < group; ++h) prefetch_head(c.q, task.b, task.first_token + t, task.kv_head * group + h);
  for (uint32_t t = 0; t < task.tokens; ++t) {
    const uint32_t token = task.first_token + t;
    TokenHeads job = rotation_job(c, task.b, slot, token, length,
                                  head_address(c.q, task.b, token, task.kv_head * group), c.q.stride_head, group);
    float *rows = queries + uint64_t{t} * group * d;
    job.out_head_stride = d;
    if (c.q.dtype == ROTOR_DTYPE_F32) {
      job.out = rows;
      c.rotate(job);
    } else {
      job.out = slot + c.plan.rotation;
      c.rotate(job);
      to_float(job.out, c.q.dtype, group * d, rows);
    }
  }
}

// Query rows from which an f16/bf16 block is widened to floats once rather than at every load
// of a row tile: converting in the tiles costs one conversion per key vector per tile of 6 rows,
// which competes with the tile's FMAs (a 2048-token prefill ran at 0.54 of the FMA loop instead
// of 0.67), while a decode step's few rows would spend more on writing and re-reading the copy
// than on converting in place (docs/performance-history.md, second pass). The bits are the same either way.
constexpr uint32_t kWidenOnceRows = 24;

// Diagonal rows scored per call (about; rounded to whole tokens): a multiple of the SIMD
// kernels' 6-row tiles for the usual group of 4.
constexpr uint32_t kDiagonalRows = 24;

// What the kernels read of one key block and the values beside it: the cache's own bytes, or
// floats widened or dequantized into the slot (many rows, a kernel set that does not read the
// type, un-rotated keys; the whole key block, so every column a score kernel may compute is
// defined), with un-rotated keys rotated there.
struct BlockInput {
  const void *keys, *values;
  size_t value_row_bytes;  // from one value row to the next in `values`
  AttentionScoresFn scores;
  AttentionAccumulateFn accumulate;
};

// Columns [0, n) of a float key block ([d][kKeyBlock]) rotated in place with the rows of
// positions block .. block + n - 1: un-rotated cached keys (ROTOR_KV_UNROTATED_KEYS), with the
// rows the call's queries use (the table's, or a pinned cache's own).
void rotate_key_block(const ForwardCall &c, uint32_t b, uint32_t block, uint32_t n, float *keys,
                      const unsigned char *slot) {
  const uint32_t half = c.half;
  for (uint32_t t = 0; t < n; ++t) {
    const float *cos = row_for(c, b, block + t, slot), *sin = cos + half;
    for (uint32_t i = 0; i < half; ++i) {
      const uint32_t ia = c.pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
      const uint32_t ib = c.pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
      float &x = keys[size_t{ia} * kKeyBlock + t], &y = keys[size_t{ib} * kKeyBlock + t];
      const float xr = x * cos[i] - y * sin[i], yr = y * cos[i] + x * sin[i];
      x = xr;
      y = yr;
    }
  }
}

BlockInput block_input(const ForwardCall &c, uint32_t b, uint32_t head, uint32_t block, uint32_t n, uint32_t rows,
                       unsigned char *slot) {
  const KvCache &cache = *c.caches[b];
  const AttentionKernels &kernels = *c.kernels;
  const uint32_t d = cache.head_dim;
  // The set's vector widening when it has one, else the portable conversion (the same bits).
  auto widen = [&](const void *from, rotor_dtype dtype, uint32_t count, size_t at) {
    float *to = reinterpret_cast<float *>(slot + at);
    if (kernels.widen[dtype] != nullptr) kernels.widen[dtype](from, count, to);
    else to_float(from, dtype, count, to);
    return to;
  };
  BlockInput in;
  const rotor_dtype kd = cache.key_dtype, vd = cache.value_dtype;
  // A kernel reads the cache's own block when the set reads its type and few rows see it (a
  // quantized or f16/bf16 block read in the tiles gives the bits of its floats read by the f32
  // tiles), and never for un-rotated keys, which are rotated in the slot.
  auto read_in_place = [&](rotor_dtype dtype, bool set_reads_it) {
    return dtype == ROTOR_DTYPE_F32 || (set_reads_it && rows < kWidenOnceRows);
  };
  const unsigned char *keys = cache.key_block_at(head, block / kKeyBlock);
  if (!cache.unrotated() && read_in_place(kd, kernels.scores[kd] != nullptr)) {
    in.keys = keys;
  } else if (dtype_is_quantized(kd)) {
    float *to = reinterpret_cast<float *>(slot + c.plan.keys);
    kernels.dequantize_keys[kd - kQuantTypeBase](keys, d, to);
    in.keys = to;
  } else {
    in.keys = widen(keys, kd, kKeyBlock * d, c.plan.keys);
  }
  in.scores = in.keys == keys ? kernels.scores[kd] : kernels.scores[ROTOR_DTYPE_F32];
  if (cache.unrotated())
    rotate_key_block(c, b, block, n, reinterpret_cast<float *>(slot + c.plan.keys), slot);

  const unsigned char *values = cache.value_at(head, block);
  if (read_in_place(vd, kernels.accumulate[vd] != nullptr)) {
    in.values = values;
  } else if (dtype_is_quantized(vd)) {
    float *to = reinterpret_cast<float *>(slot + c.plan.values);
    kernels.dequantize_values[vd - kQuantTypeBase](values, n, d, to);
    in.values = to;
  } else {
    in.values = widen(values, vd, n * d, c.plan.values);
  }
  in.value_row_bytes = in.values == values ? cache.value_row_bytes : size_t{d} * sizeof(float);
  in.accumulate = in.values == values ? kernels.accumulate[vd] : kernels.accumulate[ROTOR_DTYPE_F32];
  return in;
}

// Output rows asked for (with intent to write) this many rows before they are written: the
// output is written once, after the last block, and a line that is not in the cache is read
// before a store can complete.
constexpr uint32_t kOutputAheadRows = 8;

void attend(const ForwardCall &c, const Task &task, unsigned char *slot) {
  const KvCache &cache = *c.caches[task.b];
  const uint32_t length = cache.length, group = c.plan.group, d = c.q.head_dim;
  const uint32_t rows = task.tokens * group;
  const AttentionKernels &kernels = *c.kernels;
  const float score_scale = base2_score_scale(c.scale);  // the fold works in base 2
  float *queries = reinterpret_cast<float *>(slot + c.plan.queries);
  float *acc = reinterpret_cast<float *>(slot + c.plan.accum);
  float *maxima = reinterpret_cast<float *>(slot + c.plan.maxima);
  float *sums = reinterpret_cast<float *>(slot + c.plan.sums);
  float *scores = reinterpret_cast<float *>(slot + c.plan.scores);
  load_queries(c, task, length, slot);
  for (uint32_t r = 0; r < rows; ++r) {
    maxima[r] = -std::numeric_limits<float>::infinity();
    sums[r] = 0.0f;
  }
  for (uint64_t i = 0; i < uint64_t{rows} * d; ++i) acc[i] = 0.0f;

  // Row r (token first + r / group) sees keys up to its own position, length + token.
  const uint32_t first_position = length + task.first_token;
  const uint32_t keys_end = first_position + task.tokens;
  for (uint32_t block = 0; block < keys_end; block += kKeyBlock) {
    const uint32_t block_keys = min_u32(kKeyBlock, keys_end - block);
    const BlockInput in = block_input(c, task.b, task.kv_head, block, block_keys, rows, slot);
    auto visible = [&](uint32_t r) {
      const uint32_t last = first_position + r / group;  // inclusive
      return last < block ? 0u : min_u32(block_keys, last + 1 - block);
    };
    // Rows come in token order (a token's group of rows sees the same keys): the rows that see
    // none of this block are a prefix, those that see all of it a suffix (the last row always
    // does), and only the rows of the tokens in between, on the diagonal, see part of it.
    uint32_t first_row = 0;
    while (visible(first_row) == 0) first_row += group;
    uint32_t full_row = first_row;
    while (visible(full_row) < block_keys) full_row += group;
    // The rows that see the whole block are scored against all of its keys in one call; the
    // diagonal rows in chunks of kDiagonalRows, each against the keys its last row sees (a
    // row's scores past its own position are computed and never read). Scoring every diagonal
    // row against the whole block computed twice the scores it used: a tenth of a 512-token
    // prefill's score work. A score's bits do not depend on the call it is computed in.
    in.scores(queries + uint64_t{full_row} * d, rows - full_row, in.keys, block_keys, d, score_scale,
              scores + uint64_t{full_row} * kKeyBlock, kKeyBlock);
    const uint32_t chunk = kDiagonalRows > group ? kDiagonalRows / group * group : group;
    for (uint32_t r = first_row; r < full_row; r += chunk) {
      const uint32_t end = min_u32(r + chunk, full_row);
      in.scores(queries + uint64_t{r} * d, end - r, in.keys, visible(end - 1), d, score_scale,
                scores + uint64_t{r} * kKeyBlock, kKeyBlock);
    }
    for (uint32_t r = first_row; r < full_row; r += group)
      kernels.fold(scores + uint64_t{r} * kKeyBlock, kKeyBlock, group, visible(r), maxima + r, sums + r,
                   acc + uint64_t{r} * d, d);
    // The diagonal's values as a staircase, in the same chunks: every row of a chunk takes the
    // keys its first token sees in one call (the kernels' full-height row tiles), then each
    // later token its own few keys past those. An accumulator adds its keys one at a time in
    // ascending order however they are split into calls, so the bits are those of one call per
    // token; token by token, each call's tiles were only `group` rows high (4: a 6-row tile
    // does 1.5x the multiply-adds per load), and these tiles took 6% of a 512-token prefill.
    for (uint32_t r = first_row; r < full_row; r += chunk) {
      const uint32_t end = min_u32(r + chunk, full_row), shared = visible(r);
      in.accumulate(scores + uint64_t{r} * kKeyBlock, kKeyBlock, end - r, in.values, shared, d, acc + uint64_t{r} * d);
      const unsigned char *past_shared = static_cast<const unsigned char *>(in.values) + shared * in.value_row_bytes;
      for (uint32_t t = r + group; t < end; t += group)
        in.accumulate(scores + uint64_t{t} * kKeyBlock + shared, kKeyBlock, group, past_shared, visible(t) - shared, d,
                      acc + uint64_t{t} * d);
    }
    kernels.fold(scores + uint64_t{full_row} * kKeyBlock, kKeyBlock, rows - full_row, block_keys, maxima + full_row,
                 sums + full_row, acc + uint64_t{full_row} * d, d);
    in.accumulate(scores + uint64_t{full_row} * kKeyBlock, kKeyBlock, rows - full_row, in.values, block_keys, d,
                  acc + uint64_t{full_row} * d);
  }

  // out = acc / sum, in the output's dtype (the accumulator row is reused as the staging row).
  // Row r is head kv_head * group + r % group of token first_token + r / group.
  auto out_row = [&](uint32_t r) {
    return static_cast<void *>(head_address(c.out, task.b, task.first_token + r / group, task.kv_head * group + r % group));
  };
  const size_t out_row_bytes = size_t{d} * dtype_size(c.out.dtype);
  for (uint32_t r = 0; r < rows; ++r) {
    if (r + kOutputAheadRows < rows) prefetch_lines<PrefetchFor::write>(out_row(r + kOutputAheadRows), out_row_bytes);
    float *row = acc + uint64_t{r} * d;
    // One division a row, then multiplies: a division per element (4 lanes at a time in this
    // portable code, a few cycles each) took 1.8% of a 512-token prefill. The product is within
    // one rounding of the quotient, and every kernel set and call shape shares this code.
    const float inverse_sum = 1.0f / sums[r];
    if (c.out.dtype == ROTOR_DTYPE_F32) {
      // Straight into the output: the same products without a second pass over the row.
      float *out = static_cast<float *>(out_row(r));
      for (uint32_t i = 0; i < d; ++i) out[i] = row[i] * inverse_sum;
      continue;
    }
    for (uint32_t i = 0; i < d; ++i) row[i] = row[i] * inverse_sum;
    from_float(row, d, out_row(r), c.out.dtype);
  }
}

void attend_share(void *context, uint32_t slot_index, uint32_t) {
  Phase &phase = *static_cast<Phase *>(context);
  const ForwardCall &c = *phase.call;
  // The slot takes tasks until none are left (the causal mask makes their costs uneven).
  unsigned char *slot = c.workspace + uint64_t{slot_index} * c.plan.slot_bytes;
  const uint32_t kv_heads = c.k.heads, per_block = c.q.batch * kv_heads;
  for (uint64_t i = phase.next.fetch_add(1, std::memory_order_relaxed); i < phase.tasks;
       i = phase.next.fetch_add(1, std::memory_order_relaxed)) {
    // The last query blocks (most keys) first.
    const uint32_t blocks = uint32_t(phase.tasks / per_block);
    const uint32_t query_block = blocks - 1 - uint32_t(i / per_block), rest = uint32_t(i % per_block);
    Task task;
    task.b = rest / kv_heads;
    task.kv_head = rest % kv_heads;
    task.first_token = query_block * c.plan.tokens_per_task;
    task.tokens = min_u32(c.plan.tokens_per_task, c.q.seq - task.first_token);
    attend(c, task, slot);
  }
}

}  // namespace

void run_forward(const ForwardCall &call, Pool *pool) {
  const uint32_t batch = call.q.batch, seq = call.q.seq;
  for (uint32_t b = 0; b < batch; ++b) clear_key_block_tail(*call.caches[b], call.caches[b]->length, seq);
  Phase append;
  append.call = &call;
  // As many slots as tokens (up to the pool): a decode step appends on the calling thread.
  append.tasks = uint64_t{batch} * seq;
  run_slots(pool, append.tasks, append_share, &append);

  Phase attention;
  attention.call = &call;
  const uint32_t blocks = (seq + call.plan.tokens_per_task - 1) / call.plan.tokens_per_task;
  attention.tasks = uint64_t{blocks} * batch * call.k.heads;
  run_slots(pool, attention.tasks, attend_share, &attention);

  for (uint32_t b = 0; b < batch; ++b) call.caches[b]->length += seq;
}

}  // namespace rotor
