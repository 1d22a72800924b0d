"""What the binding checks before it hands memory to C: C trusts every pointer's dtype, size
and writability, so each entry point refuses an output (or in-place array, arena, workspace)
that is read-only, of another dtype or shape than the call needs, misaligned or too small,
and leaves it untouched. Also the LongRoPE factor arrays' length (factor_count), integers
ctypes would wrap, and the preset list."""
import gc

import numpy as np
import pytest

import rotor

rng = np.random.default_rng(5)


def read_only(shape, dtype=np.float32):
    """An array over immutable bytes (numpy marks it read-only), filled with ones."""
    return np.frombuffer(np.ones(shape, dtype).tobytes(), dtype=dtype).reshape(shape)


def misaligned(shape, dtype=np.float32):
    """A writable array whose address is not a multiple of its element size."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(bytearray(size + 1), dtype=dtype, offset=1, count=int(np.prod(shape))).reshape(shape)


def unchanged(array, call, error=ValueError, match=None):
    """call() raises error (matching match) and leaves array's bytes as they were."""
    before = np.array(array, copy=True)
    with pytest.raises(error, match=match) as raised:
        call()
    # Bit patterns, not values (NaN != NaN); a copy, as strided arrays cannot be viewed as bytes.
    np.testing.assert_array_equal(np.ascontiguousarray(array).view(np.uint8), before.view(np.uint8))
    return raised.value


def test_cos_sin_outputs_must_agree_and_be_writable():
    table = rotor.Table(64)
    # f32 cos, f16 sin: C would be told float32 and write 128 bytes per row into sin's 64.
    cos, sin = np.zeros((4, 32), np.float32), np.zeros((4, 32), np.float16)
    unchanged(sin, lambda: table.cos_sin(0, 4, out=(cos, sin)), match="one dtype")
    unchanged(cos, lambda: table.cos_sin(0, 4, out=(cos, sin)), match="one dtype")
    frozen = read_only((4, 32))
    unchanged(frozen, lambda: table.cos_sin(0, 4, out=(frozen, np.zeros((4, 32), np.float32))), match="read-only")
    unchanged(frozen, lambda: table.cos_sin(0, 4, out=(np.zeros((4, 32), np.float32), frozen)), match="read-only")
    for bad in (np.zeros((4, 64), np.float32), np.zeros((4, 64), np.float32)[:, ::2], np.zeros((3, 32), np.float32),
                misaligned((4, 32))):
        unchanged(bad, lambda: table.cos_sin(0, 4, out=(bad, np.zeros((4, 32), np.float32))))
    with pytest.raises(ValueError, match="differs"):  # dtype= names another type than the outputs'
        table.cos_sin(0, 4, dtype=np.float16, out=(np.zeros((4, 32), np.float32), np.zeros((4, 32), np.float32)))
    c16, s16 = table.cos_sin(0, 4, out=(np.zeros((4, 32), np.float16), np.zeros((4, 32), np.float16)))
    want_c, want_s = table.cos_sin(0, 4, dtype=np.float16)
    np.testing.assert_array_equal(c16, want_c)
    np.testing.assert_array_equal(s16, want_s)


def test_in_place_entry_points_refuse_read_only_and_misaligned_arrays():
    table = rotor.Table(32)
    multi = rotor.Table(32, layout="mrope", mrope_section=(4, 6, 6))
    ids = np.zeros((3, 1, 2), np.int32)
    ok = np.zeros((1, 2, 1, 32), np.float32)
    for bad in (read_only((1, 2, 1, 32)), misaligned((1, 2, 1, 32))):
        unchanged(bad, lambda: table.apply(bad, offset=1))
        unchanged(bad, lambda: table.apply_qk(ok.copy(), bad, offset=1))
        unchanged(bad, lambda: table.apply_qk(bad, ok.copy(), offset=1))
        unchanged(bad, lambda: multi.apply_axes(bad, ids))
        unchanged(bad, lambda: multi.apply_qk_axes(ok.copy(), bad, ids))
        unchanged(bad, lambda: table.rerotate_keys(bad, 0))
        unchanged(bad, lambda: rotor.apply_cos_sin(bad, np.ones((4, 16)), np.zeros((4, 16))))


