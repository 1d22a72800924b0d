"""Quantized KV caches (rotor 1.3) through the package: every pair of key and value storage types,
keys rotated on append or un-rotated, against a float64 dequantize-then-attend reference written
here (ggml's Q8_0 and Q4_0 rule in numpy); arena sizes, the type names, the errors, and a context
shift of un-rotated keys against a fresh prefill. numpy only."""
import itertools

import numpy as np
import pytest

import rotor

rng = np.random.default_rng(26)
BASE, D, Q_HEADS, KV_HEADS = 10000.0, 64, 4, 2
TYPES = ("float32", "float16", "bfloat16", "q8_0", "q4_0")


# ---- storage in numpy: what the cache keeps of a float32 vector, as float64 --------------------

def q8_0(x):
    """ggml's quantize_row_q8_0_ref and back, per block of 32 along the last axis: d = amax / 127,
    q = round half away from zero (x * (1 / d)), d stored as f16; x' = q * f16(d)."""
    blocks = x.astype(np.float32).reshape(*x.shape[:-1], -1, 32)
    d = np.abs(blocks).max(axis=-1, keepdims=True) / np.float32(127)
    inverse = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    quotient = (blocks * inverse).astype(np.float64)  # the float product, rounded in exact double
    q = np.sign(quotient) * np.floor(np.abs(quotient) + 0.5)
    return (q * d.astype(np.float16).astype(np.float64)).reshape(x.shape)


def q4_0(x):
    """ggml's quantize_row_q4_0_ref and back: m = the element of largest magnitude, sign kept (the
    first of equals), d = m / -8, q = min(15, trunc(x * (1 / d) + 8.5)); x' = (q - 8) * f16(d)."""
    blocks = x.astype(np.float32).reshape(*x.shape[:-1], -1, 32)
    first_largest = np.abs(blocks).argmax(axis=-1)[..., None]
    d = np.take_along_axis(blocks, first_largest, axis=-1) / np.float32(-8)
    inverse = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, np.trunc(blocks * inverse + np.float32(8.5)))
    return ((q - 8) * d.astype(np.float16).astype(np.float64)).reshape(x.shape)


def bf16(x):
    """float32 to bfloat16 (round to nearest even), back as float32."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32)


def stored(storage, x):
    """x (float32) as a cache of `storage` holds it, dequantized, in float64."""
    if storage == "q8_0":
        return q8_0(x)
    if storage == "q4_0":
        return q4_0(x)
    if storage == "float16":
        return x.astype(np.float16).astype(np.float64)
    if storage == "bfloat16":
        return bf16(x).astype(np.float64)
    return x.astype(np.float64)


def rotated(x, positions):
    """x [..., tokens, heads, D] rotated in float64 at positions (pairs i, i + D/2)."""
    angle = np.asarray(positions, dtype=np.float64)[:, None] * BASE ** (-2.0 * np.arange(D // 2) / D)
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    a, b = x[..., :D // 2], x[..., D // 2:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def reference(q, k, v, key_dtype, value_dtype, unrotated_keys):
    """Causal attention in float64 of [1, n, heads, D] float32 tokens at positions 0 .. n-1 over
    the keys and values the cache holds: keys rotated (in float64, then float32) and stored, or
    stored un-rotated and rotated at read; values stored."""
    n = q.shape[1]
    positions = np.arange(n)
    if unrotated_keys:
        keys = rotated(stored(key_dtype, k[0]), positions)
    else:
        keys = stored(key_dtype, rotated(k[0].astype(np.float64), positions).astype(np.float32))
    values = stored(value_dtype, v[0])
    queries = rotated(q[0].astype(np.float64), positions)
    group = Q_HEADS // KV_HEADS
    keys, values = np.repeat(keys, group, axis=1), np.repeat(values, group, axis=1)
    scores = np.einsum("ihd,jhd->hij", queries, keys) / np.sqrt(D)
    scores[:, ~np.tril(np.ones((n, n), dtype=bool))] = -np.inf
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return np.einsum("hij,jhd->ihd", weights, values)[None]


def relative_rms(got, want):
    return np.sqrt(((got - want) ** 2).sum() / (want ** 2).sum())


def tokens(n, seed):
    generator = np.random.default_rng(seed)
    q = generator.uniform(-1, 1, (1, n, Q_HEADS, D)).astype(np.float32)
    k, v = (generator.uniform(-1, 1, (1, n, KV_HEADS, D)).astype(np.float32) for _ in range(2))
    k[..., 5] *= 8  # an outlier channel, as real keys have: blocks with one large element
    return q, k, v


def attend(table, cache, q, k, v, pool=None):
    return table.attention(q, k, v, [cache], scale=1 / np.sqrt(D), pool=pool)


# ---- the forward path ----------------------------------------------------------------------------

@pytest.mark.parametrize("unrotated_keys", [False, True])
@pytest.mark.parametrize("key_dtype,value_dtype", list(itertools.product(TYPES, TYPES)))
def test_prefill_and_decode_match_dequantize_then_attend(key_dtype, value_dtype, unrotated_keys):
    table, n, prefill = rotor.Table(D, max_len=512, base=BASE), 80, 70
    q, k, v = tokens(n, 1)
    cache = rotor.KVCache(KV_HEADS, D, 128, key_dtype=key_dtype, value_dtype=value_dtype,
                          unrotated_keys=unrotated_keys)
    assert (cache.key_dtype, cache.value_dtype, cache.unrotated_keys) == (key_dtype, value_dtype, unrotated_keys)
    outputs = [attend(table, cache, q[:, :prefill], k[:, :prefill], v[:, :prefill])]
    for t in range(prefill, n):  # decode steps
        outputs.append(attend(table, cache, q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1]))
    got = np.concatenate(outputs, axis=1)
    assert len(cache) == n
    # Far below the storage's own error (Q8_0 about 1e-2 of the output, Q4_0 about 1e-1): what is
    # left is float32 arithmetic.
    error = relative_rms(got, reference(q, k, v, key_dtype, value_dtype, unrotated_keys))
    assert error < 1e-5, error
    # One prefill of every token gives the decode steps' bits (the same blocks, the same order).
    whole = rotor.KVCache(KV_HEADS, D, 128, key_dtype=key_dtype, value_dtype=value_dtype,
                          unrotated_keys=unrotated_keys)
    np.testing.assert_array_equal(attend(table, whole, q, k, v), got)


def test_quantization_error_is_the_storage_s_own():
    """The reference is not the exact attention: against float32 storage the quantized caches
    are off by their grids' error, Q4_0 more than Q8_0."""
    table = rotor.Table(D, max_len=512, base=BASE)
    q, k, v = tokens(64, 2)
    exact = reference(q, k, v, "float32", "float32", False)
    errors = {t: relative_rms(attend(table, rotor.KVCache(KV_HEADS, D, 64, t), q, k, v), exact)
              for t in ("q8_0", "q4_0")}
    assert 1e-4 < errors["q8_0"] < 3e-2 and errors["q8_0"] < errors["q4_0"] < 2e-1, errors


