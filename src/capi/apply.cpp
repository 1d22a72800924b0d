// The C entry points that rotate tensors: validate everything, lease rows, run the plan.
#include <cstring>

#include "common/dtype.hpp"
#include "common/enum_bits.hpp"
#include "capi/guard.hpp"
#include "kernels/registry.hpp"
#include "apply/apply_plan.hpp"
#include "common/checked_math.hpp"
#include "table/config.hpp"
#include "kernels/rotate_kernel.hpp"
#include "runtime/pool.hpp"
#include "apply/positions.hpp"
#include "table/table.hpp"
#include "apply/tensor_view.hpp"

namespace rotor {
namespace {

// in and out of an out-of-place call: same shape and dtype, and either the same view (in
// place) or disjoint memory. rotor_apply passes one view as both: it is validated once.
rotor_status check_in_out(const rotor_tensor &in, const rotor_tensor &out, uint32_t rotary_dim) {
  ViewBytes in_bytes, out_bytes;
  rotor_status status = validate_view(in, &in_bytes);
  if (status != ROTOR_OK) return status;
  if (&out != &in) {
    if ((status = validate_view(out, &out_bytes)) != ROTOR_OK) return status;
    if (!same_shape(in, out) || in.dtype != out.dtype)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "in and out differ in shape or dtype");
  }
  if (in.head_dim < rotary_dim) return fail(ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim exceeds the tensor's head_dim");
  if (&out != &in && !same_layout(in, out) && !views_disjoint(in, in_bytes, out, out_bytes))
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "out overlaps in without being the same view");
  return ROTOR_OK;
}

// q and k of one call: valid views sharing batch and seq, disjoint (fused QKV side by side
// allowed), each with room for the rotary dims.
rotor_status check_qk(const rotor_tensor &q, const rotor_tensor &k, uint32_t rotary_dim) {
  ViewBytes q_bytes, k_bytes;
  rotor_status status;
  if ((status = validate_view(q, &q_bytes)) != ROTOR_OK || (status = validate_view(k, &k_bytes)) != ROTOR_OK)
    return status;
  if (q.batch != k.batch || q.seq != k.seq) return fail(ROTOR_ERR_INVALID_ARGUMENT, "q and k differ in batch or seq");
  if (!views_disjoint(q, q_bytes, k, k_bytes)) return fail(ROTOR_ERR_INVALID_ARGUMENT, "q and k overlap");
  if (q.head_dim < rotary_dim || k.head_dim < rotary_dim)
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim exceeds the tensor's head_dim");
  return ROTOR_OK;
}

// The plan is written field by field where it lives, never built in a temporary and copied:
// a TensorPass returned by value and then copied into the plan was stored in 8- and 16-byte
// pieces and read straight back in 16-byte pieces that straddle them, a failed store forward
// (some 15 cycles) each, a dozen per decode step (docs/performance.md, issue 25). Nor is the
// whole plan zeroed first (a `rep stos` of 376 bytes): every field a run reads is set here.
void set_pass(TensorPass &pass, const KernelSet &kernels, const rotor_tensor &in, const rotor_tensor &out,
              rotor_pairing pairing) {
  pass.in = in;
  pass.out = out;
  const uint64_t in_bytes = uint64_t{in.batch} * in.seq * in.heads * in.head_dim * dtype_size(in.dtype);
  pass.rotate = in_bytes >= kLargePassBytes ? kernels.rotate_large[in.dtype][pairing] : kernels.rotate[in.dtype][pairing];
  const bool out_of_place = out.data != in.data;
  pass.copy_out = out_of_place ? kernels.copy_out : nullptr;
  pass.stream_fence = out_of_place ? kernels.stream_fence : nullptr;
  pass.vector_bytes = out_of_place ? kernels.vector_bytes : 0;
  pass.copy_cached_outputs = out_of_place && kernels.copy_cached_outputs;
}

void start_plan(ApplyPlan &plan, const rotor_tensor &first, const int32_t *positions, uint32_t offset,
                rotor_direction dir, uint32_t pass_count) {
  plan.rows = RowSource{nullptr, nullptr, 0, 0};
  plan.axes = AxisPositions{};
  plan.positions = positions;
  plan.offset = offset;
  plan.batch = first.batch;
  plan.seq = first.seq;
  plan.pass_count = pass_count;
  plan.inverse = dir == ROTOR_INVERSE;
}

// Rows leased to serve positions [0, seq_len), the plan run over them, the lease returned.
rotor_status run_leased(Table &table, ApplyPlan &plan, uint32_t seq_len, Pool *pool) {
  RowsLease lease;
  table.lease(seq_len, &lease);
  plan.rows = RowSource{lease.rows, lease.rows + lease.half, uint64_t{2} * lease.half, lease.half};
  run_plan(plan, pool);
  table.release(&lease);
  return ROTOR_OK;
}

// Shared tail of every table-backed entry point: positions checked, then run_leased.
rotor_status run_with_table(Table &table, ApplyPlan &plan, Pool *pool) {
  uint32_t seq_len = 0;
  rotor_status status =
      check_positions(plan.positions, plan.offset, plan.batch, plan.seq, table.max_len(), &seq_len);
  if (status != ROTOR_OK) return status;
  return run_leased(table, plan, seq_len, pool);
}

// Every id of every axis checked (OUT_OF_RANGE before anything is written); the rows leased
// serve the largest id.
rotor_status run_axes_with_table(Table &table, ApplyPlan &plan, const int32_t *ids, Pool *pool) {
  uint32_t seq_len = 0;
  const rotor_status status = check_axis_ids(ids, table.axes(), plan.batch, plan.seq, table.max_len(), &seq_len);
  if (status != ROTOR_OK) return status;
  plan.axes = AxisPositions{ids, table.axes(), table.pair_axis()};
  return run_leased(table, plan, seq_len, pool);
}

// rotor_apply_to's body; rotor_apply runs it with x as both views (validated once), in the
// same guard. dir by reference: a copy would load the caller's int as an enum before the check.
rotor_status apply_to(rotor_table *t, const rotor_tensor *in, const rotor_tensor *out, const int32_t *positions,
                      uint32_t offset, const rotor_direction &dir, rotor_pool *pool) {
  if (t == nullptr || in == nullptr || out == nullptr || !valid_direction(enum_bits(dir)))
    return ROTOR_ERR_INVALID_ARGUMENT;
  Table &table = *as_table(t);
  const rotor_status status = check_in_out(*in, *out, table.config().rotary_dim);
  if (status != ROTOR_OK) return status;
  ApplyPlan plan;
  start_plan(plan, *in, positions, offset, dir, 1);
  set_pass(plan.passes[0], active_kernels(), *in, *out, table.config().pairing);
  return run_with_table(table, plan, as_pool(pool));
}

// The two-tensor plan of rotor_apply_qk and rotor_apply_qk_axes (q and k already checked).
void start_qk_plan(ApplyPlan &plan, const Table &table, const rotor_tensor &q, const rotor_tensor &k,
                   const int32_t *positions, uint32_t offset, rotor_direction dir) {
  start_plan(plan, q, positions, offset, dir, 2);
  const KernelSet &kernels = active_kernels();
  set_pass(plan.passes[0], kernels, q, q, table.config().pairing);
  set_pass(plan.passes[1], kernels, k, k, table.config().pairing);
}

}  // namespace
}  // namespace rotor

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_apply(rotor_table *t, const rotor_tensor *x, const int32_t *positions,
                                   uint32_t offset, rotor_direction dir, rotor_pool *pool) {
  // dir is read through its bytes until validated (see enum_bits): a C caller may pass any int.
  return guarded([&]() -> rotor_status { return apply_to(t, x, x, positions, offset, dir, pool); });
}

