"""rotor 1.1 through the package: multi-axis RoPE (M-RoPE, vision) against 1-D RoPE and a
float64 reference written here, attention with axis ids, context shift (evict) against a fresh
prefill, per-layer presets, and the errors of each. numpy only; the torch case skips without it."""
import numpy as np
import pytest

import rotor

rng = np.random.default_rng(11)


def qwen2_vl_ids(start, text_before, grid, text_after):
    """Qwen2-VL's get_rope_index for one entry: text, a T x H x W image grid, text; [3, tokens]."""
    ids, next_id = [[], [], []], start
    for _ in range(text_before):
        for axis in ids:
            axis.append(next_id)
        next_id += 1
    frames, rows, cols = grid
    for t in range(frames):
        for h in range(rows):
            for w in range(cols):
                ids[0].append(next_id + t)
                ids[1].append(next_id + h)
                ids[2].append(next_id + w)
    next_id += max(frames, rows, cols)  # the largest id so far + 1
    for _ in range(text_after):
        for axis in ids:
            axis.append(next_id)
        next_id += 1
    return np.array(ids, dtype=np.int32)


def pair_map(layout, section, r, base, j):
    """(axis, frequency) of pair j, as rotor.h's rotor_layout comment states it."""
    default, quarter = base ** (-2.0 * j / r), r // 4
    s0, s1, s2 = section
    if layout == "mrope":
        return (0 if j < s0 else 1 if j < s0 + s1 else 2), default
    if layout == "mrope_interleaved":
        return (1 if j % 3 == 1 and j < 3 * s1 else 2 if j % 3 == 2 and j < 3 * s2 else 0), default
    if layout == "vision_halves":
        return j // quarter, base ** (-4.0 * (j % quarter) / r)
    k = j % quarter  # vision_alternate
    return (0, base ** (-2.0 * (2 * k) / r)) if j < quarter else (1, base ** (-2.0 * (2 * k + 1) / r))


@pytest.mark.parametrize("layout,section", [("mrope", (16, 24, 24)), ("mrope_interleaved", (24, 20, 20))])
def test_mrope_with_equal_ids_equals_one_d_apply_bit_for_bit(layout, section):
    one_d = rotor.Table(128, base=1e6, max_len=4096)
    multi = rotor.Table(128, base=1e6, max_len=4096, layout=layout, mrope_section=section)
    assert (multi.layout, multi.axes, multi.config["mrope_section"]) == (layout, 3, section)
    pos = rng.integers(0, 4000, (2, 9)).astype(np.int32)
    ids = np.stack([pos, pos, pos])  # (3, batch, seq)
    for inverse in (False, True):
        q, k = rng.uniform(-1, 1, (2, 9, 3, 136)).astype(np.float32), rng.uniform(-1, 1, (2, 9, 2, 136)).astype(np.float32)
        q1, k1 = multi.apply_qk_axes(q.copy(), k.copy(), ids, inverse=inverse)
        q2, k2 = one_d.apply_qk(q.copy(), k.copy(), positions=pos, inverse=inverse)
        np.testing.assert_array_equal(q1.view(np.uint32), q2.view(np.uint32))
        np.testing.assert_array_equal(k1.view(np.uint32), k2.view(np.uint32))
        assert not np.array_equal(q1, q)
        # float16, bhsd, ids flattened to (axes, batch*seq).
        x = rng.uniform(-1, 1, (2, 3, 9, 128)).astype(np.float16)
        a = multi.apply_axes(x.copy(), ids.reshape(3, 18), inverse=inverse, layout="bhsd")
        b = one_d.apply(x.copy(), positions=pos, inverse=inverse, layout="bhsd")
        np.testing.assert_array_equal(a.view(np.uint16), b.view(np.uint16))


@pytest.mark.parametrize("layout,section,r", [("mrope", (16, 24, 24), 128), ("mrope_interleaved", (24, 20, 20), 128),
                                              ("vision_halves", (0, 0, 0), 80), ("vision_alternate", (0, 0, 0), 64)])
