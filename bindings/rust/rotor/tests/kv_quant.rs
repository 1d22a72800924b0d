//! Quantized KV caches (rotor 1.3) through the safe API: every pair of key and value storage
//! types, keys rotated on append or un-rotated, against a float64 dequantize-then-attend
//! reference written here (ggml's Q8_0 and Q4_0 rule); construction, the config read back, arena
//! sizes, the errors, and a context shift of un-rotated keys against a fresh prefill.
use rotor::*;

mod common;
use common::random;

const BASE: f64 = 10000.0;
const D: u32 = 64;
const Q_HEADS: u32 = 4;
const KV_HEADS: u32 = 2;
const TYPES: [CacheType; 5] = [CacheType::F32, CacheType::F16, CacheType::Bf16, CacheType::Q8_0, CacheType::Q4_0];

// ---- storage: what a cache keeps of a float vector, as f64 ------------------------------------

/// x rounded to f16 (nearest even), as f64: the scale a quantized block stores. x is finite and
/// well inside f16's range here; below 2^-14 the spacing is the subnormals' 2^-24.
fn through_f16(x: f32) -> f64 {
    let a = (x as f64).abs();
    if a == 0.0 {
        return 0.0;
    }
    let exponent = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let spacing = 2f64.powi(exponent.max(-14) - 10);
    let units = a / spacing; // exact: a power of two
    let (whole, part) = (units.floor(), units - units.floor());
    let rounded = if part > 0.5 || (part == 0.5 && whole % 2.0 != 0.0) { whole + 1.0 } else { whole };
    (rounded * spacing).copysign(x as f64)
}

/// x rounded to bfloat16 (nearest even).
fn through_bf16(x: f32) -> f64 {
    let bits = x.to_bits();
    f32::from_bits((bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff_0000) as f64
}

/// ggml's quantize_row_q8_0_ref and back, one block of 32: d = amax / 127, q = round half away
/// from zero (x * (1 / d)), d stored as f16; x' = q * f16(d).
fn through_q8_0(x: &[f32]) -> Vec<f64> {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let inverse = if d != 0.0 { 1.0 / d } else { 0.0 };
    x.iter().map(|v| (v * inverse).round() as f64 * through_f16(d)).collect()
}

/// ggml's quantize_row_q4_0_ref and back, one block of 32: m = the element of largest magnitude
/// (the first of equals, sign kept), d = m / -8, q = min(15, trunc(x * (1 / d) + 8.5));
/// x' = (q - 8) * f16(d).
fn through_q4_0(x: &[f32]) -> Vec<f64> {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let inverse = if d != 0.0 { 1.0 / d } else { 0.0 };
    x.iter().map(|v| (((v * inverse + 8.5) as i32).min(15) - 8) as f64 * through_f16(d)).collect()
}

/// One head's vector (D floats) as a cache of `storage` holds it.
fn stored(storage: CacheType, x: &[f32]) -> Vec<f64> {
    match storage {
        CacheType::F32 => x.iter().map(|&v| v as f64).collect(),
        CacheType::F16 => x.iter().map(|&v| through_f16(v)).collect(),
        CacheType::Bf16 => x.iter().map(|&v| through_bf16(v)).collect(),
        CacheType::Q8_0 => x.chunks(32).flat_map(through_q8_0).collect(),
        CacheType::Q4_0 => x.chunks(32).flat_map(through_q4_0).collect(),
    }
}

/// x rotated in f64 at position p (pairs i, i + D/2).
fn rotated(x: &[f64], p: usize) -> Vec<f64> {
    let half = x.len() / 2;
    let mut out = x.to_vec();
    for i in 0..half {
        let angle = p as f64 * BASE.powf(-2.0 * i as f64 / x.len() as f64);
        out[i] = x[i] * angle.cos() - x[i + half] * angle.sin();
        out[i + half] = x[i + half] * angle.cos() + x[i] * angle.sin();
    }
    out
}

fn as_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// Causal attention in f64 of n tokens ([token][head][D]) at positions 0 .. n-1 over the keys
/// and values the cache holds: keys rotated (in f64, then f32) and stored, or stored un-rotated
/// and rotated at read; values stored. Output [token][q head][D].
fn reference(q: &[f32], k: &[f32], v: &[f32], config: KvCacheConfig) -> Vec<f64> {
    let d = D as usize;
    let (hq, hk) = (Q_HEADS as usize, KV_HEADS as usize);
    let n = q.len() / (hq * d);
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for t in 0..n {
        for h in 0..hk {
            let at = (t * hk + h) * d;
            let key = &k[at..at + d];
            keys.push(if config.unrotated_keys {
                rotated(&stored(config.key, key), t)
            } else {
                let as_f32: Vec<f32> = rotated(&as_f64(key), t).iter().map(|&x| x as f32).collect();
                stored(config.key, &as_f32)
            });
            values.push(stored(config.value, &v[at..at + d]));
        }
    }
    let scale = 1.0 / (d as f64).sqrt();
    let mut out = Vec::with_capacity(q.len());
    for t in 0..n {
        for h in 0..hq {
            let at = (t * hq + h) * d;
            let query = rotated(&as_f64(&q[at..at + d]), t);
            let kv = h / (hq / hk);
            let scores: Vec<f64> = (0..=t)
                .map(|j| query.iter().zip(&keys[j * hk + kv]).map(|(a, b)| a * b).sum::<f64>() * scale)
                .collect();
            let most = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - most).exp()).collect();
            let sum: f64 = weights.iter().sum();
            out.extend((0..d).map(|e| (0..=t).map(|j| weights[j] * values[j * hk + kv][e]).sum::<f64>() / sum));
        }
    }
    out
}

