// The device mirror of a host table: device memory for max_len rows taken once, and the
// bookkeeping that decides which host rows to copy before a launch.
//
// What the mirror holds is described by (epoch, one_off, rows): the rows [0, rows) of the host
// row set of that epoch. A refresh leases the host rows a call needs (growing or rescaling the
// host table exactly as a host call of that sequence length would), then copies
//   - nothing, when the leased set is the mirrored one and has no rows past `rows`;
//   - rows [rows, published), when the set grew;
//   - rows [0, published), when the host table rescaled (another epoch) or the lease is a
//     one-off (NTK outlier rows that serve one call and are never the table's own).
// The copy is enqueued while the lease pins the host rows, and the lease is released once the
// copy no longer reads them: right after the enqueue from pageable memory (the runtime has
// staged the rows), after the copy has completed (an event waited for) from page-locked or
// managed memory (cuda/device_ops.hpp, copy_consumes_source).
// Every device operation goes through device_ops(), so the host tests run these decisions.
#pragma once
#include <cstdint>
#include <mutex>

#include "device_ops.hpp"
#include "launch.hpp"
#include "rotor/rotor_cuda.h"
#include "table/table.hpp"

namespace rotor {
namespace cuda {

class Mirror {
 public:
  // Errors: OUT_OF_MEMORY, DEVICE. On error nothing is left allocated.
  static rotor_status create(Table &host, void *stream, Mirror **out);
  // Frees the device memory and the mirror.
  static void destroy(Mirror *mirror);

  // Calls on one mirror hold this while they refresh and launch.
  std::mutex &mutex() { return mutex_; }

  // Under mutex(), with the mirror's device current: makes the mirror serve positions
  // [0, seq_len) (seq_len 0: the length last given, for calls with device positions) and makes
  // stream wait for the last copy if another stream made it. Errors: DEVICE.
  rotor_status refresh_locked(uint32_t seq_len, void *stream);

  int device() const { return device_; }
  const float *device_rows() const { return rows_; }
  uint32_t rows_held() const { return valid_ ? rows_held_ : 0; }
  ErrorRecord *error_record() { return errors_; }
  ErrorRecord *taken_record() { return errors_ + 1; }
  Table &host() { return host_; }

 private:
  explicit Mirror(Table &host) : host_(host) {}
  ~Mirror() = default;
  // Frees whatever create obtained (safe on a partly built mirror).
  void release_device_memory();

  Table &host_;
  int device_ = 0;
  float *rows_ = nullptr;            // max_len rows of r floats, device memory
  ErrorRecord *errors_ = nullptr;    // [0]: the record the kernels update; [1]: a take's result
  void *copied_ = nullptr;           // event recorded after each copy
  void *copy_stream_ = nullptr;      // the stream of the last copy
  bool copied_once_ = false;

  bool valid_ = false;      // false until the first copy succeeds (and after a failed one)
  uint64_t epoch_ = 0;
  bool one_off_ = false;
  uint32_t rows_held_ = 0;
  uint32_t declared_len_ = 1;  // sequence length for calls with device positions
  std::mutex mutex_;
};

// Makes the mirror's device current for a scope and restores the caller's on exit.
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope &) = delete;
  DeviceScope &operator=(const DeviceScope &) = delete;
  bool ok() const { return ok_; }

 private:
  int previous_ = -1;
  bool switched_ = false;
  bool ok_ = false;
};

}  // namespace cuda
}  // namespace rotor

// The opaque C handle is the mirror itself.
inline rotor::cuda::Mirror *as_mirror(rotor_cuda_table *t) { return reinterpret_cast<rotor::cuda::Mirror *>(t); }
inline rotor_cuda_table *as_handle(rotor::cuda::Mirror *m) { return reinterpret_cast<rotor_cuda_table *>(m); }