def test_multi_axis_layouts_match_a_float64_reference(layout, section, r):
    base, heads = 10000.0, 2
    table = rotor.Table(r, base=base, layout=layout, mrope_section=section)
    # Two entries, the second's ids offset by 7; vision layouts take the first two axes.
    ids = np.stack([qwen2_vl_ids(0, 3, (2, 3, 4), 2), qwen2_vl_ids(7, 3, (2, 3, 4), 2)], axis=1)[:table.axes]
    seq, d = ids.shape[2], r + 8  # dims past rotary_dim stay as they are
    x = rng.uniform(-1, 1, (2, seq, heads, d)).astype(np.float32)
    y = table.apply_axes(x.copy(), ids)
    want = x.astype(np.float64)
    for j in range(r // 2):
        axis, theta = pair_map(layout, section, r, base, j)
        angle = (ids[axis].astype(np.float64) * theta)[:, :, None]  # [batch, seq, 1]
        a, b = x[..., j].astype(np.float64), x[..., j + r // 2].astype(np.float64)  # rotate_half
        want[..., j] = a * np.cos(angle) - b * np.sin(angle)
        want[..., j + r // 2] = b * np.cos(angle) + a * np.sin(angle)
    assert np.abs(y - want).max() < 2e-6
    np.testing.assert_array_equal(y[..., r:], x[..., r:])


def attend(table, cache, q, k, v, positions=None, pool=None):
    return table.attention(q, k, v, [cache], positions=positions, scale=1 / np.sqrt(q.shape[-1]), pool=pool)


def test_attention_with_axis_ids():
    table = rotor.Table(preset="qwen2-vl-7b", max_len=1024)
    assert (table.layout, table.axes, table.config["mrope_section"]) == ("mrope", 3, (16, 24, 24))
    ids = qwen2_vl_ids(0, 3, (1, 2, 3), 4)
    s, d = ids.shape[1], 128
    q = rng.uniform(-1, 1, (1, s, 4, d)).astype(np.float32)
    k, v = (rng.uniform(-1, 1, (1, s, 2, d)).astype(np.float32) for _ in range(2))
    # Text ids (t = h = w = the cache index): bit for bit the plain forward.
    text = np.tile(np.arange(s, dtype=np.int32), (3, 1))
    with_ids = attend(table, rotor.KVCache(2, d, 64), q, k, v, positions=text)
    np.testing.assert_array_equal(with_ids, attend(table, rotor.KVCache(2, d, 64), q, k, v))
    # Image + text: a prefill equals the same tokens decoded one at a time.
    prefill = attend(table, rotor.KVCache(2, d, 64), q, k, v, positions=ids)
    assert not np.array_equal(prefill, with_ids)
    cache = rotor.KVCache(2, d, 64)
    for t in range(s):
        step = attend(table, cache, q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1], positions=ids[:, t:t + 1])
        np.testing.assert_array_equal(step[0, 0], prefill[0, t])
    assert len(cache) == s
    with pytest.raises(ValueError, match="shape"):
        attend(table, cache, q, k, v, positions=ids[:2])
    # Tables whose rows change are refused (the cache does not keep each key's ids).
    ntk = rotor.Table(d, scaling="dynamic_ntk", factor=2.0, original_max_len=16)
    fresh = rotor.KVCache(2, d, 64)
    with pytest.raises(rotor.RotorError) as raised:
        attend(ntk, fresh, q, k, v, positions=np.arange(s)[None])
    assert raised.value.status == rotor.Status.INVALID_ARGUMENT and len(fresh) == 0


def test_evict_then_decode_equals_a_fresh_prefill():
    table, pool = rotor.Table(64, max_len=512), rotor.Pool(2)
    n, sink, count = 40, 4, 20
    q = rng.uniform(-1, 1, (1, n, 4, 64)).astype(np.float32)
    k, v = (rng.uniform(-1, 1, (1, n, 2, 64)).astype(np.float32) for _ in range(2))
    nq = rng.uniform(-1, 1, (1, 1, 4, 64)).astype(np.float32)
    nk, nv = (rng.uniform(-1, 1, (1, 1, 2, 64)).astype(np.float32) for _ in range(2))
    outputs = []
    for p in (None, pool):  # pools of any size give the same bits
        cache = rotor.KVCache(2, 64, 64)
        attend(table, cache, q, k, v, pool=p)
        cache.evict(table, sink, count, pool=p)
        assert len(cache) == n - count
        outputs.append(attend(table, cache, nq, nk, nv, pool=p))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    kept = np.r_[0:sink, sink + count:n]
    fresh = rotor.KVCache(2, 64, 64)
    attend(table, fresh, q[:, kept], k[:, kept], v[:, kept])
    expected = attend(table, fresh, nq, nk, nv)
    assert np.abs(outputs[0] - expected).max() < 1e-5


def test_streaming_window_and_evict_errors():
    table = rotor.Table(64, max_len=512)
    x = rng.uniform(-1, 1, (1, 40, 1, 64)).astype(np.float32)
    cache = rotor.KVCache(1, 64, 64)
    attend(table, cache, x, x, x)
    assert cache.keep_sink_and_window(table, 4, 100) == 0
    assert cache.keep_sink_and_window(table, 4, 16) == 20 and len(cache) == 20
    for start, count in ((15, 10), (2**32 - 1, 2**32 - 1), (-1, 1), (0, 2**32)):
        with pytest.raises(rotor.RotorError) as raised:
            cache.evict(table, start, count)
        assert raised.value.status == rotor.Status.OUT_OF_RANGE
    assert len(cache) == 20
    with pytest.raises(rotor.RotorError) as raised:
        cache.evict(rotor.Table(128), 0, 1)  # rotary_dim past the cache's head_dim
    assert raised.value.status == rotor.Status.INVALID_ARGUMENT
    cache.evict(table, 20, 0)  # count 0 does nothing
    cache.evict(table, 0, 20)
    assert len(cache) == 0


def test_axes_errors_leave_x_unchanged():
    table = rotor.Table(64, max_len=100, layout="mrope", mrope_section=[8, 12, 12])
    x0 = rng.uniform(-1, 1, (2, 3, 1, 64)).astype(np.float32)
    x = x0.copy()
    ids = np.arange(18, dtype=np.int32).reshape(3, 2, 3)
    for bad in (ids[:2], ids.reshape(3, 6)[:, :5], ids[0]):
        with pytest.raises(ValueError, match="shape"):
            table.apply_axes(x, bad)
    with pytest.raises(TypeError):
        table.apply_axes(x, ids.astype(np.float32))
    for value in (100, -1, 2**31):
        past = ids.astype(np.int64)
        past[2, 1, 2] = value
        with pytest.raises(rotor.RotorError) as raised:
            table.apply_axes(x, past)
        assert raised.value.status == rotor.Status.OUT_OF_RANGE
    np.testing.assert_array_equal(x, x0)
    with pytest.raises(ValueError, match="3 values"):
        rotor.Table(64, layout="mrope", mrope_section=(16, 16))
    for fields in (dict(layout="mrope", mrope_section=(8, 12, 11)), dict(layout="vision_halves", rotary_dim=66),
                   dict(layout="vision_halves", scaling="linear", factor=2.0)):
        with pytest.raises(rotor.RotorError) as raised:
            rotor.Table(**{"rotary_dim": 64, **fields})
        assert raised.value.status == rotor.Status.INVALID_ARGUMENT
    with pytest.raises(ValueError, match="unknown layout"):
        rotor.Table(64, layout="3d")
    one_d = rotor.Table(64)
    assert (one_d.layout, one_d.axes) == ("1d", 1)
    np.testing.assert_array_equal(one_d.apply_axes(x0.copy(), ids[0][None]), one_d.apply(x0.copy(), positions=ids[0]))


def test_per_layer_presets():
    layers = rotor.preset_layers("gemma-3-4b")
    assert layers == ["gemma-3-4b/global" if (i + 1) % 6 == 0 else "gemma-3-4b/local" for i in range(34)]
    assert rotor.preset_tables("gemma-3-4b") == ["gemma-3-4b/local", "gemma-3-4b/global"]
    scout = rotor.preset_layers("llama-4-scout")
    assert len(scout) == 48 and all((t is None) == ((i + 1) % 4 == 0) for i, t in enumerate(scout))
    for model in ("gemma-3-4b", "gemma-4", "llama-4-scout", "command-r7b"):
        for name in rotor.preset_tables(model):
            rotor.Table(preset=name).close()
    full = rotor.Table(preset="gemma-4/full")
    assert full.config["scaling"] == rotor._capi.ROTOR_SCALING_PROPORTIONAL and full.config["rope_pairs"] == 64
    assert rotor.Table(preset="qwen3-vl-8b").layout == "mrope_interleaved"
    assert rotor.Table(64, scaling="proportional", rope_pairs=8).config["rope_pairs"] == 8
    assert rotor.preset_tables("llama-3.1-8b") == ["llama-3.1-8b"]
    assert rotor.preset_layers("llama-3.1-8b") == []
    assert rotor.preset_layer_table("llama-3.1-8b", 1000) == "llama-3.1-8b"
    for call in (lambda: rotor.preset_layers("no-such-model"), lambda: rotor.preset_tables("no-such-model"),
                 lambda: rotor.preset_layer_table("gemma-3-4b", 34)):
        with pytest.raises(rotor.RotorError) as raised:
            call()
        assert raised.value.status == rotor.Status.INVALID_ARGUMENT


def test_torch_tensors_with_axis_ids():
    torch = pytest.importorskip("torch")
    table = rotor.Table(preset="qwen2-vl-7b")
    ids = qwen2_vl_ids(0, 2, (1, 2, 2), 1)
    x = torch.rand(1, ids.shape[1], 2, 128)
    want = table.apply_axes(x.numpy().copy(), ids)
    assert table.apply_axes(x, torch.from_numpy(ids)) is x
    np.testing.assert_array_equal(x.numpy(), want)