def test_type_names_and_defaults():
    cache = rotor.KVCache(KV_HEADS, D, 16)
    assert (cache.key_dtype, cache.value_dtype, cache.unrotated_keys) == ("float32", "float32", False)
    for dtype, name in ((np.float16, "float16"), (np.dtype(np.uint16), "bfloat16"), ("bf16", "bfloat16"),
                        ("F16", "float16"), ("float32", "float32"), ("Q8_0", "q8_0"), ("q4_0", "q4_0")):
        cache = rotor.KVCache(KV_HEADS, D, 16, dtype)
        assert (cache.key_dtype, cache.value_dtype) == (name, name), dtype
    cache = rotor.KVCache(KV_HEADS, D, 16, "q4_0", key_dtype=np.float16, unrotated_keys=True)
    assert (cache.key_dtype, cache.value_dtype, cache.unrotated_keys) == ("float16", "q4_0", True)
    # The caller's arena, sized with the same type arguments.
    need = rotor.KVCache.arena_size(KV_HEADS, D, 16, "q4_0", key_dtype="q8_0", unrotated_keys=True)
    cache = rotor.KVCache(KV_HEADS, D, 16, "q4_0", key_dtype="q8_0", unrotated_keys=True,
                          arena=rotor.aligned_buffer(need))
    assert (cache.key_dtype, cache.value_dtype, cache.unrotated_keys) == ("q8_0", "q4_0", True)


def test_arena_sizes():
    """At 8 kv heads, head_dim 128, 4096 tokens: per token and head f16 256 bytes, Q8_0 136, Q4_0
    72 (ggml's blocks), plus the header."""
    f16, q8, q4 = (rotor.KVCache.arena_size(8, 128, 4096, t) for t in (np.float16, "q8_0", "q4_0"))
    assert q8 / f16 <= 0.54 and q4 / f16 <= 0.29, (q8 / f16, q4 / f16)
    # Keys and values each take their own type's bytes.
    mixed = rotor.KVCache.arena_size(8, 128, 4096, "q4_0", key_dtype="q8_0")
    assert q4 < mixed < q8 and abs(2 * mixed - q8 - q4) <= 2 * 4096
    # The old one-dtype call is the config's with both types equal and no flag.
    assert rotor.KVCache.arena_size(8, 128, 4096, "q8_0", key_dtype="q8_0", value_dtype="q8_0") == q8
    assert rotor.KVCache.arena_size(8, 128, 4096, np.float32) == rotor.KVCache.arena_size(8, 128, 4096)


