"""rotor.vl_position_ids (rotor_vl_position_ids) against transformers' own get_rope_index: every
case of tests/golden/vl_position_ids.txt (the file the C++ test reads), both rules, then the
binding's own checks and the ids through Table.apply_axes. numpy only."""
import os
import struct

import numpy as np
import pytest

import rotor

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "golden",
                      "vl_position_ids.txt")
MODELS = {"qwen2_vl": "qwen2-vl", "qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl"}


def read_golden():
    cases, case = [], None
    with open(GOLDEN) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            key, rest = words[0], words[1:]
            if key == "case":
                case = {"name": rest[0], "model": rest[1], "rule": rest[2], "kinds": []}
            elif key == "merge":
                case["merge"], case["tps"] = int(rest[0]), int(rest[2])
            elif key == "kinds":
                for run in rest:
                    kind, count = run.split("x")
                    case["kinds"] += [int(kind)] * int(count)
            elif key in ("images", "videos"):
                case[key] = np.array(list(map(int, rest)), dtype=np.int64).reshape(-1, 3)
            elif key == "spg":
                case["spg"] = (None if rest == ["none"] else
                               [struct.unpack("<f", struct.pack("<I", int(b, 16)))[0] for b in rest])
            elif key in ("t", "h", "w"):
                case[key] = list(map(int, rest))
            elif key == "next":
                case["next"] = int(rest[0])
            elif key == "end":
                cases.append(case)
    return cases


CASES = read_golden() if os.path.exists(GOLDEN) else []


def run(case, **extra):
    return rotor.vl_position_ids(case["kinds"], case["images"], case["videos"], model=MODELS[case["model"]],
                                 rule=case["rule"], seconds_per_grid=case["spg"], tokens_per_second=case["tps"],
                                 spatial_merge_size=case["merge"], **extra)


@pytest.mark.skipif(not CASES, reason="tests/golden/vl_position_ids.txt is not beside this source tree")
def test_golden_from_transformers_bit_for_bit():
    assert len(CASES) >= 130
    for case in CASES:
        ids, next_position = run(case)
        assert ids.dtype == np.int32 and ids.shape == (3, len(case["kinds"]))
        for axis, key in enumerate("thw"):
            assert ids[axis].tolist() == case[key], (case["name"], case["model"], case["rule"], key)
        assert next_position == case["next"], (case["name"], case["model"], case["rule"])
    assert {(c["model"], c["rule"]) for c in CASES} == {(m, r) for m in MODELS for r in ("transformers5", "original")}


def test_rules_differ_after_a_long_video():
    # 2 text tokens, a 9-frame video of 1 x 1 merged tokens per frame (t, h, w = 9, 2, 2), text.
    kinds = [0] * 2 + [2] * 9 + [0] * 2
    new, new_next = rotor.vl_position_ids(kinds, video_grids=[[9, 2, 2]], model="qwen2-vl")
    old, old_next = rotor.vl_position_ids(kinds, video_grids=[[9, 2, 2]], model="qwen2-vl", rule="original")
    assert new[0].tolist() == [0, 1] + list(range(2, 11)) + [3, 4]   # 5.x: start + max(h, w) / 2
    assert old[0].tolist() == [0, 1] + list(range(2, 11)) + [11, 12]  # original: largest id + 1
    assert (new_next, old_next) == (11, 13)


def test_torch_like_inputs_out_and_errors():
    kinds = np.array([0, 1, 1, 1, 1, 0], dtype=np.int64)
    out = np.full((3, 6), -1, dtype=np.int32)
    ids, next_position = rotor.vl_position_ids(kinds, [[1, 4, 4]], out=out)
    assert ids is out and next_position == 4
    assert out.tolist() == [[0, 1, 1, 1, 1, 3], [0, 1, 1, 2, 2, 3], [0, 1, 2, 1, 2, 3]]
    before = out.copy()
    with pytest.raises(rotor.RotorError) as error:  # the run is 4 tokens; a 1 x 4 x 6 grid merges to 6
        rotor.vl_position_ids(kinds, [[1, 4, 6]], out=out)
    assert error.value.status == rotor.Status.INVALID_ARGUMENT and "run" in error.value.detail
    assert (out == before).all()
    with pytest.raises(rotor.RotorError):  # a grid no run uses
        rotor.vl_position_ids(kinds, [[1, 4, 4], [1, 2, 2]])
    with pytest.raises(rotor.RotorError):
        rotor.vl_position_ids([0, 3, 0])
    with pytest.raises(rotor.RotorError):
        rotor.vl_position_ids([0, 256])
    with pytest.raises(rotor.RotorError):
        rotor.vl_position_ids(kinds, [[1, 4, 4]], spatial_merge_size=0)
    with pytest.raises(ValueError):
        rotor.vl_position_ids(kinds, [[1, 4, 4]], model="qwen4-vl")
    with pytest.raises(ValueError):
        rotor.vl_position_ids(kinds, [1, 4, 4])
    with pytest.raises(ValueError):
        rotor.vl_position_ids([0, 2, 0], video_grids=[[1, 2, 2]], model="qwen2.5-vl", seconds_per_grid=[1.0, 2.0])
    with pytest.raises(ValueError):
        rotor.vl_position_ids(kinds, [[1, 4, 4]], out=np.zeros((3, 5), dtype=np.int32))
    assert rotor.vl_position_ids([])[1] == 0


def test_ids_rotate_through_apply_axes_as_mrope():
    # A Qwen2.5-VL prompt: text, an image, text, a video; its ids straight into apply_axes, against
    # a float64 rotation written here from the preset's sections [16, 24, 24] and base 1e6.
    kinds = [0] * 3 + [1] * 6 + [0] * 2 + [2] * 8 + [0] * 4
    ids, next_position = rotor.vl_position_ids(kinds, [[1, 4, 6]], [[2, 4, 4]], model="qwen2.5-vl",
                                               seconds_per_grid=[1.5], tokens_per_second=2)
    table = rotor.Table(preset="qwen2.5-vl-7b")
    n, heads, d = len(kinds), 2, 128
    x = np.random.default_rng(3).standard_normal((1, n, heads, d)).astype(np.float32)
    y = table.apply_axes(x.copy(), ids)
    half = d // 2
    axis_of = np.array([0] * 16 + [1] * 24 + [2] * 24)
    inv_freq = 1e6 ** (-2.0 * np.arange(half) / d)
    angle = ids.astype(np.float64)[axis_of, :].T * inv_freq  # (n, half)
    a, b = x[0, :, :, :half].astype(np.float64), x[0, :, :, half:].astype(np.float64)
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    want = np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)
    assert np.abs(y[0] - want).max() < 3e-6
    # Decode: next_position on all three axes is 1-D RoPE at that position.
    step = np.random.default_rng(4).standard_normal((1, 1, heads, d)).astype(np.float32)
    by_axes = table.apply_axes(step.copy(), np.full((3, 1), next_position, dtype=np.int32))
    by_1d = table.apply(step.copy(), np.array([[next_position]], dtype=np.int32))
    assert np.array_equal(by_axes, by_1d)
