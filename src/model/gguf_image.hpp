// A GGUF image (llama.cpp's model file format, v2 and v3) read in place: the caller's bytes are
// scanned, never copied, and nothing is allocated. GGUF files come from untrusted downloads, so
// every count, length, offset and type is checked against the image before it is used:
// GgufImage::open walks the whole file once (header, every key-value pair, every tensor info,
// the data section's alignment and every tensor's byte range where its type's size is known)
// and refuses it at the first thing that does not fit. Later lookups walk it again through the
// same checked cursor, so they never depend on open() having been called correctly.
//
// Format (ggml/src/gguf.cpp, gguf-py): all little-endian.
//   "GGUF", u32 version (2 or 3), u64 tensor count, u64 key-value count,
//   key-value pairs: string key, u32 value type, value,
//   tensor infos: string name, u32 dims (<= 4), i64 extent per dim, u32 ggml type, u64 offset,
//   padding to general.alignment (u32, a power of two, default 32), then the data section;
//   a tensor's data lies at data section + offset (a multiple of the alignment).
//   A string is a u64 length and that many bytes (no terminator); an array is a u32 element
//   type, a u64 count and the elements (arrays of arrays are refused, as gguf.cpp does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "rotor/rotor.h"

namespace rotor {

// Value types of GGUF key-value pairs (gguf.h's gguf_type; pinned by the format).
enum GgufType : uint32_t {
  kGgufU8 = 0,
  kGgufI8 = 1,
  kGgufU16 = 2,
  kGgufI16 = 3,
  kGgufU32 = 4,
  kGgufI32 = 5,
  kGgufF32 = 6,
  kGgufBool = 7,
  kGgufString = 8,
  kGgufArray = 9,
  kGgufU64 = 10,
  kGgufI64 = 11,
  kGgufF64 = 12,
};

// ggml tensor types rotor reads data of (ggml.h's ggml_type).
constexpr uint32_t kGgmlF32 = 0;
constexpr uint32_t kGgmlF16 = 1;
constexpr uint32_t kGgmlBf16 = 30;

// Bytes in the image, not terminated.
struct GgufString {
  const char *chars = nullptr;
  uint64_t length = 0;
  bool equals(const char *text) const {
    const size_t text_length = std::strlen(text);
    return text_length == length && std::memcmp(chars, text, text_length) == 0;
  }
};

// Where a validated value lies. Scalars and strings: `type` and their first byte `at`. Arrays:
// type kGgufArray, element_type, count, and `at` the first element.
struct GgufValue {
  uint32_t type = 0;
  uint32_t element_type = 0;
  uint64_t count = 0;
  const uint8_t *at = nullptr;
};

// A tensor info. `data` points at the tensor's bytes in the image when the type's size is known
// (then `bytes` is their number and they lie inside the image); nullptr for types rotor cannot
// size (a ggml type newer than this library).
struct GgufTensor {
  GgufString name;
  uint32_t type = 0;
  uint32_t dims = 0;
  uint64_t extent[4] = {1, 1, 1, 1};
  uint64_t offset = 0;
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;
};

// Little-endian loads from bytes already checked to be inside the image (any host byte order,
// any alignment).
inline uint64_t load_le(const uint8_t *at, unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < bytes; ++i) value |= uint64_t{at[i]} << (8 * i);
  return value;
}

// A read position inside the image: every read checks that its bytes are there, and the first
// failure is kept (`error`) and stops all later reads.
class GgufCursor {
 public:
  GgufCursor(const uint8_t *base, uint64_t size, uint64_t position) : base_(base), size_(size), position_(position) {}

  bool u32(uint32_t *out);
  bool u64(uint64_t *out);
  bool string(GgufString *out);
  // Reads a value of `type` (recording where it lies) and moves past it.
  bool value(uint32_t type, GgufValue *out);
  bool skip(uint64_t bytes);
  bool fail(const char *reason);

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return size_ - position_; }
  const char *error() const { return error_; }

 private:
  const uint8_t *base_;
  uint64_t size_;
  uint64_t position_;
  const char *error_ = nullptr;
};

class GgufImage {
 public:
  // Validates the whole image (see the top of this file). ROTOR_OK, or INVALID_ARGUMENT (bad
  // magic, a truncated or inconsistent image) / UNSUPPORTED (version 1, a big-endian file) with
  // the reason recorded by fail().
  rotor_status open(const void *data, size_t size);

  // visit(key, value) for every key-value pair in file order; visit returns false to stop.
  template <typename Visit>
  void each_kv(Visit &&visit) const {
    GgufCursor cursor(bytes_, size_, kv_begin_);
    for (uint64_t i = 0; i < kv_count_; ++i) {
      GgufString key;
      uint32_t type;
      GgufValue value;
      if (!cursor.string(&key) || !cursor.u32(&type) || !cursor.value(type, &value)) return;
      if (!visit(key, value)) return;
    }
  }

  // visit(tensor) for every tensor info in file order; visit returns false to stop.
  template <typename Visit>
  void each_tensor(Visit &&visit) const {
    GgufCursor cursor(bytes_, size_, tensors_begin_);
    for (uint64_t i = 0; i < tensor_count_; ++i) {
      GgufTensor tensor;
      if (!read_tensor(cursor, &tensor)) return;
      if (!visit(tensor)) return;
    }
  }

  uint32_t version() const { return version_; }

 private:
  bool read_tensor(GgufCursor &cursor, GgufTensor *out) const;
  bool read_alignment(const GgufString &key, const GgufValue &value, GgufCursor &cursor);

  const uint8_t *bytes_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t kv_count_ = 0, tensor_count_ = 0;
  uint64_t kv_begin_ = 0, tensors_begin_ = 0, data_begin_ = 0;
  uint64_t alignment_ = 32;
};

// Typed reads of a value, false when its type does not fit: integers of any GGUF integer type
// whose value fits (negative ones do not fit an unsigned), floats from f32 or f64, strings.
bool gguf_u32(const GgufValue &value, uint32_t *out);
bool gguf_float(const GgufValue &value, double *out);
bool gguf_string(const GgufValue &value, GgufString *out);
// Element i (< value.count) of an array of integers, as gguf_u32 reads a scalar.
bool gguf_array_u32(const GgufValue &value, uint64_t index, uint32_t *out);

}  // namespace rotor
