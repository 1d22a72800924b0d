//! rotor 1.1 through the safe API: multi-axis RoPE (M-RoPE, vision) against 1-D RoPE and a
//! float64 reference written here, attention with axis ids, context shift (evict) against a
//! fresh prefill, per-layer presets, and the errors of each.
use rotor::*;

mod common;
use common::random;

/// bf16 bits of x (truncation: any finite pattern serves, the comparison is between two paths).
fn bf16_bits(x: &[f32]) -> Vec<u16> {
    x.iter().map(|v| (v.to_bits() >> 16) as u16).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn mrope_with_equal_ids_equals_one_d_apply_bit_for_bit() {
    // Text tokens of a VL model carry t = h = w: the table's own row, whatever the layout.
    let (batch, seq, q_heads, k_heads, d) = (2u32, 9u32, 3u32, 2u32, 136u32);
    for &(layout, section) in &[(RopeLayout::Mrope, [16u32, 24, 24]), (RopeLayout::MropeInterleaved, [24, 20, 20])] {
        let one_d = Table::create(&Config::new(128).base(1e6).max_len(4096)).unwrap();
        let multi =
            Table::create(&Config::new(128).base(1e6).max_len(4096).rope_layout(layout).mrope_section(section)).unwrap();
        assert_eq!((multi.rope_layout(), multi.axes()), (layout, 3));
        let positions: Vec<i32> = (0..batch * seq).map(|i| (i * 397 % 4000) as i32).collect();
        let ids: Vec<i32> = positions.iter().chain(&positions).chain(&positions).copied().collect();
        let (qn, kn) = ((batch * seq * q_heads * d) as usize, (batch * seq * k_heads * d) as usize);
        let (qs, ks) = ([batch, seq, q_heads, d], [batch, seq, k_heads, d]);
        for &dir in &[Direction::Forward, Direction::Inverse] {
            // f32, q and k together.
            let (q0, k0) = (random(qn, 1), random(kn, 2));
            let (mut q1, mut k1, mut q2, mut k2) = (q0.clone(), k0.clone(), q0.clone(), k0.clone());
            let (mut q1v, mut k1v) = (TensorMut::new(&mut q1, Dtype::F32, qs, Layout::Bshd).unwrap(),
                                      TensorMut::new(&mut k1, Dtype::F32, ks, Layout::Bshd).unwrap());
            multi.apply_qk_axes(&mut q1v, &mut k1v, &ids, dir, None).unwrap();
            let (mut q2v, mut k2v) = (TensorMut::new(&mut q2, Dtype::F32, qs, Layout::Bshd).unwrap(),
                                      TensorMut::new(&mut k2, Dtype::F32, ks, Layout::Bshd).unwrap());
            one_d.apply_qk(&mut q2v, &mut k2v, Positions::Explicit(&positions), dir, None).unwrap();
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&q1), bits(&q2), "{:?} {:?}", layout, dir);
            assert_eq!(bits(&k1), bits(&k2));
            assert!(q1 != q0);
            // bf16 bit patterns, bhsd, one tensor.
            let x = bf16_bits(&random(qn, 3));
            let (mut a, mut b) = (x.clone(), x.clone());
            let mut av = TensorMut::new(&mut a, Dtype::Bf16, qs, Layout::Bhsd).unwrap();
            multi.apply_axes(&mut av, &ids, dir, None).unwrap();
            let mut bv = TensorMut::new(&mut b, Dtype::Bf16, qs, Layout::Bhsd).unwrap();
            one_d.apply(&mut bv, Positions::Explicit(&positions), dir, None).unwrap();
            assert_eq!(a, b);
            assert!(a != x);
        }
    }
}

