//! rotor 1.2 through the safe API: LongRoPE factors that a Config owns (a preset's resized
//! config can no longer make the library read past its arrays), error reasons, the preset
//! listing, and the C structs' new fields as this crate fills them.
use rotor::*;

mod common;
use common::random;

#[test]
fn a_longrope_preset_owns_its_factors_and_a_resized_config_never_reaches_the_library() {
    let phi3 = Config::preset("phi-3-mini-128k").unwrap();
    let half = (phi3.raw().rotary_dim / 2) as usize; // 48: the preset's r is 96
    let (long, short) = (phi3.long_factor().unwrap(), phi3.short_factor().unwrap());
    assert_eq!((long.len(), short.len()), (half, half));
    // What C sees points into the Config's own vectors, with their length.
    let raw = phi3.raw();
    assert_eq!((raw.long_factor, raw.short_factor), (long.as_ptr(), short.as_ptr()));
    assert_eq!(raw.factor_count as usize, half);

    // A rotary_dim the factors do not serve, wider (the library would read 16 floats past a
    // 48-float array) or narrower: refused by this crate, before any call into the library.
    for &rotary_dim in &[128u32, 64] {
        let resized = phi3.clone().rotary_dim(rotary_dim);
        let err = Table::create(&resized).unwrap_err();
        assert_eq!(err, Error::InvalidArgument);
        assert!(err.message().contains("LongRoPE factors"), "{}", err);
        assert_eq!(resized.arena_size().unwrap_err().message(), err.message());
        assert_eq!(resized.attention_scale(128).unwrap_err().message(), err.message());
        let mut arena = Arena::new(1 << 20).unwrap();
        assert_eq!(Table::init(&resized, &mut arena).unwrap_err().message(), err.message());
    }
    // Another scaling type reads no factors: C gets none, and the resized config is fine.
    let plain = phi3.clone().rotary_dim(128).scaling(Scaling::None, 1.0, 0);
    assert!(plain.raw().long_factor.is_null() && plain.raw().factor_count == 0);
    Table::create(&plain).unwrap();

    // The copies are the library's values: the preset's table equals one made from them.
    let from_copies = Config::new(96)
        .max_len(phi3.raw().max_len)
        .scaling(Scaling::LongRope, phi3.raw().factor, phi3.raw().original_max_len)
        .attention_factor(phi3.raw().attention_factor)
        .longrope(short.to_vec(), long.to_vec())
        .unwrap();
    assert_eq!(from_copies.raw().factor_count as usize, half);
    let (a, b) = (Table::create(&phi3).unwrap(), Table::create(&from_copies).unwrap());
    for &start in &[0u32, 4000, 9000] {
        // 9000 is past original_max_len (4096): the long factors.
        let (mut c1, mut s1, mut c2, mut s2) = (vec![0f32; 8 * half], vec![0f32; 8 * half], vec![0f32; 8 * half],
                                                vec![0f32; 8 * half]);
        a.cos_sin(start, 8, Dtype::F32, false, &mut c1, &mut s1).unwrap();
        b.cos_sin(start, 8, Dtype::F32, false, &mut c2, &mut s2).unwrap();
        assert_eq!((c1, s1), (c2, s2), "rows from {}", start);
    }
    // A config without LongRoPE holds no factors.
    assert!(Config::preset("llama-3.1-8b").unwrap().long_factor().is_none());
}

#[test]
fn errors_carry_the_reason_of_the_failing_call() {
    // The library's reasons, read right after the failing call.
    let odd = Table::create(&Config::new(63)).unwrap_err();
    assert_eq!((odd.kind(), odd.status()), (ErrorKind::InvalidArgument, sys::ROTOR_ERR_INVALID_ARGUMENT));
    assert!(odd.message().contains("rotary_dim"), "{:?}", odd);
    assert_eq!(odd.to_string(), format!("{}: {}", odd.description(), odd.message()));
    let table = Table::create(&Config::new(64).max_len(100)).unwrap();
    let past = table.reserve(101).unwrap_err();
    assert_eq!(past, Error::OutOfRange);
    assert!(!past.message().is_empty() && past.message() != odd.message());
    let unknown = Config::preset("no-such-model").unwrap_err();
    assert!(unknown.message().contains("preset"), "{:?}", unknown);
    // This crate's own reasons, for what it refuses before calling the library.
    let mut x = vec![0f32; 2 * 64];
    let short = TensorMut::new(&mut x, Dtype::F32, [1, 3, 1, 64], Layout::Bshd).unwrap_err();
    assert!(short.message().contains("past the end"), "{:?}", short);
    let mut v = TensorMut::new(&mut x, Dtype::F32, [1, 2, 1, 64], Layout::Bshd).unwrap();
    let positions = table.apply(&mut v, Positions::Explicit(&[1]), Direction::Forward, None).unwrap_err();
    assert!(positions.message().contains("batch * seq"), "{:?}", positions);
    // Equality is by kind: the pre-1.2 comparisons still hold, whatever the wording.
    assert_eq!(odd, Error::InvalidArgument);
    assert_eq!(odd, ErrorKind::InvalidArgument);
    assert_ne!(odd, past);
    assert_eq!(Error::InvalidArgument.message(), "");
    // Each thread has its own reason: a failure on one does not show in another's error.
    let other = std::thread::spawn(|| Table::create(&Config::new(64).base(f64::NAN)).unwrap_err()).join().unwrap();
    assert!(other.message().contains("base"), "{:?}", other);
    assert!(odd.message().contains("rotary_dim"));
}

