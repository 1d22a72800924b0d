// From a validated GGUF image to the rotor_config of one layer: the keys llama.cpp's loader
// reads (src/llama-model.cpp load_hparams, llama_model_rope_type) mapped onto rotor's fields,
// per architecture and per layer. The mapping table and llama.cpp's behaviour beside it:
// docs/gguf.md.
#pragma once
#include <cstdint>

#include "model/gguf_image.hpp"
#include "rotor/rotor.h"

namespace rotor {

// Fills *out (a full, current-size config) with the rotary embedding of `layer`. ROTOR_OK;
// ROTOR_ERR_NO_ROTARY for a layer (or an architecture) without one; otherwise a failure status
// whose reason (fail()) names the key, tensor or field at fault. *out is written only on
// ROTOR_OK. LongRoPE factor pointers point into the image.
rotor_status gguf_layer_config(const GgufImage &image, uint32_t layer, rotor_config *out);

// {arch}.block_count of the image's model.
rotor_status gguf_block_count(const GgufImage &image, uint32_t *out);

}  // namespace rotor
