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

#[test]
fn struct_sizes_match_the_library() {
    // Offsets do not change with the explicit padding: 112 and 64 bytes on LP64 targets.
    assert_eq!(size_of::<rotor_tensor>(), 8 + 4 * 5 + 4 + 3 * 8);
    let mut cfg = std::mem::MaybeUninit::<rotor_config>::zeroed();
    // SAFETY: cfg points at size_of::<rotor_config>() writable bytes, the size we pass.
    let status = unsafe { rotor_config_init_sized(cfg.as_mut_ptr(), size_of::<rotor_config>(), 64) };
    assert_eq!(status, ROTOR_OK);
    // SAFETY: rotor_config_init_sized wrote every byte of the struct (all fields are plain data).
    let cfg = unsafe { cfg.assume_init() };
    assert_eq!(cfg.struct_size as usize, size_of::<rotor_config>());
    assert_eq!((cfg.reserved_0, cfg.reserved_1, cfg.reserved_2), (0, 0, 0));
    // rotor 1.1's appended fields take the values that mean "as in 1.0".
    assert_eq!((cfg.layout, cfg.mrope_section, cfg.rope_pairs), (ROTOR_LAYOUT_1D, [0, 0, 0], 0));
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
