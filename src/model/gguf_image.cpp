// The checked GGUF reader (format and rules: gguf_image.hpp).
#include "model/gguf_image.hpp"

#include <cmath>

#include "common/checked_math.hpp"
#include "common/last_error.hpp"

namespace rotor {
namespace {

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

// Bytes of a scalar value type; 0 for strings, arrays and types the format does not define.
uint64_t scalar_size(uint32_t type) {
  switch (type) {
    case kGgufU8: case kGgufI8: case kGgufBool: return 1;
    case kGgufU16: case kGgufI16: return 2;
    case kGgufU32: case kGgufI32: case kGgufF32: return 4;
    case kGgufU64: case kGgufI64: case kGgufF64: return 8;
    default: return 0;
  }
}

// ggml's block size (elements) and bytes per block of each tensor type (ggml.c's type traits,
// checked against gguf-py's GGML_QUANT_SIZES by bindings/python/tests/test_gguf.py).
// Types missing here (removed ones, or newer than this table) have no known size: their data
// is never read, and their range is not checked against the image.
struct TypeSize {
  uint32_t type, block, bytes;
};
constexpr TypeSize kTypeSizes[] = {
    {0, 1, 4},      {1, 1, 2},      {2, 32, 18},    {3, 32, 20},    {6, 32, 22},    {7, 32, 24},
    {8, 32, 34},    {9, 32, 40},    {10, 256, 84},  {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
    {14, 256, 210}, {15, 256, 292}, {16, 256, 66},  {17, 256, 74},  {18, 256, 98},  {19, 256, 50},
    {20, 32, 18},   {21, 256, 110}, {22, 256, 82},  {23, 256, 136}, {24, 1, 1},     {25, 1, 2},
    {26, 1, 4},     {27, 1, 8},     {28, 1, 8},     {29, 256, 56},  {30, 1, 2},     {34, 256, 54},
    {35, 256, 66},  {39, 32, 17},
};

const TypeSize *type_size(uint32_t type) {
  for (const TypeSize &entry : kTypeSizes)
    if (entry.type == type) return &entry;
  return nullptr;
}

}  // namespace

bool GgufCursor::fail(const char *reason) {
  if (error_ == nullptr) error_ = reason;
  return false;
}

bool GgufCursor::skip(uint64_t bytes) {
  if (error_ != nullptr) return false;
  if (bytes > remaining()) return fail("GGUF image truncated: a field runs past the end of the image");
  position_ += bytes;
  return true;
}

bool GgufCursor::u32(uint32_t *out) {
  const uint64_t at = position_;
  if (!skip(4)) return false;
  *out = uint32_t(load_le(base_ + at, 4));
  return true;
}

bool GgufCursor::u64(uint64_t *out) {
  const uint64_t at = position_;
  if (!skip(8)) return false;
  *out = load_le(base_ + at, 8);
  return true;
}

bool GgufCursor::string(GgufString *out) {
  uint64_t length;
  if (!u64(&length)) return false;
  if (length > remaining()) return fail("GGUF image: a string's length runs past the end of the image");
  out->chars = reinterpret_cast<const char *>(base_ + position_);
  out->length = length;
  position_ += length;
  return true;
}

bool GgufCursor::value(uint32_t type, GgufValue *out) {
  if (error_ != nullptr) return false;
  out->type = type;
  out->element_type = 0;
  out->count = 0;
  out->at = base_ + position_;
  if (type == kGgufString) {
    GgufString text;
    return string(&text);
  }
  if (type != kGgufArray) {
    const uint64_t bytes = scalar_size(type);
    if (bytes == 0) return fail("GGUF image: a key-value pair has an unknown value type");
    return skip(bytes);
  }
  uint32_t element_type;
  uint64_t count;
  if (!u32(&element_type) || !u64(&count)) return false;
  out->element_type = element_type;
  out->count = count;
  out->at = base_ + position_;
  if (element_type == kGgufArray) return fail("GGUF image: an array of arrays (the format does not allow them)");
  if (element_type == kGgufString) {
    // Each string takes at least its 8-byte length: a count the image cannot hold is refused
    // before the loop, so a huge count costs nothing.
    if (count > remaining() / 8) return fail("GGUF image: an array's count exceeds what the image can hold");
    for (uint64_t i = 0; i < count; ++i) {
      GgufString text;
      if (!string(&text)) return false;
    }
    return true;
  }
  const uint64_t element_bytes = scalar_size(element_type);
  if (element_bytes == 0) return fail("GGUF image: an array has an unknown element type");
  uint64_t bytes;
  if (mul_overflows(count, element_bytes, &bytes) || bytes > remaining())
    return fail("GGUF image: an array's count exceeds what the image can hold");
  return skip(bytes);
}

bool GgufImage::read_tensor(GgufCursor &cursor, GgufTensor *out) const {
  if (!cursor.string(&out->name) || !cursor.u32(&out->dims)) return false;
  if (out->dims > kMaxDims) return cursor.fail("GGUF image: a tensor has more than 4 dimensions");
  uint64_t elements = 1;
  for (uint32_t d = 0; d < out->dims; ++d) {
    uint64_t extent;
    if (!cursor.u64(&extent)) return false;
    if (extent > uint64_t(INT64_MAX)) return cursor.fail("GGUF image: a tensor has a negative extent");
    out->extent[d] = extent;
    if (mul_overflows(elements, extent, &elements) || elements > uint64_t(INT64_MAX))
      return cursor.fail("GGUF image: a tensor's element count overflows");
  }
  if (!cursor.u32(&out->type) || !cursor.u64(&out->offset)) return false;
  if (out->offset % alignment_ != 0) return cursor.fail("GGUF image: a tensor's offset is not a multiple of general.alignment");
  out->data = nullptr;
  out->bytes = 0;
  uint64_t start;
  if (add_overflows(data_begin_, out->offset, &start) || start > size_)
    return cursor.fail("GGUF image: a tensor's offset lies past the end of the image");
  const TypeSize *size = type_size(out->type);
  if (size == nullptr) return true;  // a type rotor cannot size: its data is never read
  if (out->extent[0] % size->block != 0)
    return cursor.fail("GGUF image: a tensor's first extent is not a multiple of its type's block size");
  const uint64_t blocks = elements / size->block;
  if (blocks > UINT64_MAX / size->bytes || blocks * size->bytes > size_ - start)
    return cursor.fail("GGUF image: a tensor's data runs past the end of the image");
  const uint64_t bytes = blocks * size->bytes;
  out->data = bytes_ + start;
  out->bytes = bytes;
  return true;
}

bool GgufImage::read_alignment(const GgufString &key, const GgufValue &value, GgufCursor &cursor) {
  if (!key.equals("general.alignment")) return true;
  if (value.type != kGgufU32) return cursor.fail("GGUF image: general.alignment is not a u32");
  const uint32_t alignment = uint32_t(load_le(value.at, 4));
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return cursor.fail("GGUF image: general.alignment is not a power of two");
  alignment_ = alignment;
  return true;
}

rotor_status GgufImage::open(const void *data, size_t size) {
  bytes_ = static_cast<const uint8_t *>(data);
  size_ = size;
  GgufCursor cursor(bytes_, size_, 0);
  if (size_ < 4 || std::memcmp(bytes_, "GGUF", 4) != 0)
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "not a GGUF image: the first 4 bytes are not \"GGUF\"");
  cursor.skip(4);
  if (!cursor.u32(&version_)) return fail(ROTOR_ERR_INVALID_ARGUMENT, cursor.error());
  // A big-endian file's version reads byte-swapped here: its low 16 bits are 0.
  if ((version_ & 0xffffu) == 0) return fail(ROTOR_ERR_UNSUPPORTED, "GGUF image is big-endian (rotor reads little-endian files)");
  if (version_ == 1) return fail(ROTOR_ERR_UNSUPPORTED, "GGUF version 1 (rotor reads versions 2 and 3)");
  if (version_ != 2 && version_ != 3) return fail(ROTOR_ERR_INVALID_ARGUMENT, "GGUF image has an unknown version (not 2 or 3)");
  if (!cursor.u64(&tensor_count_) || !cursor.u64(&kv_count_)) return fail(ROTOR_ERR_INVALID_ARGUMENT, cursor.error());
  // The smallest pair (empty key, u8 value) takes 13 bytes, the smallest tensor info 24: counts
  // the image cannot hold are refused before any loop runs.
  if (kv_count_ > cursor.remaining() / 13) return fail(ROTOR_ERR_INVALID_ARGUMENT, "GGUF image: the key-value count exceeds what the image can hold");
  if (tensor_count_ > cursor.remaining() / 24) return fail(ROTOR_ERR_INVALID_ARGUMENT, "GGUF image: the tensor count exceeds what the image can hold");
  kv_begin_ = cursor.position();
  alignment_ = 32;
  for (uint64_t i = 0; i < kv_count_; ++i) {
    GgufString key;
    uint32_t type;
    GgufValue value;
    if (!cursor.string(&key) || !cursor.u32(&type) || !cursor.value(type, &value) ||
        !read_alignment(key, value, cursor))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, cursor.error());
  }
  tensors_begin_ = cursor.position();
  // The data section starts after the tensor infos, at the next multiple of the alignment.
  // Tensor offsets are checked against it, so the infos are walked twice: first to find it.
  for (uint64_t i = 0; i < tensor_count_; ++i) {
    GgufString name;
    uint32_t dims, type;
    uint64_t skip_bytes;
    if (!cursor.string(&name) || !cursor.u32(&dims)) return fail(ROTOR_ERR_INVALID_ARGUMENT, cursor.error());
    if (dims > kMaxDims) return fail(ROTOR_ERR_INVALID_ARGUMENT, "GGUF image: a tensor has more than 4 dimensions");
    if (!cursor.skip(uint64_t{dims} * 8) || !cursor.u32(&type) || !cursor.u64(&skip_bytes))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, cursor.error());
  }
  if (!align_up(cursor.position(), alignment_, &data_begin_))
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "GGUF image: the data section's offset overflows");
  if (tensor_count_ > 0 && data_begin_ > size_)
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "GGUF image truncated: the data section starts past the end of the image");
  GgufCursor tensors(bytes_, size_, tensors_begin_);
  for (uint64_t i = 0; i < tensor_count_; ++i) {
    GgufTensor tensor;
    if (!read_tensor(tensors, &tensor)) return fail(ROTOR_ERR_INVALID_ARGUMENT, tensors.error());
  }
  return ROTOR_OK;
}

