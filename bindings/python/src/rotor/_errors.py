"""rotor_status as Python sees it: the Status enum and the RotorError exception."""
from __future__ import annotations

import enum
from typing import Union

from . import _capi
from ._library import library


class Status(enum.IntEnum):
    """rotor_status, values pinned by rotor.h."""

    OK = _capi.ROTOR_OK
    INVALID_ARGUMENT = _capi.ROTOR_ERR_INVALID_ARGUMENT
    OUT_OF_RANGE = _capi.ROTOR_ERR_OUT_OF_RANGE
    OUT_OF_MEMORY = _capi.ROTOR_ERR_OUT_OF_MEMORY
    UNSUPPORTED = _capi.ROTOR_ERR_UNSUPPORTED
    DEVICE = _capi.ROTOR_ERR_DEVICE
    RESCALED = _capi.ROTOR_ERR_RESCALED
    INTERNAL = _capi.ROTOR_ERR_INTERNAL
    NO_ROTARY = _capi.ROTOR_ERR_NO_ROTARY  # (1.3) a model layer without rotary embedding


def status_string(status: int) -> str:
    """rotor_status_string: a description of any status value."""
    return library().rotor_status_string(int(status)).decode()


def last_error_message() -> str:
    """rotor_last_error_message: why the last rotor call made on this thread failed, naming the
    argument or field at fault ("" after a call that succeeded). RotorError.detail holds it
    for the call that raised."""
    return library().rotor_last_error_message().decode()


class RotorError(Exception):
    """A rotor_status other than ROTOR_OK: .status (a Status, or the raw int for a value this
    binding does not know), .reason (rotor_status_string's text), .call (the C function, or
    what the binding refused before calling it), .detail (why: rotor_last_error_message of the
    failed call, or the binding's own words; may be "")."""

    def __init__(self, status: int, call: str = "", detail: str = ""):
        try:
            self.status: Union[Status, int] = Status(status)
        except ValueError:
            self.status = int(status)
        self.reason = status_string(int(status))
        self.call = call
        self.detail = detail
        message = f"{call}: {self.reason}" if call else self.reason
        # The library's generic reason repeats the status string: said once.
        super().__init__(f"{message} ({detail})" if detail and detail != self.reason else message)


def check(status: int, call: str) -> None:
    """Raises RotorError unless status is OK. Called straight after the C call, on its thread,
    so the library's thread-local message is that call's own."""
    if status != Status.OK:
        raise RotorError(status, call, last_error_message())
