// rotor from Rust with no crates: the C functions are declared here with extern "C" and the
// program is built with plain rustc against the installed library:
//   rustc --edition 2021 -O examples/rust/rotor_example.rs -L <prefix>/lib \
//         -C link-arg=-Wl,-rpath,<prefix>/lib -o rotor_rust_example
// Rotates GPT-J style (interleaved pairs) keys at given positions, checks every value against
// cos/sin computed here in f64, and shows an error coming back as rotor_status_string's text.
// Exits non-zero on any mismatch. Written for Debian 12's rustc (1.63) and newer.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::process::exit;
use std::ptr;

// The C enums are int; their values are pinned by rotor.h.
type RotorStatus = c_int;
const ROTOR_OK: RotorStatus = 0;
const ROTOR_ERR_INVALID_ARGUMENT: RotorStatus = 1;
const ROTOR_PAIRING_INTERLEAVED: c_int = 1;
const ROTOR_DTYPE_F32: c_int = 0;
const ROTOR_FORWARD: c_int = 0;

// rotor_config, field for field (checked against the library's struct_size in main).
#[repr(C)]
struct RotorConfig {
    struct_size: u32,
    rotary_dim: u32,
    pairing: c_int,
    base: f64,
    initial_len: u32,
    max_len: u32,
    growth: c_int,
    growth_increment: u32,
    growth_margin: f32,
    growth_threshold: f32,
    scaling: c_int,
    factor: f32,
    original_max_len: u32,
    ntk_dynamic: c_int,
    beta_fast: f32,
    beta_slow: f32,
    mscale: f32,
    mscale_all_dim: f32,
    attention_factor: f32,
    low_freq_factor: f32,
    high_freq_factor: f32,
    long_factor: *const f32,
    short_factor: *const f32,
}

#[repr(C)]
struct RotorTensor {
    data: *mut c_void,
    dtype: c_int,
    batch: u32,
    seq: u32,
    heads: u32,
    head_dim: u32,
    stride_batch: i64,
    stride_seq: i64,
    stride_head: i64,
}

enum RotorTable {} // opaque

#[link(name = "rotor")]
extern "C" {
    fn rotor_version() -> u32;
    fn rotor_status_string(s: RotorStatus) -> *const c_char;
    fn rotor_config_init(cfg: *mut RotorConfig, rotary_dim: u32);
    fn rotor_table_create(out: *mut *mut RotorTable, cfg: *const RotorConfig) -> RotorStatus;
    fn rotor_table_destroy(t: *mut RotorTable);
    fn rotor_table_cos_sin(t: *mut RotorTable, start: u32, count: u32, dtype: c_int, duplicated: c_int,
                           cos_out: *mut c_void, sin_out: *mut c_void) -> RotorStatus;
    fn rotor_tensor_bshd(data: *mut c_void, dt: c_int, b: u32, s: u32, h: u32, d: u32) -> RotorTensor;
    fn rotor_apply(t: *mut RotorTable, x: *const RotorTensor, positions: *const i32, offset: u32, dir: c_int,
                   pool: *mut c_void) -> RotorStatus;
}

fn status_text(s: RotorStatus) -> String {
    // Never NULL, static storage (rotor.h).
    unsafe { CStr::from_ptr(rotor_status_string(s)) }.to_string_lossy().into_owned()
}

fn check(s: RotorStatus, what: &str) -> Result<(), String> {
    if s == ROTOR_OK { Ok(()) } else { Err(format!("{}: {}", what, status_text(s))) }
}

/// Owns a rotor_table; destroyed when dropped.
struct Table {
    raw: *mut RotorTable,
}

impl Table {
    fn new(cfg: &RotorConfig) -> Result<Table, String> {
        let mut raw = ptr::null_mut();
        check(unsafe { rotor_table_create(&mut raw, cfg) }, "rotor_table_create")?;
        Ok(Table { raw })
    }

    /// Rotates x, a contiguous [1, seq, heads, head_dim] f32 buffer, in place.
    fn apply(&self, x: &mut [f32], seq: u32, heads: u32, head_dim: u32, positions: &[i32]) -> Result<(), String> {
        assert_eq!(x.len(), (seq * heads * head_dim) as usize);
        assert_eq!(positions.len(), seq as usize);
        let view = unsafe { rotor_tensor_bshd(x.as_mut_ptr() as *mut c_void, ROTOR_DTYPE_F32, 1, seq, heads, head_dim) };
        check(unsafe { rotor_apply(self.raw, &view, positions.as_ptr(), 0, ROTOR_FORWARD, ptr::null_mut()) },
              "rotor_apply")
    }