/// Qwen2-VL's get_rope_index for one entry: `text_before` text tokens, a T x H x W image grid,
/// then `text_after` text tokens; ids [axis][token], starting at `start`.
fn qwen2_vl_ids(start: i32, text_before: i32, grid: (i32, i32, i32), text_after: i32) -> [Vec<i32>; 3] {
    let mut ids: [Vec<i32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut next = start;
    for _ in 0..text_before {
        for axis in ids.iter_mut() {
            axis.push(next);
        }
        next += 1;
    }
    let (frames, rows, cols) = grid;
    for t in 0..frames {
        for h in 0..rows {
            for w in 0..cols {
                ids[0].push(next + t);
                ids[1].push(next + h);
                ids[2].push(next + w);
            }
        }
    }
    // The next text id is the largest id so far + 1.
    next += (frames - 1).max(rows - 1).max(cols - 1) + 1;
    for _ in 0..text_after {
        for axis in ids.iter_mut() {
            axis.push(next);
        }
        next += 1;
    }
    ids
}

/// (axis, frequency) of pair j for a layout, as rotor.h's rotor_layout comment states it.
fn pair_map(layout: RopeLayout, section: [u32; 3], r: usize, base: f64, j: usize) -> (usize, f64) {
    let default = base.powf(-2.0 * j as f64 / r as f64);
    let (s0, s1, s2) = (section[0] as usize, section[1] as usize, section[2] as usize);
    let quarter = r / 4;
    match layout {
        RopeLayout::OneD => (0, default),
        RopeLayout::Mrope => (if j < s0 { 0 } else if j < s0 + s1 { 1 } else { 2 }, default),
        RopeLayout::MropeInterleaved => {
            (if j % 3 == 1 && j < 3 * s1 { 1 } else if j % 3 == 2 && j < 3 * s2 { 2 } else { 0 }, default)
        }
        RopeLayout::VisionHalves => (j / quarter, base.powf(-4.0 * (j % quarter) as f64 / r as f64)),
        RopeLayout::VisionAlternate => {
            let k = (j % quarter) as f64;
            if j < quarter {
                (0, base.powf(-2.0 * (2.0 * k) / r as f64))
            } else {
                (1, base.powf(-2.0 * (2.0 * k + 1.0) / r as f64))
            }
        }
    }
}

#[test]
fn multi_axis_layouts_match_a_float64_reference() {
    let (base, heads) = (10000.0f64, 2usize);
    // Two entries: one from the start, one whose image sits later (ids offset by 7).
    let entry = |start| qwen2_vl_ids(start, 3, (2, 3, 4), 2);
    let (e0, e1) = (entry(0), entry(7));
    let seq = e0[0].len();
    let cases: [(RopeLayout, [u32; 3], usize); 4] = [
        (RopeLayout::Mrope, [16, 24, 24], 128),
        (RopeLayout::MropeInterleaved, [24, 20, 20], 128),
        (RopeLayout::VisionHalves, [0, 0, 0], 80),
        (RopeLayout::VisionAlternate, [0, 0, 0], 64),
    ];
    for &(layout, section, r) in &cases {
        let table = Table::create(&Config::new(r as u32).base(base).rope_layout(layout).mrope_section(section)).unwrap();
        let axes = table.axes() as usize;
        // positions [axes][batch * seq]: entry 0's tokens, then entry 1's, per axis (vision
        // layouts take the first two axes as row and column).
        let ids: Vec<i32> = (0..axes).flat_map(|a| e0[a].iter().chain(&e1[a]).copied().collect::<Vec<_>>()).collect();
        let d = r + 8; // dims past rotary_dim are left alone
        let x0 = random(2 * seq * heads * d, 11);
        let mut x = x0.clone();
        let mut view = TensorMut::new(&mut x, Dtype::F32, [2, seq as u32, heads as u32, d as u32], Layout::Bshd).unwrap();
        table.apply_axes(&mut view, &ids, Direction::Forward, None).unwrap();
        let mut worst = 0.0f64;
        for token in 0..2 * seq {
            for h in 0..heads {
                let at = (token * heads + h) * d;
                let (input, output) = (&x0[at..at + d], &x[at..at + d]);
                for j in 0..r / 2 {
                    let (axis, theta) = pair_map(layout, section, r, base, j);
                    let angle = ids[axis * 2 * seq + token] as f64 * theta;
                    let (a, b) = (input[j] as f64, input[j + r / 2] as f64); // rotate_half pairs
                    let (ea, eb) = (a * angle.cos() - b * angle.sin(), b * angle.cos() + a * angle.sin());
                    worst = worst.max((output[j] as f64 - ea).abs()).max((output[j + r / 2] as f64 - eb).abs());
                }
                assert_eq!(&output[r..], &input[r..]);
            }
        }
        assert!(worst < 2e-6, "{:?}: {}", layout, worst);
    }
}

fn attend(table: &Table<'_>, cache: &mut KvCache<'_>, q: &[f32], k: &[f32], v: &[f32], shape: (u32, u32, u32, u32),
          ids: Option<&[i32]>, workspace: &mut [u8], pool: Option<&Pool>) -> Result<Vec<f32>> {
    let (s, q_heads, kv_heads, d) = shape;
    let qv = Tensor::new(q, Dtype::F32, [1, s, q_heads, d], Layout::Bshd)?;
    let kv = Tensor::new(k, Dtype::F32, [1, s, kv_heads, d], Layout::Bshd)?;
    let vv = Tensor::new(v, Dtype::F32, [1, s, kv_heads, d], Layout::Bshd)?;
    let mut out = vec![0f32; q.len()];
    let mut ov = TensorMut::new(&mut out, Dtype::F32, [1, s, q_heads, d], Layout::Bshd)?;
    let scale = 1.0 / (d as f32).sqrt();
    match ids {
        Some(ids) => table.attention_forward_axes(&mut [cache], &qv, &kv, &vv, &mut ov, ids, scale, workspace, pool)?,
        None => table.attention_forward(&mut [cache], &qv, &kv, &vv, &mut ov, scale, workspace, pool)?,
    }
    Ok(out)
}

#[test]
fn attention_with_text_ids_equals_attention_forward_and_an_image_prefill_equals_its_decode() {
    let (q_heads, kv_heads, d) = (4u32, 2u32, 128u32);
    let table = Table::create(&Config::preset("qwen2-vl-7b").unwrap().max_len(1024)).unwrap();
    assert_eq!((table.rope_layout(), table.axes()), (RopeLayout::Mrope, 3));
    let mut workspace = Arena::new(attention_workspace_size(q_heads, kv_heads, d, 32, 1).unwrap()).unwrap();
    let ids = qwen2_vl_ids(0, 3, (1, 2, 3), 4);
    let s = ids[0].len() as u32;
    let (q, k, v) = (random((s * q_heads * d) as usize, 1), random((s * kv_heads * d) as usize, 2),
                     random((s * kv_heads * d) as usize, 3));
    let shape = (s, q_heads, kv_heads, d);

    // Text only (t = h = w = the cache index): bit for bit rotor_attention_forward.
    let text: Vec<i32> = (0..3).flat_map(|_| 0..s as i32).collect();
    let mut a = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    let mut b = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    let with_ids = attend(&table, &mut a, &q, &k, &v, shape, Some(&text), &mut workspace, None).unwrap();
    let plain = attend(&table, &mut b, &q, &k, &v, shape, None, &mut workspace, None).unwrap();
    assert_eq!(with_ids, plain);

    // Image + text: a prefill equals the same tokens decoded one at a time.
    let flat: Vec<i32> = ids.iter().flatten().copied().collect();
    let mut prefill_cache = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    let prefill = attend(&table, &mut prefill_cache, &q, &k, &v, shape, Some(&flat), &mut workspace, None).unwrap();
    assert!(prefill != plain); // the image ids do rotate differently
    let mut decode_cache = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    let (qs, ks) = ((q_heads * d) as usize, (kv_heads * d) as usize);
    for t in 0..s as usize {
        let step_ids = [ids[0][t], ids[1][t], ids[2][t]];
        let step = attend(&table, &mut decode_cache, &q[t * qs..(t + 1) * qs], &k[t * ks..(t + 1) * ks],
                          &v[t * ks..(t + 1) * ks], (1, q_heads, kv_heads, d), Some(&step_ids), &mut workspace, None)
            .unwrap();
        assert_eq!(step[..], prefill[t * qs..(t + 1) * qs], "token {}", t);
    }
    assert_eq!(decode_cache.len(), s);

    // Errors: ids of the wrong length (checked here), a table whose rows change (the library).
    assert_eq!(attend(&table, &mut decode_cache, &q, &k, &v, shape, Some(&flat[1..]), &mut workspace, None),
               Err(Error::InvalidArgument));
    let ntk = Table::create(&Config::new(d).scaling(Scaling::DynamicNtk, 2.0, 16).max_len(1024)).unwrap();
    let one_axis: Vec<i32> = (0..s as i32).collect();
    let mut c = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    assert_eq!(attend(&ntk, &mut c, &q, &k, &v, shape, Some(&one_axis), &mut workspace, None),
               Err(Error::InvalidArgument));
    assert!(c.is_empty());
}

#[test]
fn evict_then_decode_equals_a_fresh_prefill() {
    let (q_heads, kv_heads, d, n) = (4u32, 2u32, 64u32, 40u32);
    let (sink, count) = (4u32, 20u32);
    let table = Table::create(&Config::new(d).max_len(512)).unwrap();
    let pool = Pool::new(2).unwrap();
    let mut workspace = Arena::new(attention_workspace_size(q_heads, kv_heads, d, n, 2).unwrap()).unwrap();
    let (qs, ks) = ((q_heads * d) as usize, (kv_heads * d) as usize);
    let (q, k, v) = (random(n as usize * qs, 1), random(n as usize * ks, 2), random(n as usize * ks, 3));
    let (nq, nk, nv) = (random(qs, 4), random(ks, 5), random(ks, 6)); // the token decoded after
    let one = (1, q_heads, kv_heads, d);

    // The whole sequence, then the middle evicted (with and without a pool: the same bits).
    let mut outputs = Vec::new();
    for &with_pool in &[false, true] {
        let p = if with_pool { Some(&pool) } else { None };
        let mut cache = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
        attend(&table, &mut cache, &q, &k, &v, (n, q_heads, kv_heads, d), None, &mut workspace, p).unwrap();
        cache.evict(&table, sink, count, p).unwrap();
        assert_eq!(cache.len(), n - count);
        outputs.push(attend(&table, &mut cache, &nq, &nk, &nv, one, None, &mut workspace, p).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);

    // A fresh prefill of the kept tokens (0 .. sink and sink + count .. n) at their new positions.
    let kept = |x: &[f32], width: usize| -> Vec<f32> {
        let mut out = x[..sink as usize * width].to_vec();
        out.extend_from_slice(&x[(sink + count) as usize * width..]);
        out
    };
    let mut fresh = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    attend(&table, &mut fresh, &kept(&q, qs), &kept(&k, ks), &kept(&v, ks), (n - count, q_heads, kv_heads, d), None,
           &mut workspace, None).unwrap();
    let expected = attend(&table, &mut fresh, &nq, &nk, &nv, one, None, &mut workspace, None).unwrap();
    let diff = max_abs_diff(&outputs[0], &expected);
    assert!(diff < 1e-5, "decode after evict differs from a fresh prefill by {}", diff);

    // count 0 changes nothing: the same prefill then decodes to the same bits.
    let mut untouched = KvCache::new(kv_heads, d, 64, Dtype::F32).unwrap();
    attend(&table, &mut untouched, &kept(&q, qs), &kept(&k, ks), &kept(&v, ks), (n - count, q_heads, kv_heads, d),
           None, &mut workspace, None).unwrap();
    untouched.evict(&table, n - count, 0, None).unwrap();
    assert_eq!(untouched.len(), n - count);
    assert_eq!(attend(&table, &mut untouched, &nq, &nk, &nv, one, None, &mut workspace, None).unwrap(), expected);
}

#[test]
fn streaming_window_and_evict_errors() {
    let (heads, d) = (1u32, 64u32);
    let table = Table::create(&Config::new(d).max_len(512)).unwrap();
    let mut workspace = Arena::new(attention_workspace_size(heads, heads, d, 40, 1).unwrap()).unwrap();
    let x = random((40 * d) as usize, 9);
    let mut cache = KvCache::new(heads, d, 64, Dtype::F32).unwrap();
    attend(&table, &mut cache, &x, &x, &x, (40, heads, heads, d), None, &mut workspace, None).unwrap();
    assert_eq!(cache.keep_sink_and_window(&table, 4, 100, None), Ok(0)); // within budget
    assert_eq!(cache.keep_sink_and_window(&table, 4, 16, None), Ok(20));
    assert_eq!(cache.len(), 20);
    assert_eq!(cache.keep_sink_and_window(&table, u32::MAX, u32::MAX, None), Ok(0)); // no overflow
    // start + count past the length: OUT_OF_RANGE, nothing changed.
    assert_eq!(cache.evict(&table, 15, 10, None), Err(Error::OutOfRange));
    assert_eq!(cache.evict(&table, u32::MAX, u32::MAX, None), Err(Error::OutOfRange));
    assert_eq!(cache.len(), 20);
    // A table whose rotary_dim exceeds the cache's head_dim.
    let wide = Table::create(&Config::new(128)).unwrap();
    assert_eq!(cache.evict(&wide, 0, 1, None), Err(Error::InvalidArgument));
    cache.evict(&table, 0, 20, None).unwrap();
    assert!(cache.is_empty());
}

#[test]
fn axes_errors_are_reported_before_anything_changes() {
    let table = Table::create(&Config::new(64).max_len(100).mrope([8, 12, 12])).unwrap();
    let x0 = random(2 * 3 * 64, 5);
    let mut x = x0.clone();
    let mut view = TensorMut::new(&mut x, Dtype::F32, [2, 3, 1, 64], Layout::Bshd).unwrap();
    let ids: Vec<i32> = (0..18).collect();
    assert_eq!(table.apply_axes(&mut view, &ids[..17], Direction::Forward, None), Err(Error::InvalidArgument));
    assert_eq!(table.apply_axes(&mut view, &[0; 6], Direction::Forward, None), Err(Error::InvalidArgument));
    let mut past = ids.clone();
    past[17] = 100; // == max_len
    assert_eq!(table.apply_axes(&mut view, &past, Direction::Forward, None), Err(Error::OutOfRange));
    past[17] = -1;
    assert_eq!(table.apply_axes(&mut view, &past, Direction::Forward, None), Err(Error::OutOfRange));
    let mut k = random(2 * 3 * 64, 6);
    let mut k_short = TensorMut::new(&mut k[..64 * 5], Dtype::F32, [1, 5, 1, 64], Layout::Bshd).unwrap();
    assert_eq!(table.apply_qk_axes(&mut view, &mut k_short, &ids, Direction::Forward, None),
               Err(Error::InvalidArgument)); // k's batch and seq differ from q's
    drop(view);
    assert_eq!(x, x0);
    // Configs the library refuses: sections that do not sum to r/2, a vision layout with
    // r % 4 != 0, or with scaling.
    assert_eq!(Table::create(&Config::new(64).mrope([8, 12, 11])).err(), Some(Error::InvalidArgument));
    assert_eq!(Table::create(&Config::new(66).rope_layout(RopeLayout::VisionHalves)).err(),
               Some(Error::InvalidArgument));
    assert_eq!(Table::create(&Config::new(64).rope_layout(RopeLayout::VisionHalves).scaling(Scaling::Linear, 2.0, 0))
                   .err(),
               Some(Error::InvalidArgument));
    // A 1-D table takes one axis.
    let one_d = Table::create(&Config::new(64)).unwrap();
    assert_eq!(one_d.axes(), 1);
    let mut y = x0.clone();
    let mut yv = TensorMut::new(&mut y, Dtype::F32, [2, 3, 1, 64], Layout::Bshd).unwrap();
    one_d.apply_axes(&mut yv, &ids[..6], Direction::Forward, None).unwrap();
}

#[test]
fn per_layer_presets() {
    let layers = presets::layers("gemma-3-4b").unwrap();
    assert_eq!(layers.len(), 34);
    assert_eq!(presets::layer_count("gemma-3-4b"), Ok(34));
    for (i, table) in layers.iter().enumerate() {
        let want = if (i + 1) % 6 == 0 { "gemma-3-4b/global" } else { "gemma-3-4b/local" };
        assert_eq!(*table, Some(want), "layer {}", i);
    }
    assert_eq!(presets::tables("gemma-3-4b").unwrap(), vec!["gemma-3-4b/local", "gemma-3-4b/global"]);
    let scout = presets::layers("llama-4-scout").unwrap();
    assert_eq!(scout.len(), 48);
    assert!(scout.iter().enumerate().all(|(i, t)| (*t == None) == ((i + 1) % 4 == 0)));
    assert_eq!(presets::layers("command-r7b").unwrap().iter().filter(|t| t.is_none()).count(), 8);
    // Every table a layered model names is a preset a table can be made from.
    for model in &["gemma-3-4b", "gemma-4", "llama-4-scout", "command-r7b"] {
        for name in presets::tables(model).unwrap() {
            Table::create(&Config::preset(name).unwrap()).unwrap();
        }
    }
    let full = Config::preset("gemma-4/full").unwrap();
    assert_eq!((full.raw().scaling, full.raw().rope_pairs), (Scaling::Proportional.raw(), 64));
    assert_eq!(Config::preset("qwen3-vl-8b").unwrap().raw().mrope_section, [24, 20, 20]);
    // A single-table preset: one table, any number of layers.
    assert_eq!(presets::tables("llama-3.1-8b").unwrap(), vec!["llama-3.1-8b"]);
    assert_eq!(presets::layers("llama-3.1-8b").unwrap(), Vec::<Option<&str>>::new());
    assert_eq!(presets::layer_table("llama-3.1-8b", 1000), Ok(Some("llama-3.1-8b")));
    // Errors.
    assert_eq!(presets::layers("no-such-model"), Err(Error::InvalidArgument));
    assert_eq!(presets::tables("no-such-model"), Err(Error::InvalidArgument));
    assert_eq!(presets::layer_table("gemma-3-4b", 34), Err(Error::InvalidArgument));
    assert_eq!(presets::layer_count("nul\0inside"), Err(Error::InvalidArgument));
}
