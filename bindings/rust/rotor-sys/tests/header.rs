//! The declarations against include/rotor/rotor.h (parsed by bindings/check_header.py) and the
//! struct sizes against the library's own idea of them.
use rotor_sys::*;
use std::mem::size_of;
use std::path::Path;
use std::process::Command;

#[test]
fn declarations_match_the_header() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../check_header.py");
    let lib_rs = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = Command::new(&python)
        .arg(&script)
        .args(["--only", "rust", "--rust"])
        .arg(&lib_rs)
        .output()
        .expect("python3 runs bindings/check_header.py");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "rotor-sys differs from rotor.h:\n{}{}", text,
            String::from_utf8_lossy(&output.stderr));
}

/// Byte offset of a field (std's offset_of! needs rustc 1.77; this crate builds with 1.63).
macro_rules! offset_of {
    ($ty:ty, $field:ident) => {{
        let value = std::mem::MaybeUninit::<$ty>::uninit();
        let base = value.as_ptr();
        // SAFETY: addr_of! computes the field's address inside the (uninitialised) value without
        // reading it or creating a reference.
        let field = unsafe { std::ptr::addr_of!((*base).$field) };
        field as usize - base as usize
    }};
}

/// Every field's offset and each struct's size as rotor.h lays them out: rotor_config's padding
/// sits before the pointers on 64-bit targets and after them on 32-bit ones (offsets of rotor
/// 1.0 on both), rotor_tensor's padding is a field on 64-bit targets only, and 1.2 appends
/// factor_count and reserved_3 to rotor_config.
#[test]
fn struct_layouts_match_the_header() {
    #[cfg(target_pointer_width = "64")]
    let (pointers, tail, config_size) = ([96, 104], 112, 144);
    #[cfg(target_pointer_width = "32")]
    let (pointers, tail, config_size) = ([92, 96], 104, 136);
    assert_eq!(size_of::<rotor_config>(), config_size);
    assert_eq!([offset_of!(rotor_config, struct_size), offset_of!(rotor_config, rotary_dim),
                offset_of!(rotor_config, pairing), offset_of!(rotor_config, reserved_0),
                offset_of!(rotor_config, base), offset_of!(rotor_config, initial_len),
                offset_of!(rotor_config, max_len), offset_of!(rotor_config, growth),
                offset_of!(rotor_config, growth_increment), offset_of!(rotor_config, growth_margin),
                offset_of!(rotor_config, growth_threshold), offset_of!(rotor_config, scaling),
                offset_of!(rotor_config, factor), offset_of!(rotor_config, original_max_len),
                offset_of!(rotor_config, ntk_dynamic), offset_of!(rotor_config, beta_fast),
                offset_of!(rotor_config, beta_slow), offset_of!(rotor_config, mscale),
                offset_of!(rotor_config, mscale_all_dim), offset_of!(rotor_config, attention_factor),
                offset_of!(rotor_config, low_freq_factor), offset_of!(rotor_config, high_freq_factor)],
               [0, 4, 8, 12, 16, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88]);
    assert_eq!([offset_of!(rotor_config, long_factor), offset_of!(rotor_config, short_factor)], pointers);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(offset_of!(rotor_config, reserved_1), 92);
    #[cfg(target_pointer_width = "32")]
    assert_eq!(offset_of!(rotor_config, reserved_1), 100);
    // 1.1's fields, then 1.2's, from the end of the 1.0 struct on.
    assert_eq!([offset_of!(rotor_config, layout), offset_of!(rotor_config, mrope_section),
                offset_of!(rotor_config, rope_pairs), offset_of!(rotor_config, reserved_2),
                offset_of!(rotor_config, factor_count), offset_of!(rotor_config, reserved_3)],
               [tail, tail + 4, tail + 16, tail + 20, tail + 24, tail + 28]);
    assert_eq!(tail + 32, config_size);

    #[cfg(target_pointer_width = "64")]
    {
        assert_eq!(size_of::<rotor_tensor>(), 56);
        assert_eq!([offset_of!(rotor_tensor, dtype), offset_of!(rotor_tensor, head_dim),
                    offset_of!(rotor_tensor, reserved_0), offset_of!(rotor_tensor, stride_batch),
                    offset_of!(rotor_tensor, stride_seq), offset_of!(rotor_tensor, stride_head)],
                   [8, 24, 28, 32, 40, 48]);
    }
    #[cfg(target_pointer_width = "32")]
    {
        assert_eq!(size_of::<rotor_tensor>(), 48);
        assert_eq!([offset_of!(rotor_tensor, dtype), offset_of!(rotor_tensor, head_dim),
                    offset_of!(rotor_tensor, stride_batch), offset_of!(rotor_tensor, stride_seq),
                    offset_of!(rotor_tensor, stride_head)],
                   [4, 20, 24, 32, 40]);
    }
    assert_eq!([offset_of!(rotor_tensor, batch), offset_of!(rotor_tensor, seq), offset_of!(rotor_tensor, heads)],
               [offset_of!(rotor_tensor, dtype) + 4, offset_of!(rotor_tensor, dtype) + 8,
                offset_of!(rotor_tensor, dtype) + 12]);

    assert_eq!(size_of::<rotor_table_stats>(), 64);
    assert_eq!([offset_of!(rotor_table_stats, bytes_in_use), offset_of!(rotor_table_stats, grow_events),
                offset_of!(rotor_table_stats, factor), offset_of!(rotor_table_stats, epoch),
                offset_of!(rotor_table_stats, key_rerotations)],
               [16, 32, 40, 48, 56]);
    assert_eq!(size_of::<rotor_table_event>(), 24);
    // 1.3: rotor_kv_cache_config, 16 bytes (12 for a caller without flags).
    assert_eq!(size_of::<rotor_kv_cache_config>(), 16);
    assert_eq!([offset_of!(rotor_kv_cache_config, key_dtype), offset_of!(rotor_kv_cache_config, value_dtype),
                offset_of!(rotor_kv_cache_config, flags)],
               [4, 8, 12]);
}

