"""The SIMD kernel set the library runs (rotor_kernel_*)."""
from __future__ import annotations

from typing import Optional

from ._errors import check
from ._library import library


def kernel_name() -> str:
    """The kernel set in use: "scalar", "sse2", "avx2", "avx512", "avx512bf16", "neon", "neon64"."""
    return library().rotor_kernel_name().decode()


def kernels() -> list:
    """The kernel sets this CPU can run, best first (the scalar reference last)."""
    lib = library()
    return [lib.rotor_kernel_available(i).decode() for i in range(lib.rotor_kernel_count())]


def force_kernel(name: Optional[str]) -> None:
    """Forces a kernel set (None: back to the automatic choice). Not while other threads apply."""
    check(library().rotor_kernel_force(None if name is None else name.encode()), "rotor_kernel_force")
