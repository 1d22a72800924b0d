// libFuzzer target for the GGUF reader: rotor_config_from_gguf (several layers, every struct
// size the library accepts) and rotor_gguf_layers over any bytes. The input is the image itself,
// copied into a heap block of exactly its size (AddressSanitizer sees any read past it), at an
// address chosen by the input's first byte (aligned or not: the factor tensors' 4-byte rule).
//
// Properties: statuses are enum values; on error *cfg is unchanged byte for byte; on success the
// config is valid (rotor_table_arena_size > 0), struct_size is the caller's, the layer is below
// rotor_gguf_layers' count, and LongRoPE factor pointers lie inside the image, 4-byte aligned;
// the same call twice gives the same bytes (nothing depends on state).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "c_shim.h"
#include "fuzz_common.hpp"

namespace {

using fuzz::require;

bool inside(const void *p, size_t bytes, const uint8_t *image, size_t size) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(p), begin = reinterpret_cast<uintptr_t>(image);
  return at >= begin && at - begin <= size && bytes <= size - (at - begin);
}

void check_layer(const uint8_t *image, size_t size, uint32_t layer, size_t cfg_size, bool have_layers,
                 uint32_t layers) {
  rotor_config cfg, before;
  std::memset(&cfg, 0xa5, sizeof cfg);
  before = cfg;
  const rotor_status status = rotor_config_from_gguf_sized(&cfg, cfg_size, image, size, layer);
  fuzz::check_status(status);
  if (status != ROTOR_OK) {
    require(std::memcmp(&cfg, &before, sizeof cfg) == 0, "an error changed *cfg", status);
    require(rotor_last_error_message()[0] != '\0', "an error without a reason", status);
    return;
  }
  require(std::memcmp(reinterpret_cast<const uint8_t *>(&cfg) + cfg_size, reinterpret_cast<const uint8_t *>(&before) + cfg_size,
                      sizeof cfg - cfg_size) == 0,
          "wrote past cfg_size");
  require(cfg.struct_size == cfg_size, "struct_size is not the caller's");
  require(have_layers && layer < layers, "a config for a layer past block_count", layer, layers);
  rotor_config full;
  std::memcpy(&full, &cfg, sizeof full);
  if (cfg_size < sizeof full) {  // the library's view: defaults past the caller's size
    rotor_config defaults;
    require(rotor_config_init_sized(&defaults, sizeof defaults, cfg.rotary_dim) == ROTOR_OK, "init");
    std::memcpy(reinterpret_cast<uint8_t *>(&full) + cfg_size, reinterpret_cast<const uint8_t *>(&defaults) + cfg_size,
                sizeof full - cfg_size);
    full.struct_size = uint32_t(sizeof full);
  }
  if (full.scaling == ROTOR_SCALING_LONGROPE) {
    const size_t bytes = size_t{full.rotary_dim / 2} * sizeof(float);
    require(inside(full.long_factor, bytes, image, size) && inside(full.short_factor, bytes, image, size),
            "LongRoPE factors outside the image");
    require(reinterpret_cast<uintptr_t>(full.long_factor) % 4 == 0 && reinterpret_cast<uintptr_t>(full.short_factor) % 4 == 0,
            "misaligned LongRoPE factors");
  }
  require(rotor_table_arena_size(&full) > 0 || full.max_len > (1u << 24), "an invalid config accepted");
  rotor_config again;
  std::memset(&again, 0xa5, sizeof again);
  require(rotor_config_from_gguf_sized(&again, cfg_size, image, size, layer) == ROTOR_OK &&
              std::memcmp(&again, &cfg, sizeof cfg) == 0,
          "the same call gave another config");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const size_t shift = data[0] % 4;  // where the image starts relative to 4-byte alignment
  const uint8_t *input = data + 1;
  const size_t image_size = size - 1;
  std::unique_ptr<uint8_t[]> storage(new uint8_t[image_size + shift + 1]);
  uint8_t *image = storage.get() + shift;
  std::memcpy(image, input, image_size);
  // And a copy in a block of exactly its size, which AddressSanitizer guards byte for byte.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[image_size ? image_size : 1]);
  if (image_size) std::memcpy(exact.get(), input, image_size);

  uint32_t layers = 0x12345678;
  const rotor_status layers_status = rotor_gguf_layers(exact.get(), image_size, &layers);
  fuzz::check_status(layers_status);
  if (layers_status != ROTOR_OK) require(layers == 0x12345678u, "an error changed *layers_out");
  const bool have_layers = layers_status == ROTOR_OK;

  const size_t full = sizeof(rotor_config);
  const size_t size_1_0 = offsetof(rotor_config, short_factor) + sizeof(const float *);
  const uint32_t probe[] = {0, 1, 3, 5, have_layers && layers > 0 ? layers - 1 : 7, 0xffffffffu};
  for (uint32_t layer : probe) check_layer(exact.get(), image_size, layer, full, have_layers, layers);
  check_layer(exact.get(), image_size, 0, size_1_0, have_layers, layers);
  check_layer(image, image_size, 0, full, have_layers, layers);  // aligned as the input's first byte says
  return 0;
}