    /// cos and sin of positions [start, start + count), each count x rotary_dim/2.
    fn cos_sin(&self, start: u32, count: u32, half: usize) -> Result<(Vec<f32>, Vec<f32>), String> {
        let mut cos = vec![0.0f32; count as usize * half];
        let mut sin = vec![0.0f32; count as usize * half];
        check(unsafe {
            rotor_table_cos_sin(self.raw, start, count, ROTOR_DTYPE_F32, 0, cos.as_mut_ptr() as *mut c_void,
                                sin.as_mut_ptr() as *mut c_void)
        }, "rotor_table_cos_sin")?;
        Ok((cos, sin))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        unsafe { rotor_table_destroy(self.raw) }
    }
}

fn default_config(rotary_dim: u32) -> RotorConfig {
    let mut cfg: RotorConfig = unsafe { std::mem::zeroed() };
    unsafe { rotor_config_init(&mut cfg, rotary_dim) };
    cfg
}

fn run() -> Result<(), String> {
    let v = unsafe { rotor_version() };
    println!("rotor {}.{}.{} from Rust", v >> 16, (v >> 8) & 0xff, v & 0xff);

    const SEQ: u32 = 5;
    const HEADS: u32 = 4;
    const HEAD_DIM: u32 = 32;
    const ROTARY_DIM: u32 = 32;
    let mut cfg = default_config(ROTARY_DIM);
    if cfg.struct_size as usize != std::mem::size_of::<RotorConfig>() {
        return Err(format!("rotor_config is {} bytes in the library, {} here", cfg.struct_size,
                           std::mem::size_of::<RotorConfig>()));
    }
    cfg.pairing = ROTOR_PAIRING_INTERLEAVED; // GPT-J: pairs (2i, 2i + 1)
    cfg.max_len = 1 << 16;
    let table = Table::new(&cfg)?;

    let positions: [i32; SEQ as usize] = [0, 7, 300, 4095, 65535];
    let original: Vec<f32> = (0..SEQ * HEADS * HEAD_DIM).map(|i| ((i as f64) * 0.61).sin() as f32).collect();
    let mut keys = original.clone();
    table.apply(&mut keys, SEQ, HEADS, HEAD_DIM, &positions)?;

    // a' = a cos - b sin, b' = b cos + a sin with angle p * base^(-2i/r), in f64.
    let mut worst = 0.0f64;
    for s in 0..SEQ as usize {
        for h in 0..HEADS as usize {
            let at = (s * HEADS as usize + h) * HEAD_DIM as usize;
            for i in 0..(ROTARY_DIM / 2) as usize {
                let angle = positions[s] as f64 * cfg.base.powf(-2.0 * i as f64 / ROTARY_DIM as f64);
                let (a, b) = (original[at + 2 * i] as f64, original[at + 2 * i + 1] as f64);
                let want_a = a * angle.cos() - b * angle.sin();
                let want_b = b * angle.cos() + a * angle.sin();
                worst = worst.max((keys[at + 2 * i] as f64 - want_a).abs());
                worst = worst.max((keys[at + 2 * i + 1] as f64 - want_b).abs());
            }
        }
    }
    println!("apply: max error {:.2e} over {} tokens x {} heads", worst, SEQ, HEADS);
    if worst > 1e-6 {
        return Err("rotated keys differ from the f64 reference".to_string());
    }

    let half = (ROTARY_DIM / 2) as usize;
    let (cos, sin) = table.cos_sin(65530, 6, half)?;
    let mut worst_row = 0.0f64;
    for row in 0..6 {
        for i in 0..half {
            let angle = (65530 + row) as f64 * cfg.base.powf(-2.0 * i as f64 / ROTARY_DIM as f64);
            worst_row = worst_row.max((cos[row * half + i] as f64 - angle.cos()).abs());
            worst_row = worst_row.max((sin[row * half + i] as f64 - angle.sin()).abs());
        }
    }
    println!("cos_sin: rows 65530..65535 within {:.2e} of f64", worst_row);
    if worst_row > 1e-7 {
        return Err("cos/sin rows differ from the f64 reference".to_string());
    }

    // An odd rotary_dim is refused, and the reason comes back as text.
    let odd = default_config(31);
    match Table::new(&odd) {
        Ok(_) => return Err("rotary_dim 31 was accepted".to_string()),
        Err(message) => {
            println!("rotary_dim 31: {}", message);
            if !message.ends_with(&status_text(ROTOR_ERR_INVALID_ARGUMENT)) {
                return Err("unexpected status for rotary_dim 31".to_string());
            }
        }
    }
    Ok(())
}

fn main() {
    match run() {
        Ok(()) => println!("ok"),
        Err(message) => {
            eprintln!("FAILED: {}", message);
            exit(1);
        }
    }
}
