"""Model presets: every name the library knows, and the tables of models whose layers differ."""
from __future__ import annotations

import ctypes
from typing import Optional

from ._errors import Status, check
from ._library import library


def presets() -> list:
    """Every name Table(preset=...) and preset_layers accept (rotor_preset_name): single-table
    presets, then per-layer model names ("gemma-3-4b", ...), then aliases ("llama-3-8b", ...)."""
    lib, names = library(), []
    for index in range(lib.rotor_preset_count()):
        name = ctypes.c_char_p()
        check(lib.rotor_preset_name(index, ctypes.byref(name)), "rotor_preset_name")
        names.append(name.value.decode())
    return names


def preset_tables(model: str) -> list:
    """The distinct tables a model needs (rotor_preset_table_name), preset names for
    Table(preset=...): ["gemma-3-4b/local", "gemma-3-4b/global"] for "gemma-3-4b"; a
    single-table preset gives its own name. RotorError INVALID_ARGUMENT for an unknown model."""
    lib, names = library(), []
    while True:  # no count in the C API: ask by index until it refuses (at 0: unknown model)
        name = ctypes.c_char_p()
        status = lib.rotor_preset_table_name(model.encode(), len(names), ctypes.byref(name))
        if status != Status.OK:
            if not names:
                check(status, "rotor_preset_table_name")
            return names
        names.append(name.value.decode())


def preset_layer_table(model: str, layer: int) -> Optional[str]:
    """Layer `layer`'s table (rotor_preset_layer_table): a preset name, or None for a layer
    without rotary embedding (Llama 4's every fourth). RotorError INVALID_ARGUMENT for an
    unknown model or a layer past the model's count (a single-table preset accepts any)."""
    name = ctypes.c_char_p()
    check(library().rotor_preset_layer_table(model.encode(), int(layer), ctypes.byref(name)),
          "rotor_preset_layer_table")
    return None if name.value is None else name.value.decode()


def preset_layers(model: str) -> list:
    """Every layer's table in order (preset names, None where a layer has no rotary embedding):
    34 entries for "gemma-3-4b". Empty for a single-table preset ("llama-3.1-8b"), whose one
    table serves any number of layers (rotor_preset_layers gives 0)."""
    count = ctypes.c_uint32()
    check(library().rotor_preset_layers(model.encode(), ctypes.byref(count)), "rotor_preset_layers")
    return [preset_layer_table(model, layer) for layer in range(count.value)]
