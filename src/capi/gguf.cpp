// The C entry points of model files: rotor_config_from_gguf_sized and rotor_gguf_layers (the
// reader: model/gguf_image, the mapping: model/gguf_config).
#include <cstddef>
#include <cstring>

#include "capi/guard.hpp"
#include "model/gguf_config.hpp"
#include "model/gguf_image.hpp"
#include "table/config.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_config_from_gguf_sized(rotor_config *cfg, size_t cfg_size, const void *data, size_t size,
                                                    uint32_t layer) {
  return guarded([&]() -> rotor_status {
    if (cfg == nullptr || data == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "cfg or data is NULL");
    if (!accepted_config_size(cfg_size))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "cfg_size is not a size rotor_config ever had");
    GgufImage image;
    rotor_status status = image.open(data, size);
    if (status != ROTOR_OK) return status;
    rotor_config filled;
    status = gguf_layer_config(image, layer, &filled);
    if (status != ROTOR_OK) return status;
    if (!fits_in_caller_struct(filled, cfg_size))
      return fail(ROTOR_ERR_UNSUPPORTED, "the model needs rotor_config fields (layout, mrope_section) past the "
                                         "caller's struct_size: rebuild against a newer rotor.h");
    filled.struct_size = static_cast<uint32_t>(cfg_size);
    std::memcpy(cfg, &filled, cfg_size);
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_gguf_layers(const void *data, size_t size, uint32_t *layers_out) {
  return guarded([&]() -> rotor_status {
    if (data == nullptr || layers_out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "data or layers_out is NULL");
    GgufImage image;
    rotor_status status = image.open(data, size);
    if (status != ROTOR_OK) return status;
    uint32_t layers;
    status = gguf_block_count(image, &layers);
    if (status != ROTOR_OK) return status;
    *layers_out = layers;
    return ROTOR_OK;
  });
}

}  // extern "C"