fn relative_rms(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let error: f64 = got.iter().zip(want).map(|(g, w)| (*g as f64 - w) * (*g as f64 - w)).sum();
    let norm: f64 = want.iter().map(|w| w * w).sum();
    (error / norm).sqrt()
}

/// n tokens of q, k, v ([token][head][D]); keys with an outlier channel, as real keys have.
fn tokens(n: usize, seed: u32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (qs, ks) = ((Q_HEADS * D) as usize, (KV_HEADS * D) as usize);
    let mut k = random(n * ks, seed + 1);
    for x in k.iter_mut().skip(5).step_by(D as usize) {
        *x *= 8.0;
    }
    (random(n * qs, seed), k, random(n * ks, seed + 2))
}

/// Tokens [first, last) of a [token][head][D] vector.
fn span(x: &[f32], heads: u32, first: usize, last: usize) -> &[f32] {
    let width = (heads * D) as usize;
    &x[first * width..last * width]
}

fn attend(table: &Table<'_>, cache: &mut KvCache<'_>, q: &[f32], k: &[f32], v: &[f32], pool: Option<&Pool>)
          -> Result<Vec<f32>> {
    let s = (q.len() / (Q_HEADS * D) as usize) as u32;
    let threads = if pool.is_some() { 2 } else { 1 };
    let mut workspace = Arena::new(attention_workspace_size(Q_HEADS, KV_HEADS, D, s, threads)?)?;
    let qv = Tensor::new(q, Dtype::F32, [1, s, Q_HEADS, D], Layout::Bshd)?;
    let kv = Tensor::new(k, Dtype::F32, [1, s, KV_HEADS, D], Layout::Bshd)?;
    let vv = Tensor::new(v, Dtype::F32, [1, s, KV_HEADS, D], Layout::Bshd)?;
    let mut out = vec![0f32; q.len()];
    let mut ov = TensorMut::new(&mut out, Dtype::F32, [1, s, Q_HEADS, D], Layout::Bshd)?;
    let scale = 1.0 / (D as f32).sqrt();
    table.attention_forward(&mut [cache], &qv, &kv, &vv, &mut ov, scale, &mut workspace, pool)?;
    Ok(out)
}

fn table() -> Table<'static> {
    Table::create(&Config::new(D).base(BASE).max_len(512)).unwrap()
}

// ---- the forward path -----------------------------------------------------------------------

#[test]
fn prefill_and_decode_match_dequantize_then_attend() {
    let table = table();
    let (n, prefill) = (40usize, 33usize);
    let (q, k, v) = tokens(n, 11);
    for &key in &TYPES {
        for &value in &TYPES {
            for &unrotated_keys in &[false, true] {
                let config = KvCacheConfig::new(value).with_key(key).with_unrotated_keys(unrotated_keys);
                let mut cache = KvCache::with_config(KV_HEADS, D, 64, config).unwrap();
                assert_eq!(cache.config(), config);
                let mut got = attend(&table, &mut cache, span(&q, Q_HEADS, 0, prefill), span(&k, KV_HEADS, 0, prefill),
                                     span(&v, KV_HEADS, 0, prefill), None).unwrap();
                for t in prefill..n {
                    got.extend(attend(&table, &mut cache, span(&q, Q_HEADS, t, t + 1), span(&k, KV_HEADS, t, t + 1),
                                      span(&v, KV_HEADS, t, t + 1), None).unwrap());
                }
                assert_eq!(cache.len(), n as u32);
                // Far below the storage's own error (Q8_0 about 1e-2, Q4_0 about 1e-1): what is
                // left is f32 arithmetic (about 1e-7).
                let error = relative_rms(&got, &reference(&q, &k, &v, config));
                assert!(error < 1e-5, "{:?}: {:e} from dequantize-then-attend", config, error);
                // One prefill of every token gives the decode steps' bits.
                let mut whole = KvCache::with_config(KV_HEADS, D, 64, config).unwrap();
                assert_eq!(attend(&table, &mut whole, &q, &k, &v, None).unwrap(), got, "{:?}", config);
            }
        }
    }
}

