// The C entry points that rotate tensors: validate everything, lease rows, run the plan.
#include <cstring>

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
// place) or disjoint memory.
rotor_status check_in_out(const rotor_tensor &in, const rotor_tensor &out, uint32_t rotary_dim) {
  rotor_status status = validate_view(in);
  if (status != ROTOR_OK) return status;
  if ((status = validate_view(out)) != ROTOR_OK) return status;
  if (!same_shape(in, out) || in.dtype != out.dtype)
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "in and out differ in shape or dtype");
  if (in.head_dim < rotary_dim) return fail(ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim exceeds the tensor's head_dim");
  if (!same_layout(in, out) && !views_disjoint(in, out))
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "out overlaps in without being the same view");
  return ROTOR_OK;
}

// q and k of one call: valid views sharing batch and seq, disjoint (fused QKV side by side
// allowed), each with room for the rotary dims.
rotor_status check_qk(const rotor_tensor &q, const rotor_tensor &k, uint32_t rotary_dim) {
  rotor_status status;
  if ((status = validate_view(q)) != ROTOR_OK || (status = validate_view(k)) != ROTOR_OK) return status;
  if (q.batch != k.batch || q.seq != k.seq) return fail(ROTOR_ERR_INVALID_ARGUMENT, "q and k differ in batch or seq");
  if (!views_disjoint(q, k)) return fail(ROTOR_ERR_INVALID_ARGUMENT, "q and k overlap");
  if (q.head_dim < rotary_dim || k.head_dim < rotary_dim)
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim exceeds the tensor's head_dim");
  return ROTOR_OK;
}

TensorPass make_pass(const rotor_tensor &in, const rotor_tensor &out, rotor_pairing pairing) {
  const KernelSet &kernels = active_kernels();
  TensorPass pass{in, out, kernels.rotate[in.dtype][pairing]};
  if (out.data != in.data) {
    pass.copy_out = kernels.copy_out;
    pass.stream_fence = kernels.stream_fence;
    pass.vector_bytes = kernels.vector_bytes;
  }
  return pass;
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

ApplyPlan base_plan(const rotor_tensor &first, const int32_t *positions, uint32_t offset,
                    rotor_direction dir) {
  ApplyPlan plan{};
  plan.positions = positions;
  plan.offset = offset;
  plan.batch = first.batch;
  plan.seq = first.seq;
  plan.inverse = dir == ROTOR_INVERSE;
  return plan;
}

}  // namespace
}  // namespace rotor

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_apply(rotor_table *t, const rotor_tensor *x, const int32_t *positions,
                                   uint32_t offset, rotor_direction dir, rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    // dir is read through its bytes until validated (see enum_bits): a C caller may pass any int.
    if (x == nullptr || !valid_direction(enum_bits(dir))) return ROTOR_ERR_INVALID_ARGUMENT;
    return rotor_apply_to(t, x, x, positions, offset, dir, pool);
  });
}

ROTOR_API rotor_status rotor_apply_to(rotor_table *t, const rotor_tensor *in, const rotor_tensor *out,
                                      const int32_t *positions, uint32_t offset, rotor_direction dir,
                                      rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || in == nullptr || out == nullptr || !valid_direction(enum_bits(dir)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    rotor_status status = check_in_out(*in, *out, table.config().rotary_dim);
    if (status != ROTOR_OK) return status;
    ApplyPlan plan = base_plan(*in, positions, offset, dir);
    plan.passes[0] = make_pass(*in, *out, table.config().pairing);
    plan.pass_count = 1;
    return run_with_table(table, plan, as_pool(pool));
  });
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
    ApplyPlan plan = base_plan(*q, positions, offset, dir);
    plan.passes[0] = make_pass(*q, *q, table.config().pairing);
    plan.passes[1] = make_pass(*k, *k, table.config().pairing);
    plan.pass_count = 2;
    return run_with_table(table, plan, as_pool(pool));
  });
}

ROTOR_API rotor_status rotor_apply_axes(rotor_table *t, const rotor_tensor *x, const int32_t *positions,
                                        rotor_direction dir, rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || x == nullptr || positions == nullptr || !valid_direction(enum_bits(dir)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    rotor_status status = check_in_out(*x, *x, table.config().rotary_dim);
    if (status != ROTOR_OK) return status;
    ApplyPlan plan = base_plan(*x, nullptr, 0, dir);
    plan.passes[0] = make_pass(*x, *x, table.config().pairing);
    plan.pass_count = 1;
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
    ApplyPlan plan = base_plan(*q, nullptr, 0, dir);
    plan.passes[0] = make_pass(*q, *q, table.config().pairing);
    plan.passes[1] = make_pass(*k, *k, table.config().pairing);
    plan.pass_count = 2;
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
    ApplyPlan plan = base_plan(*in, positions, offset, dir);
    uint32_t seq_len = 0;
    status = check_positions(positions, offset, plan.batch, plan.seq, rows, &seq_len);
    if (status != ROTOR_OK) return status;
    const uint32_t half = rotary_dim / 2;
    plan.rows = RowSource{cos, sin, half, half};
    plan.passes[0] = make_pass(*in, *out, pairing);
    plan.pass_count = 1;
    run_plan(plan, as_pool(pool));
    return ROTOR_OK;
  });
}

}  // extern "C"
