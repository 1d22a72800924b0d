#include "host_device.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>

#include "../../cuda/rotate_unit.hpp"

namespace host_device {

using rotor::cuda::DeviceOps;
using rotor::cuda::ErrorRecord;
using rotor::cuda::LaunchPlan;
using rotor::cuda::RotateLaunch;

namespace {

HostDevice *current = nullptr;

constexpr unsigned char kPoison = 0xa5;  // fresh device memory: NaN-like patterns, never zero
constexpr size_t kAllocAlignment = 256;  // cudaMalloc's guarantee

}  // namespace

void run_plan(const LaunchPlan &plan, uint64_t seed) {
  const uint64_t units = plan.args.units_total;
  if (units > (uint64_t{1} << 26)) {
    std::fprintf(stderr, "host_device: %llu units are too many for a host run\n", (unsigned long long)units);
    std::abort();
  }
  std::vector<uint64_t> order(static_cast<size_t>(units));
  std::iota(order.begin(), order.end(), uint64_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  rotor::cuda::with_kernel_variant(plan, [&](auto variant) {
    using Variant = decltype(variant);
    for (uint64_t unit : order)
      rotor::cuda::rotate_unit<typename Variant::Elem, Variant::kPairing, Variant::kVec>(plan.args, unit);
  });
}

HostDevice::HostDevice() {
  previous_device_ = current;
  current = this;
  previous_ops_ = rotor::cuda::install_device_ops(&ops());
}

HostDevice::~HostDevice() {
  pending_.clear();  // copies the test never let the device reach: their memory goes now
  rotor::cuda::install_device_ops(previous_ops_);
  current = previous_device_;
  for (auto &allocation : allocations_) std::free(allocation.first);
}

HostDevice &HostDevice::installed() { return *current; }

void HostDevice::fail(Op op, int after) {
  fail_with(op, after, op == kAlloc ? ROTOR_ERR_OUT_OF_MEMORY : ROTOR_ERR_DEVICE);
}

void HostDevice::fail_with(Op op, int after, rotor_status status) {
  failures_[op].after = after;
  failures_[op].status = status;
}

bool HostDevice::should_fail(Op op, rotor_status *status) {
  ++calls[op];
  Failure &f = failures_[op];
  if (f.after < 0) return false;
  if (f.after > 0) {
    --f.after;
    return false;
  }
  f.after = -1;
  *status = f.status;
  return true;
}

void HostDevice::pin(const void *p, size_t bytes) { pinned_[p] = bytes; }

bool HostDevice::pinned(const void *p, size_t bytes) const {
  const auto *c = static_cast<const unsigned char *>(p);
  for (const auto &range : pinned_) {
    const auto *base = static_cast<const unsigned char *>(range.first);
    if (c >= base && c + bytes <= base + range.second) return true;
  }
  return false;
}

void HostDevice::complete_copies_on(void *stream) {
  std::vector<Copy> later;
  for (const Copy &c : pending_) {
    if (stream == nullptr || c.stream == stream)
      std::memcpy(c.dst, c.src, c.bytes);
    else
      later.push_back(c);
  }
  pending_.swap(later);
}

void HostDevice::finish_copies() { complete_copies_on(nullptr); }

void HostDevice::clear_log() {
  std::fill(std::begin(calls), std::end(calls), 0);
  copies_to_device.clear();
  waits.clear();
  launches.clear();
}

bool HostDevice::inside_allocation(const void *p, size_t bytes) const {
  const auto *c = static_cast<const unsigned char *>(p);
  for (const auto &allocation : allocations_) {
    const auto *base = static_cast<const unsigned char *>(allocation.first);
    if (c >= base && c + bytes <= base + allocation.second) return true;
  }
  return false;
}

void *HostDevice::allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + kAllocAlignment - 1) / kAllocAlignment * kAllocAlignment;
  void *p = std::aligned_alloc(kAllocAlignment, rounded);
  if (p == nullptr) return nullptr;
  std::memset(p, kPoison, rounded);
  allocations_[p] = bytes;
  return p;
}

void HostDevice::release(void *p) {
  if (p == nullptr) return;
  const auto it = allocations_.find(p);
  if (it == allocations_.end()) {
    std::fprintf(stderr, "host_device: free of %p, which is not a live allocation\n", p);
    std::abort();
  }
  allocations_.erase(it);
  std::free(p);
}