#[test]
fn quantization_error_is_the_storage_s_own() {
    // The reference above is not the exact attention: Q8_0 and Q4_0 are off by their grids.
    let table = table();
    let (q, k, v) = tokens(32, 21);
    let exact = reference(&q, &k, &v, KvCacheConfig::new(CacheType::F32));
    let error = |storage: CacheType| {
        let mut cache = KvCache::with_config(KV_HEADS, D, 64, storage.into()).unwrap();
        relative_rms(&attend(&table, &mut cache, &q, &k, &v, None).unwrap(), &exact)
    };
    let (q8, q4) = (error(CacheType::Q8_0), error(CacheType::Q4_0));
    assert!(1e-4 < q8 && q8 < 3e-2 && q8 < q4 && q4 < 2e-1, "q8_0 {:e}, q4_0 {:e}", q8, q4);
}

// ---- construction, sizes, errors ---------------------------------------------------------------

#[test]
fn construction_and_config() {
    // The 1.0 constructors: both types the dtype's, keys rotated.
    let cache = KvCache::new(KV_HEADS, D, 16, Dtype::Bf16).unwrap();
    assert_eq!(cache.config(), KvCacheConfig::new(CacheType::Bf16));
    assert_eq!(KvCacheConfig::from(Dtype::F16), KvCacheConfig::new(CacheType::F16));
    assert!(!cache.config().unrotated_keys);
    // The caller's arena, borrowed for the cache's life.
    let config = KvCacheConfig::new(CacheType::Q4_0).with_key(CacheType::Q8_0).with_unrotated_keys(true);
    let need = KvCache::arena_size_with_config(KV_HEADS, D, 16, config).unwrap();
    let mut arena = Arena::new(need).unwrap();
    let cache = KvCache::init_with_config(&mut arena, KV_HEADS, D, 16, config).unwrap();
    assert_eq!(cache.config(), config);
    assert!(format!("{:?}", cache).contains("Q8_0"));
    // The C struct both ways; flags this crate does not know are not a config of it.
    let raw = config.raw();
    assert_eq!((raw.struct_size, raw.key_dtype, raw.value_dtype, raw.flags),
               (16, sys::ROTOR_DTYPE_Q8_0, sys::ROTOR_DTYPE_Q4_0, sys::ROTOR_KV_UNROTATED_KEYS));
    assert_eq!(KvCacheConfig::from_raw(&raw), Some(config));
    assert_eq!(KvCacheConfig::from_raw(&sys::rotor_kv_cache_config { flags: 2, ..raw }), None);
    assert_eq!(KvCacheConfig::from_raw(&sys::rotor_kv_cache_config { key_dtype: 5, ..raw }), None);
    assert!(CacheType::Q4_0.is_quantized() && !CacheType::from(Dtype::F32).is_quantized());
}

#[test]
fn arena_sizes() {
    // Per token and head at head_dim 128: f16 256 bytes, Q8_0 136, Q4_0 72 (ggml's blocks).
    let size = |config: KvCacheConfig| KvCache::arena_size_with_config(8, 128, 4096, config).unwrap() as f64;
    let f16 = size(CacheType::F16.into());
    let (q8, q4) = (size(CacheType::Q8_0.into()), size(CacheType::Q4_0.into()));
    assert!(q8 / f16 <= 0.54 && q4 / f16 <= 0.29, "{} {}", q8 / f16, q4 / f16);
    let mixed = size(KvCacheConfig::new(CacheType::Q4_0).with_key(CacheType::Q8_0));
    assert!(q4 < mixed && mixed < q8);
    assert_eq!(KvCache::arena_size(8, 128, 4096, Dtype::F16).unwrap() as f64, f16);
}

