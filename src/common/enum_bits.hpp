// Enum fields and arguments that come from C, read and checked as the ints they are.
#pragma once

#include "rotor/rotor.h"

namespace rotor {

// A C caller may store any int in an enum field. In C++, loading a value outside the enum's
// range through the enum type is undefined (UBSan reports it; -fstrict-enums may fold the
// range check away), so fields are validated through their bytes, read as the int they are.
template <typename E>
int enum_bits(const E &field) {
  static_assert(sizeof(E) == sizeof(int), "rotor's C enums are int-sized");
  int value;
  __builtin_memcpy(&value, &field, sizeof value);
  return value;
}

inline bool valid_pairing(int pairing) {
  return pairing == ROTOR_PAIRING_HALF || pairing == ROTOR_PAIRING_INTERLEAVED;
}
inline bool valid_direction(int dir) { return dir == ROTOR_FORWARD || dir == ROTOR_INVERSE; }

}  // namespace rotor
