"""The lifetime of a library object (table, pool, KV cache) owned by a Python object."""
from __future__ import annotations

from typing import Any, Optional


class Handle:
    """A library object released by close(), `with`, or garbage collection."""

    _handle: Optional[int] = None
    _what = "object"

    @property
    def handle(self) -> int:
        """The C pointer (as an int)."""
        if self._handle is None:
            raise ValueError(f"the {self._what} is closed")
        return self._handle

    def _release(self, handle: int) -> None:
        pass

    def close(self) -> None:
        """Releases the library object now (no call may be using it)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._release(handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
