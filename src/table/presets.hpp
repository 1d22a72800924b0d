// Model presets: the RoPE part of well-known models' config.json files (values and sources in
// presets.cpp).
#pragma once
#include "rotor/rotor.h"

namespace rotor {

// Fills *out (a full, current-size config) for a known model name (case-insensitive); false
// for an unknown one (*out then unspecified).
bool lookup_preset(const char *model_name, rotor_config *out);

}  // namespace rotor
