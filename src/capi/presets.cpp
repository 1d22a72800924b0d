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

}  // extern "C"
