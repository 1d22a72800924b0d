// Quantized keys (Q8_0, Q4_0) in a KV cache: ggml's numbers (common/quant_blocks.hpp: each key's
// dimensions in groups of 32 with one f16 scale), placed dimension-major in the 64-token key
// blocks the score path reads, as the f32/f16/bf16 keys are (quant_blocks.hpp's
// dimension-major placement with 64 columns). One head's block of 64 tokens:
//   Q8_0: q[d][64] int8,                 then scale[d / 32][64] f16;
//   Q4_0: q[d][32] bytes, byte t of row i holding token t (low nibble) and token t + 32 (high),
//         then scale[d / 32][64] f16.
// 68 d and 36 d bytes: 136 and 72 bytes per token at d = 128, ggml's 4 x 34 and 4 x 18. The
// study that chose this layout over ggml's key rows (1.3x faster steps): docs/quantized-kv.md.
// A ggml cache's key rows become these blocks by moving each group's numbers; nothing is
// rounded again.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// Bytes of one head's 64-token block of d-dimension keys (d a multiple of 32).
size_t quantized_key_block_bytes(rotor_dtype dtype, uint32_t d);

// Quantizes n keys (key-major floats, n x d) into columns [column, column + n) of `block`.
void quantize_keys_into_block(rotor_dtype dtype, uint32_t d, const float *keys, uint32_t n, unsigned char *block,
                              uint32_t column);

// The key in column `column` as floats (exact: every dequantized element is a float).
void dequantize_key(rotor_dtype dtype, uint32_t d, const unsigned char *block, uint32_t column, float *key);

// The whole block as floats ([d][64], the layout the f32 score kernels read): each kernel set's
// dequantize_keys (kernels/attention_kernels.hpp), common/quant_blocks.hpp's loop.

// Copies the quantized key in column `from` of block `src` into column `to` of block `dst`
// (the same bytes: a move rounds nothing). The two may be the same block.
void copy_quantized_key(rotor_dtype dtype, uint32_t d, const unsigned char *src, uint32_t from, unsigned char *dst,
                        uint32_t to);

}  // namespace rotor
