// The C entry points of rotor_cuda.h (CUDA builds): validate everything on the host, then
// refresh the mirror and launch, under the mirror's lock, on its device. Device work goes
// through device_ops() (cuda/device_ops.hpp): the CUDA runtime, or the host tests' stand-in.
#include <mutex>

#include "apply/tensor_view.hpp"
#include "capi/guard.hpp"
#include "common/enum_bits.hpp"
#include "device_ops.hpp"
#include "launch.hpp"
#include "mirror.hpp"
#include "rotor/rotor_cuda.h"
#include "table/config.hpp"
#include "table/table.hpp"

namespace rotor {
namespace cuda {
namespace {

rotor_status check_tensor(const rotor_tensor &x, uint32_t rotary_dim) {
  const rotor_status status = validate_view(x);
  if (status != ROTOR_OK) return status;
  return x.head_dim < rotary_dim ? ROTOR_ERR_INVALID_ARGUMENT : ROTOR_OK;
}

DeviceTensor device_tensor(const rotor_tensor &x) {
  return DeviceTensor{x.data, x.stride_batch, x.stride_seq, x.stride_head, x.heads};
}

// rotor_cuda_apply (second == NULL) and rotor_cuda_apply_qk.
rotor_status rotate(rotor_cuda_table *handle, const rotor_tensor *first, const rotor_tensor *second,
                    const int32_t *positions, uint32_t offset, rotor_direction dir, void *stream) {
  // The direction is read through its bytes: a C caller may have stored any int in it.
  if (handle == nullptr || first == nullptr || !valid_direction(enum_bits(dir))) return ROTOR_ERR_INVALID_ARGUMENT;
  Mirror &mirror = *as_mirror(handle);
  const rotor_config &cfg = mirror.host().config();
  rotor_status status = check_tensor(*first, cfg.rotary_dim);
  if (status != ROTOR_OK) return status;
  if (second != nullptr) {
    if ((status = check_tensor(*second, cfg.rotary_dim)) != ROTOR_OK) return status;
    // One launch serves both: same tokens and element type; no shared element, since they run
    // at once. Q and K of a fused QKV buffer interleave token by token: views_disjoint (the
    // host path's own check) accepts them, a plain byte-range test would not.
    if (second->batch != first->batch || second->seq != first->seq || second->dtype != first->dtype ||
        !views_disjoint(*first, *second))
      return ROTOR_ERR_INVALID_ARGUMENT;
  }
  if (reinterpret_cast<uintptr_t>(positions) % alignof(int32_t) != 0) return ROTOR_ERR_INVALID_ARGUMENT;
  uint32_t seq_len = 0;  // 0: device positions, served by the rows the mirror holds
  if (positions == nullptr) {
    const uint64_t last = uint64_t{offset} + first->seq;
    if (last > mirror.host().max_len()) return ROTOR_ERR_OUT_OF_RANGE;
    seq_len = static_cast<uint32_t>(last);
  }

  std::lock_guard<std::mutex> lock(mirror.mutex());
  DeviceScope scope(mirror.device());
  if (!scope.ok()) return ROTOR_ERR_DEVICE;
  if ((status = mirror.refresh_locked(seq_len, stream)) != ROTOR_OK) return status;

  RotateLaunch launch{};
  launch.tensors[0] = device_tensor(*first);
  launch.tensor_count = 1;
  if (second != nullptr) {
    launch.tensors[1] = device_tensor(*second);
    launch.tensor_count = 2;
  }
  launch.dtype = first->dtype;
  launch.pairing = cfg.pairing;
  launch.batch = first->batch;
  launch.seq = first->seq;
  launch.rows = mirror.device_rows();
  launch.half = cfg.rotary_dim / 2;
  launch.row_limit = mirror.rows_held();
  launch.positions = positions;
  launch.offset = offset;
  launch.inverse = dir == ROTOR_INVERSE;
  launch.errors = mirror.error_record();
  return device_ops().launch_rotate(launch, stream);
}

}  // namespace
}  // namespace cuda
}  // namespace rotor

using rotor::cuda::device_ops;
using rotor::cuda::DeviceOps;
using rotor::cuda::DeviceScope;
using rotor::cuda::ErrorRecord;
using rotor::cuda::Mirror;
using rotor::guarded;
using rotor::guarded_void;

extern "C" {

ROTOR_API rotor_status rotor_cuda_device_count(uint32_t *count) {
  return guarded([&]() -> rotor_status {
    if (count == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    *count = device_ops().device_count();
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_cuda_table_create(rotor_cuda_table **out, rotor_table *host, void *stream) {
  return guarded([&]() -> rotor_status {
    if (out == nullptr || host == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    Mirror *mirror = nullptr;
    const rotor_status status = Mirror::create(*as_table(host), stream, &mirror);
    if (status == ROTOR_OK) *out = as_handle(mirror);
    return status;
  });
}

ROTOR_API void rotor_cuda_table_destroy(rotor_cuda_table *t) {
  guarded_void([&] { Mirror::destroy(as_mirror(t)); });
}

ROTOR_API rotor_status rotor_cuda_table_sync(rotor_cuda_table *t, uint32_t seq_len, void *stream) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || seq_len == 0) return ROTOR_ERR_INVALID_ARGUMENT;
    Mirror &mirror = *as_mirror(t);
    if (seq_len > mirror.host().max_len()) return ROTOR_ERR_OUT_OF_RANGE;
    std::lock_guard<std::mutex> lock(mirror.mutex());
    DeviceScope scope(mirror.device());
    if (!scope.ok()) return ROTOR_ERR_DEVICE;
    return mirror.refresh_locked(seq_len, stream);
  });
}

ROTOR_API rotor_status rotor_cuda_table_rows(rotor_cuda_table *t, uint32_t *rows) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || rows == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    Mirror &mirror = *as_mirror(t);
    std::lock_guard<std::mutex> lock(mirror.mutex());
    *rows = mirror.rows_held();
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_cuda_table_take_errors(rotor_cuda_table *t, void *stream, uint32_t *skipped_tokens,
                                                    int32_t *position) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || skipped_tokens == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    Mirror &mirror = *as_mirror(t);
    std::lock_guard<std::mutex> lock(mirror.mutex());
    DeviceScope scope(mirror.device());
    if (!scope.ok()) return ROTOR_ERR_DEVICE;
    const DeviceOps &ops = device_ops();
    ErrorRecord taken{};
    if (ops.launch_take_errors(mirror.error_record(), mirror.taken_record(), stream) != ROTOR_OK ||
        ops.copy_to_host(&taken, mirror.taken_record(), sizeof taken, stream) != ROTOR_OK ||
        ops.stream_sync(stream) != ROTOR_OK)
      return ROTOR_ERR_DEVICE;
    *skipped_tokens = taken.skipped_tokens;
    if (position != nullptr) *position = taken.position;
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_cuda_apply(rotor_cuda_table *t, const rotor_tensor *x, const int32_t *positions_device,
                                        uint32_t offset, rotor_direction dir, void *stream) {
  return guarded([&]() -> rotor_status {
    return rotor::cuda::rotate(t, x, nullptr, positions_device, offset, dir, stream);
  });
}

ROTOR_API rotor_status rotor_cuda_apply_qk(rotor_cuda_table *t, const rotor_tensor *q, const rotor_tensor *k,
                                           const int32_t *positions_device, uint32_t offset, rotor_direction dir,
                                           void *stream) {
  return guarded([&]() -> rotor_status {
    if (k == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    return rotor::cuda::rotate(t, q, k, positions_device, offset, dir, stream);
  });
}

}  // extern "C"
