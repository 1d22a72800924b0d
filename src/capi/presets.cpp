// The C entry points of model presets (the values: table/presets.cpp).
#include <cstring>

#include "table/config.hpp"
#include "table/presets.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_config_preset_sized(rotor_config *cfg, size_t cfg_size, const char *model_name) {
  if (cfg == nullptr || model_name == nullptr || !accepted_config_size(cfg_size))
    return ROTOR_ERR_INVALID_ARGUMENT;
  rotor_config filled;
  if (!lookup_preset(model_name, &filled)) return ROTOR_ERR_INVALID_ARGUMENT;
  filled.struct_size = static_cast<uint32_t>(cfg_size);
  std::memcpy(cfg, &filled, cfg_size);
  return ROTOR_OK;
}

// The 1.0 symbol (the header's macro of the same name calls rotor_config_preset_sized).
ROTOR_API rotor_status(rotor_config_preset)(rotor_config *cfg, const char *model_name) {
  return rotor_config_preset_sized(cfg, kConfigSize_1_0, model_name);
}

ROTOR_API rotor_status rotor_preset_table_name(const char *model_name, uint32_t index, const char **name_out) {
  if (model_name == nullptr || name_out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  return model_table_name(model_name, index, name_out) ? ROTOR_OK : ROTOR_ERR_INVALID_ARGUMENT;
}

ROTOR_API rotor_status rotor_preset_layers(const char *model_name, uint32_t *layers_out) {
  if (model_name == nullptr || layers_out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  return model_layers(model_name, layers_out) ? ROTOR_OK : ROTOR_ERR_INVALID_ARGUMENT;
}

ROTOR_API rotor_status rotor_preset_layer_table(const char *model_name, uint32_t layer, const char **name_out) {
  if (model_name == nullptr || name_out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  return model_layer_table(model_name, layer, name_out) ? ROTOR_OK : ROTOR_ERR_INVALID_ARGUMENT;
}

}  // extern "C"
