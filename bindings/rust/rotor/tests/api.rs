//! The safe API against the C library itself: applying through the table gives bit for bit what
//! rotor_apply_cos_sin gives with the table's own cos/sin rows; errors, arenas, threads and the
//! attention path.
use rotor::*;

mod common;
use common::random;

fn f16_bits(x: &[f32]) -> Vec<u16> {
    // Exact for these inputs' magnitudes isn't needed: any bit patterns of finite halves do.
    x.iter().map(|v| 0x3c00u16.wrapping_add(((v + 1.0) * 1000.0) as u16 & 0x3ff)).collect()
}

#[test]
fn table_apply_equals_apply_cos_sin_with_the_tables_rows() {
    for &(pairing, head_dim, rotary_dim) in &[(Pairing::Half, 64u32, 64u32), (Pairing::Interleaved, 96, 32)] {
        let table = Table::create(&Config::new(rotary_dim).pairing(pairing).max_len(4096)).unwrap();
        let (batch, seq, heads) = (2u32, 7u32, 3u32);
        let positions: Vec<i32> = (0..batch * seq).map(|i| (i * 331 % 4000) as i32).collect();
        let rows = 4000u32;
        let half = (rotary_dim / 2) as usize;
        let (mut cos, mut sin) = (vec![0f32; rows as usize * half], vec![0f32; rows as usize * half]);
        table.cos_sin(0, rows, Dtype::F32, false, &mut cos, &mut sin).unwrap();
        let n = (batch * seq * heads * head_dim) as usize;
        let shape = [batch, seq, heads, head_dim];
        for &dtype in &[Dtype::F32, Dtype::F16, Dtype::Bf16] {
            for &dir in &[Direction::Forward, Direction::Inverse] {
                let x = random(n, 7);
                if dtype == Dtype::F32 {
                    let (mut a, mut b) = (x.clone(), x.clone());
                    let mut av = TensorMut::new(&mut a, dtype, shape, Layout::Bshd).unwrap();
                    table.apply(&mut av, Positions::Explicit(&positions), dir, None).unwrap();
                    let mut bv = TensorMut::new(&mut b, dtype, shape, Layout::Bshd).unwrap();
                    apply_cos_sin_in_place(&cos, &sin, rotary_dim, pairing, &mut bv, Positions::Explicit(&positions),
                                           dir, None).unwrap();
                    assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
                    assert!(a != x);
                } else {
                    let bits = f16_bits(&x);
                    let (mut a, mut b) = (bits.clone(), bits.clone());
                    let mut av = TensorMut::new(&mut a, dtype, shape, Layout::Bhsd).unwrap();
                    table.apply(&mut av, Positions::Explicit(&positions), dir, None).unwrap();
                    let input = Tensor::new(&bits, dtype, shape, Layout::Bhsd).unwrap();
                    let mut bv = TensorMut::new(&mut b, dtype, shape, Layout::Bhsd).unwrap();
                    apply_cos_sin(&cos, &sin, rotary_dim, pairing, &input, &mut bv, Positions::Explicit(&positions),
                                  dir, None).unwrap();
                    assert_eq!(a, b, "{:?} {:?}", dtype, dir);
                    assert!(a != bits);
                }
            }
        }
    }
}

#[test]
fn apply_qk_and_apply_to_agree_with_apply_and_a_pool_changes_nothing() {
    let table = Table::create(&Config::new(64)).unwrap();
    let pool = Pool::new(2).unwrap();
    let (mut q, mut k) = (random(1 * 300 * 4 * 64, 1), random(1 * 300 * 2 * 64, 2));
    let (mut q2, mut k2) = (q.clone(), k.clone());
    let out_of_place = {
        let input = Tensor::new(&q, Dtype::F32, [1, 300, 4, 64], Layout::Bshd).unwrap();
        let mut out = vec![0f32; q.len()];
        let mut ov = TensorMut::new(&mut out, Dtype::F32, [1, 300, 4, 64], Layout::Bshd).unwrap();
        table.apply_to(&input, &mut ov, Positions::Offset(5), Direction::Forward, None).unwrap();
        out
    };
    let mut qv = TensorMut::new(&mut q, Dtype::F32, [1, 300, 4, 64], Layout::Bshd).unwrap();
    let mut kv = TensorMut::new(&mut k, Dtype::F32, [1, 300, 2, 64], Layout::Bshd).unwrap();
    table.apply_qk(&mut qv, &mut kv, Positions::Offset(5), Direction::Forward, Some(&pool)).unwrap();
    let mut qv2 = TensorMut::new(&mut q2, Dtype::F32, [1, 300, 4, 64], Layout::Bshd).unwrap();
    table.apply(&mut qv2, Positions::Offset(5), Direction::Forward, None).unwrap();
    let mut kv2 = TensorMut::new(&mut k2, Dtype::F32, [1, 300, 2, 64], Layout::Bshd).unwrap();
    table.apply(&mut kv2, Positions::Offset(5), Direction::Forward, None).unwrap();
    assert_eq!(q, q2);
    assert_eq!(k, k2);
    assert_eq!(q, out_of_place);
}