ROTOR_API rotor_status rotor_apply_to(rotor_table *t, const rotor_tensor *in, const rotor_tensor *out,
                                      const int32_t *positions, uint32_t offset, rotor_direction dir,
                                      rotor_pool *pool) {
  return guarded([&]() -> rotor_status { return apply_to(t, in, out, positions, offset, dir, pool); });
}

ROTOR_API rotor_status rotor_apply_qk(rotor_table *t, const rotor_tensor *q, const rotor_tensor *k,
                                      const int32_t *positions, uint32_t offset, rotor_direction dir,
                                      rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || q == nullptr || k == nullptr || !valid_direction(enum_bits(dir)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    const rotor_status status = check_qk(*q, *k, table.config().rotary_dim);
    if (status != ROTOR_OK) return status;
    ApplyPlan plan;
    start_qk_plan(plan, table, *q, *k, positions, offset, dir);
    return run_with_table(table, plan, as_pool(pool));
  });
}

ROTOR_API rotor_status rotor_apply_axes(rotor_table *t, const rotor_tensor *x, const int32_t *positions,
                                        rotor_direction dir, rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || x == nullptr || positions == nullptr || !valid_direction(enum_bits(dir)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    const rotor_status status = check_in_out(*x, *x, table.config().rotary_dim);
    if (status != ROTOR_OK) return status;
    ApplyPlan plan;
    start_plan(plan, *x, nullptr, 0, dir, 1);
    set_pass(plan.passes[0], active_kernels(), *x, *x, table.config().pairing);
    return run_axes_with_table(table, plan, positions, as_pool(pool));
  });
}

ROTOR_API rotor_status rotor_apply_qk_axes(rotor_table *t, const rotor_tensor *q, const rotor_tensor *k,
                                           const int32_t *positions, rotor_direction dir, rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || q == nullptr || k == nullptr || positions == nullptr || !valid_direction(enum_bits(dir)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    const rotor_status status = check_qk(*q, *k, table.config().rotary_dim);
    if (status != ROTOR_OK) return status;
    ApplyPlan plan;
    start_qk_plan(plan, table, *q, *k, nullptr, 0, dir);
    return run_axes_with_table(table, plan, positions, as_pool(pool));
  });
}

ROTOR_API rotor_status rotor_apply_cos_sin(const float *cos, const float *sin, uint32_t rows,
                                           uint32_t rotary_dim, rotor_pairing pairing,
                                           const rotor_tensor *in, const rotor_tensor *out,
                                           const int32_t *positions, uint32_t offset,
                                           rotor_direction dir, rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (cos == nullptr || sin == nullptr || in == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    if (rows == 0 || rotary_dim == 0 || rotary_dim % 2 != 0 || !valid_pairing(enum_bits(pairing)) ||
        !valid_direction(enum_bits(dir)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    rotor_status status = check_in_out(*in, *out, rotary_dim);
    if (status != ROTOR_OK) return status;
    uint32_t seq_len = 0;
    status = check_positions(positions, offset, in->batch, in->seq, rows, &seq_len);
    if (status != ROTOR_OK) return status;
    ApplyPlan plan;
    start_plan(plan, *in, positions, offset, dir, 1);
    const uint32_t half = rotary_dim / 2;
    plan.rows = RowSource{cos, sin, half, half};
    set_pass(plan.passes[0], active_kernels(), *in, *out, pairing);
    run_plan(plan, as_pool(pool));
    return ROTOR_OK;
  });
}

}  // extern "C"
