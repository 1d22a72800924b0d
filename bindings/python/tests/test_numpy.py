"""The rotor package on numpy arrays against a plain double-precision numpy reference, and, where
torch is importable, against Hugging Face's rotate_half formulation written in torch.

Run: pip install ./bindings/python && python3 -m pytest bindings/python/tests
"""
import unittest

import numpy as np

import rotor

U32 = 2.0**-24  # float32 unit roundoff


def inv_freq(rotary_dim, base=10000.0):
    return base ** (-2.0 * np.arange(rotary_dim // 2, dtype=np.float64) / rotary_dim)


def pair_halves(x, rotary_dim, pairing):
    """Views of the two members of every rotated pair (x[..., i] and its partner)."""
    if pairing == "half":
        return x[..., : rotary_dim // 2], x[..., rotary_dim // 2 : rotary_dim]
    return x[..., 0:rotary_dim:2], x[..., 1:rotary_dim:2]


def rope_reference(x_bshd, cos, sin, rotary_dim, pairing, inverse=False):
    """x [b, s, h, d] in float64; cos, sin [b, s, r/2] float64: a' = a cos - b sin, b' = b cos + a sin."""
    x = np.asarray(x_bshd, dtype=np.float64)
    out = x.copy()
    a, b = pair_halves(x, rotary_dim, pairing)
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    if inverse:
        s = -s
    out_a, out_b = pair_halves(out, rotary_dim, pairing)
    out_a[...] = a * c - b * s
    out_b[...] = b * c + a * s
    return out


def angles(positions, freqs):
    return np.asarray(positions, dtype=np.float64)[..., None] * freqs  # [b, s, r/2]


def pair_magnitude(x_bshd, rotary_dim, pairing):
    """|a| + |b| for each element's pair (0 past rotary_dim): the scale of its rounding error."""
    x = np.abs(np.asarray(x_bshd, dtype=np.float64))
    mag = np.zeros_like(x)
    a, b = pair_halves(x, rotary_dim, pairing)
    ma, mb = pair_halves(mag, rotary_dim, pairing)
    ma[...] = a + b
    mb[...] = a + b
    return mag


def assert_rotated(test, got, x_bshd, ref, rotary_dim, pairing):
    """float32 got within rounding of ref: 4 float32 roundoffs of |a| + |b| (cos/sin rounded to
    float, two products, one sum)."""
    got64 = np.asarray(got, dtype=np.float64)
    bound = 4 * U32 * pair_magnitude(x_bshd, rotary_dim, pairing)
    err = np.abs(got64 - ref)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    test.assertTrue(np.all(err <= bound), f"error {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst}")
    # Dims past rotary_dim are copied bit for bit.
    np.testing.assert_array_equal(np.asarray(got)[..., rotary_dim:], np.asarray(x_bshd)[..., rotary_dim:])


class BindingBasics(unittest.TestCase):
    def test_version_and_status_strings(self):
        major, minor, patch = rotor.version()
        self.assertGreaterEqual(major, 1)
        self.assertEqual(rotor.status_string(rotor.Status.OK), rotor.status_string(0))
        self.assertEqual(rotor.status_string(12345), "unknown rotor status")
        self.assertNotEqual(rotor.status_string(rotor.Status.OUT_OF_RANGE), rotor.status_string(rotor.Status.INVALID_ARGUMENT))

    def test_errors_carry_the_status_string(self):
        with self.assertRaises(rotor.RotorError) as raised:
            rotor.Table(63)  # odd rotary_dim
        self.assertEqual(raised.exception.status, rotor.Status.INVALID_ARGUMENT)
        self.assertEqual(raised.exception.reason, rotor.status_string(rotor.Status.INVALID_ARGUMENT))
        self.assertIn(raised.exception.reason, str(raised.exception))
        with self.assertRaises(TypeError):
            rotor.Table(64, no_such_field=1)

    def test_out_of_range_changes_nothing(self):
        table = rotor.Table(16, max_len=100)
        x = np.random.default_rng(1).standard_normal((1, 3, 2, 16)).astype(np.float32)
        before = x.copy()
        with self.assertRaises(rotor.RotorError) as raised:
            table.apply(x, positions=[[0, 50, 100]])
        self.assertEqual(raised.exception.status, rotor.Status.OUT_OF_RANGE)
        np.testing.assert_array_equal(x, before)
        with self.assertRaises(rotor.RotorError):
            table.apply(x, positions=[[0, -1, 2]])
        with self.assertRaises(rotor.RotorError):
            table.apply(x, positions=[[0, 2**40, 2]])  # would wrap to int32
        np.testing.assert_array_equal(x, before)
        with self.assertRaises(rotor.RotorError) as raised:
            rotor.apply_cos_sin(x, np.ones((4, 8)), np.zeros((4, 8)), positions=[[0, 1, 4]])
        self.assertEqual(raised.exception.status, rotor.Status.OUT_OF_RANGE)
        with self.assertRaises(rotor.RotorError) as raised:  # rotary_dim 32 > head_dim 16
            rotor.apply_cos_sin(x, np.ones((4, 16)), np.zeros((4, 16)))
        self.assertEqual(raised.exception.status, rotor.Status.INVALID_ARGUMENT)

    def test_stats_and_reserve(self):
        table = rotor.Table(32, initial_len=16, max_len=1000, growth="exact")
        self.assertEqual(table.stats()["max_len"], 1000)
        table.reserve(500)
        self.assertGreaterEqual(table.stats()["rows"], 500)
        with self.assertRaises(rotor.RotorError):
            table.reserve(1001)


class CosSin(unittest.TestCase):
    def test_rows_match_double(self):
        r, count = 64, 4096
        table = rotor.Table(r, max_len=count)
        cos, sin = table.cos_sin(0, count)
        theta = angles(np.arange(count), inv_freq(r))
        for got, want in ((cos, np.cos(theta)), (sin, np.sin(theta))):
            # 1 float ulp of the exact value, 2^-26 absolute near zeros (the documented bound).
            bound = np.maximum(np.spacing(np.abs(want).astype(np.float32)).astype(np.float64), 2.0**-26)
            self.assertTrue(np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) / bound))

    def test_layouts_and_dtypes(self):
        table = rotor.Table(32, pairing="interleaved")
        cos, sin = table.cos_sin(100, 7)
        cos_dup, sin_dup = table.cos_sin(100, 7, duplicated=True)
        np.testing.assert_array_equal(cos_dup, np.concatenate([cos, cos], axis=1))
        np.testing.assert_array_equal(sin_dup, np.concatenate([sin, sin], axis=1))
        cos16, sin16 = table.cos_sin(100, 7, dtype=np.float16)
        np.testing.assert_array_equal(cos16, cos.astype(np.float16))  # round to nearest even
        np.testing.assert_array_equal(sin16, sin.astype(np.float16))

    def test_linear_scaling(self):
        r, factor = 32, 4.0
        table = rotor.Table(r, scaling="linear", factor=factor)
        cos, sin = table.cos_sin(0, 300)
        theta = angles(np.arange(300), inv_freq(r) / factor)
        np.testing.assert_allclose(cos, np.cos(theta), rtol=0, atol=2e-7)
        np.testing.assert_allclose(sin, np.sin(theta), rtol=0, atol=2e-7)


class Apply(unittest.TestCase):
    rng = np.random.default_rng(2026)

    def case(self, b, s, h, d, r, pairing, positions=True, offset=0, dtype=np.float32):
        x = self.rng.uniform(-2, 2, (b, s, h, d)).astype(dtype)
        pos = self.rng.integers(0, 3000, (b, s)) if positions else offset + np.tile(np.arange(s), (b, 1))
        theta = angles(pos, inv_freq(r))
        return x, pos, np.cos(theta), np.sin(theta)

    def test_pairings_partial_dims_positions(self):
        for pairing in ("half", "interleaved"):
            for (b, s, h, d, r) in ((2, 5, 3, 64, 64), (1, 9, 4, 80, 32), (3, 1, 1, 10, 2)):
                for with_positions in (True, False):
                    with self.subTest(pairing=pairing, shape=(b, s, h, d, r), positions=with_positions):
                        table = rotor.Table(r, pairing=pairing, max_len=4096)
                        x, pos, cos, sin = self.case(b, s, h, d, r, pairing, with_positions, offset=17)
                        got = table.apply_to(x, positions=pos if with_positions else None, offset=17)
                        assert_rotated(self, got, x, rope_reference(x, cos, sin, r, pairing), r, pairing)
                        back = table.apply_to(got, positions=pos if with_positions else None, offset=17, inverse=True)
                        assert_rotated(self, back, got, rope_reference(got, cos, sin, r, pairing, True), r, pairing)
                        np.testing.assert_allclose(back, x, rtol=0, atol=1e-5)

    def test_bhsd_layout_and_in_place(self):
        table = rotor.Table(16)
        x, pos, cos, sin = self.case(2, 6, 3, 16, 16, "half")
        x_bhsd = np.ascontiguousarray(x.transpose(0, 2, 1, 3))
        got = table.apply_to(x_bhsd, positions=pos, layout="bhsd")
        assert_rotated(self, got.transpose(0, 2, 1, 3), x, rope_reference(x, cos, sin, 16, "half"), 16, "half")
        in_place = x_bhsd.copy()
        self.assertIs(table.apply(in_place, positions=pos, layout="bhsd"), in_place)
        np.testing.assert_array_equal(in_place, got)

    def test_strided_view_of_fused_qkv(self):
        # [b, s, (hq + 2 hk) * d]: K is rotated in place inside the buffer, Q and V untouched.
        b, s, hq, hk, d = 2, 4, 4, 2, 32
        qkv = self.rng.standard_normal((b, s, (hq + 2 * hk) * d)).astype(np.float32)
        before = qkv.copy()
        k = qkv[:, :, hq * d:(hq + hk) * d].reshape(b, s, hk, d)  # a view, not a copy
        self.assertFalse(k.flags.c_contiguous)
        table = rotor.Table(d)
        table.apply(k, offset=5)
        theta = angles(5 + np.tile(np.arange(s), (b, 1)), inv_freq(d))
        k_before = before[:, :, hq * d:(hq + hk) * d].reshape(b, s, hk, d)
        assert_rotated(self, k, k_before, rope_reference(k_before, np.cos(theta), np.sin(theta), d, "half"), d, "half")
        np.testing.assert_array_equal(qkv[:, :, : hq * d], before[:, :, : hq * d])
        np.testing.assert_array_equal(qkv[:, :, (hq + hk) * d:], before[:, :, (hq + hk) * d:])

    def test_apply_qk_grouped_query(self):
        table = rotor.Table(64, max_len=4096)
        q, pos, cos, sin = self.case(2, 3, 8, 64, 64, "half")
        k = self.rng.uniform(-2, 2, (2, 3, 2, 64)).astype(np.float32)
        q_rot, k_rot = table.apply_qk(q.copy(), k.copy(), positions=pos)
        assert_rotated(self, q_rot, q, rope_reference(q, cos, sin, 64, "half"), 64, "half")
        assert_rotated(self, k_rot, k, rope_reference(k, cos, sin, 64, "half"), 64, "half")

    def test_half_precision(self):
        for dtype_name in ("float16", "bfloat16"):
            try:
                dtype = np.dtype(dtype_name) if dtype_name == "float16" else np.dtype(__import__("ml_dtypes").bfloat16)
            except ImportError:
                continue  # bfloat16 needs ml_dtypes (installed with onnx)
            with self.subTest(dtype=dtype_name):
                table = rotor.Table(32, pairing="interleaved", max_len=4096)
                x32, pos, cos, sin = self.case(2, 4, 2, 48, 32, "interleaved")
                x = x32.astype(dtype)
                got = table.apply_to(x, positions=pos)
                self.assertEqual(got.dtype, dtype)
                ref = rope_reference(x.astype(np.float64), cos, sin, 32, "interleaved")
                err = np.abs(got.astype(np.float64) - ref)
                # One rounding to the narrow type (half its ulp) after float math: within 1 ulp.
                ulp = np.abs(np.spacing(np.abs(ref).astype(np.float16))).astype(np.float64) if dtype_name == "float16" \
                    else 2.0 ** (np.floor(np.log2(np.maximum(np.abs(ref), 2.0**-126))) - 7)
                self.assertTrue(np.all(err <= ulp + 4 * U32 * pair_magnitude(x, 32, "interleaved")))
                np.testing.assert_array_equal(got[..., 32:], x[..., 32:])

    def test_pool_gives_the_same_bits(self):
        table = rotor.Table(64)
        x, pos, _, _ = self.case(4, 64, 8, 64, 64, "half")
        alone = table.apply_to(x, positions=pos)
        with rotor.Pool(2) as pool:
            np.testing.assert_array_equal(table.apply_to(x, positions=pos, pool=pool), alone)

    def test_apply_cos_sin_with_caller_rows(self):
        for pairing in ("half", "interleaved"):
            with self.subTest(pairing=pairing):
                rows, r = 50, 8
                cos_rows = self.rng.uniform(-1, 1, (rows, r // 2)).astype(np.float32)
                sin_rows = self.rng.uniform(-1, 1, (rows, r // 2)).astype(np.float32)
                x = self.rng.uniform(-1, 1, (2, 3, 4, 12)).astype(np.float32)
                pos = self.rng.integers(0, rows, (2, 3))
                got = rotor.apply_cos_sin(x.copy(), cos_rows, sin_rows, positions=pos, pairing=pairing)
                ref = rope_reference(x, cos_rows[pos].astype(np.float64), sin_rows[pos].astype(np.float64), r, pairing)
                # cos/sin are given as float: no rounding of them, so 3 roundoffs suffice; keep 4.
                assert_rotated(self, got, x, ref, r, pairing)


class HuggingFaceTorch(unittest.TestCase):
    """Hugging Face Llama: q * cos + rotate_half(q) * sin, cos/sin = cat(freqs, freqs), in torch."""

    def test_rotate_half_formulation(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not importable (Debian's python3-torch is not installed)")

        def rotate_half(t):
            half = t.shape[-1] // 2
            return torch.cat((-t[..., half:], t[..., :half]), dim=-1)

        b, s, h, d = 2, 7, 4, 64
        x = np.random.default_rng(7).standard_normal((b, s, h, d)).astype(np.float32)
        positions = np.arange(100, 100 + s)
        inv = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        freqs = torch.outer(torch.tensor(positions, dtype=torch.float64), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]  # broadcast over b and h
        xt = torch.tensor(x, dtype=torch.float64)
        want = (xt * cos + rotate_half(xt) * sin).numpy()

        table = rotor.Table(d)
        got = table.apply_to(x, offset=100)
        assert_rotated(self, got, x, want, d, "half")
        cos_dup, sin_dup = table.cos_sin(100, s, duplicated=True)  # the HF cos/sin tensors
        np.testing.assert_allclose(cos_dup, emb.cos().numpy(), rtol=0, atol=2.0**-24)
        np.testing.assert_allclose(sin_dup, emb.sin().numpy(), rtol=0, atol=2.0**-24)


if __name__ == "__main__":
    unittest.main()
