//! GGUF model files (llama.cpp, Ollama, LM Studio): a layer's [`Config`] from the file's keys
//! (`rotor_config_from_gguf_sized`) and the model's layer count (`rotor_gguf_layers`).
//!
//! ```no_run
//! use rotor::{Config, ErrorKind, Table};
//! let layers = rotor::gguf_layers("model.gguf")?;
//! for layer in 0..layers {
//!     match Config::from_gguf("model.gguf", layer) {
//!         Ok(config) => { let _table = Table::create(&config.max_len(8192))?; }
//!         Err(e) if e.kind() == ErrorKind::NoRotary => {} // rotate nothing on this layer
//!         Err(e) => return Err(e),
//!     }
//! }
//! # Ok::<(), rotor::Error>(())
//! ```
//!
//! The library reads only memory: a path is read with `std::fs` (the whole file) into a buffer
//! aligned for the factor tensors; an engine that maps its model file already passes the
//! mapping to [`Config::from_gguf_bytes`] instead.
use std::fs::File;
use std::io::Read;
use std::mem::{size_of, MaybeUninit};
use std::path::Path;

use rotor_sys as sys;

use crate::error::{check, invalid};
use crate::{Config, Result};

/// The file's bytes in 8-byte words, so the tensors keep the alignment they have in the file.
struct Image {
    words: Vec<u64>,
    len: usize,
}

impl Image {
    fn read(path: &Path) -> Result<Image> {
        let cannot = invalid("the GGUF file cannot be read");
        let mut file = File::open(path).map_err(|_| cannot)?;
        let len = usize::try_from(file.metadata().map_err(|_| cannot)?.len()).map_err(|_| cannot)?;
        let mut words = vec![0u64; len / 8 + 1];
        // SAFETY: the u64 buffer holds at least len bytes; u8 has no invalid values and no
        // alignment requirement.
        let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, len) };
        file.read_exact(bytes).map_err(|_| cannot)?;
        Ok(Image { words, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: as in read: len bytes of the buffer, all initialised.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.len) }
    }
}

impl Config {
    /// The config of layer `layer` (0-based) of the model in the GGUF file at `path`, exactly
    /// as [`Config::preset`] gives it for the same model (llama-family files rotate adjacent
    /// pairs: their weights were permuted by llama.cpp's converter). LongRoPE factors are
    /// copied into the Config. Errors: `NoRotary` for a layer without rotary embedding,
    /// `InvalidArgument` for a malformed file or a layer past [`gguf_layers`], `Unsupported`
    /// for an architecture or setting rotor cannot serve; the message names the key or tensor.
    pub fn from_gguf(path: impl AsRef<Path>, layer: u32) -> Result<Config> {
        Config::from_gguf_bytes(Image::read(path.as_ref())?.bytes(), layer)
    }

    /// [`Config::from_gguf`] from the file's bytes (a mapping the caller made). LongRoPE factor
    /// tensors must lie 4-byte aligned in memory (a mapping of the file is).
    pub fn from_gguf_bytes(image: &[u8], layer: u32) -> Result<Config> {
        let mut raw = MaybeUninit::<sys::rotor_config>::zeroed();
        // SAFETY: raw is size_of::<rotor_config>() writable bytes, the size passed; image is
        // readable for image.len() bytes during the call.
        check(unsafe {
            sys::rotor_config_from_gguf_sized(raw.as_mut_ptr(), size_of::<sys::rotor_config>(),
                                              image.as_ptr().cast(), image.len(), layer)
        })?;
        // SAFETY: zeroed, then filled by the library on success.
        let raw = unsafe { raw.assume_init() };
        let factors = if raw.scaling == sys::ROTOR_SCALING_LONGROPE && !raw.long_factor.is_null() {
            let half = (raw.rotary_dim / 2) as usize;
            // SAFETY: on success a LONGROPE config's arrays point into `image` (alive here) at
            // rotary_dim / 2 aligned f32 values each (the library checked the tensors).
            let copy = |p: *const f32| unsafe { std::slice::from_raw_parts(p, half) }.to_vec();
            Some((copy(raw.long_factor), copy(raw.short_factor)))
        } else {
            None
        };
        Ok(Config::from_library(raw, factors))
    }
}

/// The layer count (`{arch}.block_count`) of the model in the GGUF file at `path`.
pub fn gguf_layers(path: impl AsRef<Path>) -> Result<u32> {
    gguf_layers_bytes(Image::read(path.as_ref())?.bytes())
}

/// [`gguf_layers`] from the file's bytes.
pub fn gguf_layers_bytes(image: &[u8]) -> Result<u32> {
    let mut layers = 0u32;
    // SAFETY: image is readable for its length during the call; layers is a valid out pointer.
    check(unsafe { sys::rotor_gguf_layers(image.as_ptr().cast(), image.len(), &mut layers) })?;
    Ok(layers)
}
