"""Workspace sizes of the calls that take one (attention, key re-rotation)."""
from __future__ import annotations

from ._arrays import u32
from ._errors import RotorError, Status
from ._library import library


def attention_workspace_size(q_heads: int, kv_heads: int, head_dim: int, max_new_tokens: int, threads: int = 1) -> int:
    """Bytes of Table.attention's workspace (rotor_attention_workspace_size)."""
    size = library().rotor_attention_workspace_size(u32(q_heads, "q_heads"), u32(kv_heads, "kv_heads"),
                                                    u32(head_dim, "head_dim"), u32(max_new_tokens, "max_new_tokens"),
                                                    u32(threads, "threads"))
    if size == 0:
        raise RotorError(Status.INVALID_ARGUMENT, "rotor_attention_workspace_size",
                         "a count is zero or q_heads is not a multiple of kv_heads")
    return size


def rerotate_workspace_size(head_dim: int, threads: int = 1) -> int:
    """Bytes of Table.rerotate_keys's workspace (rotor_rerotate_workspace_size)."""
    size = library().rotor_rerotate_workspace_size(u32(head_dim, "head_dim"), u32(threads, "threads"))
    if size == 0:
        raise RotorError(Status.INVALID_ARGUMENT, "rotor_rerotate_workspace_size", "head_dim or threads is zero")
    return size
