//! The C demo (examples/demo/rotor_demo.c) in Rust: a Llama-style table that grows while it
//! rotates a prompt, then decode steps; prints the growth events and stats and checks every
//! rotated value against a double-precision computation done here. Exits non-zero on failure.
//!
//!     cargo run --release --example demo
use std::process::exit;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rotor::{Config, Direction, Dtype, EventReason, Growth, Layout, Pool, Positions, Table, TensorMut};

const Q_HEADS: u32 = 32;
const KV_HEADS: u32 = 8;
const HEAD_DIM: usize = 128;
const PROMPT: u32 = 1500;
const DECODE_STEPS: u32 = 300;
const BASE: f64 = 500000.0;

/// The C demo's generator, so both rotate the same numbers.
fn fill_random(x: &mut [f32], mut seed: u32) {
    for v in x.iter_mut() {
        seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
        *v = ((seed >> 8) & 0xffff) as f32 / 32768.0 - 1.0;
    }
}

/// Largest |rotated - expected| over the heads of one token at position p (rotate_half).
fn check_token(rotated: &[f32], original: &[f32], p: u32) -> f64 {
    let mut worst = 0.0f64;
    for (y, x) in rotated.chunks(HEAD_DIM).zip(original.chunks(HEAD_DIM)) {
        for i in 0..HEAD_DIM / 2 {
            let angle = p as f64 * BASE.powf(-2.0 * i as f64 / HEAD_DIM as f64);
            let (a, b) = (x[i] as f64, x[i + HEAD_DIM / 2] as f64);
            let (ea, eb) = (a * angle.cos() - b * angle.sin(), b * angle.cos() + a * angle.sin());
            worst = worst.max((y[i] as f64 - ea).abs()).max((y[i + HEAD_DIM / 2] as f64 - eb).abs());
        }
    }
    worst
}

fn reason_name(reason: Option<EventReason>) -> &'static str {
    match reason {
        Some(EventReason::Grow) => "grow",
        Some(EventReason::GrowAhead) => "grow ahead",
        Some(EventReason::Reserve) => "reserve",
        Some(EventReason::Rescale) => "rescale",
        None => "?",
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("demo: {}", e);
        exit(1);
    }
}

fn run() -> rotor::Result<()> {
    let (major, minor, patch) = rotor::version();
    println!("rotor {}.{}.{} demo (Rust): Llama-style RoPE (rotate_half, head_dim {}, theta 500000), {} q / {} kv heads",
             major, minor, patch, HEAD_DIM, Q_HEADS, KV_HEADS);
    let cfg = Config::new(HEAD_DIM as u32)
        .base(BASE)
        .initial_len(256) // small on purpose: watch it grow
        .max_len(8192) // the hard maximum: never more memory than this
        .growth(Growth::Margin, 1024, 0.25, 0.8);
    let mut table = Table::create(&cfg)?;
    // The library never prints: growth reaches us through the callback. Events are collected
    // and printed by the main thread (the callback may run on a pool thread).
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    table.set_event_callback(Some(move |e: &rotor::Event| sink.lock().unwrap().push(*e)));
    let pool = Pool::new(2)?;
    let print_events = || {
        for e in events.lock().unwrap().drain(..) {
            println!("  table event: {:<10} rows {:6} -> {:6}", reason_name(e.reason), e.old_rows, e.new_rows);
        }
    };

    // Prefill: Q and K of the whole prompt in one fused, parallel call.
    let (hd, q_heads, kv_heads) = (HEAD_DIM as u32, Q_HEADS as usize, KV_HEADS as usize);
    let mut q = vec![0f32; PROMPT as usize * q_heads * HEAD_DIM];
    let mut k = vec![0f32; PROMPT as usize * kv_heads * HEAD_DIM];
    fill_random(&mut q, 1);
    fill_random(&mut k, 2);
    let (q0, k0) = (q.clone(), k.clone());
    println!("prefill: {} tokens", PROMPT);
    let start = Instant::now();
    {
        let mut qv = TensorMut::new(&mut q, Dtype::F32, [1, PROMPT, Q_HEADS, hd], Layout::Bshd)?;
        let mut kv = TensorMut::new(&mut k, Dtype::F32, [1, PROMPT, KV_HEADS, hd], Layout::Bshd)?;
        table.apply_qk(&mut qv, &mut kv, Positions::Offset(0), Direction::Forward, Some(&pool))?;
    }
    let prefill_s = start.elapsed().as_secs_f64();
    print_events();
    let mut worst = 0.0f64;
    for t in (0..PROMPT).step_by(97) {
        let (qs, ks) = (t as usize * q_heads * HEAD_DIM, t as usize * kv_heads * HEAD_DIM);
        worst = worst.max(check_token(&q[qs..qs + q_heads * HEAD_DIM], &q0[qs..qs + q_heads * HEAD_DIM], t));
        worst = worst.max(check_token(&k[ks..ks + kv_heads * HEAD_DIM], &k0[ks..ks + kv_heads * HEAD_DIM], t));
    }

    // Decode: one token at a time, positions PROMPT, PROMPT + 1, ... (explicit positions).
    println!("decode: {} steps from position {}", DECODE_STEPS, PROMPT);
    let mut decode_s = 0.0;
    let (mut qt, mut kt) = (vec![0f32; q_heads * HEAD_DIM], vec![0f32; kv_heads * HEAD_DIM]);
    for t in PROMPT..PROMPT + DECODE_STEPS {
        fill_random(&mut qt, t);
        fill_random(&mut kt, t + 7);
        let qt0 = qt.clone();
        let position = [t as i32];
        let start = Instant::now();
        {
            let mut qv = TensorMut::new(&mut qt, Dtype::F32, [1, 1, Q_HEADS, hd], Layout::Bshd)?;
            let mut kv = TensorMut::new(&mut kt, Dtype::F32, [1, 1, KV_HEADS, hd], Layout::Bshd)?;
            table.apply_qk(&mut qv, &mut kv, Positions::Explicit(&position), Direction::Forward, Some(&pool))?;
        }
        decode_s += start.elapsed().as_secs_f64();
        worst = worst.max(check_token(&qt, &qt0, t));
    }
    print_events();

    // A position past the hard maximum is refused, and changes nothing.
    let beyond = [cfg.raw().max_len as i32];
    let mut one = vec![0f32; HEAD_DIM];
    let mut view = TensorMut::new(&mut one, Dtype::F32, [1, 1, 1, hd], Layout::Bshd)?;
    let refused = table.apply(&mut view, Positions::Explicit(&beyond), Direction::Forward, None);
    println!("position {} (max_len {}): {}", beyond[0], cfg.raw().max_len,
             refused.err().map_or("accepted!", |e| e.description()));

    let stats = table.stats();
    println!("table: {} rows of {}, {} KiB in use of a {} KiB arena, {} grow events", stats.rows, stats.max_len,
             stats.bytes_in_use >> 10, stats.arena_bytes >> 10, stats.grow_events);
    println!("kernel: {}; prefill {:.3} ms ({:.2} us/token); decode {:.2} us/token", rotor::kernel_name(),
             prefill_s * 1e3, prefill_s * 1e6 / PROMPT as f64, decode_s * 1e6 / DECODE_STEPS as f64);
    let pass = worst < 1e-5 && refused == Err(rotor::Error::OutOfRange);
    println!("check against double precision: max |error| = {:.3e} -> {}", worst, if pass { "PASS" } else { "FAIL" });
    if !pass {
        exit(1);
    }
    Ok(())
}