def test_errors():
    table = rotor.Table(48, max_len=64)
    for kwargs in ({"dtype": "q8_0"}, {"key_dtype": "q4_0"}, {"value_dtype": "q8_0"}):
        for call in (rotor.KVCache, rotor.KVCache.arena_size):
            with pytest.raises(rotor.RotorError) as raised:
                call(KV_HEADS, 48, 64, **kwargs)  # head_dim not a multiple of 32
            assert raised.value.status == rotor.Status.INVALID_ARGUMENT and "multiple of 32" in str(raised.value)
    with pytest.raises(rotor.RotorError) as raised:
        rotor.KVCache(KV_HEADS, 2048, 64, "q4_0")  # past ROTOR_KV_MAX_QUANTIZED_HEAD_DIM
    assert raised.value.status == rotor.Status.INVALID_ARGUMENT
    assert rotor.KVCache.arena_size(KV_HEADS, 2048, 64, np.float16) > 0  # float types have no such limit
    for bad in ("q5_0", "int8", ""):
        with pytest.raises(ValueError, match="unknown"):
            rotor.KVCache(KV_HEADS, D, 64, bad)
    with pytest.raises(ValueError, match="key_dtype"):
        rotor.KVCache.arena_size(KV_HEADS, D, 64, key_dtype="q8")
    with pytest.raises(TypeError):
        rotor.KVCache(KV_HEADS, D, 64, np.float64)
    # An arena sized for another type is too small: OUT_OF_MEMORY before C is called.
    small = rotor.aligned_buffer(rotor.KVCache.arena_size(KV_HEADS, D, 64, "q4_0"))
    with pytest.raises(rotor.RotorError) as raised:
        rotor.KVCache(KV_HEADS, D, 64, "q8_0", arena=small)
    assert raised.value.status == rotor.Status.OUT_OF_MEMORY
    # Arrays are never of the cache-only types.
    with pytest.raises(TypeError, match="KV cache storage type"):
        table.cos_sin(0, 4, dtype="q8_0")
    # Attention with ids refuses a cache of un-rotated keys (it keeps no ids) and appends nothing.
    q, k, v = (rng.uniform(-1, 1, (1, 3, KV_HEADS, 64)).astype(np.float32) for _ in range(3))
    cache = rotor.KVCache(KV_HEADS, 64, 64, "q8_0", unrotated_keys=True)
    with pytest.raises(rotor.RotorError) as raised:
        rotor.Table(64).attention(q, k, v, [cache], positions=np.arange(3)[None])
    assert raised.value.status == rotor.Status.INVALID_ARGUMENT and len(cache) == 0


# ---- context shifts ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["q8_0", "q4_0", "float16"])
def test_evict_of_unrotated_keys_equals_a_fresh_prefill_bit_for_bit(dtype):
    """Un-rotated keys are only moved by a shift: after StreamingLLM's evictions the cache holds a
    fresh prefill's bytes, so the next step gives its bits, whatever the number of shifts."""
    table, pool = rotor.Table(D, max_len=512, base=BASE), rotor.Pool(2)
    sink, window, n = 4, 24, 96
    q, k, v = tokens(n + 1, 3)
    for p in (None, pool):
        cache = rotor.KVCache(KV_HEADS, D, 64, dtype, unrotated_keys=True)
        kept = []  # the token indices the cache holds, in order
        for start in range(0, n, 8):
            attend(table, cache, q[:, start:start + 8], k[:, start:start + 8], v[:, start:start + 8], pool=p)
            kept += list(range(start, start + 8))
            evicted = cache.keep_sink_and_window(table, sink, window, pool=p)
            kept = kept[:sink] + kept[sink + evicted:]
        assert len(cache) == len(kept) == sink + window
        step = attend(table, cache, q[:, n:], k[:, n:], v[:, n:], pool=p)
        fresh = rotor.KVCache(KV_HEADS, D, 64, dtype, unrotated_keys=True)
        attend(table, fresh, q[:, kept], k[:, kept], v[:, kept], pool=p)
        np.testing.assert_array_equal(step, attend(table, fresh, q[:, n:], k[:, n:], v[:, n:], pool=p))


def test_evict_of_rotated_quantized_keys_requantizes():
    """Rotated Q8_0 keys are dequantized, rotated and quantized again by a shift: close to a fresh
    prefill (one more rounding to the grid), not equal to it."""
    table = rotor.Table(D, max_len=512, base=BASE)
    q, k, v = tokens(41, 4)
    cache = rotor.KVCache(KV_HEADS, D, 64, "q8_0")
    attend(table, cache, q[:, :40], k[:, :40], v[:, :40])
    cache.evict(table, 4, 20)
    step = attend(table, cache, q[:, 40:], k[:, 40:], v[:, 40:])
    kept = np.r_[0:4, 24:40]
    fresh = rotor.KVCache(KV_HEADS, D, 64, "q8_0")
    attend(table, fresh, q[:, kept], k[:, kept], v[:, kept])
    expected = attend(table, fresh, q[:, 40:], k[:, 40:], v[:, 40:])
    assert 0 < relative_rms(step, expected.astype(np.float64)) < 3e-2