#[test]
fn views_that_leave_their_slice_are_refused_before_the_library_sees_them() {
    let table = Table::create(&Config::new(64)).unwrap();
    let mut x = vec![0f32; 2 * 64];
    assert_eq!(TensorMut::new(&mut x, Dtype::F32, [1, 3, 1, 64], Layout::Bshd).err(), Some(Error::InvalidArgument));
    assert_eq!(TensorMut::with_strides(&mut x, Dtype::F32, [1, 2, 1, 64], [0, -64, 0]).err(),
               Some(Error::InvalidArgument));
    assert_eq!(TensorMut::new(&mut x, Dtype::F16, [1, 1, 1, 64], Layout::Bshd).err(), Some(Error::InvalidArgument));
    let mut v = TensorMut::new(&mut x, Dtype::F32, [1, 2, 1, 64], Layout::Bshd).unwrap();
    let short = [1i32];
    assert_eq!(table.apply(&mut v, Positions::Explicit(&short), Direction::Forward, None), Err(Error::InvalidArgument));
    let (mut c, mut s) = (vec![0f32; 10], vec![0f32; 10]);
    assert_eq!(table.cos_sin(0, 1, Dtype::F32, false, &mut c, &mut s), Err(Error::InvalidArgument));
}

#[test]
fn every_status_has_a_variant_and_the_librarys_text() {
    for status in 1..=7 {
        let error = Error::from_status(status).unwrap();
        assert_eq!(error.status(), status);
        assert!(!matches!(error.kind(), ErrorKind::Unknown(_)));
        assert!(!error.to_string().is_empty());
    }
    assert_eq!(Error::from_status(7), Some(Error::Internal));
    assert_eq!(Error::from_status(0), None);
    assert_eq!(Error::from_status(77).map(Error::kind), Some(ErrorKind::Unknown(77)));
    // Reached through the API:
    let table = Table::create(&Config::new(64).max_len(100)).unwrap();
    assert_eq!(table.reserve(101), Err(Error::OutOfRange));
    assert_eq!(Table::create(&Config::new(63)).err(), Some(Error::InvalidArgument));
    assert_eq!(Config::preset("no-such-model").err(), Some(Error::InvalidArgument));
    let cfg = Config::new(64).max_len(1000);
    let mut small = Arena::new(cfg.arena_size().unwrap() / 2).unwrap();
    assert_eq!(Table::init(&cfg, &mut small).err(), Some(Error::OutOfMemory));
    // SAFETY: no other test of this binary forces kernels, and this one applies nothing meanwhile.
    assert_eq!(unsafe { force_kernel(Some("no-such-kernel")) }, Err(Error::InvalidArgument));
}

#[test]
fn an_arena_table_equals_an_allocated_one() {
    let cfg = Config::preset("llama-3.1-8b").unwrap().max_len(4096);
    let mut arena = Arena::new(cfg.arena_size().unwrap()).unwrap();
    let lent = Table::init(&cfg, &mut arena).unwrap();
    let owned = Table::create(&cfg).unwrap();
    let (mut c1, mut s1, mut c2, mut s2) = (vec![0u16; 64 * 128], vec![0u16; 64 * 128], vec![0u16; 64 * 128],
                                            vec![0u16; 64 * 128]);
    lent.cos_sin(3000, 64, Dtype::Bf16, true, &mut c1, &mut s1).unwrap();
    owned.cos_sin(3000, 64, Dtype::Bf16, true, &mut c2, &mut s2).unwrap();
    assert_eq!((c1, s1), (c2, s2));
    assert_eq!(lent.stats().arena_bytes, arena_len(&cfg));
    assert!(lent.stats().rows >= 3064);
}

fn arena_len(cfg: &Config) -> u64 {
    cfg.arena_size().unwrap() as u64
}

