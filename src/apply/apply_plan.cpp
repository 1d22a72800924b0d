#include "apply/apply_plan.hpp"

#include <algorithm>

#include "runtime/pool.hpp"
#include "apply/tensor_view.hpp"
#include "table/layout.hpp"

namespace rotor {
namespace {

// Below this many rotated elements a call runs on the calling thread: waking workers costs
// more than the work (a decode token of 32 + 8 heads x 128 dims is 5120 elements).
constexpr uint64_t kParallelMinElements = 1u << 15;

struct SplitPlan {
  const ApplyPlan *plan;
  uint32_t head_chunks;  // each token's heads split in this many pieces
};

inline const unsigned char *element_at(const rotor_tensor &t, uint32_t b, uint32_t s) {
  const int64_t elements = int64_t{b} * t.stride_batch + int64_t{s} * t.stride_seq;
  return static_cast<const unsigned char *>(t.data) + elements * int64_t(dtype_size(t.dtype));
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
    const uint32_t h0 = uint32_t(uint64_t{pass.in.heads} * chunk / split.head_chunks);
    const uint32_t h1 = uint32_t(uint64_t{pass.in.heads} * (chunk + 1) / split.head_chunks);
    if (h0 == h1) continue;
    const size_t elem = dtype_size(pass.in.dtype);
    job.in = element_at(pass.in, b, s) + int64_t{h0} * pass.in.stride_head * int64_t(elem);
    job.out = const_cast<unsigned char *>(element_at(pass.out, b, s)) + int64_t{h0} * pass.out.stride_head * int64_t(elem);
    job.in_head_stride = pass.in.stride_head;
    job.out_head_stride = pass.out.stride_head;
    job.heads = h1 - h0;
    job.head_dim = pass.in.head_dim;
    pass.rotate(job);
  }
}

void run_items(void *context, uint64_t begin, uint64_t end) {
  const SplitPlan &split = *static_cast<const SplitPlan *>(context);
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

void run_plan(const ApplyPlan &plan, Pool *pool) {
  const uint64_t tokens = uint64_t{plan.batch} * plan.seq;
  uint64_t elements = 0;
  uint32_t max_heads = 0;
  for (uint32_t p = 0; p < plan.pass_count; ++p) {
    elements += tokens * plan.passes[p].in.heads * 2 * plan.rows.half;
    max_heads = std::max(max_heads, plan.passes[p].in.heads);
  }
  SplitPlan split{&plan, 1};
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
