// Model presets: the RoPE part of well-known models' config.json files (values and sources in
// presets.cpp).
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// Fills *out (a full, current-size config) for a known model name (case-insensitive); false
// for an unknown one (*out then unspecified).
bool lookup_preset(const char *model_name, rotor_config *out);

// Tables per layer (rotor_preset_table_name, rotor_preset_layers, rotor_preset_layer_table):
// false for an unknown model or an index / layer past the end. A single-table preset is a
// model of one table on every layer (layers 0: any number). A NoPE layer's name is nullptr.
bool model_table_name(const char *model_name, uint32_t index, const char **name_out);
bool model_layers(const char *model_name, uint32_t *layers_out);
bool model_layer_table(const char *model_name, uint32_t layer, const char **name_out);

// True when `factors` is one of the presets' own LongRoPE arrays, with its length: lets config
// validation refuse a preset's arrays under another rotary_dim even for callers whose struct
// predates factor_count.
bool preset_factor_length(const float *factors, uint32_t *length_out);

// Every accepted model name, for listing: single-table presets (aliases included), then the
// per-layer models that are not also a single-table preset. preset_name_at: nullptr past the end.
uint32_t preset_name_count();
const char *preset_name_at(uint32_t index);

}  // namespace rotor