#[test]
fn presets_lists_every_name_each_usable() {
    let names = presets();
    for alias in ["llama-3-8b", "llama-3.2-1b", "qwen2.5-7b"] {
        assert!(names.contains(&alias), "{} is not listed", alias);
        let cfg = Config::preset(alias).unwrap();
        assert!(cfg.raw().rotary_dim > 0);
    }
    for name in &names {
        match Config::preset(name) {
            // Every preset makes a table (rows are computed lazily: max_len costs nothing yet).
            Ok(cfg) => drop(Table::create(&cfg.initial_len(16)).unwrap()),
            // A model whose layers use different tables: each of those is a preset.
            Err(_) => {
                assert!(presets::layer_count(name).unwrap() > 0, "{}", name);
                for table in presets::tables(name).unwrap() {
                    assert!(names.contains(&table), "{} of {}", table, name);
                }
            }
        }
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "a name is listed twice");
}

#[test]
fn views_fill_the_tensor_padding_and_versions_agree() {
    let mut x = random(2 * 4 * 64, 1);
    let view = TensorMut::new(&mut x, Dtype::F32, [1, 2, 4, 64], Layout::Bshd).unwrap();
    #[cfg(target_pointer_width = "64")]
    assert_eq!(view.raw().reserved_0, 0);
    assert_eq!(view.raw().stride_head, 64);
    assert_eq!(version(), (sys::ROTOR_VERSION_MAJOR, sys::ROTOR_VERSION_MINOR, sys::ROTOR_VERSION_PATCH));
    assert!(version().1 >= 2, "the 1.2 API needs a 1.2 or later library");
}

#[test]
fn a_layout_this_crate_does_not_know_is_refused_before_the_library() {
    // A newer library could accept (and a preset return) a layout added after this crate: the
    // crate sizes the `*_axes` id slices by the layout, so it refuses to make a table it would
    // hand too few ids.
    let mut cfg = Config::new(64);
    // SAFETY: only the layout changes; no pointer field is touched.
    unsafe { cfg.raw_mut().layout = 99 };
    let err = Table::create(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("layout"), "{:?}", err);
}

#[test]
fn arenas_and_workspaces_too_small_or_misaligned_are_refused_before_a_write() {
    // The library checks size and alignment of what it writes into; the safe API relies on
    // that, so this pins it (run under AddressSanitizer, a write past a buffer would show).
    let cfg = Config::new(64).max_len(512);
    let size = cfg.arena_size().unwrap();
    let mut arena = Arena::new(size + 64).unwrap();
    assert_eq!(Table::init(&cfg, &mut arena[1..size + 1]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Table::init(&cfg, &mut arena[..size - 1]).unwrap_err().kind(), ErrorKind::OutOfMemory);
    let table = Table::create(&cfg).unwrap();

    let (heads, d, s) = (2u32, 64u32, 3u32);
    let cache_size = KvCache::arena_size(heads, d, 64, Dtype::F32).unwrap();
    let mut cache_arena = Arena::new(cache_size + 64).unwrap();
    assert_eq!(KvCache::init(&mut cache_arena[8..cache_size + 8], heads, d, 64, Dtype::F32).unwrap_err().kind(),
               ErrorKind::InvalidArgument);
    assert_eq!(KvCache::init(&mut cache_arena[..cache_size - 1], heads, d, 64, Dtype::F32).unwrap_err().kind(),
               ErrorKind::OutOfMemory);
    let mut cache = KvCache::init(&mut cache_arena[..cache_size], heads, d, 64, Dtype::F32).unwrap();

    let x = random((s * heads * d) as usize, 5);
    let mut out = vec![0f32; x.len()];
    let work = attention_workspace_size(heads, heads, d, s, 1).unwrap();
    let mut workspace = Arena::new(work + 64).unwrap();
    let shape = [1, s, heads, d];
    for (range, kind) in [(1..work + 1, ErrorKind::InvalidArgument), (0..work - 1, ErrorKind::OutOfMemory)] {
        let t = Tensor::new(&x, Dtype::F32, shape, Layout::Bshd).unwrap();
        let mut o = TensorMut::new(&mut out, Dtype::F32, shape, Layout::Bshd).unwrap();
        let err = table.attention_forward(&mut [&mut cache], &t, &t, &t, &mut o, 0.125, &mut workspace[range], None)
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{}", err);
    }
    assert!(cache.is_empty(), "a refused call appended nothing");

    let mut keys = x.clone();
    let rerotate = rerotate_workspace_size(d, 1).unwrap();
    let mut rw = Arena::new(rerotate + 64).unwrap();
    for (range, kind) in [(4..rerotate + 4, ErrorKind::InvalidArgument), (0..rerotate - 1, ErrorKind::OutOfMemory)] {
        let mut k = TensorMut::new(&mut keys, Dtype::F32, shape, Layout::Bshd).unwrap();
        let err = table.rerotate_keys(&mut k, Positions::Offset(0), 0, &mut rw[range], None).unwrap_err();
        assert_eq!(err.kind(), kind, "{}", err);
    }
    assert_eq!(keys, x);
    // The cos/sin of apply_cos_sin must cover every row a position names.
    let (cos, sin) = (vec![1f32; 4 * 32], vec![0f32; 4 * 32]);
    let mut y = x.clone();
    let mut v = TensorMut::new(&mut y, Dtype::F32, shape, Layout::Bshd).unwrap();
    let err = apply_cos_sin_in_place(&cos, &sin, 64, Pairing::Half, &mut v, Positions::Explicit(&[0, 1, 4]),
                                     Direction::Forward, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfRange);
    // A rotary_dim wider than the view's heads is refused, not rotated past each head.
    let (cos, sin) = (vec![1f32; 4 * 64], vec![0f32; 4 * 64]);
    let err = apply_cos_sin_in_place(&cos, &sin, 128, Pairing::Half, &mut v, Positions::Offset(0), Direction::Forward,
                                     None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(y, x);
}