/// rotor_kv_cache_config_init_sized fills this crate's struct (and a 12-byte one without
/// flags), and rotor_kv_cache_get_config reads back what rotor_kv_cache_init_ex was given.
#[test]
fn kv_cache_config_round_trip() {
    let size = size_of::<rotor_kv_cache_config>();
    let mut cfg = rotor_kv_cache_config::default();
    // SAFETY: cfg is size writable bytes.
    assert_eq!(unsafe { rotor_kv_cache_config_init_sized(&mut cfg, size, ROTOR_DTYPE_Q4_0) }, ROTOR_OK);
    assert_eq!(cfg, rotor_kv_cache_config { struct_size: 16, key_dtype: ROTOR_DTYPE_Q4_0,
                                            value_dtype: ROTOR_DTYPE_Q4_0, flags: 0 });
    // SAFETY: as above; 13 is no size of the struct and is refused without a write.
    assert_eq!(unsafe { rotor_kv_cache_config_init_sized(&mut cfg, 13, ROTOR_DTYPE_F16) }, ROTOR_ERR_INVALID_ARGUMENT);
    cfg.value_dtype = ROTOR_DTYPE_BF16;
    cfg.flags = ROTOR_KV_UNROTATED_KEYS;
    // SAFETY: plain values and a whole struct.
    let need = unsafe { rotor_kv_cache_arena_size_ex(2, 64, 16, &cfg) };
    // SAFETY: as above; head_dim 48 is no multiple of 32, which a Q4_0 cache needs.
    assert_eq!(unsafe { rotor_kv_cache_arena_size_ex(2, 48, 16, &cfg) }, 0);
    // An arena of u64s is 8-byte aligned; the library wants 64: over-allocate and align.
    let mut arena = vec![0u64; need / 8 + 16];
    let skip = (arena.as_ptr() as *const u8).align_offset(ROTOR_ARENA_ALIGNMENT); // bytes
    assert!(skip < 128);
    let mut cache: *mut rotor_kv_cache = std::ptr::null_mut();
    // SAFETY: need bytes from an aligned address inside arena, which outlives the cache.
    unsafe {
        let start = (arena.as_mut_ptr() as *mut u8).add(skip);
        assert_eq!(rotor_kv_cache_init_ex(&mut cache, 2, 64, 16, &cfg, start as *mut std::os::raw::c_void, need),
                   ROTOR_OK);
    }
    let mut got = rotor_kv_cache_config { struct_size: size as u32, ..Default::default() };
    // SAFETY: a live cache; got states its size.
    assert_eq!(unsafe { rotor_kv_cache_get_config(cache, &mut got) }, ROTOR_OK);
    assert_eq!(got, cfg);
}

