#include "device_ops.hpp"

#include <atomic>

namespace rotor {
namespace cuda {

namespace {
std::atomic<const DeviceOps *> installed{nullptr};
}  // namespace

const DeviceOps &device_ops() {
  const DeviceOps *ops = installed.load(std::memory_order_acquire);
  return ops != nullptr ? *ops : runtime_device_ops();
}

const DeviceOps *install_device_ops(const DeviceOps *ops) {
  return installed.exchange(ops, std::memory_order_acq_rel);
}

}  // namespace cuda
}  // namespace rotor
