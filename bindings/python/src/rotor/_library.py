"""Loading librotor once, and refusing a library this binding cannot describe."""
from __future__ import annotations

import ctypes
import os
from typing import Optional, Tuple

from . import _capi

_lib: Optional[ctypes.CDLL] = None
_lib_path = ""


def library() -> ctypes.CDLL:
    """The loaded library, every function of _capi.PROTOTYPES bound (loaded on first use)."""
    global _lib, _lib_path
    if _lib is None:
        path = os.environ.get("ROTOR_LIBRARY") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                  "librotor.so")
        # ctypes.CDLL (not PyDLL): every call releases the GIL while the C function runs.
        lib = ctypes.CDLL(path)
        _capi.bind(lib)  # ImportError: a library older than this binding (a function missing)
        major = lib.rotor_version() >> 16
        if major != _capi.VERSION[0]:
            raise ImportError(f"{path} is rotor {major}.x; this binding is for rotor {_capi.VERSION[0]}.x")
        # A library older than this binding knows a smaller rotor_config and refuses ours.
        probe = _capi.rotor_config()
        if lib.rotor_config_init_sized(ctypes.byref(probe), ctypes.sizeof(probe), 64) != _capi.ROTOR_OK:
            raise ImportError(f"{path} does not accept this binding's rotor_config of {ctypes.sizeof(probe)} bytes")
        _lib, _lib_path = lib, path
    return _lib


def library_path() -> str:
    """Path of the librotor loaded: $ROTOR_LIBRARY if set, else the one inside this package."""
    library()
    return _lib_path


def version() -> Tuple[int, int, int]:
    """(major, minor, patch) of the library loaded."""
    v = library().rotor_version()
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)