def test_apply_qk_needs_one_batch_and_seq():
    table = rotor.Table(32)
    q = np.zeros((1, 3, 2, 32), np.float32)
    k = np.ones((1, 2, 2, 32), np.float32)
    unchanged(k, lambda: table.apply_qk(q, k), match="seq")
    # Each view carries its own dtype (C rotates each in it): q and k may differ.
    q16 = rng.standard_normal((1, 2, 2, 32)).astype(np.float16)
    k32 = rng.standard_normal((1, 2, 1, 32)).astype(np.float32)
    want_q, want_k = table.apply_to(q16, offset=3), table.apply_to(k32, offset=3)
    table.apply_qk(q16, k32, offset=3)
    np.testing.assert_array_equal(q16, want_q)
    np.testing.assert_array_equal(k32, want_k)


def test_out_of_place_outputs_match_the_input_and_are_writable():
    table = rotor.Table(32)
    x = read_only((1, 2, 3, 32))  # inputs may be read-only
    want = table.apply(np.ones((1, 2, 3, 32), np.float32), offset=2)
    np.testing.assert_array_equal(table.apply_to(x, offset=2), want)
    for bad, match in ((read_only((1, 2, 3, 32)), "read-only"), (np.zeros((1, 2, 3, 32), np.float16), "dtype"),
                       (np.zeros((1, 2, 2, 32), np.float32), "heads"),
                       (np.zeros((1, 2, 3, 40), np.float32), "head_dim")):
        unchanged(bad, lambda: table.apply_to(x, bad), match=match)
        unchanged(bad, lambda: rotor.apply_cos_sin(x, np.ones((4, 16)), np.zeros((4, 16)), out=bad), match=match)
    out = np.zeros((1, 2, 3, 32), np.float32)
    rotor.apply_cos_sin(x, np.ones((4, 16)), np.zeros((4, 16)), out=out)  # cos 1, sin 0: a copy
    np.testing.assert_array_equal(out, x)


def test_attention_checks_every_array_cache_and_workspace():
    table = rotor.Table(32)
    q, k, v = (rng.standard_normal(shape).astype(np.float32) for shape in ((1, 2, 4, 32), (1, 2, 2, 32), (1, 2, 2, 32)))
    cache = rotor.KVCache(2, 32, 16)
    need = rotor.attention_workspace_size(4, 2, 32, 2)
    for bad, match in ((read_only((1, 2, 4, 32)), "read-only"), (np.zeros((1, 2, 4, 32), np.float16), "dtype"),
                       (np.zeros((1, 2, 2, 32), np.float32), "heads"), (misaligned((1, 2, 4, 32)), "aligned")):
        unchanged(bad, lambda: table.attention(q, k, v, [cache], out=bad), match=match)
    unchanged(q, lambda: table.attention(q, k, v.astype(np.float16), [cache]), match="dtype")
    unchanged(q, lambda: table.attention(q, k, v[:, :1], [cache]), match="seq")
    unchanged(q, lambda: table.attention(q, k, v, [rotor.KVCache(1, 32, 16)]), match="kv heads")
    with pytest.raises(TypeError):
        table.attention(q, k, v, [object()])
    small = rotor.aligned_buffer(need - 64)
    error = unchanged(small, lambda: table.attention(q, k, v, [cache], workspace=small), rotor.RotorError)
    assert error.status == rotor.Status.OUT_OF_MEMORY and "workspace" in str(error)
    unaligned = rotor.aligned_buffer(need + 1)[1:]
    error = unchanged(unaligned, lambda: table.attention(q, k, v, [cache], workspace=unaligned), rotor.RotorError)
    assert error.status == rotor.Status.INVALID_ARGUMENT and "aligned" in str(error)
    unchanged(q, lambda: table.attention(q, k, v, [cache], workspace=bytes(need + 64)), match="writable")
    with rotor.Pool(2) as pool:  # a pool's threads each need their share of the workspace
        error = unchanged(q, lambda: table.attention(q, k, v, [cache], workspace=rotor.aligned_buffer(need), pool=pool),
                          rotor.RotorError)
        assert error.status == rotor.Status.OUT_OF_MEMORY
    assert len(cache) == 0
    table.attention(q, k, v, [cache], workspace=rotor.aligned_buffer(need))
    assert len(cache) == 2


