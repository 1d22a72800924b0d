"""rotor from Python in a few lines: pip install ./bindings/python, then

    python3 bindings/python/examples/example.py
"""
import sys

import numpy as np

import rotor

print("rotor", ".".join(map(str, rotor.version())))
table = rotor.Table(128, max_len=8192)  # Llama defaults: rotate_half pairing, base 10000

# A prefill of 16 tokens at positions 0..15: 32 query heads, 8 key heads (grouped-query attention).
rng = np.random.default_rng(0)
q = rng.standard_normal((1, 16, 32, 128), dtype=np.float32)  # [batch, seq, heads, head_dim]
k = rng.standard_normal((1, 16, 8, 128), dtype=np.float32)
q_rot, k_rot = table.apply_qk(q.copy(), k.copy())  # in place: rotate copies, keep q and k

# One decode step at position 16, rotated in place, in float16.
k_step = rng.standard_normal((1, 1, 8, 128)).astype(np.float16)
table.apply(k_step, offset=16)

# Rotation is a rotation: lengths of each rotated pair are kept.
pairs_before = q[..., :64] ** 2 + q[..., 64:] ** 2
pairs_after = q_rot[..., :64] ** 2 + q_rot[..., 64:] ** 2
kept = np.allclose(pairs_before, pairs_after, rtol=1e-5)
print("pair lengths kept:", kept)

try:
    table.apply(q, offset=8190)  # positions 8190..8205 pass max_len: q is left as it was
    refused = False
except rotor.RotorError as error:
    print("refused:", error)  # "rotor_apply: position out of range"
    refused = error.status == rotor.Status.OUT_OF_RANGE
print("table:", table.stats())
sys.exit(0 if kept and refused else 1)
