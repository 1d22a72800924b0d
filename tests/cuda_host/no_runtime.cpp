// Builds without CUDA: the host tests compile cuda/'s host side themselves, and the runtime's
// device operations are those of a machine with no device (every test installs a HostDevice).
#include "../../cuda/device_ops.hpp"

namespace rotor {
namespace cuda {
namespace {

uint32_t no_devices() { return 0; }
rotor_status fail_int(int) { return ROTOR_ERR_DEVICE; }
rotor_status fail_int_out(int *) { return ROTOR_ERR_DEVICE; }
rotor_status fail_alloc(void **, size_t) { return ROTOR_ERR_DEVICE; }
void ignore(void *) {}
rotor_status fail_copy(void *, const void *, size_t, void *) { return ROTOR_ERR_DEVICE; }
bool not_consumed(const void *) { return false; }
rotor_status fail_out(void **) { return ROTOR_ERR_DEVICE; }
rotor_status fail_two(void *, void *) { return ROTOR_ERR_DEVICE; }
rotor_status fail_one(void *) { return ROTOR_ERR_DEVICE; }
rotor_status fail_launch(const RotateLaunch &, void *) { return ROTOR_ERR_DEVICE; }
rotor_status fail_take(ErrorRecord *, ErrorRecord *, void *) { return ROTOR_ERR_DEVICE; }

}  // namespace

const DeviceOps &runtime_device_ops() {
  static const DeviceOps ops = {no_devices, fail_int_out, fail_int, fail_alloc, ignore,      fail_copy,
                                not_consumed, fail_copy,  fail_out, ignore,     fail_two,    fail_two,
                                fail_one,   fail_one,     fail_launch, fail_take};
  return ops;
}

}  // namespace cuda
}  // namespace rotor