def test_rerotate_workspace_is_checked():
    table = rotor.Table(32)
    keys = np.ones((1, 2, 1, 32), np.float32)
    need = rotor.rerotate_workspace_size(32)
    error = unchanged(keys, lambda: table.rerotate_keys(keys, 0, workspace=rotor.aligned_buffer(need - 1)),
                      rotor.RotorError)
    assert error.status == rotor.Status.OUT_OF_MEMORY and "workspace" in str(error)
    assert table.rerotate_keys(keys, 0, workspace=rotor.aligned_buffer(need)) == 0


def test_arenas_are_checked():
    need = rotor.Table.arena_size(64, max_len=1000)
    for bad, status in ((rotor.aligned_buffer(need - 64), rotor.Status.OUT_OF_MEMORY),
                        (rotor.aligned_buffer(need + 1)[1:], rotor.Status.INVALID_ARGUMENT)):
        with pytest.raises(rotor.RotorError) as raised:
            rotor.Table(64, max_len=1000, arena=bad)
        assert raised.value.status == status and "arena" in str(raised.value)
    frozen = np.frombuffer(bytes(need + 64), np.uint8)
    with pytest.raises(ValueError, match="writable"):
        rotor.Table(64, max_len=1000, arena=frozen)
    cache_need = rotor.KVCache.arena_size(2, 32, 64)
    with pytest.raises(rotor.RotorError) as raised:
        rotor.KVCache(2, 32, 64, arena=rotor.aligned_buffer(cache_need - 64))
    assert raised.value.status == rotor.Status.OUT_OF_MEMORY and "arena" in str(raised.value)
    with pytest.raises(ValueError, match="writable"):
        rotor.KVCache(2, 32, 64, arena=bytes(cache_need + 64))
    rotor.KVCache(2, 32, 64, arena=rotor.aligned_buffer(cache_need))


def test_integers_ctypes_would_wrap_are_refused():
    table = rotor.Table(32, max_len=100)
    x = np.ones((1, 1, 1, 32), np.float32)
    for offset in (2**32, 2**32 + 5, -1):  # ctypes would pass 0, 5 and 2**32 - 1
        with pytest.raises(rotor.RotorError) as raised:
            table.apply(x, offset=offset)
        assert raised.value.status == rotor.Status.OUT_OF_RANGE
    np.testing.assert_array_equal(x, 1)
    for start, count in ((2**32, 1), (0, 2**32 + 1)):
        with pytest.raises(rotor.RotorError):
            table.cos_sin(start, count, out=(np.zeros((1, 16), np.float32), np.zeros((1, 16), np.float32)))
    with pytest.raises(rotor.RotorError):
        table.reserve(2**32 + 1)
    for field, value in (("max_len", 2**32 + 100), ("initial_len", -1), ("ntk_dynamic", 2**40)):
        with pytest.raises(ValueError, match=field):
            rotor.Table(32, **{field: value})
    with pytest.raises(rotor.RotorError):
        rotor.Table(2**32 + 64)  # would be rotary_dim 64


LONG = np.linspace(1.0, 8.0, 64).astype(np.float32)
SHORT = np.linspace(1.0, 1.5, 64).astype(np.float32)


