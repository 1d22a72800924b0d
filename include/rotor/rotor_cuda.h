/*
 * rotor CUDA: the rotations of rotor.h on device memory (NVIDIA GPUs: Jetson Orin, data-centre).
 *
 * C99, usable from C++ and through any FFI. It includes only rotor.h: streams are passed as
 * void * (a cudaStream_t; NULL is the default stream), device pointers as plain pointers, so a
 * program needs no CUDA headers to call it.
 *
 * Every function exists in every build of the library; where CUDA was not built in, each one
 * returns ROTOR_ERR_UNSUPPORTED and touches nothing (rotor_cuda_table_destroy does nothing).
 * The conventions of rotor.h hold (validation first, nothing the caller owns modified on an
 * error that validation finds). A CUDA runtime error gives ROTOR_ERR_DEVICE; after a launch,
 * that may also be an error left behind by earlier asynchronous work, as with any CUDA call.
 *
 * The device mirror. A rotor_cuda_table holds, in device memory taken once at creation for
 * max_len rows, a copy of the rows of a host rotor_table (the rows are computed on the host in
 * double precision, as rotor.h describes, then copied: the device computes no sin or cos).
 * Calls keep it up to date: before it launches, a call checks the host table's published rows
 * and copies those the mirror lacks (all of them again after a rescale). In the steady state
 * (nothing new to copy) a call is one kernel launch on the stream: no allocation, no host
 * synchronisation. A copy goes from the host table's (pageable) memory, which the CUDA runtime
 * may make synchronous with the stream: it happens only when the host table has grown or
 * rescaled since the mirror's last copy.
 *
 * Positions. With positions == NULL a call rotates token s at offset + s: like rotor_apply it
 * grows the host table (rescales for the scaling types that adapt) and copies the new rows
 * first, so it always succeeds for offset + seq <= max_len (OUT_OF_RANGE otherwise).
 * With positions_device (batch*seq int32 in device memory, row-major [batch][seq]) the host
 * cannot see the positions without a synchronisation, so it grows nothing: a token whose
 * position is negative or not below the rows the mirror holds (rotor_cuda_table_rows) is left
 * exactly as it was, in every head of every tensor of the call, and is counted in the mirror's
 * error record (rotor_cuda_table_take_errors). No row past those copied is ever read. Make the
 * rows exist first with rotor_cuda_table_sync (or rotor_table_reserve on the host table: the
 * next call copies the new rows).
 *
 * Scaling types whose rows depend on the sequence length (DYNAMIC_NTK, LONGROPE, NTK outliers):
 * a call with positions_device uses the rows for the sequence length the mirror was last told
 * (by rotor_cuda_table_sync or by an offset call: offset + seq; 1 at creation), since it
 * cannot see its own. For every other scaling type rows do not depend on it.
 *
 * Threads and streams. A mirror may be used by several host threads at once (calls on one
 * mirror are serialised by a lock held while they copy and launch). Work is ordered on the
 * stream passed; a call on another stream than the one that made the last copy makes its
 * stream wait for that copy (an event, no host synchronisation). After a rescale of the host
 * table the mirror's rows are overwritten in place: kernels of this mirror still running on
 * other streams must have finished (or be ordered before the call that copies), the usual rule
 * for a buffer shared between streams. Single-stream use needs nothing.
 *
 * The host table must outlive the mirror. The mirror belongs to the CUDA device that was
 * current when it was created; calls switch to that device for their work and back.
 */
#ifndef ROTOR_ROTOR_CUDA_H
#define ROTOR_ROTOR_CUDA_H

#include "rotor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device mirror of a host rotor_table. */
typedef struct rotor_cuda_table rotor_cuda_table;

/* Number of CUDA devices the runtime reports (0 when there is no device or no driver: that is
   not an error). Errors: INVALID_ARGUMENT (count NULL), UNSUPPORTED (built without CUDA). */
ROTOR_API rotor_status rotor_cuda_device_count(uint32_t *count);

