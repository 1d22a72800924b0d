// The C entry points of model presets (the values: table/presets.cpp).
#include <cstddef>
#include <cstring>

#include "capi/guard.hpp"
#include "table/config.hpp"
#include "table/presets.hpp"

using namespace rotor;

// fits_in_caller_struct (table/config.hpp): a preset that needs fields past the caller's
// struct_size is refused rather than filled without them.

extern "C" {

ROTOR_API rotor_status rotor_config_preset_sized(rotor_config *cfg, size_t cfg_size, const char *model_name) {
  return guarded([&]() -> rotor_status {
    if (cfg == nullptr || model_name == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "cfg or model_name is NULL");
    if (!accepted_config_size(cfg_size))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "cfg_size is not a size rotor_config ever had");
    rotor_config filled;
    if (!lookup_preset(model_name, &filled))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "unknown preset name (rotor_preset_name lists them)");
    if (!fits_in_caller_struct(filled, cfg_size))
      return fail(ROTOR_ERR_UNSUPPORTED, "the preset needs rotor_config fields (layout, mrope_section or rope_pairs) "
                                         "past the caller's struct_size: rebuild against a newer rotor.h");
    filled.struct_size = static_cast<uint32_t>(cfg_size);
    std::memcpy(cfg, &filled, cfg_size);
    return ROTOR_OK;
  });
}

// The 1.0 symbol (the header's macro of the same name calls rotor_config_preset_sized).
ROTOR_API rotor_status(rotor_config_preset)(rotor_config *cfg, const char *model_name) {
  return rotor_config_preset_sized(cfg, kConfigSize_1_0, model_name);
}

ROTOR_API rotor_status rotor_preset_table_name(const char *model_name, uint32_t index, const char **name_out) {
  return guarded([&]() -> rotor_status {
    if (model_name == nullptr || name_out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "model_name or name_out is NULL");
    return model_table_name(model_name, index, name_out)
               ? ROTOR_OK
               : fail(ROTOR_ERR_INVALID_ARGUMENT, "unknown model name or table index past its tables");
  });
}

ROTOR_API rotor_status rotor_preset_layers(const char *model_name, uint32_t *layers_out) {
  return guarded([&]() -> rotor_status {
    if (model_name == nullptr || layers_out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "model_name or layers_out is NULL");
    return model_layers(model_name, layers_out) ? ROTOR_OK : fail(ROTOR_ERR_INVALID_ARGUMENT, "unknown model name");
  });
}

ROTOR_API rotor_status rotor_preset_layer_table(const char *model_name, uint32_t layer, const char **name_out) {
  return guarded([&]() -> rotor_status {
    if (model_name == nullptr || name_out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "model_name or name_out is NULL");
    return model_layer_table(model_name, layer, name_out)
               ? ROTOR_OK
               : fail(ROTOR_ERR_INVALID_ARGUMENT, "unknown model name or layer past the model's layers");
  });
}

ROTOR_API uint32_t rotor_preset_count(void) { return preset_name_count(); }

ROTOR_API rotor_status rotor_preset_name(uint32_t index, const char **name_out) {
  return guarded([&]() -> rotor_status {
    if (name_out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "name_out is NULL");
    const char *name = preset_name_at(index);
    if (name == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "index is not below rotor_preset_count()");
    *name_out = name;
    return ROTOR_OK;
  });
}

}  // extern "C"
