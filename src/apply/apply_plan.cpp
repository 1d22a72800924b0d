#include "apply/apply_plan.hpp"

#include <algorithm>
#include <atomic>

#include "common/dtype.hpp"
#include "runtime/pool.hpp"
#include "apply/tensor_view.hpp"
#include "table/layout.hpp"

namespace rotor {
namespace {

// Below this many rotated elements a call runs on the calling thread: waking workers costs
// more than the work (a decode token of 32 + 8 heads x 128 dims is 5120 elements).
constexpr uint64_t kParallelMinElements = 1u << 15;

// The scratch an out-of-place pass rotates into before copy_out writes it to the output: the
// 32 heads x 128 dims of a Llama token in f32, small enough to stay in L1 next to the input.
constexpr size_t kScratchBytes = 16384;

// Out of place, outputs of at least this many bytes (all passes of the call together) whose
// stores would straddle lines are written with non-temporal stores: plain stores first read
// every line they write (a third memory stream next to the input and the output), and an output
// this large does not stay in the cache for its reader anyway. Measured (docs/performance-history.md, "out of place"), f32 [1, T, 32, 128], one
// thread, rotating and then reading the output back: streaming costs 15-30% more while the
// output stays in the cache (T = 128..1024, 2-16 MiB), ties at 24 MiB and wins from 32 MiB.
// A fixed figure rather than the last-level cache's size: the build VM's CPUID reports the
// whole socket's 260 MiB L3, shared with other tenants.
constexpr uint64_t kStreamMinBytes = uint64_t{32} << 20;
std::atomic<uint64_t> g_stream_min_bytes{kStreamMinBytes};  // set_stream_min_bytes

// How an out-of-place pass writes its output (decided once per call in run_plan).
enum class OutMode : uint8_t { direct, copy, stream };

struct SplitPlan {
  const ApplyPlan *plan;
  uint32_t head_chunks;  // each token's heads split in this many pieces
  OutMode mode[2];       // per pass
  StreamFenceFn fence;   // some pass streams: called after each share; else nullptr
};

// An out-of-place pass's heads rotated into an aligned scratch, a few heads at a time, each
// group copied to the output with line-aligned (and, streaming, non-temporal) stores. The kernel
// computes exactly what it would write directly: same bits. Not inlined: its 16 KiB scratch
// would otherwise enlarge run_token's frame (0x10c0 -> 0x5140 bytes) on every call, in place
// and decode steps included.
__attribute__((noinline)) void rotate_through_scratch(const TensorPass &pass, const TokenHeads &job, bool stream) {
  alignas(64) unsigned char scratch[kScratchBytes];
  const size_t elem = dtype_size(pass.in.dtype), head_bytes = size_t{job.head_dim} * elem;
  const uint32_t group = uint32_t(kScratchBytes / head_bytes);  // >= 1: run_plan checked
  const bool contiguous = job.out_head_stride == int64_t{job.head_dim};
  TokenHeads part = job;
  part.out = scratch;
  part.out_head_stride = job.head_dim;
  for (uint32_t h = 0; h < job.heads; h += group) {
    part.heads = job.heads - h < group ? job.heads - h : group;
    part.in = static_cast<const unsigned char *>(job.in) + int64_t{h} * job.in_head_stride * int64_t(elem);
    pass.rotate(part);
    unsigned char *out = static_cast<unsigned char *>(job.out) + int64_t{h} * job.out_head_stride * int64_t(elem);
    if (contiguous) {
      pass.copy_out(out, scratch, part.heads * head_bytes, stream);
    } else {
      for (uint32_t k = 0; k < part.heads; ++k)
        pass.copy_out(out + int64_t{k} * job.out_head_stride * int64_t(elem), scratch + k * head_bytes, head_bytes,
                      stream);
    }
  }
}

// Rotates heads [chunk / head_chunks, (chunk + 1) / head_chunks) of token (b, s), every pass:
// the token's row is looked up once for Q and K.
inline void run_token(const SplitPlan &split, uint64_t token, uint32_t b, uint32_t s, uint32_t chunk) {
  const ApplyPlan &plan = *split.plan;
  TokenHeads job;
  // Per-thread scratch for a gathered multi-axis row, bounded by validation (no allocation).
  alignas(64) float gathered[kMaxAxesRotaryDim];
  if (plan.axes.ids != nullptr) {
    job.cos = gather_axes_row(plan.rows, plan.axes, token, uint64_t{plan.batch} * plan.seq, gathered);
    job.sin = job.cos == gathered ? gathered + plan.rows.half : job.cos + (plan.rows.sin - plan.rows.cos);
  } else {
    const uint64_t position = plan.positions ? uint64_t(plan.positions[token]) : uint64_t{plan.offset} + s;
    job.cos = plan.rows.cos + position * plan.rows.row_stride;
    job.sin = plan.rows.sin + position * plan.rows.row_stride;
  }
  job.half = plan.rows.half;
  job.inverse = plan.inverse;
  for (uint32_t p = 0; p < plan.pass_count; ++p) {
    const TensorPass &pass = plan.passes[p];
    // A whole token (every call but a short prefill on a pool) needs no division: two 64-bit
    // divisions a pass were a tenth of a decode step's time outside the kernel.
    uint32_t h0 = 0, h1 = pass.in.heads;
    if (split.head_chunks != 1) {
      h0 = uint32_t(uint64_t{pass.in.heads} * chunk / split.head_chunks);
      h1 = uint32_t(uint64_t{pass.in.heads} * (chunk + 1) / split.head_chunks);
      if (h0 == h1) continue;
    }
    job.in = head_address(pass.in, b, s, h0);
    job.out = head_address(pass.out, b, s, h0);
    job.in_head_stride = pass.in.stride_head;
    job.out_head_stride = pass.out.stride_head;
    job.heads = h1 - h0;
    job.head_dim = pass.in.head_dim;
    if (split.mode[p] == OutMode::direct)
      pass.rotate(job);
    else
      rotate_through_scratch(pass, job, split.mode[p] == OutMode::stream);
  }
}

void run_share(const SplitPlan &split, uint64_t begin, uint64_t end) {
  const uint32_t seq = split.plan->seq;
  if (split.head_chunks == 1) {
    // Items are tokens: walk (b, s) without a division per token.
    uint32_t b = static_cast<uint32_t>(begin / seq), s = static_cast<uint32_t>(begin % seq);
    for (uint64_t token = begin; token < end; ++token) {
      run_token(split, token, b, s, 0);
      if (++s == seq) {
        s = 0;
        ++b;
      }
    }
    return;
  }
  for (uint64_t item = begin; item < end; ++item) {
    const uint64_t token = item / split.head_chunks;
    run_token(split, token, static_cast<uint32_t>(token / seq), static_cast<uint32_t>(token % seq),
              static_cast<uint32_t>(item % split.head_chunks));
  }
}

void run_items(void *context, uint64_t begin, uint64_t end) {
  const SplitPlan &split = *static_cast<const SplitPlan *>(context);
  run_share(split, begin, end);
  // This thread's non-temporal stores, ordered before it reports the share done (or returns).
  if (split.fence != nullptr) split.fence();
}

// Whether some vector store of the kernels would straddle two cache lines: a head, a rotate_half
// half or the tensor itself not starting on a multiple of the store width.
bool stores_straddle_lines(const TensorPass &pass, uint32_t half) {
  const uint64_t elem = dtype_size(pass.out.dtype), width = pass.vector_bytes;
  const uint64_t offsets = uint64_t(reinterpret_cast<uintptr_t>(pass.out.data)) | uint64_t(pass.out.stride_batch) * elem |
                           uint64_t(pass.out.stride_seq) * elem | uint64_t(pass.out.stride_head) * elem | half * elem;
  return offsets % width != 0;
}

// Per out-of-place pass (when the kernel set has copy_out and a head fits the scratch), once per
// call: only where the kernels' own stores would straddle lines does the output go through the
// scratch (else writing directly is cheaper: the copy costs about 7% on aligned outputs), with
// non-temporal stores from kStreamMinBytes, aligned plain stores below where the set says so
// (copy_cached_outputs: on an Intel Xeon the copy made a 128-token out+16 apply 0.82x 1.0's time,
// on a Zen 3 EPYC 1.5x, where writing directly is 1.0's speed). An aligned output is
// never streamed: written directly it ties with streaming once its reader is counted, and a
// caller that rewrites it while it is still cached would pay for the trip to memory (an
// aligned 32 MiB output rewritten back to back took 15% longer streamed; docs/performance-history.md, third pass).
// split's modes start direct and its fence nullptr; a call with no out-of-place pass (in place,
// decode steps) returns at once.
void choose_out_modes(const ApplyPlan &plan, uint64_t tokens, SplitPlan *split) {
  uint64_t out_bytes = 0;
  bool out_of_place = false;
  for (uint32_t p = 0; p < plan.pass_count; ++p) {
    const TensorPass &pass = plan.passes[p];
    if (pass.copy_out == nullptr) continue;
    out_of_place = true;
    out_bytes += tokens * pass.out.heads * pass.out.head_dim * dtype_size(pass.out.dtype);
  }
  if (!out_of_place) return;
  const uint64_t stream_min = g_stream_min_bytes.load(std::memory_order_relaxed);
  for (uint32_t p = 0; p < plan.pass_count; ++p) {
    const TensorPass &pass = plan.passes[p];
    if (pass.copy_out == nullptr || size_t{pass.in.head_dim} * dtype_size(pass.in.dtype) > kScratchBytes) continue;
    if (stores_straddle_lines(pass, plan.rows.half)) {
      if (out_bytes >= stream_min)
        split->mode[p] = OutMode::stream;
      else if (pass.copy_cached_outputs)
        split->mode[p] = OutMode::copy;
    }
    if (split->mode[p] == OutMode::stream) split->fence = pass.stream_fence;
  }
}

}  // namespace

const float *gather_axes_row(const RowSource &rows, const AxisPositions &axes, uint64_t token,
                             uint64_t tokens, float *scratch) {
  uint64_t id[kMaxAxes] = {};
  bool all_equal = true;
  for (uint32_t a = 0; a < axes.axes; ++a) {
    id[a] = uint64_t(axes.ids[a * tokens + token]);
    all_equal &= id[a] == id[0];
  }
  if (all_equal) return rows.cos + id[0] * rows.row_stride;
  const uint32_t half = rows.half;
  for (uint32_t j = 0; j < half; ++j) {
    const uint64_t row = id[axes.pair_axis[j]] * rows.row_stride;
    scratch[j] = rows.cos[row + j];
    scratch[half + j] = rows.sin[row + j];
  }
  return scratch;
}

uint64_t set_stream_min_bytes(uint64_t bytes) { return g_stream_min_bytes.exchange(bytes); }

void run_plan(const ApplyPlan &plan, Pool *pool) {
  const uint64_t tokens = uint64_t{plan.batch} * plan.seq;
  uint64_t elements = 0;
  uint32_t max_heads = 0;
  for (uint32_t p = 0; p < plan.pass_count; ++p) {
    elements += tokens * plan.passes[p].in.heads * 2 * plan.rows.half;
    max_heads = std::max(max_heads, plan.passes[p].in.heads);
  }
  SplitPlan split{&plan, 1, {OutMode::direct, OutMode::direct}, nullptr};
  choose_out_modes(plan, tokens, &split);
  if (pool == nullptr || pool->threads() == 1 || elements < kParallelMinElements) {
    run_items(&split, 0, tokens);
    return;
  }
  // Few tokens and many threads (short prefill chunks): split heads too, so every thread works.
  if (tokens < uint64_t{pool->threads()} * 4)
    split.head_chunks = std::min<uint32_t>(max_heads, pool->threads() * 4);
  pool->run(tokens * split.head_chunks, run_items, &split);
}

}  // namespace rotor
