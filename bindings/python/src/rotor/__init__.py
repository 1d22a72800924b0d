"""rotor: Rotary Position Embeddings for LLM inference, on numpy arrays and PyTorch CPU tensors.

    import numpy as np, rotor
    table = rotor.Table(128, max_len=8192, base=500000.0)   # any rotor_config field by name
    q = np.random.rand(1, 16, 32, 128).astype(np.float32)   # [batch, seq, heads, head_dim]
    k = np.random.rand(1, 16, 8, 128).astype(np.float32)
    table.apply_qk(q, k, offset=0)                           # rotated IN PLACE, nothing copied

Multi-axis RoPE (Qwen2-VL / Qwen3-VL M-RoPE, 2-D vision RoPE): Table(preset="qwen2-vl-7b") or
Table(128, layout="mrope", mrope_section=(16, 24, 24)), then table.apply_axes(x, ids) with int32
ids of shape (axes, batch, seq); vl_position_ids(kinds, image_grids, video_grids, model=...)
computes a Qwen-VL prompt's ids (transformers' get_rope_index). Context shift / StreamingLLM:
KVCache.evict(table, start, count). Quantized KV caches (ggml's Q8_0 / Q4_0 blocks):
KVCache(kv_heads, head_dim, max_len, "q8_0"), key_dtype= and value_dtype= apart, unrotated_keys=True.
Models whose layers use different tables (Gemma 3 / 4, Llama 4): preset_layers(model).
GGUF files (llama.cpp, Ollama, LM Studio): Table.from_gguf(path, layer), from_gguf(path, layer)
(the fields, None for a layer without rotary embedding), gguf_layers(path).

The library (librotor.so, built by this package's CMake and installed inside it) is called
through ctypes, which releases the GIL for the duration of every call: other Python threads run
while rotor rotates, and one Table may be used by many threads at once (the C library is thread
safe for that). A Pool runs one call at a time; concurrent calls that share it wait their turn.

Arrays are used where they are, never copied: numpy arrays of float32, float16, bfloat16 as
uint16 bit patterns (or ml_dtypes.bfloat16), and torch CPU tensors (float32, float16,
bfloat16), with any non-negative strides as long as each head's head_dim elements are
contiguous. 4-D arrays are [batch, seq, heads, head_dim] (layout="bshd") or
[batch, heads, seq, head_dim] (layout="bhsd"); a [batch, seq, heads*head_dim] array is
reshaped by the caller (a view). An array rotor cannot address in place (negative strides, a
non-contiguous head_dim, a read-only array, a tensor that requires grad) raises ValueError
rather than being copied behind the caller's back. Every array C writes (in place, out=, the
cos/sin outputs) is checked before the call: writable, of the dtype and shape the call needs,
and every arena or workspace for its alignment and size.

Errors from the library raise RotorError: .status is the rotor_status number (a Status),
.detail the library's reason (rotor_last_error_message, e.g. "rotary_dim is odd").
"""
from __future__ import annotations

# One module per concept; this one only re-exports the public names (the API of rotor 1.1,
# plus presets() and last_error_message() of 1.2).
from . import _capi  # noqa: F401  (rotor._capi: the C declarations, for tests and tools)
from ._arrays import aligned_buffer
from ._errors import RotorError, Status, last_error_message, status_string
from ._gguf import from_gguf, gguf_layers
from ._kernels import force_kernel, kernel_name, kernels
from ._kv_cache import KVCache
from ._library import library_path, version
from ._pool import Pool
from ._presets import preset_layer_table, preset_layers, preset_tables, presets
from ._rows import apply_cos_sin
from ._table import Event, Table
from ._vl_position_ids import vl_position_ids
from ._workspace import attention_workspace_size, rerotate_workspace_size

__all__ = [
    "RotorError", "Status", "Table", "Pool", "KVCache", "Event", "apply_cos_sin", "aligned_buffer",
    "attention_workspace_size", "rerotate_workspace_size", "version", "status_string", "kernel_name",
    "kernels", "force_kernel", "library_path", "preset_tables", "preset_layers", "preset_layer_table",
    "presets", "last_error_message",
    "vl_position_ids",
    "from_gguf", "gguf_layers",
]

# The classes keep the names they had when this package was one module (tracebacks and help()
# say rotor.RotorError, not rotor._errors.RotorError).
for _public in (RotorError, Status, Table, Pool, KVCache, Event):
    _public.__module__ = __name__
del _public
