"""rotor against Hugging Face transformers' own RoPE code (golden files, numpy only).

tests/golden/gen_golden.py ran transformers (float64 and its native float32) and wrote
tests/golden/rope_golden.npz and cases.json; this test runs the same inputs through the rotor
shared library (ctypes; ROTOR_LIBRARY names it) and compares. The ctypes declarations are the
Python package's own (bindings/python/src/rotor/_capi.py, checked against rotor.h by
bindings/check_header.py), loaded by path.

Error measure: per rotated pair, |rotor - HF float64| in units of one float32 ulp of the pair's
norm (a rotation's natural scale: an element near zero has no meaningful relative error); for
attention outputs, in ulps of the largest |value| of that output row. Run directly to print
the table of docs/scaling.md ("python3 tests/ffi/test_golden.py --report").
"""
import ctypes
import importlib.util
import json
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
CAPI = os.path.join(HERE, "..", "..", "bindings", "python", "src", "rotor", "_capi.py")


def load_capi():
    """The Python package's ctypes declarations (structs, enums, prototypes), which
    bindings/check_header.py checks against rotor.h for every pointer width: the one copy this
    test uses, rather than a copy of its own nothing checks. Loaded by path: it needs only the
    standard library, not the package (nor its librotor)."""
    spec = importlib.util.spec_from_file_location("rotor_capi_for_golden", CAPI)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


capi = load_capi()


def load():
    lib = ctypes.CDLL(os.environ.get("ROTOR_LIBRARY", "librotor.so.1"))
    capi.bind(lib)  # every prototype, as the package binds them
    return lib


def check(lib, status):
    if status != capi.ROTOR_OK:
        raise AssertionError(f"{lib.rotor_status_string(status).decode()}: {lib.rotor_last_error_message().decode()}")


def enum_value(enum, prefix, name):
    """cases.json's "longrope" for rotor_scaling is ROTOR_SCALING_LONGROPE's value."""
    return capi.ENUMS[enum][f"{prefix}_{name.upper()}"]


def make_config(lib, spec):
    cfg = capi.rotor_config()
    keep = []
    if "preset" in spec:
        check(lib, lib.rotor_config_preset_sized(ctypes.byref(cfg), ctypes.sizeof(cfg), spec["preset"].encode()))
    else:
        check(lib, lib.rotor_config_init_sized(ctypes.byref(cfg), ctypes.sizeof(cfg), spec["rotary_dim"]))
    for key, value in spec.items():
        if key in ("preset", "rotary_dim"):
            continue
        if key == "scaling":
            value = enum_value("rotor_scaling", "ROTOR_SCALING", value)
        elif key == "layout":
            value = enum_value("rotor_layout", "ROTOR_LAYOUT", value)
        elif key == "pairing":
            value = enum_value("rotor_pairing", "ROTOR_PAIRING", value)
        elif key == "mrope_section":
            value = (ctypes.c_uint32 * 3)(*value)
        elif key in ("long_factor", "short_factor"):
            arr = (ctypes.c_float * len(value))(*value)
            keep.append(arr)
            # The library reads factor_count floats from each array: their true length.
            cfg.factor_count = len(value)
            value = ctypes.cast(arr, ctypes.POINTER(ctypes.c_float))
        setattr(cfg, key, value)
    cfg.initial_len = 16
    return cfg, keep


def table_for(lib, spec):
    cfg, keep = make_config(lib, spec)
    table = ctypes.c_void_p()
    check(lib, lib.rotor_table_create(ctypes.byref(table), ctypes.byref(cfg)))
    return table, cfg


def i32(a):
    a = np.ascontiguousarray(a, dtype=np.int32)
    return a, a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def view(lib, a):
    seq, heads, d = a.shape
    return lib.rotor_tensor_bshd(a.ctypes.data, capi.ROTOR_DTYPE_F32, 1, seq, heads, d)