#[test]
fn struct_sizes_match_the_library() {
    let mut cfg = std::mem::MaybeUninit::<rotor_config>::zeroed();
    // SAFETY: cfg points at size_of::<rotor_config>() writable bytes, the size we pass.
    let status = unsafe { rotor_config_init_sized(cfg.as_mut_ptr(), size_of::<rotor_config>(), 64) };
    assert_eq!(status, ROTOR_OK);
    // SAFETY: rotor_config_init_sized wrote every byte of the struct (all fields are plain data).
    let cfg = unsafe { cfg.assume_init() };
    assert_eq!(cfg.struct_size as usize, size_of::<rotor_config>());
    assert_eq!((cfg.reserved_0, cfg.reserved_1, cfg.reserved_2, cfg.reserved_3), (0, 0, 0, 0));
    // rotor 1.1's and 1.2's appended fields take the values that mean "as before them".
    assert_eq!((cfg.layout, cfg.mrope_section, cfg.rope_pairs), (ROTOR_LAYOUT_1D, [0, 0, 0], 0));
    assert_eq!(cfg.factor_count, 0);
    assert_eq!(cfg.rotary_dim, 64);
    let mut stats = rotor_table_stats { struct_size: size_of::<rotor_table_stats>() as u32, ..Default::default() };
    let mut table: *mut rotor_table = std::ptr::null_mut();
    // SAFETY: cfg is a valid config; table receives the handle; stats has its struct_size set.
    unsafe {
        assert_eq!(rotor_table_create(&mut table, &cfg), ROTOR_OK);
        assert_eq!(rotor_table_stats_get(table, &mut stats), ROTOR_OK);
        rotor_table_destroy(table);
    }
    assert_eq!(stats.max_len, cfg.max_len);
    assert_eq!(rotor_sys_version_macros(), unsafe_version());
}

fn rotor_sys_version_macros() -> u32 {
    (ROTOR_VERSION_MAJOR << 16) | (ROTOR_VERSION_MINOR << 8) | ROTOR_VERSION_PATCH
}

fn unsafe_version() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { rotor_version() }
}

