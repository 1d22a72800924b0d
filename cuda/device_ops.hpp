// The seam between the mirror / entry points and the device: the few device-memory operations
// they use, as a table of functions. The library uses the CUDA runtime's
// (cuda/device_ops_cuda.cpp); the host tests install one backed by plain memory whose copies
// complete at once (or, from memory a test declares page-locked, when the "device" reaches
// them) and whose launches run every unit of the kernel on the host
// (tests/cuda_host/host_device.cpp), so the mirror's decisions and every rotor_cuda_* status
// are tested without a GPU. Streams and events are opaque pointers (cudaStream_t,
// cudaEvent_t); nothing here needs a CUDA header.
//
// Every operation that can fail returns ROTOR_OK, ROTOR_ERR_OUT_OF_MEMORY (alloc only) or
// ROTOR_ERR_DEVICE, and leaves no error behind for the caller's next CUDA call.
#pragma once
#include <cstddef>

#include "launch.hpp"
#include "rotor/rotor.h"

namespace rotor {
namespace cuda {

struct DeviceOps {
  uint32_t (*device_count)();  // 0 when there is no device or no driver
  rotor_status (*current_device)(int *device);
  rotor_status (*set_device)(int device);
  rotor_status (*alloc)(void **out, size_t bytes);
  void (*free)(void *ptr);  // waits for the device to finish with ptr
  // Host to device, ordered on stream. From pageable memory the source has been read when it
  // returns (cudaMemcpyAsync stages it first); from page-locked memory (cudaHostAlloc,
  // cudaHostRegister) or managed memory the copy runs later, reading the source until it has
  // completed: see copy_consumes_source.
  rotor_status (*copy_to_device)(void *dst, const void *src, size_t bytes, void *stream);
  // Whether copy_to_device has read all of src when it returns (pageable memory): false for
  // page-locked and managed memory, and whenever the runtime cannot tell.
  bool (*copy_consumes_source)(const void *src);
  // Device to host, ordered on stream; complete only after stream_sync.
  rotor_status (*copy_to_host)(void *dst, const void *src, size_t bytes, void *stream);
  rotor_status (*event_create)(void **out);
  void (*event_destroy)(void *event);
  rotor_status (*event_record)(void *event, void *stream);
  rotor_status (*stream_wait_event)(void *stream, void *event);  // no host synchronisation
  // The host waits until the work ordered before the event's last record has completed.
  rotor_status (*event_sync)(void *event);
  rotor_status (*stream_sync)(void *stream);
  rotor_status (*launch_rotate)(const RotateLaunch &launch, void *stream);
  // *taken = *record, then *record = {0, -1}, ordered on stream.
  rotor_status (*launch_take_errors)(ErrorRecord *record, ErrorRecord *taken, void *stream);
};

// The operations in use: those installed by install_device_ops, else the runtime's.
const DeviceOps &device_ops();

// The CUDA runtime's operations (a build without the runtime has none: see the host tests).
const DeviceOps &runtime_device_ops();

// For tests: makes ops (nullptr: the runtime's) the operations every later call uses; returns
// the previous installation. Not for use while a call runs.
const DeviceOps *install_device_ops(const DeviceOps *ops);

}  // namespace cuda
}  // namespace rotor
