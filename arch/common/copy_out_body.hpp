// The write-out of an out-of-place call's rotated heads from the calling thread's scratch to the
// output tensor, with stores aligned to the output's cache lines. Part of the rotation kernel
// body (rope_kernel_body.hpp includes it inside an arch file's anonymous namespace, after Arch
// and Ops; no include guard, no namespace, on purpose). Only arch files that define
// ROTOR_ARCH_HAS_STREAM (x86) provide it; ARM keeps writing the output directly.
//
// Why: an output vector store that straddles two cache lines (numpy's arrays start 16 bytes
// into a line, so every 64-byte store of AVX-512 does) and misses the cache waits for both
// lines' read-for-ownership; and a large output costs a read of every line it writes
// (write-allocate), a third memory stream next to the input and the output. The kernels rotate
// into an aligned scratch in L1 (docs/performance.md, "Out of place: the write-out rule"), and this copies it out
// with whole-line-aligned stores, non-temporal when `stream` is set (the output is too large to
// stay in the cache anyway, and such stores skip the read-for-ownership).
//
// Ops provides: kStoreBytes (its vector width in bytes), load_bytes (unaligned), store_bytes
// (aligned), stream_bytes (aligned, non-temporal), stream_fence (sfence).

// The bytes before dst's first line boundary and after its last one are copied with memcpy:
// they share a line with memory this call does not write, so they cannot be streamed as whole
// lines, and keeping them off the lines the non-temporal stores write keeps the two kinds of
// store apart.
void copy_out(void *dst_v, const void *src_v, size_t bytes, bool stream) {
  unsigned char *dst = static_cast<unsigned char *>(dst_v);
  const unsigned char *src = static_cast<const unsigned char *>(src_v);
  const size_t head = (64 - (reinterpret_cast<uintptr_t>(dst) & 63)) & 63;
  if (bytes < head + 64) {
    std::memcpy(dst, src, bytes);
    return;
  }
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  bytes -= head;
  const size_t body = bytes & ~size_t{63};
  if (stream) {
    for (size_t i = 0; i < body; i += 64)
      for (size_t k = 0; k < 64; k += Ops::kStoreBytes) Ops::stream_bytes(dst + i + k, Ops::load_bytes(src + i + k));
  } else {
    for (size_t i = 0; i < body; i += 64)
      for (size_t k = 0; k < 64; k += Ops::kStoreBytes) Ops::store_bytes(dst + i + k, Ops::load_bytes(src + i + k));
  }
  std::memcpy(dst + body, src + body, bytes - body);
}

// Makes this thread's non-temporal stores visible to other threads (they are weakly ordered:
// neither the pool's release/acquire handshake nor a plain store orders them) before the call
// returns or the thread reports its share done.
void stream_fence() { Ops::stream_fence(); }
