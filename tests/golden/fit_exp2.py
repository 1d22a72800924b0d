#!/usr/bin/env python3
"""The attention fold's 2^r polynomial (src/kernels/attention_kernels.hpp, kExp2Poly).

2^r ~ 1 + r * q(r) on [-1/2, 1/2], q of degree 5, fitted to the relative error by Lawson's
iteratively reweighted least squares (which converges to the minimax fit) on Chebyshev points,
in double. The form 1 + r * q keeps 2^0 = 1 exact. Prints the relative error of the fit and of
the coefficients rounded to float, then evaluated in float with fused multiply-adds (each step
rounded once), against exp2 in double. Needs numpy only:

    python3 tests/golden/fit_exp2.py
"""
import numpy as np

DEGREE = 5  # of q: six coefficients, seven multiply-adds with the final 1 + r * q and the 2^n


def fit(degree, iterations=400):
    r = 0.5 * np.cos(np.linspace(0.0, np.pi, 4001))
    r = r[np.abs(r) > 1e-9]  # q's target (2^r - 1) / r has a removable point at 0
    target = (np.exp2(r) - 1.0) / r
    weight = np.abs(r / np.exp2(r))  # relative error of 1 + r q = (q - target) * r / 2^r
    basis = np.vander(r, degree + 1, increasing=True)
    lawson = np.full(r.shape, 1.0 / r.size)
    for _ in range(iterations):
        row_weight = np.sqrt(lawson) * weight
        coeffs, *_ = np.linalg.lstsq(basis * row_weight[:, None], target * row_weight, rcond=None)
        error = np.abs((basis @ coeffs - target) * weight)
        lawson = lawson * error
        lawson /= lawson.sum()
    return coeffs, error.max()


def float_fma_error(coeffs):
    c = [np.float32(x) for x in coeffs]
    r = np.linspace(-0.5, 0.5, 200001).astype(np.float32)
    q = np.full(r.shape, c[-1], dtype=np.float32)
    for ck in reversed(c[:-1]):
        q = (q.astype(np.float64) * r + np.float64(ck)).astype(np.float32)  # one rounding: an FMA
    p = (r.astype(np.float64) * q + 1.0).astype(np.float32)
    exact = np.exp2(r.astype(np.float64))
    ulps = np.abs(p - exact) / np.spacing(exact.astype(np.float32))
    return np.abs(p / exact - 1.0).max(), ulps.max()


def main():
    coeffs, fit_error = fit(DEGREE)
    relative, ulps = float_fma_error(coeffs)
    print(f"fit: max relative error {fit_error:.3g}; in float with FMAs: {relative:.3g} ({ulps:.2f} ulp)")
    print("inline constexpr float kExp2Poly[%d] = {%s};"
          % (DEGREE + 1, ", ".join("%.15ef" % np.float32(x) for x in coeffs)))


if __name__ == "__main__":
    main()
