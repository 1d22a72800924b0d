// The C entry points of configuration: defaults written into a caller's struct of any accepted
// size, never past it.
#include <cstring>

#include "capi/guard.hpp"
#include "table/config.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_config_init_sized(rotor_config *cfg, size_t cfg_size, uint32_t rotary_dim) {
  return guarded([&]() -> rotor_status {
    if (cfg == nullptr || !accepted_config_size(cfg_size)) return ROTOR_ERR_INVALID_ARGUMENT;
    rotor_config defaults = default_config(rotary_dim);
    defaults.struct_size = static_cast<uint32_t>(cfg_size);
    std::memcpy(cfg, &defaults, cfg_size);
    return ROTOR_OK;
  });
}

// The 1.0 symbol (the header's macro of the same name calls rotor_config_init_sized).
ROTOR_API void(rotor_config_init)(rotor_config *cfg, uint32_t rotary_dim) {
  guarded_void([&] {
    (void)rotor_config_init_sized(cfg, kConfigSize_1_0, rotary_dim);
  });
}

}  // extern "C"
