#include "mirror.hpp"

#include <new>

#include "common/checked_math.hpp"

namespace rotor {
namespace cuda {

namespace {

// Copies bytes of leased host rows to dst on stream, records `copied` after them, and returns
// once the lease may be released (and a rescale rebuild those rows): at once when the copy has
// read the rows as it returned (pageable memory, which the runtime stages), else after the copy
// has completed (a page-locked arena, cudaHostAlloc as on Jetson, or managed memory: the copy
// engine reads the rows while it runs). Waiting for every copy would make each call that finds
// new rows a host synchronisation with the caller's stream, for pageable tables (the default)
// to no purpose. A copy that reads the rows is waited for even when a later step fails.
rotor_status copy_leased_rows(void *dst, const void *src, size_t bytes, void *stream, void *copied) {
  const DeviceOps &ops = device_ops();
  if (ops.copy_to_device(dst, src, bytes, stream) != ROTOR_OK) return ROTOR_ERR_DEVICE;
  rotor_status status = ops.event_record(copied, stream);
  if (!ops.copy_consumes_source(src)) {
    const rotor_status waited = status == ROTOR_OK ? ops.event_sync(copied) : ops.stream_sync(stream);
    if (waited != ROTOR_OK) status = waited;
  }
  return status == ROTOR_OK ? ROTOR_OK : ROTOR_ERR_DEVICE;
}

}  // namespace

DeviceScope::DeviceScope(int device) {
  const DeviceOps &ops = device_ops();
  if (ops.current_device(&previous_) != ROTOR_OK) return;
  if (previous_ != device) {
    if (ops.set_device(device) != ROTOR_OK) return;
    switched_ = true;
  }
  ok_ = true;
}

DeviceScope::~DeviceScope() {
  if (switched_) device_ops().set_device(previous_);
}

rotor_status Mirror::create(Table &host, void *stream, Mirror **out) {
  const DeviceOps &ops = device_ops();
  if (ops.device_count() == 0) return ROTOR_ERR_DEVICE;
  uint64_t row_bytes;
  if (mul_overflows(uint64_t{host.max_len()}, uint64_t{host.config().rotary_dim} * sizeof(float), &row_bytes) ||
      row_bytes > SIZE_MAX)
    return ROTOR_ERR_OUT_OF_MEMORY;

  Mirror *mirror = new (std::nothrow) Mirror(host);
  if (mirror == nullptr) return ROTOR_ERR_OUT_OF_MEMORY;
  rotor_status status = ops.current_device(&mirror->device_);
  void *memory = nullptr;
  if (status == ROTOR_OK && (status = ops.alloc(&memory, size_t(row_bytes))) == ROTOR_OK)
    mirror->rows_ = static_cast<float *>(memory);
  if (status == ROTOR_OK && (status = ops.alloc(&memory, 2 * sizeof(ErrorRecord))) == ROTOR_OK)
    mirror->errors_ = static_cast<ErrorRecord *>(memory);
  if (status == ROTOR_OK) status = ops.event_create(&mirror->copied_);
  if (status == ROTOR_OK) {
    // The source lives on this stack frame, pageable memory: the copy has read it when it returns.
    const ErrorRecord empty[2] = {{0u, -1}, {0u, -1}};
    status = ops.copy_to_device(mirror->errors_, empty, sizeof empty, stream);
  }
  if (status == ROTOR_OK) {
    std::lock_guard<std::mutex> lock(mirror->mutex_);
    status = mirror->refresh_locked(0, stream);
  }
  if (status != ROTOR_OK) {
    destroy(mirror);
    return status;
  }
  *out = mirror;
  return ROTOR_OK;
}

void Mirror::release_device_memory() {
  DeviceScope scope(device_);
  const DeviceOps &ops = device_ops();
  if (copied_ != nullptr) ops.event_destroy(copied_);
  if (errors_ != nullptr) ops.free(errors_);
  if (rows_ != nullptr) ops.free(rows_);
  copied_ = nullptr;
  errors_ = nullptr;
  rows_ = nullptr;
}

void Mirror::destroy(Mirror *mirror) {
  if (mirror == nullptr) return;
  mirror->release_device_memory();
  delete mirror;
}

rotor_status Mirror::refresh_locked(uint32_t seq_len, void *stream) {
  const DeviceOps &ops = device_ops();
  const uint32_t want = seq_len != 0 ? seq_len : declared_len_;
  RowsLease lease;
  host_.lease(want, &lease);
  // Rows the leased set has published (all of them valid while the lease pins the set):
  // adaptive tables pin the set and we read its count; a one-off set serves this call's
  // length; a table that never rescales has one append-only set, whose count stats reports.
  uint32_t published;
  if (lease.holds_one_off) {
    published = want;
  } else if (lease.pinned != nullptr) {
    published = lease.pinned->published.load(std::memory_order_acquire);
  } else {
    rotor_table_stats stats{};
    stats.struct_size = sizeof stats;
    host_.stats(&stats);
    published = stats.rows;
  }

  const bool full = !valid_ || one_off_ || lease.holds_one_off || lease.epoch != epoch_;
  const uint32_t first = full ? 0 : rows_held_;
  rotor_status status = ROTOR_OK;
  if (published > first) {
    const size_t row_floats = size_t{2} * lease.half;
    const size_t bytes = size_t(published - first) * row_floats * sizeof(float);
    if (copy_leased_rows(rows_ + first * row_floats, lease.rows + first * row_floats, bytes, stream, copied_) ==
        ROTOR_OK) {
      copy_stream_ = stream;
      copied_once_ = true;
      valid_ = true;
      epoch_ = lease.epoch;
      one_off_ = lease.holds_one_off;
      rows_held_ = published;
    } else {
      // A partial full copy leaves rows of two epochs: serve nothing until a copy succeeds.
      if (full) valid_ = false;
      status = ROTOR_ERR_DEVICE;
    }
  } else if (full) {
    // Nothing to copy (a set with fewer rows than first cannot happen when full: first is 0).
    valid_ = true;
    epoch_ = lease.epoch;
    one_off_ = lease.holds_one_off;
    rows_held_ = published;
  }
  host_.release(&lease);
  if (status != ROTOR_OK) return status;
  if (seq_len != 0) declared_len_ = seq_len;
  if (copied_once_ && copy_stream_ != stream && ops.stream_wait_event(stream, copied_) != ROTOR_OK)
    return ROTOR_ERR_DEVICE;
  return ROTOR_OK;
}

}  // namespace cuda
}  // namespace rotor
