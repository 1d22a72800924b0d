//! Finds or builds librotor and tells cargo how to link it.
//!
//! In order:
//!  1. `ROTOR_LIB_DIR=<dir>`: an installed rotor (`<prefix>/lib`). Links `librotor.a` when it is
//!     there, else `librotor.so` (then the program needs the directory at run time: rpath or
//!     `LD_LIBRARY_PATH`). `ROTOR_LINK=dylib` prefers the shared library.
//!  2. `ROTOR_USE_PKG_CONFIG=1`: the same, from `pkg-config --variable=libdir rotor`.
//!  3. Otherwise: builds the static library from this repository (the top-level CMakeLists.txt,
//!     tests, examples, benchmarks and CUDA off) inside OUT_DIR with the `cmake` on PATH.
//!
//! Static is the default because cargo cannot hand an rpath to the binaries of the crates that
//! depend on this one (`rustc-link-arg` reaches only this package's own targets): a static
//! librotor leaves nothing to find at run time. The archive is C++, so the C++ runtime is linked
//! too (`ROTOR_CXX_RUNTIME`, default `stdc++`; `c++` for libc++).
//!
//! Emits `cargo:include=<dir of rotor/rotor.h>` (DEP_ROTOR_INCLUDE for dependents' build scripts).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in ["ROTOR_LIB_DIR", "ROTOR_USE_PKG_CONFIG", "ROTOR_LINK", "ROTOR_CXX_RUNTIME", "PKG_CONFIG_PATH"] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");
    let prefer_dylib = env::var("ROTOR_LINK").map(|v| v == "dylib").unwrap_or(false);

    if let Ok(dir) = env::var("ROTOR_LIB_DIR") {
        link_installed(Path::new(&dir), prefer_dylib);
        return;
    }
    if env::var("ROTOR_USE_PKG_CONFIG").map(|v| v == "1").unwrap_or(false) {
        let libdir = pkg_config_libdir();
        link_installed(&libdir, prefer_dylib);
        if let Some(include) = pkg_config_variable("includedir") {
            println!("cargo:include={}", include);
        }
        return;
    }
    build_from_repository();
}

fn link_installed(dir: &Path, prefer_dylib: bool) {
    let has_static = dir.join("librotor.a").exists();
    let has_shared = dir.join("librotor.so").exists();
    if !has_static && !has_shared {
        panic!("rotor-sys: neither librotor.a nor librotor.so in {}", dir.display());
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    if has_static && !(prefer_dylib && has_shared) {
        link_static();
    } else {
        println!("cargo:rustc-link-lib=dylib=rotor");
    }
    if let Some(prefix) = dir.parent() {
        println!("cargo:include={}", prefix.join("include").display());
    }
}

fn link_static() {
    println!("cargo:rustc-link-lib=static=rotor");
    let runtime = env::var("ROTOR_CXX_RUNTIME").unwrap_or_else(|_| "stdc++".to_string());
    println!("cargo:rustc-link-lib=dylib={}", runtime);
    // rotor's pool uses threads; std already links libpthread/libc on Linux, libm for the rows.
    println!("cargo:rustc-link-lib=dylib=m");
}

fn pkg_config_variable(name: &str) -> Option<String> {
    let output = Command::new("pkg-config").args(["--variable", name, "rotor"]).output().ok()?;
    let value = String::from_utf8(output.stdout).ok()?.trim().to_string();
    if output.status.success() && !value.is_empty() {
        Some(value)
    } else {
        None
    }
}

fn pkg_config_libdir() -> PathBuf {
    match pkg_config_variable("libdir") {
        Some(dir) => PathBuf::from(dir),
        None => panic!("rotor-sys: ROTOR_USE_PKG_CONFIG=1 but `pkg-config --variable libdir rotor` found nothing \
                        (set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig)"),
    }
}

fn build_from_repository() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // bindings/rust/rotor-sys -> the repository root.
    let root = manifest.join("../../..");
    if !root.join("CMakeLists.txt").exists() || !root.join("include/rotor/rotor.h").exists() {
        panic!("rotor-sys: not inside the rotor repository ({}); set ROTOR_LIB_DIR to an installed rotor's lib \
                directory or ROTOR_USE_PKG_CONFIG=1", root.display());
    }
    for part in ["CMakeLists.txt", "cmake", "include", "src", "arch"] {
        let path = root.join(part);
        if path.exists() {
            // A directory is watched recursively by cargo (any file's mtime).
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let build = out.join("rotor-build");
    let configure = Command::new("cmake")
        .arg("-S")
        .arg(&root)
        .arg("-B")
        .arg(&build)
        .args([
            "-DCMAKE_BUILD_TYPE=Release",
            "-DBUILD_SHARED_LIBS=OFF",
            "-DROTOR_BUILD_TESTS=OFF",
            "-DROTOR_BUILD_EXAMPLES=OFF",
            "-DROTOR_BUILD_BENCH=OFF",
            // The CUDA kernels would make every Rust program link libcudart: a build option for
            // a later feature, not a default.
            "-DROTOR_CUDA=OFF",
        ])
        .status();
    check(configure, "cmake configure");
    // cargo's job count (NUM_JOBS) is what the user allowed for this build.
    let jobs = env::var("NUM_JOBS").unwrap_or_else(|_| "2".to_string());
    let compile = Command::new("cmake")
        .arg("--build")
        .arg(&build)
        .args(["--target", "rotor", "-j", &jobs])
        .status();
    check(compile, "cmake --build");
    println!("cargo:rustc-link-search=native={}", build.display());
    link_static();
    println!("cargo:include={}", root.join("include").display());
    println!("cargo:root={}", root.display());
}

fn check(status: std::io::Result<std::process::ExitStatus>, what: &str) {
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("rotor-sys: {} failed ({})", what, s),
        Err(e) => panic!("rotor-sys: cannot run {} (is cmake installed?): {}", what, e),
    }
}