def test_longrope_factor_arrays_and_factor_count():
    # phi-3-mini-128k's arrays hold 48 floats (rotary_dim 96): rotary_dim 128 would read 64.
    with pytest.raises(rotor.RotorError) as raised:
        rotor.Table(128, preset="phi-3-mini-128k")
    assert raised.value.status == rotor.Status.INVALID_ARGUMENT
    assert "rotary_dim 128" in raised.value.detail and "48" in raised.value.detail
    with pytest.raises(rotor.RotorError) as raised:  # one array replaced, the other still 48
        rotor.Table(128, preset="phi-3-mini-128k", long_factor=LONG)
    assert "short_factor holds 48" in raised.value.detail
    phi = rotor.Table(preset="phi-3-mini-128k")
    assert phi.rotary_dim == 96 and phi._cfg.factor_count == 48
    # Both arrays replaced for the new rotary_dim: factor_count is their length, kept alive.
    table = rotor.Table(128, preset="phi-3-mini-128k", long_factor=list(LONG), short_factor=list(SHORT))
    own = rotor.Table(128, scaling="longrope", factor=32.0, original_max_len=4096, long_factor=list(LONG),
                      short_factor=list(SHORT), max_len=131072)
    gc.collect()
    assert table._cfg.factor_count == own._cfg.factor_count == 64
    assert table.attention_scale(128) == pytest.approx(128 ** -0.5)  # reads the config (and arrays) again
    long_rows = own.cos_sin(8000, 4)  # past original_max_len: the long factors
    assert np.all(np.isfinite(long_rows[0]))
    with pytest.raises(ValueError, match="64 values"):
        rotor.Table(128, scaling="longrope", long_factor=LONG[:48], short_factor=SHORT)
    with pytest.raises(TypeError, match="factor_count"):  # derived from the arrays, never set by hand
        rotor.Table(128, scaling="longrope", long_factor=LONG, short_factor=SHORT, factor_count=96)
    assert rotor.Table(64, scaling="linear", factor=2.0)._cfg.factor_count == 0


def test_presets_lists_every_name():
    names = rotor.presets()
    assert len(names) == len(set(names)) == rotor._library.library().rotor_preset_count()
    for expected in ("llama-3.1-8b", "phi-3-mini-128k", "gemma-3-4b/local", "gemma-3-4b", "llama-3-8b",
                     "llama-3.2-1b", "qwen2.5-7b"):
        assert expected in names
    for name in names:  # each is a table's preset, or a model whose layers name them
        tables = rotor.preset_tables(name)
        if tables == [name]:
            rotor.Table(preset=name).close()
        else:
            assert all(table in names for table in tables)


def test_torch_outputs_are_checked_too():
    torch = pytest.importorskip("torch")
    table = rotor.Table(32)
    # Mixed outputs: each array's own address and dtype (a numpy cos and a torch sin).
    cos, sin = np.zeros((3, 16), np.float32), torch.zeros(3, 16)
    table.cos_sin(5, 3, out=(cos, sin))
    want = table.cos_sin(5, 3)
    np.testing.assert_array_equal(cos, want[0])
    np.testing.assert_array_equal(sin.numpy(), want[1])
    half = torch.zeros(3, 16, dtype=torch.float16)
    with pytest.raises(ValueError, match="one dtype"):
        table.cos_sin(5, 3, out=(torch.zeros(3, 16), half))
    assert not half.any()
    with pytest.raises(ValueError, match="contiguous"):
        table.cos_sin(5, 3, out=(torch.zeros(16, 3).t(), torch.zeros(3, 16)))
    # A tensor autograd tracks: rotor's writes would bypass it.
    tracked = torch.ones(1, 2, 1, 32, requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        table.apply(tracked)
    with pytest.raises(ValueError, match="requires grad"):
        table.apply_to(torch.ones(1, 2, 1, 32), tracked)
    assert torch.equal(tracked.detach(), torch.ones(1, 2, 1, 32))
    table.apply_to(tracked, torch.zeros(1, 2, 1, 32))  # reading it is fine
    with pytest.raises(ValueError, match="dtype"):
        table.apply_to(torch.ones(1, 2, 1, 32), torch.zeros(1, 2, 1, 32, dtype=torch.bfloat16))
    with torch.inference_mode():
        frozen = torch.ones(1, 2, 1, 32)
    with pytest.raises(ValueError, match="inference"):
        table.apply(frozen)
    with torch.inference_mode():
        table.apply(frozen)  # where torch itself allows in-place writes