def run_case(lib, case, z):
    name, kind = case["name"], case["kind"]
    table, cfg = table_for(lib, case["rotor"])
    try:
        if kind in ("apply", "axes"):
            x = np.array(z[f"{name}.x"], dtype=np.float32, copy=True)
            pos, pos_p = i32(z[f"{name}.positions"])
            t = view(lib, x)
            if kind == "apply":
                check(lib, lib.rotor_apply(table, ctypes.byref(t), pos_p, 0, capi.ROTOR_FORWARD, None))
            else:
                check(lib, lib.rotor_apply_axes(table, ctypes.byref(t), pos_p, capi.ROTOR_FORWARD, None))
            return x, cfg
        q, k, v = (np.array(z[f"{name}.{n}"], dtype=np.float32, copy=True) for n in "qkv")
        seq, q_heads, d = q.shape
        kv_heads = k.shape[1]
        out = np.zeros_like(q)
        align = capi.ARENA_ALIGNMENT
        size = lib.rotor_kv_cache_arena_size(kv_heads, d, 4096, capi.ROTOR_DTYPE_F32)
        arena = np.zeros(size + align, np.uint8)
        aligned = arena.ctypes.data + (-arena.ctypes.data) % align
        cache = ctypes.c_void_p()
        check(lib, lib.rotor_kv_cache_init(ctypes.byref(cache), kv_heads, d, 4096, capi.ROTOR_DTYPE_F32, aligned, size))
        ws_size = lib.rotor_attention_workspace_size(q_heads, kv_heads, d, seq, 1)
        ws = np.zeros(ws_size + align, np.uint8)
        ws_aligned = ws.ctypes.data + (-ws.ctypes.data) % align
        caches = (ctypes.c_void_p * 1)(cache)
        tq, tk, tv, to = view(lib, q), view(lib, k), view(lib, v), view(lib, out)
        scale = ctypes.c_float(d ** -0.5)
        args = (table, caches, ctypes.byref(tq), ctypes.byref(tk), ctypes.byref(tv), ctypes.byref(to))
        if kind == "attention":
            check(lib, lib.rotor_attention_forward(*args, scale, ws_aligned, ws_size, None))
        else:
            pos, pos_p = i32(z[f"{name}.positions"])
            check(lib, lib.rotor_attention_forward_axes(*args, pos_p, scale, ws_aligned, ws_size, None))
        return out, cfg
    finally:
        lib.rotor_table_destroy(table)


def f32_ulp(scale):
    scale = np.maximum(np.abs(scale), np.finfo(np.float32).tiny).astype(np.float32)
    return np.spacing(scale).astype(np.float64)


def pair_scale(ref, cfg):
    """Per element: the norm of its rotary pair (or |value| past rotary_dim)."""
    r = cfg.rotary_dim
    scale = np.abs(ref).copy()
    if cfg.pairing == capi.ROTOR_PAIRING_HALF:
        a, b = ref[..., : r // 2], ref[..., r // 2: r]
        n = np.hypot(a, b)
        scale[..., : r // 2], scale[..., r // 2: r] = n, n
    else:
        a, b = ref[..., 0:r:2], ref[..., 1:r:2]
        n = np.hypot(a, b)
        scale[..., 0:r:2], scale[..., 1:r:2] = n, n
    return scale


def ulps(got, ref, cfg, kind):
    if kind.startswith("attention"):
        scale = np.abs(ref).max(axis=-1, keepdims=True) * np.ones_like(ref)
    else:
        scale = pair_scale(ref, cfg)
    return float((np.abs(got.astype(np.float64) - ref) / f32_ulp(scale)).max())


# Bounds, in float32 ulps of the pair norm (attention: of the row's largest value). rotor's rows
# are within 1 ulp of exact; a rotation adds a product and a sum each rounded to float (and
# the inputs are float32), so a rotated pair is within a few ulps of its norm. Attention
# accumulates a softmax and a weighted sum over up to 24 keys in float.
BOUND = {"apply": 4.0, "axes": 4.0, "attention": 64.0, "attention_axes": 64.0}


def results():
    lib = load()
    meta = json.load(open(os.path.join(GOLDEN, "cases.json")))
    z = np.load(os.path.join(GOLDEN, "rope_golden.npz"))
    rows = []
    for case in meta["cases"]:
        got, cfg = run_case(lib, case, z)
        ref64 = z[f"{case['name']}.hf64"]
        hf32 = z[f"{case['name']}.hf32"].astype(np.float64)
        rows.append((case["name"], case["kind"], ulps(got, ref64, cfg, case["kind"]),
                     ulps(hf32, ref64, cfg, case["kind"]), int(np.max(z[f"{case['name']}.positions"]))))
    return meta, rows


class GoldenTest(unittest.TestCase):
    def test_every_case_within_bound_of_hf_float64(self):
        meta, rows = results()
        self.assertGreaterEqual(len(rows), 20)
        for name, kind, rotor_ulps, _, _ in rows:
            with self.subTest(case=name):
                self.assertLessEqual(rotor_ulps, BOUND[kind], f"{name}: {rotor_ulps:.2f} ulps")


if __name__ == "__main__":
    if "--report" in sys.argv:
        meta, rows = results()
        print(f"transformers {meta['transformers']}, torch {meta['torch']}")
        print("| case | entry point | largest position | rotor vs HF float64 (ulps) | HF float32 vs HF float64 (ulps) |")
        print("|---|---|---|---|---|")
        for name, kind, r, h, p in rows:
            print(f"| {name} | {kind} | {p} | {r:.2f} | {h:.1f} |")
    else:
        unittest.main()