bool gguf_u32(const GgufValue &value, uint32_t *out) {
  uint64_t magnitude;
  bool negative = false;
  switch (value.type) {
    case kGgufU8: magnitude = value.at[0]; break;
    case kGgufU16: magnitude = load_le(value.at, 2); break;
    case kGgufU32: magnitude = load_le(value.at, 4); break;
    case kGgufU64: magnitude = load_le(value.at, 8); break;
    case kGgufI8: negative = (value.at[0] & 0x80u) != 0; magnitude = value.at[0]; break;
    case kGgufI16: negative = (value.at[1] & 0x80u) != 0; magnitude = load_le(value.at, 2); break;
    case kGgufI32: negative = (value.at[3] & 0x80u) != 0; magnitude = load_le(value.at, 4); break;
    case kGgufI64: negative = (value.at[7] & 0x80u) != 0; magnitude = load_le(value.at, 8); break;
    default: return false;
  }
  if (negative || magnitude > UINT32_MAX) return false;
  *out = uint32_t(magnitude);
  return true;
}

bool gguf_float(const GgufValue &value, double *out) {
  if (value.type == kGgufF32) {
    const uint32_t bits = uint32_t(load_le(value.at, 4));
    float f;
    std::memcpy(&f, &bits, sizeof f);
    *out = double(f);
    return true;
  }
  if (value.type == kGgufF64) {
    const uint64_t bits = load_le(value.at, 8);
    std::memcpy(out, &bits, sizeof *out);
    return true;
  }
  return false;
}

bool gguf_string(const GgufValue &value, GgufString *out) {
  if (value.type != kGgufString) return false;
  out->length = load_le(value.at, 8);
  out->chars = reinterpret_cast<const char *>(value.at + 8);
  return true;
}

bool gguf_array_u32(const GgufValue &value, uint64_t index, uint32_t *out) {
  if (value.type != kGgufArray || index >= value.count) return false;
  GgufValue element;
  element.type = value.element_type;
  const uint64_t bytes = scalar_size(value.element_type);
  if (bytes == 0 || value.element_type == kGgufF32 || value.element_type == kGgufF64 || value.element_type == kGgufBool)
    return false;
  element.at = value.at + index * bytes;
  return gguf_u32(element, out);
}

}  // namespace rotor
