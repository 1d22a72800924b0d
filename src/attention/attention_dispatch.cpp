// Chooses the attention kernels once, following the rotation kernels in use.
#include "attention_kernels.hpp"

namespace rotor {

const AttentionKernels &active_attention_kernels() { return portable_attention_kernels(); }

}  // namespace rotor
