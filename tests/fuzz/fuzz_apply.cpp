// libFuzzer target for the rotation entry points: rotor_apply, rotor_apply_qk, rotor_apply_to and
// rotor_apply_cos_sin, with shapes, strides (consistent, padded, overlapping, negative, raw
// 64-bit), dtypes, pairings, directions, positions and offsets carved from the input.
//
// Properties checked on every call:
//  - the status is one of the enum's values;
//  - on any error, every byte of every caller buffer (tensors, positions, cos/sin rows) and of
//    the table's arena is unchanged;
//  - on success, every rotated pair agrees with a plain double-precision rotation of the
//    input by the rows the call used (the caller's rows, or the table's rows for that
//    sequence length read back with rotor_table_cos_sin), dims past rotary_dim are kept
//    (in place) or copied exactly (out of place), nothing outside the output views changed,
//    and the accepted views really had no overlapping heads;
//  - no access outside any buffer (AddressSanitizer), no undefined behaviour (UBSan).
#include <memory>

#include "c_shim.h"
#include "fuzz_common.hpp"
#include "fuzz_views.hpp"

namespace {

using fuzz::Block;
using fuzz::Operand;
using fuzz::Shape;
using fuzz::draw_shape;
using fuzz::make_operand;
using fuzz::require;

struct Call {
  int op = 0;  // 0 apply, 1 apply_qk, 2 apply_to, 3 apply_cos_sin
  int dir = 0;
  bool use_table = true;
  bool use_pool = false;
  std::vector<int32_t> positions;
  bool explicit_positions = false;
  uint32_t offset = 0;
  // apply_cos_sin's own rows
  uint32_t rows = 0, rotary_dim = 0;
  int pairing = 0;
  std::vector<float> cos, sin;
  bool null_rows = false;
};

// The rows a successful call used for positions [0, seq_len): cos then sin, [seq_len][half].
struct Rows {
  std::vector<float> cos, sin;
  uint32_t half = 0;
};

// Checks one tensor a successful call rotated (in place, or out of place from `from`).
void check_rotation(const Operand &from, const Operand &to, bool in_place, const Rows &rows, const Call &call,
                    int pairing) {
  const rotor_tensor &vin = from.view, &vout = to.view;
  const uint32_t rotary = 2 * rows.half;
  const unsigned char *before = in_place ? to.block.before().data() : from.block.data();
  const int64_t in_shift = static_cast<const unsigned char *>(vin.data) -
                           (in_place ? to.block.data() : from.block.data());
  const double sign = call.dir == ROTOR_INVERSE ? -1.0 : 1.0;
  for (uint32_t b = 0; b < vin.batch; ++b)
    for (uint32_t s = 0; s < vin.seq; ++s) {
      const uint32_t p = call.explicit_positions ? uint32_t(call.positions[size_t(b) * vin.seq + s]) : call.offset + s;
      for (uint32_t h = 0; h < vin.heads; ++h) {
        const int64_t at_in = fuzz::offset_of(vin, b, s, h, 0), at_out = fuzz::offset_of(vout, b, s, h, 0);
        for (uint32_t i = 0; i < rows.half; ++i) {
          const uint32_t ia = pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
          const uint32_t ib = pairing == ROTOR_PAIRING_HALF ? i + rows.half : 2 * i + 1;
          const double a = fuzz::load(before + in_shift, from.dtype, at_in + ia);
          const double bb = fuzz::load(before + in_shift, from.dtype, at_in + ib);
          const double c = rows.cos[size_t(p) * rows.half + i], sn = sign * rows.sin[size_t(p) * rows.half + i];
          const double got_a = fuzz::load(vout.data, to.dtype, at_out + ia);
          const double got_b = fuzz::load(vout.data, to.dtype, at_out + ib);
          const double want_a = a * c - bb * sn, want_b = bb * c + a * sn;
          if (std::fabs(want_a) >= fuzz::dtype_max(to.dtype) * 0.99 ||
              std::fabs(want_b) >= fuzz::dtype_max(to.dtype) * 0.99)
            continue;  // rounds to infinity, or nearly: no cheap bound
          fuzz::check_pair(a, bb, c, sn, got_a, got_b, to.dtype, "rotated pair differs from the reference");
          fuzz::count("pair checked");
        }
        // Dims past rotary_dim: bytes as they were (in place) or copied exactly.
        const size_t elem = fuzz::elem_size(to.dtype);
        const size_t tail = (vin.head_dim - rotary) * elem;
        const unsigned char *src = before + in_shift + (at_in + rotary) * int64_t(elem);
        const unsigned char *dst = static_cast<const unsigned char *>(vout.data) + (at_out + rotary) * int64_t(elem);
        require(std::memcmp(src, dst, tail) == 0, "dims past rotary_dim changed");
      }
    }
}

// Bytes of `op`'s block outside the views in `written` must be as they were.
void check_outside(const Operand &op, const std::vector<const rotor_tensor *> &written) {
  std::vector<bool> mask(op.block.size(), false);
  for (const rotor_tensor *v : written) fuzz::mark_view(*v, op.block.data(), &mask);
  for (size_t i = 0; i < op.block.size(); ++i)
    if (!mask[i]) require(op.block.data()[i] == op.block.before()[i], "byte outside the output view changed", (long long)i);
}

Rows rows_for_call(rotor_table *t, const Call &call, uint32_t seq_len, uint32_t half) {
  Rows rows;
  rows.half = half;
  if (call.op == 3) {
    rows.cos = call.cos;
    rows.sin = call.sin;
    return rows;
  }
  rows.cos.resize(size_t(seq_len) * half);
  rows.sin.resize(rows.cos.size());
  const rotor_status s = fz_table_cos_sin(t, 0, seq_len, ROTOR_DTYPE_F32, 0, rows.cos.data(), rows.sin.data());
  require(s == ROTOR_OK, "cos_sin for the rows of a successful call failed", s);
  return rows;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  fuzz::SmallTable st;
  fuzz::make_small_table(in, &st);
  const uint32_t rotary_dim = st.cfg.rotary_dim;

  Call call;
  call.op = in.ConsumeIntegralInRange<int>(0, 3);
  call.dir = fuzz::enum_value(in, 2);
  call.use_table = in.ConsumeIntegral<uint8_t>() != 0;
  call.use_pool = in.ConsumeIntegralInRange<uint8_t>(0, 3) == 0;
  const int dtype = fuzz::enum_value(in, 3);

  // apply_cos_sin brings its own rows and rotary_dim.
  if (call.op == 3) {
    call.rows = in.ConsumeIntegralInRange<uint32_t>(0, 300);
    call.rotary_dim = in.ConsumeIntegral<uint8_t>() < 240 ? rotary_dim : in.ConsumeIntegralInRange<uint32_t>(0, 70);
    call.pairing = fuzz::enum_value(in, 2);
    const size_t half = call.rotary_dim / 2;
    call.cos.resize(size_t(call.rows) * half);
    call.sin.resize(call.cos.size());
    for (size_t i = 0; i < call.cos.size(); ++i) {
      call.cos[i] = float(in.ConsumeIntegralInRange<int>(-64, 64)) / 48.0f;
      call.sin[i] = float(in.ConsumeIntegralInRange<int>(-64, 64)) / 48.0f;
    }
    call.null_rows = in.ConsumeIntegral<uint8_t>() == 0;
  }
  const uint32_t shape_rotary = call.op == 3 ? call.rotary_dim : rotary_dim;

  const Shape shape = draw_shape(in, shape_rotary);
  Operand x = make_operand(in, shape, dtype);
  Operand second;  // k (apply_qk) or out (apply_to, apply_cos_sin)
  bool second_is_x = false;  // out is x itself (in place through apply_to / apply_cos_sin)
  if (call.op == 1) {
    Shape k_shape = shape;
    k_shape.heads = in.ConsumeIntegralInRange<uint32_t>(1, 4);
    if (in.ConsumeIntegral<uint8_t>() < 16) k_shape = draw_shape(in, shape_rotary);
    second = make_operand(in, k_shape, fuzz::enum_value(in, 3));
    if (in.ConsumeIntegral<uint8_t>() < 8) second_is_x = true;  // q and k the same tensor
  } else if (call.op >= 2) {
    Shape out_shape = shape;
    if (in.ConsumeIntegral<uint8_t>() < 16) out_shape = draw_shape(in, shape_rotary);
    const int out_dtype = in.ConsumeIntegral<uint8_t>() < 16 ? fuzz::enum_value(in, 3) : dtype;
    second = make_operand(in, out_shape, out_dtype);
    second_is_x = in.ConsumeIntegral<uint8_t>() < 64;
  }
  const Operand &second_ref = second_is_x ? x : second;

  // Positions: an explicit array (exactly batch * seq values) or offset + s.
  const uint64_t tokens = uint64_t{shape.batch} * shape.seq;
  const uint32_t limit = call.op == 3 ? call.rows : st.cfg.max_len;
  call.explicit_positions = in.ConsumeBool() && tokens <= 4096;
  if (call.explicit_positions) {
    call.positions.resize(size_t(tokens));
    for (int32_t &p : call.positions) {
      const uint8_t kind = in.ConsumeIntegral<uint8_t>();
      p = kind < 250 ? int32_t(in.ConsumeIntegralInRange<uint32_t>(0, limit ? limit - 1 : 0))
                     : in.ConsumeIntegral<int32_t>();
    }
  } else {
    const uint8_t kind = in.ConsumeIntegral<uint8_t>();
    call.offset = kind < 240 ? in.ConsumeIntegralInRange<uint32_t>(0, limit) : in.ConsumeIntegral<uint32_t>();
  }
  // A view whose memory is not there may only reach the library in a call that must fail
  // before touching it: force an out-of-range position (checked before any write).
  const bool unbacked = (!x.backed) || ((call.op >= 1) && !second_ref.backed);
  if (unbacked) {
    call.explicit_positions = false;
    call.positions.clear();
    call.offset = UINT32_MAX;
  }

  // Snapshots of everything the caller owns.
  x.block.snapshot();
  second.block.snapshot();
  st.arena.snapshot();
  const std::vector<int32_t> positions_before = call.positions;
  const std::vector<float> cos_before = call.cos, sin_before = call.sin;
  const rotor_table_stats stats_before = fuzz::table_stats(st.table);

  rotor_table *table = call.use_table ? st.table : nullptr;
  rotor_pool *pool = call.use_pool ? fuzz::shared_pool(2) : nullptr;
  const int32_t *pos = call.explicit_positions ? call.positions.data() : nullptr;
  const rotor_tensor *second_view = &second_ref.view;
  rotor_status status;
  switch (call.op) {
    case 0: status = fz_apply(table, &x.view, pos, call.offset, call.dir, pool); break;
    case 1: status = fz_apply_qk(table, &x.view, second_view, pos, call.offset, call.dir, pool); break;
    case 2: status = fz_apply_to(table, &x.view, second_view, pos, call.offset, call.dir, pool); break;
    default:
      status = fz_apply_cos_sin(call.null_rows ? nullptr : call.cos.data(), call.sin.data(), call.rows,
                                call.rotary_dim, call.pairing, &x.view, second_view, pos, call.offset, call.dir,
                                pool);
      break;
  }
  fuzz::check_status(status);
  require(positions_before == call.positions, "positions changed");
  require(cos_before == call.cos && sin_before == call.sin, "caller's cos/sin rows changed");
  if (unbacked) require(status != ROTOR_OK, "a call over memory that is not there succeeded");

  fuzz::count(status == ROTOR_OK ? "call ok" : "call error");
  if (status != ROTOR_OK) {
    require(x.block.unchanged(), "tensor changed on error", status, call.op);
    require(second.block.unchanged(), "second tensor changed on error", status, call.op);
    // A failed call changes nothing in the table either: not a row, not a lock word.
    require(st.arena.unchanged(), "table arena changed on error", status, call.op);
    const rotor_table_stats after = fuzz::table_stats(st.table);
    require(after.rows == stats_before.rows && after.grow_events == stats_before.grow_events, "table grew on error");
    rotor_table_destroy(st.table);
    return 0;
  }

  // Success: the views were valid by the header's rules, so these are backed and consistent.
  require(x.exact_contract_valid && !fuzz::heads_overlap(x.view), "accepted view has overlapping heads");
  uint32_t seq_len = 0;
  for (uint32_t b = 0; b < shape.batch; ++b)
    for (uint32_t s = 0; s < shape.seq; ++s) {
      const int64_t p = call.explicit_positions ? call.positions[size_t(b) * shape.seq + s] : int64_t{call.offset} + s;
      require(p >= 0 && p < int64_t{limit}, "accepted a position out of range", p, limit);
      seq_len = std::max(seq_len, uint32_t(p) + 1);
    }
  const int pairing = call.op == 3 ? call.pairing : st.pairing;
  const uint32_t half = (call.op == 3 ? call.rotary_dim : rotary_dim) / 2;
  const Rows rows = rows_for_call(st.table, call, seq_len, half);
  if (call.op == 0) {
    check_rotation(x, x, true, rows, call, pairing);
    check_outside(x, {&x.view});
  } else if (call.op == 1) {
    require(!second_is_x && !fuzz::heads_overlap(second.view), "accepted q == k or overlapping k heads");
    check_rotation(x, x, true, rows, call, pairing);
    check_rotation(second, second, true, rows, call, pairing);
    check_outside(x, {&x.view});
    check_outside(second, {&second.view});
  } else if (second_is_x) {  // out is in: in place
    check_rotation(x, x, true, rows, call, pairing);
    check_outside(x, {&x.view});
  } else {
    require(x.block.unchanged(), "input of an out-of-place call changed");
    check_rotation(x, second, false, rows, call, pairing);
    check_outside(second, {&second.view});
  }
  rotor_table_destroy(st.table);
  return 0;
}
