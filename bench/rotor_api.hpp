// The part of rotor's C API that the RoPE benchmark rows call, as function pointers, so that
// the same rows run against the library a program links (rotor_bench) or against libraries it
// loads at run time (rotor_compare: two versions in one process). Everything here is in
// rotor 1.0's API, which every later version keeps, so one row set measures 1.0 and today.
#pragma once
#include "rotor/rotor.h"

namespace bench {

struct RotorApi {
  // The exported 1.0 symbol (today's header makes rotor_config_init a macro over
  // rotor_config_init_sized, which 1.0 lacks): it fills a 1.0-sized config in every version.
  decltype(&(rotor_config_init)) config_init;
  decltype(&rotor_table_create) table_create;
  decltype(&rotor_table_init) table_init;
  decltype(&rotor_table_arena_size) table_arena_size;
  decltype(&rotor_table_reserve) table_reserve;
  decltype(&rotor_table_destroy) table_destroy;
  decltype(&rotor_tensor_bshd) tensor_bshd;
  decltype(&rotor_pool_create) pool_create;
  decltype(&rotor_pool_destroy) pool_destroy;
  decltype(&rotor_apply) apply;
  decltype(&rotor_apply_qk) apply_qk;
  decltype(&rotor_apply_to) apply_to;
  decltype(&rotor_kernel_force) kernel_force;
  decltype(&rotor_kernel_name) kernel_name;
};

// The library this program is linked against. Inline and only called by such programs, so a
// program that loads libraries instead never references these symbols.
inline RotorApi linked_rotor_api() {
  return {&(rotor_config_init), &rotor_table_create, &rotor_table_init, &rotor_table_arena_size,
          &rotor_table_reserve, &rotor_table_destroy, &rotor_tensor_bshd, &rotor_pool_create,
          &rotor_pool_destroy, &rotor_apply, &rotor_apply_qk, &rotor_apply_to, &rotor_kernel_force,
          &rotor_kernel_name};
}

}  // namespace bench