/// The 1.2 additions at the C level: rotor_last_error_message, the preset listing, LongRoPE's
/// factor_count, the refusals of structs that are too small or cut a field.
#[test]
fn version_1_2_functions() {
    use std::ffi::CStr;
    use std::os::raw::c_char;
    let message = || {
        // SAFETY: never NULL, NUL-terminated static storage (rotor.h).
        unsafe { CStr::from_ptr(rotor_last_error_message()) }.to_str().unwrap().to_string()
    };
    let mut cfg = std::mem::MaybeUninit::<rotor_config>::zeroed();
    let size = size_of::<rotor_config>();
    // SAFETY: cfg is size bytes; the name is a NUL-terminated literal.
    let status = unsafe { rotor_config_preset_sized(cfg.as_mut_ptr(), size, b"no-such-model\0".as_ptr() as *const c_char) };
    assert_eq!(status, ROTOR_ERR_INVALID_ARGUMENT);
    assert!(!message().is_empty());
    // SAFETY: as above.
    let status = unsafe { rotor_config_preset_sized(cfg.as_mut_ptr(), size, b"phi-3-mini-128k\0".as_ptr() as *const c_char) };
    assert_eq!(status, ROTOR_OK);
    assert_eq!(message(), "");
    // SAFETY: rotor_config_preset_sized filled every byte.
    let cfg = unsafe { cfg.assume_init() };
    assert_eq!((cfg.scaling, cfg.factor_count), (ROTOR_SCALING_LONGROPE, cfg.rotary_dim / 2));
    assert!(!cfg.long_factor.is_null() && !cfg.short_factor.is_null());
    // The library knows its preset arrays' length: another rotary_dim is refused, not read past.
    let wider = rotor_config { rotary_dim: cfg.rotary_dim + 32, factor_count: 0, ..cfg };
    // SAFETY: a config whose arrays the library refuses to read past.
    assert_eq!(unsafe { rotor_table_arena_size(&wider) }, 0);
    let mut scale = 0f32;
    // SAFETY: as above; scale is a valid out pointer.
    assert_eq!(unsafe { rotor_attention_scale(&wider, 128, &mut scale) }, ROTOR_ERR_INVALID_ARGUMENT);
    assert!(!message().is_empty());

    // A 1.0-size struct cannot hold an M-RoPE preset's fields: UNSUPPORTED, nothing written.
    let v1_0_size = offset_of!(rotor_config, layout);
    let mut small = std::mem::MaybeUninit::<rotor_config>::zeroed();
    // SAFETY: small holds more than v1_0_size bytes.
    let status = unsafe { rotor_config_preset_sized(small.as_mut_ptr(), v1_0_size, b"qwen2-vl-7b\0".as_ptr() as *const c_char) };
    assert_eq!(status, ROTOR_ERR_UNSUPPORTED);
    // SAFETY: zeroed, left unwritten.
    assert_eq!(unsafe { small.assume_init() }.struct_size, 0);

    // Every listed name is a preset or a per-layer model; past the end is refused.
    // SAFETY: no arguments.
    let count = unsafe { rotor_preset_count() };
    let mut names = Vec::new();
    for index in 0..count {
        let mut name: *const c_char = std::ptr::null();
        // SAFETY: name is a valid out pointer.
        assert_eq!(unsafe { rotor_preset_name(index, &mut name) }, ROTOR_OK);
        // SAFETY: static, NUL-terminated on success.
        names.push(unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_string());
    }
    let mut name: *const c_char = std::ptr::null();
    // SAFETY: name is a valid out pointer.
    assert_eq!(unsafe { rotor_preset_name(count, &mut name) }, ROTOR_ERR_INVALID_ARGUMENT);
    assert!(name.is_null());
    for alias in ["llama-3-8b", "llama-3.2-1b", "qwen2.5-7b", "phi-3-mini-128k", "gemma-3-4b"] {
        assert!(names.iter().any(|n| n == alias), "{} is not listed", alias);
    }

    // rotor_table_stats_get refuses a struct_size that cuts a field in two.
    let mut table: *mut rotor_table = std::ptr::null_mut();
    let mut cfg = std::mem::MaybeUninit::<rotor_config>::zeroed();
    // SAFETY: cfg is size bytes, then a valid config; table receives the handle.
    unsafe {
        assert_eq!(rotor_config_init_sized(cfg.as_mut_ptr(), size, 64), ROTOR_OK);
        assert_eq!(rotor_table_create(&mut table, cfg.as_ptr()), ROTOR_OK);
    }
    let mut stats = rotor_table_stats { struct_size: 10, ..Default::default() };
    // SAFETY: a live table; stats is a whole struct whatever its struct_size says.
    assert_eq!(unsafe { rotor_table_stats_get(table, &mut stats) }, ROTOR_ERR_INVALID_ARGUMENT);
    assert_eq!(stats.rows, 0);
    stats.struct_size = 16;
    // SAFETY: as above.
    assert_eq!(unsafe { rotor_table_stats_get(table, &mut stats) }, ROTOR_OK);
    assert!(stats.rows > 0);
    // SAFETY: created above, used by no one else.
    unsafe { rotor_table_destroy(table) };
}