#[test]
fn one_table_serves_many_threads_while_it_grows() {
    let mut table = Table::create(&Config::new(64).initial_len(16).max_len(1 << 16)).unwrap();
    let grown = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = grown.clone();
    table.set_event_callback(Some(move |_: &Event| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }));
    let reference: Vec<Vec<f32>> = (0..4u32)
        .map(|t| {
            let mut x = random(64 * 64, t);
            let solo = Table::create(&Config::new(64).max_len(1 << 16)).unwrap();
            let mut v = TensorMut::new(&mut x, Dtype::F32, [1, 64, 1, 64], Layout::Bshd).unwrap();
            solo.apply(&mut v, Positions::Offset(t * 15000), Direction::Forward, None).unwrap();
            x
        })
        .collect();
    let table = &table;
    let results: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4u32)
            .map(|t| {
                scope.spawn(move || {
                    let mut x = random(64 * 64, t);
                    let mut v = TensorMut::new(&mut x, Dtype::F32, [1, 64, 1, 64], Layout::Bshd).unwrap();
                    table.apply(&mut v, Positions::Offset(t * 15000), Direction::Forward, None).unwrap();
                    x
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results, reference);
    assert!(grown.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[test]
fn attention_prefill_equals_decode_steps_and_fills_the_cache() {
    let (q_heads, kv_heads, d, s) = (4u32, 2u32, 64u32, 9u32);
    let cfg = Config::new(d).max_len(256);
    let table = Table::create(&cfg).unwrap();
    let scale = cfg.attention_scale(d).unwrap();
    assert!((scale - 0.125).abs() < 1e-7);
    let q = random((s * q_heads * d) as usize, 1);
    let k = random((s * kv_heads * d) as usize, 2);
    let v = random((s * kv_heads * d) as usize, 3);

    let mut prefill_cache = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    let mut workspace = Arena::new(attention_workspace_size(q_heads, kv_heads, d, s, 1).unwrap()).unwrap();
    let mut prefill = vec![0f32; q.len()];
    {
        let qv = Tensor::new(&q, Dtype::F32, [1, s, q_heads, d], Layout::Bshd).unwrap();
        let kv = Tensor::new(&k, Dtype::F32, [1, s, kv_heads, d], Layout::Bshd).unwrap();
        let vv = Tensor::new(&v, Dtype::F32, [1, s, kv_heads, d], Layout::Bshd).unwrap();
        let mut out = TensorMut::new(&mut prefill, Dtype::F32, [1, s, q_heads, d], Layout::Bshd).unwrap();
        table.attention_forward(&mut [&mut prefill_cache], &qv, &kv, &vv, &mut out, scale, &mut workspace, None)
            .unwrap();
    }
    assert_eq!(prefill_cache.len(), s);

    let mut arena = Arena::new(KvCache::arena_size(kv_heads, d, 64, Dtype::F32).unwrap()).unwrap();
    let mut decode_cache = KvCache::init(&mut arena, kv_heads, d, 64, Dtype::F32).unwrap();
    let (qs, ks) = ((q_heads * d) as usize, (kv_heads * d) as usize);
    for t in 0..s as usize {
        let qv = Tensor::new(&q[t * qs..(t + 1) * qs], Dtype::F32, [1, 1, q_heads, d], Layout::Bshd).unwrap();
        let kv = Tensor::new(&k[t * ks..(t + 1) * ks], Dtype::F32, [1, 1, kv_heads, d], Layout::Bshd).unwrap();
        let vv = Tensor::new(&v[t * ks..(t + 1) * ks], Dtype::F32, [1, 1, kv_heads, d], Layout::Bshd).unwrap();
        let mut step = vec![0f32; qs];
        let mut out = TensorMut::new(&mut step, Dtype::F32, [1, 1, q_heads, d], Layout::Bshd).unwrap();
        table.attention_forward(&mut [&mut decode_cache], &qv, &kv, &vv, &mut out, scale, &mut workspace, None)
            .unwrap();
        assert_eq!(step[..], prefill[t * qs..(t + 1) * qs], "token {}", t);
    }
    assert_eq!(decode_cache.len(), s);
    decode_cache.reset().unwrap();
    assert!(decode_cache.is_empty());
    assert_eq!(decode_cache.epoch(), 0);
    assert_eq!(decode_cache.rerotations(), 0);
}

#[test]
fn a_refusing_table_reports_rescaled() {
    // Dynamic NTK rescales past original_max_len: a cache filled before it is refused.
    let (heads, d) = (1u32, 64u32);
    let cfg = Config::new(d).scaling(Scaling::DynamicNtk, 2.0, 16).max_len(256);
    let table = Table::create(&cfg).unwrap();
    table.set_rescale_policy(RescalePolicy::Refuse).unwrap();
    let mut cache = KvCache::new(heads, d, 256, Dtype::F32).unwrap();
    let mut workspace = Arena::new(attention_workspace_size(heads, heads, d, 32, 1).unwrap()).unwrap();
    let x = random((32 * d) as usize, 4);
    let mut out = vec![0f32; x.len()];
    let mut step = |n: u32, start: usize| {
        let t = Tensor::new(&x[start..start + (n * d) as usize], Dtype::F32, [1, n, heads, d], Layout::Bshd).unwrap();
        let mut o = TensorMut::new(&mut out[..(n * d) as usize], Dtype::F32, [1, n, heads, d], Layout::Bshd).unwrap();
        table.attention_forward(&mut [&mut cache], &t, &t, &t, &mut o, 0.125, &mut workspace, None)
    };
    step(8, 0).unwrap();
    assert_eq!(step(24, 0), Err(Error::Rescaled));
    assert_eq!(Error::Rescaled.status(), sys::ROTOR_ERR_RESCALED);
}

#[test]
fn kernels_and_version() {
    assert_eq!(version().0, sys::ROTOR_VERSION_MAJOR);
    assert!(kernels().contains(&"scalar"));
    assert!(kernels().contains(&kernel_name()));
}
