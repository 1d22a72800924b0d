"""GGUF model files (llama.cpp, Ollama, LM Studio): a layer's rotor_config from the file's keys
(rotor_config_from_gguf_sized) and its layer count (rotor_gguf_layers). docs/gguf.md has the
key -> field table per architecture."""
from __future__ import annotations

import ctypes
import mmap
import os
from typing import Any, Dict, Optional, Union

import numpy as np

from . import _capi
from ._arrays import u32
from ._config import config_dict
from ._errors import RotorError, Status, check
from ._library import library

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


class _Image:
    """The file's bytes where the library can read them (it does no I/O itself): a path is mapped
    (copy-on-write, so ctypes can take its address; nothing is read until the library touches
    it, and a multi-gigabyte model file costs only the pages of its metadata), bytes are copied
    into a malloc'ed buffer. Either way the factor tensors keep the file's 4-byte alignment."""

    def __init__(self, source: Source):
        self._map = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            self.size = len(data)
            self.buffer = (ctypes.c_uint8 * max(self.size, 1)).from_buffer_copy(data or b"\0")
            return
        with open(os.fspath(source), "rb") as file:
            self.size = os.fstat(file.fileno()).st_size
            if self.size == 0:  # mmap refuses empty files: the library refuses the empty image
                self.buffer = (ctypes.c_uint8 * 1)()
                return
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
        self.buffer = (ctypes.c_uint8 * self.size).from_buffer(self._map)

    def close(self) -> None:
        self.buffer = None  # the exported pointer must go before the map can close
        if self._map is not None:
            self._map.close()

    def __enter__(self) -> "_Image":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def gguf_layers(source: Source) -> int:
    """The model's layer count ({arch}.block_count) of a GGUF file (a path, or its bytes)."""
    count = ctypes.c_uint32()
    with _Image(source) as image:
        check(library().rotor_gguf_layers(image.buffer, image.size, ctypes.byref(count)), "rotor_gguf_layers")
    return count.value


def from_gguf(source: Source, layer: int = 0) -> Optional[Dict[str, Any]]:
    """The rotor_config fields of one layer of the model in a GGUF file (a path, or its bytes), as
    the keyword arguments of Table: Table(**rotor.from_gguf("model.gguf")). None for a layer
    without rotary embedding (Llama 4's every fourth layer, Command R7B's full-attention layers).
    LongRoPE factors come back as float32 arrays (copies of the file's tensors). Raises
    RotorError for a malformed file, an architecture or setting rotor cannot serve (the detail
    names the key or tensor), or a layer past the model's count."""
    cfg = _capi.rotor_config()
    with _Image(source) as image:
        status = library().rotor_config_from_gguf_sized(ctypes.byref(cfg), ctypes.sizeof(cfg), image.buffer,
                                                        image.size, u32(layer, "layer"))
        if status == Status.NO_ROTARY:
            return None
        check(status, "rotor_config_from_gguf_sized")
        fields = config_dict(cfg)
        if cfg.scaling == _capi.ROTOR_SCALING_LONGROPE:
            half = cfg.rotary_dim // 2
            # The pointers lead into the image: copied before it goes.
            fields["long_factor"] = np.ctypeslib.as_array(cfg.long_factor, shape=(half,)).copy()
            fields["short_factor"] = np.ctypeslib.as_array(cfg.short_factor, shape=(half,)).copy()
    return fields


def table_from_gguf(cls: Any, source: Source, layer: int = 0, **overrides: Any) -> Any:
    """Table.from_gguf: the table of one layer of a GGUF file's model; any rotor_config field
    may be overridden by name (max_len=8192 for a shorter table). RotorError NO_ROTARY for a
    layer without rotary embedding."""
    fields = from_gguf(source, layer)
    if fields is None:
        raise RotorError(Status.NO_ROTARY, "rotor_config_from_gguf_sized",
                         f"layer {layer} of the model has no rotary embedding: rotate nothing there")
    fields.update(overrides)
    return cls(**fields)