namespace {

// Each operation: count it, fail it if armed, else do it at once.
#define HOST_DEVICE_CHECK(op)                              \
  rotor_status failure_ = ROTOR_OK;                        \
  if (current->should_fail(op, &failure_)) return failure_

uint32_t host_device_count() { return current->device_count; }

rotor_status host_current_device(int *device) {
  HOST_DEVICE_CHECK(kCurrentDevice);
  *device = current->current_device;
  return ROTOR_OK;
}

rotor_status set_device(int device) {
  HOST_DEVICE_CHECK(kSetDevice);
  current->current_device = device;
  return ROTOR_OK;
}

rotor_status alloc(void **out, size_t bytes) {
  HOST_DEVICE_CHECK(kAlloc);
  void *p = current->allocate(bytes);
  if (p == nullptr) return ROTOR_ERR_OUT_OF_MEMORY;
  *out = p;
  return ROTOR_OK;
}

// cudaFree waits for the device: every pending copy completes first.
void free_memory(void *p) {
  current->finish_copies();
  current->release(p);
}

rotor_status copy_to_device(void *dst, const void *src, size_t bytes, void *stream) {
  HOST_DEVICE_CHECK(kCopyToDevice);
  if (!current->inside_allocation(dst, bytes)) {
    std::fprintf(stderr, "host_device: copy of %zu bytes to %p, outside device memory\n", bytes, dst);
    std::abort();
  }
  current->complete_copies_on(stream);  // in stream order
  const Copy copy{dst, src, bytes, stream};
  if (current->pinned(src, bytes))
    current->defer(copy);
  else
    std::memcpy(dst, src, bytes);
  current->copies_to_device.push_back(copy);
  return ROTOR_OK;
}

bool copy_consumes_source(const void *src) { return !current->pinned(src, 1); }

rotor_status copy_to_host(void *dst, const void *src, size_t bytes, void *stream) {
  HOST_DEVICE_CHECK(kCopyToHost);
  current->complete_copies_on(stream);
  std::memcpy(dst, src, bytes);
  return ROTOR_OK;
}

// Events are small allocations of their own (so a leak shows in live_allocations()).
rotor_status event_create(void **out) {
  HOST_DEVICE_CHECK(kEventCreate);
  *out = current->allocate(1);
  return ROTOR_OK;
}

void event_destroy(void *event) {
  current->recorded_on.erase(event);
  current->release(event);
}

rotor_status event_record(void *event, void *stream) {
  HOST_DEVICE_CHECK(kEventRecord);
  current->recorded_on[event] = stream;
  return ROTOR_OK;
}

rotor_status stream_wait_event(void *stream, void *event) {
  HOST_DEVICE_CHECK(kStreamWait);
  current->waits.push_back(Wait{stream, event});
  return ROTOR_OK;
}

// Every copy recorded before the event is on the stream of its last record.
rotor_status event_sync(void *event) {
  HOST_DEVICE_CHECK(kEventSync);
  const auto it = current->recorded_on.find(event);
  if (it != current->recorded_on.end()) current->complete_copies_on(it->second);
  return ROTOR_OK;
}

rotor_status stream_sync(void *stream) {
  HOST_DEVICE_CHECK(kStreamSync);
  current->complete_copies_on(stream);
  return ROTOR_OK;
}

rotor_status launch_rotate(const RotateLaunch &launch, void *stream) {
  HOST_DEVICE_CHECK(kLaunchRotate);
  current->complete_copies_on(stream);
  const LaunchPlan plan = rotor::cuda::plan_launch(launch);
  // The rows a launch may read are device memory the mirror owns.
  const size_t row_bytes = size_t(launch.row_limit) * 2 * launch.half * sizeof(float);
  if (launch.row_limit != 0 && !current->inside_allocation(launch.rows, row_bytes)) {
    std::fprintf(stderr, "host_device: a launch names rows outside device memory\n");
    std::abort();
  }
  current->launches.push_back(plan);
  run_plan(plan, current->shuffle_seed++);
  return ROTOR_OK;
}

rotor_status launch_take_errors(ErrorRecord *record, ErrorRecord *taken, void *stream) {
  HOST_DEVICE_CHECK(kLaunchTakeErrors);
  current->complete_copies_on(stream);
  rotor::cuda::take_error_record(record, taken);
  return ROTOR_OK;
}

#undef HOST_DEVICE_CHECK

}  // namespace

const DeviceOps &HostDevice::ops() {
  static const DeviceOps table = {host_device_count, host_current_device, set_device,           alloc,
                                  free_memory,       copy_to_device,      copy_consumes_source, copy_to_host,
                                  event_create,      event_destroy,       event_record,         stream_wait_event,
                                  event_sync,        stream_sync,         launch_rotate,        launch_take_errors};
  return table;
}

}  // namespace host_device
