// Validation and defaults of rotor_config, shared by every entry point that takes one.
#pragma once
#include "rotor/rotor.h"

namespace rotor {

// Checks every field of cfg (enums, ranges, NaNs, the scaling parameters its type needs).
// Returns ROTOR_OK or ROTOR_ERR_INVALID_ARGUMENT.
rotor_status validate_config(const rotor_config *cfg);

bool valid_dtype(int dtype);
bool valid_pairing(int pairing);
bool valid_direction(int dir);

}  // namespace rotor
