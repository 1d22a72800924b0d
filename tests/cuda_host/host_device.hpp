// A stand-in for a GPU behind the device-operations seam (cuda/device_ops.hpp), for tests:
// "device" memory is host memory (aligned like cudaMalloc's, filled with a poison pattern),
// copies complete at once (those from memory a test declared page-locked with pin() complete
// when the "device" reaches them, as on a GPU: see pin()), and a launch runs every unit of the
// planned kernel with the kernels' own per-thread body (cuda/rotate_unit.hpp) in a shuffled
// order, so no result may depend on the order of units (on a GPU they run in any order and at
// once).
//
// It records what the mirror and the entry points ask of the device (copies, event records,
// waits, synchronisations, launches and their plans) and can make any operation fail, so the
// tests can check the mirror's decisions and every status of rotor_cuda.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "../../cuda/device_ops.hpp"
#include "../../cuda/launch.hpp"

namespace host_device {

enum Op {
  kCurrentDevice,
  kSetDevice,
  kAlloc,
  kCopyToDevice,
  kCopyToHost,
  kEventCreate,
  kEventRecord,
  kStreamWait,
  kEventSync,
  kStreamSync,
  kLaunchRotate,
  kLaunchTakeErrors,
  kOpCount
};

struct Copy {
  void *dst;
  const void *src;
  size_t bytes;
  void *stream;
};

struct Wait {
  void *stream;
  void *event;
};

// Runs every unit of plan on the host, in an order shuffled with seed.
void run_plan(const rotor::cuda::LaunchPlan &plan, uint64_t seed);

// The device. One at a time is installed (install() / the destructor restore the previous).
class HostDevice {
 public:
  HostDevice();
  ~HostDevice();
  HostDevice(const HostDevice &) = delete;
  HostDevice &operator=(const HostDevice &) = delete;

  // Declares [p, p + bytes) page-locked host memory (cudaHostAlloc, cudaHostRegister): a copy
  // to the device from it is not done when copy_to_device returns but when the device gets to
  // it: at a later operation on its stream (a launch, a copy, a stream synchronisation), an
  // event_sync of an event recorded after it on its stream, a free, or finish_copies(). What
  // the source holds then is what the device gets.
  void pin(const void *p, size_t bytes);
  // Completes every copy still pending, as a GPU eventually does.
  void finish_copies();
  size_t pending_copies() const { return pending_.size(); }

  // The next call of op after `after` successful ones fails (with `status`: DEVICE, or
  // OUT_OF_MEMORY for kAlloc by default).
  void fail(Op op, int after = 0);
  void fail_with(Op op, int after, rotor_status status);

  uint32_t device_count = 1;
  int current_device = 0;
  uint64_t shuffle_seed = 1;

  // What was asked, in order.
  int calls[kOpCount] = {};
  std::vector<Copy> copies_to_device;
  std::vector<Wait> waits;
  std::vector<rotor::cuda::LaunchPlan> launches;
  std::map<void *, void *> recorded_on;  // event -> stream of its last record
  void clear_log();

  // Bytes of device memory still allocated (0 after every mirror is destroyed).
  size_t live_allocations() const { return allocations_.size(); }
  // Whether [p, p + bytes) lies inside one live allocation.
  bool inside_allocation(const void *p, size_t bytes) const;

  // The operation table the seam calls (static functions forwarding to the installed device).
  static const rotor::cuda::DeviceOps &ops();
  static HostDevice &installed();

  // Internal: whether a call of op fails now (counts the call).
  bool should_fail(Op op, rotor_status *status);
  bool pinned(const void *p, size_t bytes) const;
  void defer(const Copy &copy) { pending_.push_back(copy); }
  // Completes the pending copies ordered on stream (nullptr: on every stream), oldest first.
  void complete_copies_on(void *stream);
  void *allocate(size_t bytes);
  void release(void *p);

 private:
  struct Failure {
    int after = -1;  // -1: none armed
    rotor_status status = ROTOR_OK;
  };
  Failure failures_[kOpCount];
  std::map<void *, size_t> allocations_;
  std::map<const void *, size_t> pinned_;
  std::vector<Copy> pending_;
  const rotor::cuda::DeviceOps *previous_ops_ = nullptr;
  HostDevice *previous_device_ = nullptr;
};

}  // namespace host_device
