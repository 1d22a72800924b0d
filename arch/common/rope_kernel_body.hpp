// The SIMD rotation kernels, written once with xsimd batches and instantiated by every arch/
// file for its own architecture.
//
// No include guard and no namespace of its own, on purpose: each arch file includes this inside
// its own anonymous namespace, after defining
//   Arch   an xsimd architecture (the widest this file's -m flags allow),
//   Ops    swap_pairs, dup_lo/dup_hi ((v0,v0,v1,v1,...) from the low and the high half of v),
//          split_pairs (2 * lanes floats from p into their even- and odd-indexed elements),
//          load_words/store_words (16-bit pairs as 32-bit lanes), load/store for f16 and
//          bf16 (converting in registers), and, when
//          ROTOR_ARCH_HAS_DOUBLE is 1, store_as_float (double lanes rounded to float), and,
//          when ROTOR_ARCH_HAS_STREAM is defined, the aligned and non-temporal byte stores of
//          copy_out_body.hpp,
// so that every function here has internal linkage and is compiled with that file's flags.
// Ops holds only what xsimd 8.1 (Debian 12's) does not provide, or provides differently:
//   load_words/store_words  16-bit data as 32-bit lanes: xsimd would need the uint16_t pointer
//                           cast to int32_t* (an aliasing violation); the intrinsics' vector
//                           types may alias anything
//   swap_pairs, split_pairs no pairwise swap or even/odd de-interleave of floats in xsimd 8.1
//                           (its swizzle needs a compile-time lane table per width; uzp does not
//                           exist)
//   dup_lo, dup_hi          xsimd 8.1's zip_lo/zip_hi for AVX and AVX-512 floats interleave
//                           within each 128-bit lane (unpacklo), not the low half of the vector
//   load/store f16, bf16    xsimd 8.1 has no half-precision types (F16C, vcvt, or integer code)
//   store_as_float          no narrowing double -> float conversion across lane counts
// Everything else (arithmetic, loads, stores, compares, selects, any/all) is xsimd's.
// xsimd 8.1 marks its helpers plain `inline`: were these functions shared between files, the
// linker could keep the AVX-512 copy and crash an older CPU.
//
// Numerics: every lane computes exactly what the scalar reference computes (separate multiply
// and add, rounded the same way, no fused multiply-add; -ffp-contract=off keeps the compiler
// from fusing them), so on an IEEE vector unit the result is bit-identical to the reference.
// Pairing identities used: a*c - b*s == a*c + b*(-s) exactly, and negation is exact.
//
// By concern: rotate_body.hpp (f32/f16 rotation), bf16_words_body.hpp (16-bit packing of
// bfloat16 pairs), combine_rows_body.hpp (table rows by angle addition), copy_out_body.hpp
// (an out-of-place call's aligned, possibly non-temporal, write-out); this file puts them
// together as the architecture's RotationKernels.

#include "rotate_body.hpp"
#include "bf16_words_body.hpp"
#include "combine_rows_body.hpp"
#if defined(ROTOR_ARCH_HAS_STREAM)
#include "copy_out_body.hpp"
#endif

// The set's table: f32 and f16 rotations `half_heads` / kTwoHeadsInPlace per pass, and with
// `one_head_when_large` one head per pass for passes too large to stay in cache
// (rotate_body.hpp says when each is faster); copy_cached_outputs as RotationKernels says.
template <uint32_t HalfHeads>
constexpr RotationKernels rotation_kernels(bool one_head_when_large, [[maybe_unused]] bool copy_cached_outputs) {
  return {
      {{rotate_half_pairs<StoreF32, HalfHeads>, rotate_interleaved_pairs<StoreF32, kTwoHeadsInPlace>},
       {rotate_half_pairs<StoreF16, HalfHeads>, rotate_interleaved_pairs<StoreF16, kTwoHeadsInPlace>},
       {rotate_half_bf16, rotate_interleaved_bf16}},
#if ROTOR_ARCH_HAS_DOUBLE
      combine_rows,
#else
      nullptr,
#endif
#if defined(ROTOR_ARCH_HAS_STREAM)
      copy_out,
      stream_fence,
      uint32_t(sizeof(float) * kLanes),
      copy_cached_outputs,
#else
      nullptr,
      nullptr,
      0,
      false,
#endif
      {{one_head_when_large ? rotate_half_pairs<StoreF32, kOneHead> : nullptr,
        one_head_when_large ? rotate_interleaved_pairs<StoreF32, kOneHead> : nullptr},
       {one_head_when_large ? rotate_half_pairs<StoreF16, kOneHead> : nullptr,
        one_head_when_large ? rotate_interleaved_pairs<StoreF16, kOneHead> : nullptr},
       {nullptr, nullptr}},
  };
}

const RotationKernels kRotationKernels = rotation_kernels<kTwoHeads>(false, true);

#if defined(ROTOR_ARCH_ZEN_VARIANT)
// What the registry gives AMD's Zen cores under this set's name: two heads per pass in place
// only, one for passes too large to stay in cache, and straddling outputs that stay cached
// written directly (rotor 1.0's loops and write-out there; docs/performance.md, issue 25).
const RotationKernels kRotationKernelsZen = rotation_kernels<kTwoHeadsInPlace>(true, false);
#endif