#[test]
fn errors() {
    let q8 = KvCacheConfig::new(CacheType::Q8_0);
    // Quantized types need head_dim a multiple of 32, at most 1024; float types do not.
    for config in [q8, KvCacheConfig::new(CacheType::F32).with_value(CacheType::Q4_0)] {
        assert_eq!(KvCache::arena_size_with_config(KV_HEADS, 48, 64, config), Err(Error::InvalidArgument));
        assert_eq!(KvCache::with_config(KV_HEADS, 48, 64, config).err(), Some(Error::InvalidArgument));
        assert_eq!(KvCache::with_config(KV_HEADS, 2048, 64, config).err(), Some(Error::InvalidArgument));
    }
    assert!(KvCache::arena_size_with_config(KV_HEADS, 48, 64, CacheType::F16.into()).is_ok());
    assert_eq!(KvCache::with_config(0, 64, 64, q8).err(), Some(Error::InvalidArgument));
    // An arena one byte short, or sized for a smaller type: OUT_OF_MEMORY, no cache.
    let need = KvCache::arena_size_with_config(KV_HEADS, D, 64, q8).unwrap();
    let mut arena = Arena::new(need).unwrap();
    assert_eq!(KvCache::init_with_config(&mut arena[..need - 1], KV_HEADS, D, 64, q8).err(), Some(Error::OutOfMemory));
    let q4_need = KvCache::arena_size_with_config(KV_HEADS, D, 64, CacheType::Q4_0.into()).unwrap();
    let mut small = Arena::new(q4_need).unwrap();
    assert_eq!(KvCache::init_with_config(&mut small, KV_HEADS, D, 64, q8).err(), Some(Error::OutOfMemory));
    // Misaligned: INVALID_ARGUMENT.
    let mut wide = Arena::new(need + 64).unwrap();
    assert_eq!(KvCache::init_with_config(&mut wide[1..], KV_HEADS, D, 64, q8).err(), Some(Error::InvalidArgument));

    // Attention with ids refuses a cache of un-rotated keys (it keeps no ids) and appends nothing.
    let table = table();
    let mut cache = KvCache::with_config(KV_HEADS, D, 64, q8.with_unrotated_keys(true)).unwrap();
    let (q, k, v) = tokens(3, 31);
    let mut workspace = Arena::new(attention_workspace_size(Q_HEADS, KV_HEADS, D, 3, 1).unwrap()).unwrap();
    let qv = Tensor::new(&q, Dtype::F32, [1, 3, Q_HEADS, D], Layout::Bshd).unwrap();
    let kv = Tensor::new(&k, Dtype::F32, [1, 3, KV_HEADS, D], Layout::Bshd).unwrap();
    let vv = Tensor::new(&v, Dtype::F32, [1, 3, KV_HEADS, D], Layout::Bshd).unwrap();
    let mut out = vec![0f32; q.len()];
    let mut ov = TensorMut::new(&mut out, Dtype::F32, [1, 3, Q_HEADS, D], Layout::Bshd).unwrap();
    let status = table.attention_forward_axes(&mut [&mut cache], &qv, &kv, &vv, &mut ov, &[0, 1, 2], 0.125,
                                              &mut workspace, None);
    assert_eq!(status, Err(Error::InvalidArgument));
    assert!(cache.is_empty());
}

// ---- context shifts --------------------------------------------------------------------------

/// Un-rotated keys are only moved by a shift: after StreamingLLM's evictions the cache holds a
/// fresh prefill's bytes, so the next step gives its bits, whatever the number of shifts.
#[test]
fn evict_of_unrotated_keys_equals_a_fresh_prefill_bit_for_bit() {
    let table = table();
    let pool = Pool::new(2).unwrap();
    let (sink, window, n, chunk) = (4u32, 24u32, 96usize, 8usize);
    let (q, k, v) = tokens(n + 1, 41);
    let gather = |x: &[f32], heads: u32, kept: &[usize]| -> Vec<f32> {
        kept.iter().flat_map(|&t| span(x, heads, t, t + 1).to_vec()).collect()
    };
    for &storage in &[CacheType::Q8_0, CacheType::Q4_0, CacheType::F16] {
        let config = KvCacheConfig::new(storage).with_unrotated_keys(true);
        for &p in &[None, Some(&pool)] {
            let mut cache = KvCache::with_config(KV_HEADS, D, 64, config).unwrap();
            let mut kept: Vec<usize> = Vec::new(); // the token indices the cache holds, in order
            for start in (0..n).step_by(chunk) {
                let end = start + chunk;
                attend(&table, &mut cache, span(&q, Q_HEADS, start, end), span(&k, KV_HEADS, start, end),
                       span(&v, KV_HEADS, start, end), p).unwrap();
                kept.extend(start..end);
                let evicted = cache.keep_sink_and_window(&table, sink, window, p).unwrap() as usize;
                kept.drain(sink as usize..sink as usize + evicted);
            }
            assert_eq!((cache.len(), kept.len()), (sink + window, (sink + window) as usize));
            let last = (span(&q, Q_HEADS, n, n + 1), span(&k, KV_HEADS, n, n + 1), span(&v, KV_HEADS, n, n + 1));
            let step = attend(&table, &mut cache, last.0, last.1, last.2, p).unwrap();
            let mut fresh = KvCache::with_config(KV_HEADS, D, 64, config).unwrap();
            attend(&table, &mut fresh, &gather(&q, Q_HEADS, &kept), &gather(&k, KV_HEADS, &kept),
                   &gather(&v, KV_HEADS, &kept), p).unwrap();
            assert_eq!(step, attend(&table, &mut fresh, last.0, last.1, last.2, p).unwrap(), "{:?}", storage);
        }
    }
}
