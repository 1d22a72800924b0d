//! Helpers shared by the integration tests (each tests/*.rs file is a crate of its own, so
//! they come in with `mod common;`).

/// n values in [-1, 1) from a linear congruential generator: the same inputs on every platform
/// and run, with no crate for random numbers (CI has no registry).
pub fn random(n: usize, mut seed: u32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
            ((seed >> 8) & 0xffff) as f32 / 32768.0 - 1.0
        })
        .collect()
}