/* Creates a mirror of host on the current CUDA device: device memory for max_len rows (plus a
   few bytes of error record), taken once, and the host table's current rows copied on stream.
   Errors: INVALID_ARGUMENT (out or host NULL), OUT_OF_MEMORY (device or host allocation),
   DEVICE (no usable device, or a CUDA error). On error *out is left as it was. */
ROTOR_API rotor_status rotor_cuda_table_create(rotor_cuda_table **out, rotor_table *host,
                                               void *stream);

/* Frees the mirror's device memory (cudaFree: waits for the device to finish using it).
   NULL is harmless. No call may be using the mirror. */
ROTOR_API void rotor_cuda_table_destroy(rotor_cuda_table *t);

/* Makes the mirror serve positions [0, seq_len) on stream: grows (or rescales) the host table
   exactly as a host call whose largest position is seq_len - 1 would, and copies what the
   mirror lacks. For calls with device positions. Errors: INVALID_ARGUMENT (t NULL, seq_len 0),
   OUT_OF_RANGE (seq_len > max_len; nothing changes), DEVICE. */
ROTOR_API rotor_status rotor_cuda_table_sync(rotor_cuda_table *t, uint32_t seq_len, void *stream);

/* Rows the mirror holds (copied, or enqueued for copy on the stream of the call that made the
   copy): positions [0, *rows) are served. Errors: INVALID_ARGUMENT (NULL). */
ROTOR_API rotor_status rotor_cuda_table_rows(rotor_cuda_table *t, uint32_t *rows);

/* Reads and clears the mirror's error record, after the work ordered before this call on
   stream has finished (this call synchronises the stream; no other function does).
   *skipped_tokens: tokens left unchanged because their device position was out of range, since
   the last take (a token counts once per call, whatever its heads and tensors); *position (may
   be NULL): one of those positions (-1 when none). Skipped tokens are not an error of this
   call: it returns OK and the count says. Work of other streams is counted once it has run.
   Errors: INVALID_ARGUMENT (t or skipped_tokens NULL), DEVICE. */
ROTOR_API rotor_status rotor_cuda_table_take_errors(rotor_cuda_table *t, void *stream,
                                                    uint32_t *skipped_tokens, int32_t *position);

/* Like rotor_apply, on device memory (x->data and positions_device are device pointers, or
   pointers the device can access), in place, ordered on stream. Everything rotor_apply does:
   both pairings, partial rotary (dims past rotary_dim untouched), any strided view rotor.h
   accepts (Q or K inside a fused QKV buffer included), forward and inverse, f32/f16/bf16.
   f32 results are those of the host's scalar formula (products and sums rounded in float, no
   fused multiply-add); f16 and bf16 are computed in float and rounded to nearest even once.
   Errors: INVALID_ARGUMENT (NULL t or x, bad view or dtype or dir, head_dim < rotary_dim,
   positions_device not 4-byte aligned), OUT_OF_RANGE (positions_device NULL and
   offset + seq > max_len), DEVICE. Device positions out of range are not an error of the call:
   see the top of this file. */
ROTOR_API rotor_status rotor_cuda_apply(rotor_cuda_table *t, const rotor_tensor *x,
                                        const int32_t *positions_device, uint32_t offset,
                                        rotor_direction dir, void *stream);

/* rotor_apply_qk on device memory: q and k share batch, seq and positions (heads and head_dim
   may differ, as may strides and pointers into one fused QKV buffer) and must not overlap.
   Both are rotated by one kernel launch. Errors as rotor_cuda_apply, and INVALID_ARGUMENT when
   q and k differ in batch, seq or dtype, or overlap. */
ROTOR_API rotor_status rotor_cuda_apply_qk(rotor_cuda_table *t, const rotor_tensor *q,
                                           const rotor_tensor *k, const int32_t *positions_device,
                                           uint32_t offset, rotor_direction dir, void *stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ROTOR_ROTOR_CUDA_H */
