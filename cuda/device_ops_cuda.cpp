// The device operations of cuda/device_ops.hpp on the CUDA runtime.
#include <cuda_runtime_api.h>

#include "device_ops.hpp"
#include "rotate_kernels.hpp"

namespace rotor {
namespace cuda {
namespace {

cudaStream_t as_stream(void *stream) { return static_cast<cudaStream_t>(stream); }

// A failed runtime call as a status. cudaGetLastError clears a non-sticky error (no device, an
// invalid argument) so it is not reported again by the caller's next CUDA call.
rotor_status status_of(cudaError_t e) {
  if (e == cudaSuccess) return ROTOR_OK;
  cudaGetLastError();
  return e == cudaErrorMemoryAllocation ? ROTOR_ERR_OUT_OF_MEMORY : ROTOR_ERR_DEVICE;
}

// Failures other than allocation are DEVICE, whatever the runtime says.
rotor_status device_status(cudaError_t e) {
  return status_of(e) == ROTOR_OK ? ROTOR_OK : ROTOR_ERR_DEVICE;
}

uint32_t device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: a count of 0, and no error left behind
    return 0;
  }
  return uint32_t(n);
}

rotor_status current_device(int *device) { return device_status(cudaGetDevice(device)); }
rotor_status set_device(int device) { return device_status(cudaSetDevice(device)); }
rotor_status alloc(void **out, size_t bytes) { return status_of(cudaMalloc(out, bytes)); }
void free_device(void *ptr) { cudaFree(ptr); }

rotor_status copy_to_device(void *dst, const void *src, size_t bytes, void *stream) {
  return device_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, as_stream(stream)));
}
// Only pageable ("unregistered") memory is staged by cudaMemcpyAsync before it returns;
// page-locked memory (cudaHostAlloc, as Jetson programs often give a table's arena) and managed
// memory are read by the copy engine while the copy runs. A query that fails says "not
// consumed": waiting for a copy is always safe.
bool copy_consumes_source(const void *src) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, src) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeUnregistered;
}
rotor_status copy_to_host(void *dst, const void *src, size_t bytes, void *stream) {
  return device_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, as_stream(stream)));
}

rotor_status event_create(void **out) {
  cudaEvent_t event = nullptr;
  const rotor_status status = device_status(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  if (status == ROTOR_OK) *out = event;
  return status;
}
void event_destroy(void *event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
rotor_status event_record(void *event, void *stream) {
  return device_status(cudaEventRecord(static_cast<cudaEvent_t>(event), as_stream(stream)));
}
rotor_status stream_wait_event(void *stream, void *event) {
  return device_status(cudaStreamWaitEvent(as_stream(stream), static_cast<cudaEvent_t>(event), 0));
}
rotor_status event_sync(void *event) { return device_status(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }
rotor_status stream_sync(void *stream) { return device_status(cudaStreamSynchronize(as_stream(stream))); }

rotor_status launch_rotate(const RotateLaunch &launch, void *stream) {
  return device_status(launch_rotate_kernel(plan_launch(launch), as_stream(stream)));
}
rotor_status launch_take_errors(ErrorRecord *record, ErrorRecord *taken, void *stream) {
  return device_status(launch_take_errors_kernel(record, taken, as_stream(stream)));
}

}  // namespace

const DeviceOps &runtime_device_ops() {
  static const DeviceOps ops = {device_count,      current_device, set_device,           alloc,
                                free_device,       copy_to_device, copy_consumes_source, copy_to_host,
                                event_create,      event_destroy,  event_record,         stream_wait_event,
                                event_sync,        stream_sync,    launch_rotate,        launch_take_errors};
  return ops;
}

}  // namespace cuda
}  // namespace rotor
