// Quantized key blocks (see quantized_keys.hpp).
#include "attention/quantized_keys.hpp"

#include <cstring>

#include "kernels/attention_kernels.hpp"  // kKeyBlock
#include "common/quant_blocks.hpp"

namespace rotor {
namespace {

// Bytes of the numbers (before the scales) of one block.
size_t numbers_bytes(rotor_dtype dtype, uint32_t d) { return dimension_major_numbers_bytes(dtype, d, kKeyBlock); }

uint16_t *scales_of(rotor_dtype dtype, uint32_t d, unsigned char *block) {
  return reinterpret_cast<uint16_t *>(block + numbers_bytes(dtype, d));
}
const uint16_t *scales_of(rotor_dtype dtype, uint32_t d, const unsigned char *block) {
  return reinterpret_cast<const uint16_t *>(block + numbers_bytes(dtype, d));
}

// Number (dimension i, column t), as quantize_group stores it.
uint8_t number_at(rotor_dtype dtype, const unsigned char *block, uint32_t i, uint32_t t) {
  if (dtype == ROTOR_DTYPE_Q8_0) return block[size_t{i} * kKeyBlock + t];
  const unsigned char byte = block[size_t{i} * (kKeyBlock / 2) + t % (kKeyBlock / 2)];
  return t < kKeyBlock / 2 ? byte & 15u : byte >> 4;
}

void set_number(rotor_dtype dtype, unsigned char *block, uint32_t i, uint32_t t, uint8_t q) {
  if (dtype == ROTOR_DTYPE_Q8_0) {
    block[size_t{i} * kKeyBlock + t] = q;
    return;
  }
  unsigned char &byte = block[size_t{i} * (kKeyBlock / 2) + t % (kKeyBlock / 2)];
  byte = t < kKeyBlock / 2 ? uint8_t((byte & 0xf0u) | q) : uint8_t((byte & 0x0fu) | (q << 4));
}

}  // namespace

size_t quantized_key_block_bytes(rotor_dtype dtype, uint32_t d) {
  return numbers_bytes(dtype, d) + size_t{d / kQuantGroup} * kKeyBlock * sizeof(uint16_t);
}

void quantize_keys_into_block(rotor_dtype dtype, uint32_t d, const float *keys, uint32_t n, unsigned char *block,
                              uint32_t column) {
  uint16_t *scales = scales_of(dtype, d, block);
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t t = column + k;
    for (uint32_t g = 0; g < d / kQuantGroup; ++g) {
      uint8_t q[kQuantGroup];
      quantize_group(dtype, keys + size_t{k} * d + g * kQuantGroup, &scales[size_t{g} * kKeyBlock + t], q);
      for (uint32_t j = 0; j < kQuantGroup; ++j) set_number(dtype, block, g * kQuantGroup + j, t, q[j]);
    }
  }
}

void dequantize_key(rotor_dtype dtype, uint32_t d, const unsigned char *block, uint32_t column, float *key) {
  const uint16_t *scales = scales_of(dtype, d, block);
  for (uint32_t i = 0; i < d; ++i)
    key[i] = dequantized(dtype, number_at(dtype, block, i, column),
                         f16_to_float(scales[size_t{i / kQuantGroup} * kKeyBlock + column]));
}

void copy_quantized_key(rotor_dtype dtype, uint32_t d, const unsigned char *src, uint32_t from, unsigned char *dst,
                        uint32_t to) {
  for (uint32_t i = 0; i < d; ++i) set_number(dtype, dst, i, to, number_at(dtype, src, i, from));
  const uint16_t *from_scales = scales_of(dtype, d, src);
  uint16_t *to_scales = scales_of(dtype, d, dst);
  for (uint32_t g = 0; g < d / kQuantGroup; ++g) to_scales[size_t{g} * kKeyBlock + to] = from_scales[size_t{g} * kKeyBlock + from];
}

}  // namespace rotor
