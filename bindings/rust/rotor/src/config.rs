//! rotor_config and the enums of the C API.
use std::convert::TryFrom;
use std::ffi::CString;
use std::mem::{size_of, MaybeUninit};
use std::ptr;

use rotor_sys as sys;

use crate::error::{check, invalid};
use crate::{Error, ErrorKind, Result};

macro_rules! c_enum {
    ($(#[$doc:meta])* $name:ident: $($(#[$vdoc:meta])* $variant:ident = $value:path),+ $(,)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The C enumerator's value.
            pub fn raw(self) -> i32 {
                match self { $($name::$variant => $value),+ }
            }
            /// The variant for a C value, if this crate knows it.
            pub fn from_raw(value: i32) -> Option<$name> {
                $(if value == $value { return Some($name::$variant); })+
                None
            }
        }
    };
}

c_enum!(
    /// Which dims form a rotated pair.
    Pairing:
    /// GPT-NeoX / Llama rotate_half: (i, i + r/2).
    Half = sys::ROTOR_PAIRING_HALF,
    /// GPT-J, ggml normal mode, ONNX interleaved=1: (2i, 2i + 1).
    Interleaved = sys::ROTOR_PAIRING_INTERLEAVED,
);
c_enum!(
    /// How a table grows (rotor.h, `rotor_growth`).
    Growth:
    /// Doubles until the rows fit.
    Exponential = sys::ROTOR_GROWTH_EXPONENTIAL,
    /// Rounds up to a multiple of growth_increment.
    Linear = sys::ROTOR_GROWTH_LINEAR,
    /// Exactly what is asked.
    Exact = sys::ROTOR_GROWTH_EXACT,
    /// ceil(required * (1 + growth_margin)).
    Margin = sys::ROTOR_GROWTH_MARGIN,
);
c_enum!(
    /// Long-context scaling (docs/scaling.md).
    Scaling:
    /// Plain RoPE.
    None = sys::ROTOR_SCALING_NONE,
    /// Position interpolation.
    Linear = sys::ROTOR_SCALING_LINEAR,
    /// NTK-aware base change.
    Ntk = sys::ROTOR_SCALING_NTK,
    /// Hugging Face's dynamic NTK.
    DynamicNtk = sys::ROTOR_SCALING_DYNAMIC_NTK,
    /// YaRN (DeepSeek's mscale form too).
    Yarn = sys::ROTOR_SCALING_YARN,
    /// Llama 3.1.
    Llama3 = sys::ROTOR_SCALING_LLAMA3,
    /// LongRoPE (Phi-3).
    LongRope = sys::ROTOR_SCALING_LONGROPE,
    /// Hugging Face "proportional" (Gemma 4): only the first `rope_pairs` pairs rotate.
    Proportional = sys::ROTOR_SCALING_PROPORTIONAL,
);
c_enum!(
    /// Which position id each rotary pair takes its angle from (rotor.h, `rotor_layout`). Named
    /// `RopeLayout` because [`Layout`](crate::Layout) is a tensor's memory order.
    RopeLayout:
    /// One position per token (plain RoPE).
    OneD = sys::ROTOR_LAYOUT_1D,
    /// Qwen2-VL / Qwen2.5-VL M-RoPE: ids (t, h, w), `mrope_section` pairs per axis in order.
    Mrope = sys::ROTOR_LAYOUT_MROPE,
    /// Qwen3-VL: the three axes interleaved pair by pair.
    MropeInterleaved = sys::ROTOR_LAYOUT_MROPE_INTERLEAVED,
    /// Qwen2-VL vision tower: ids (row, column), each on half the pairs.
    VisionHalves = sys::ROTOR_LAYOUT_VISION_HALVES,
    /// Pixtral's vision encoder: (row, column) on the even and odd frequencies.
    VisionAlternate = sys::ROTOR_LAYOUT_VISION_ALTERNATE,
);

impl RopeLayout {
    /// Position ids per token this layout takes: 1, 3 (M-RoPE) or 2 (vision).
    pub fn axes(self) -> u32 {
        match self {
            RopeLayout::OneD => 1,
            RopeLayout::Mrope | RopeLayout::MropeInterleaved => 3,
            RopeLayout::VisionHalves | RopeLayout::VisionAlternate => 2,
        }
    }
}
c_enum!(
    /// Element type of a tensor: `f32` slices are F32, `u16` slices hold F16 or BF16 bit patterns.
    Dtype:
    /// IEEE binary32.
    F32 = sys::ROTOR_DTYPE_F32,
    /// IEEE binary16.
    F16 = sys::ROTOR_DTYPE_F16,
    /// bfloat16.
    Bf16 = sys::ROTOR_DTYPE_BF16,
);
c_enum!(
    /// Storage type of a KV cache's keys or values ([`KvCacheConfig`](crate::KvCacheConfig)): a
    /// tensor [`Dtype`], or one of ggml's 32-element block quantizations, which only caches hold
    /// (they need head_dim a multiple of 32, at most `ROTOR_KV_MAX_QUANTIZED_HEAD_DIM`). Bytes per
    /// token and head at head_dim 128: F16 256, Q8_0 136, Q4_0 72.
    CacheType:
    /// IEEE binary32.
    F32 = sys::ROTOR_DTYPE_F32,
    /// IEEE binary16 (rounded to nearest even once, on append).
    F16 = sys::ROTOR_DTYPE_F16,
    /// bfloat16 (rounded to nearest even once, on append).
    Bf16 = sys::ROTOR_DTYPE_BF16,
    /// ggml's Q8_0: per block of 32, an f16 scale amax / 127 and 32 int8.
    Q8_0 = sys::ROTOR_DTYPE_Q8_0,
    /// ggml's Q4_0: per block of 32, an f16 scale and 32 4-bit numbers.
    Q4_0 = sys::ROTOR_DTYPE_Q4_0,
);

impl CacheType {
    /// Whether this is a block quantization (Q8_0, Q4_0), which no tensor holds.
    pub fn is_quantized(self) -> bool {
        matches!(self, CacheType::Q8_0 | CacheType::Q4_0)
    }
}

impl From<Dtype> for CacheType {
    fn from(dtype: Dtype) -> CacheType {
        match dtype {
            Dtype::F32 => CacheType::F32,
            Dtype::F16 => CacheType::F16,
            Dtype::Bf16 => CacheType::Bf16,
        }
    }
}

c_enum!(
    /// Rotation direction.
    Direction:
    /// By +angle: what a model's forward pass does.
    Forward = sys::ROTOR_FORWARD,
    /// By -angle: the backward pass; undoes Forward up to rounding.
    Inverse = sys::ROTOR_INVERSE,
);
c_enum!(
    /// What rotor_attention_forward does when a cache's keys carry older rows than the call's.
    RescalePolicy:
    /// Re-rotates the cached keys in place (the default).
    Rerotate = sys::ROTOR_RESCALE_REROTATE,
    /// The sequence keeps the rows of its first token.
    Pin = sys::ROTOR_RESCALE_PIN,
    /// Refuses with Error::Rescaled: re-prefill.
    Refuse = sys::ROTOR_RESCALE_REFUSE,
);
c_enum!(
    /// Why a table reported an event.
    EventReason:
    /// A call needed rows past those computed.
    Grow = sys::ROTOR_EVENT_GROW,
    /// Pre-emptive growth past growth_threshold.
    GrowAhead = sys::ROTOR_EVENT_GROW_AHEAD,
    /// Table::reserve.
    Reserve = sys::ROTOR_EVENT_RESERVE,
    /// The frequencies changed.
    Rescale = sys::ROTOR_EVENT_RESCALE,
);

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }
}

/// A table's configuration: `rotor_config` filled by `rotor_config_init_sized` or
/// `rotor_config_preset_sized`, then changed through the setters.
///
/// ```
/// let cfg = rotor::Config::new(128).base(500000.0).max_len(8192);
/// assert_eq!(cfg.raw().max_len, 8192);
/// let llama = rotor::Config::preset("llama-3.1-8b").unwrap();
/// assert_eq!(llama.raw().scaling, rotor_sys::ROTOR_SCALING_LLAMA3);
/// ```
///
/// LongRoPE factors always belong to the Config (a preset's are copied out of the library), and
/// the library is told their length (`factor_count`): a `rotary_dim` that no longer matches
/// them is refused here, before the library could read past them.
///
/// ```
/// use rotor::{Config, Error, Table};
/// let phi3 = Config::preset("phi-3-mini-128k")?; // rotary_dim 96: 48 factors of each set
/// assert_eq!(phi3.long_factor().map(|f| f.len()), Some(48));
/// assert_eq!(Table::create(&phi3.clone().rotary_dim(128)).err(), Some(Error::InvalidArgument));
/// # Ok::<(), rotor::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    // Never holds a factor pointer of its own: long_factor and short_factor stay NULL here
    // unless set through the unsafe raw_mut; the owned factors below are attached by c_config.
    raw: sys::rotor_config,
    // LongRoPE factors: set by `longrope` or copied from a preset, so their length is known.
    long_factor: Option<Vec<f32>>,
    short_factor: Option<Vec<f32>>,
}

// SAFETY: the only pointers in a Config are NULL, into its own Vecs (moved and shared with it,
// read-only through &self), or whatever the caller of the unsafe raw_mut promised.
unsafe impl Send for Config {}
// SAFETY: as above: &Config reads only.
unsafe impl Sync for Config {}

impl Config {
    /// The defaults of rotor.h for `rotary_dim` (an invalid one is reported where the config
    /// is used).
    pub fn new(rotary_dim: u32) -> Config {
        let mut raw = MaybeUninit::<sys::rotor_config>::zeroed();
        // SAFETY: raw points at size_of::<rotor_config>() writable bytes, the size passed; the
        // library writes at most that many (a newer library's extra fields are not written).
        let status = unsafe { sys::rotor_config_init_sized(raw.as_mut_ptr(), size_of::<sys::rotor_config>(), rotary_dim) };
        debug_assert_eq!(status, sys::ROTOR_OK, "rotor_config_init_sized refused this crate's struct");
        // SAFETY: zeroed then filled by the library: every field holds a valid plain value.
        Config { raw: unsafe { raw.assume_init() }, long_factor: None, short_factor: None }
    }

    /// A model's RoPE config (`rotor_config_preset_sized`), by a name of [`presets()`](crate::presets())
    /// (case-insensitive): "llama-2-7b", "llama-3.1-8b", "mistral-7b", "mistral-7b-v0.3",
    /// "qwen2-7b", "phi-3-mini-128k", "deepseek-v3", "gpt-j-6b", "gpt-neox-20b"; since 1.1
    /// "qwen2-vl-7b", "qwen2.5-vl-7b", "qwen3-vl-8b" (M-RoPE), "qwen2-vl-vision",
    /// "pixtral-12b-vision", "command-r", "command-r7b", "glm-4-9b", "llama-4-scout" and per
    /// layer type "gemma-3-4b/local", "gemma-3-4b/global", "gemma-4/sliding", "gemma-4/full"
    /// (see [`presets`](mod@crate::presets) for which layer takes which); since 1.2 aliases
    /// such as "llama-3-8b", "llama-3.2-1b", "qwen2.5-7b". `Error::InvalidArgument` for others.
    ///
    /// A LongRoPE preset's factors are copied into the Config (the library's arrays hold the
    /// preset's rotary_dim / 2 floats, and a Config may change rotary_dim afterwards).
    pub fn preset(model_name: &str) -> Result<Config> {
        let name = CString::new(model_name).map_err(|_| invalid("the model name contains a NUL byte"))?;
        let mut cfg = Config::new(0);
        // SAFETY: cfg.raw is an initialised rotor_config of the size passed; name is a
        // NUL-terminated string alive for the call.
        check(unsafe { sys::rotor_config_preset_sized(&mut cfg.raw, size_of::<sys::rotor_config>(), name.as_ptr()) })?;
        let (long, short) = (cfg.raw.long_factor, cfg.raw.short_factor);
        // Keep no pointer into the library: a Config's factors are its own, of known length.
        cfg.raw.long_factor = ptr::null();
        cfg.raw.short_factor = ptr::null();
        cfg.raw.factor_count = 0;
        if cfg.raw.scaling == sys::ROTOR_SCALING_LONGROPE && !long.is_null() && !short.is_null() {
            let filled = Config::preset_factor_count(&cfg.raw);
            // SAFETY: a LONGROPE preset points both arrays at static storage of factor_count
            // floats each (rotor.h 1.2: "LONGROPE presets set factor_count"; a library that
            // leaves it 0 follows the 1.1 contract of rotary_dim / 2), unchanged for ever.
            let copy = |p: *const f32| unsafe { std::slice::from_raw_parts(p, filled) }.to_vec();
            cfg.long_factor = Some(copy(long));
            cfg.short_factor = Some(copy(short));
        }
        Ok(cfg)
    }

    /// A Config from a struct the library filled (rotor_config_from_gguf_sized), with its
    /// LongRoPE factors copied out of the memory they point at (owned, of known length).
    pub(crate) fn from_library(mut raw: sys::rotor_config, factors: Option<(Vec<f32>, Vec<f32>)>) -> Config {
        raw.long_factor = ptr::null();
        raw.short_factor = ptr::null();
        raw.factor_count = 0;
        let (long_factor, short_factor) = match factors {
            Some((long, short)) => (Some(long), Some(short)),
            None => (None, None),
        };
        Config { raw, long_factor, short_factor }
    }

    /// How many floats a LONGROPE preset's arrays hold: what the library said (1.2), else the
    /// preset's own rotary_dim / 2 (what the arrays held before factor_count existed).
    fn preset_factor_count(raw: &sys::rotor_config) -> usize {
        match raw.factor_count {
            0 => (raw.rotary_dim / 2) as usize,
            n => n as usize,
        }
    }

    /// The C struct as the library will see it: for LONGROPE, `long_factor` and
    /// `short_factor` point into this Config (valid while it lives and is not changed) and
    /// `factor_count` is their length; other scaling types get NULL pointers and a count of 0,
    /// as they read neither.
    pub fn raw(&self) -> sys::rotor_config {
        self.c_config()
    }

    /// The C struct, to set a field no setter covers.
    ///
    /// # Safety
    /// The library reads this struct as it is, so: `struct_size` must not exceed
    /// `size_of::<rotor_config>()`; while this Config holds no factors of its own (neither
    /// [`Config::longrope`] nor a LongRoPE preset gave it some), `long_factor` and
    /// `short_factor` must stay NULL or point at `factor_count` readable floats each (at
    /// rotary_dim / 2 when `factor_count` is 0), valid and unchanged for as long as this Config
    /// is used, from any thread. Owned factors replace those three fields (prefer
    /// [`Config::longrope`]).
    pub unsafe fn raw_mut(&mut self) -> &mut sys::rotor_config {
        &mut self.raw
    }

    /// Rotated dims per head (even).
    pub fn rotary_dim(mut self, rotary_dim: u32) -> Config {
        self.raw.rotary_dim = rotary_dim;
        self
    }
    /// theta (default 10000).
    pub fn base(mut self, base: f64) -> Config {
        self.raw.base = base;
        self
    }
    /// Which dims pair up (default rotate_half).
    pub fn pairing(mut self, pairing: Pairing) -> Config {
        self.raw.pairing = pairing.raw();
        self
    }
    /// Rows computed at creation (default 2048).
    pub fn initial_len(mut self, rows: u32) -> Config {
        self.raw.initial_len = rows;
        self
    }
    /// Hard maximum number of positions (default 32768).
    pub fn max_len(mut self, positions: u32) -> Config {
        self.raw.max_len = positions;
        self
    }
    /// Growth strategy, its increment (LINEAR), margin (MARGIN) and pre-emptive threshold.
    pub fn growth(mut self, growth: Growth, increment: u32, margin: f32, threshold: f32) -> Config {
        self.raw.growth = growth.raw();
        self.raw.growth_increment = increment;
        self.raw.growth_margin = margin;
        self.raw.growth_threshold = threshold;
        self
    }
    /// Scaling type, its factor s and the trained context length L0.
    pub fn scaling(mut self, scaling: Scaling, factor: f32, original_max_len: u32) -> Config {
        self.raw.scaling = scaling.raw();
        self.raw.factor = factor;
        self.raw.original_max_len = original_max_len;
        self
    }
    /// NTK: adopt the larger k after an outlier (true) or serve that call alone (false).
    pub fn ntk_dynamic(mut self, adopt: bool) -> Config {
        self.raw.ntk_dynamic = adopt as i32;
        self
    }
    /// YaRN's beta_fast, beta_slow, mscale, mscale_all_dim (0 = default / unset).
    pub fn yarn(mut self, beta_fast: f32, beta_slow: f32, mscale: f32, mscale_all_dim: f32) -> Config {
        self.raw.beta_fast = beta_fast;
        self.raw.beta_slow = beta_slow;
        self.raw.mscale = mscale;
        self.raw.mscale_all_dim = mscale_all_dim;
        self
    }
    /// Attention factor folded into the rows (0 = computed).
    pub fn attention_factor(mut self, factor: f32) -> Config {
        self.raw.attention_factor = factor;
        self
    }
    /// Llama 3.1's low and high frequency factors (0 = 1 and 4).
    pub fn llama3(mut self, low_freq_factor: f32, high_freq_factor: f32) -> Config {
        self.raw.low_freq_factor = low_freq_factor;
        self.raw.high_freq_factor = high_freq_factor;
        self
    }
    /// Which id each pair takes (default [`RopeLayout::OneD`]); multi-axis tables are applied
    /// with [`Table::apply_axes`](crate::Table::apply_axes) and friends.
    pub fn rope_layout(mut self, layout: RopeLayout) -> Config {
        self.raw.layout = layout.raw();
        self
    }
    /// M-RoPE: pairs per axis (t, h, w), summing to rotary_dim/2 (Qwen2-VL: [16, 24, 24]).
    pub fn mrope_section(mut self, section: [u32; 3]) -> Config {
        self.raw.mrope_section = section;
        self
    }
    /// [`RopeLayout::Mrope`] with these sections: the usual pair of the two setters above.
    pub fn mrope(self, section: [u32; 3]) -> Config {
        self.rope_layout(RopeLayout::Mrope).mrope_section(section)
    }
    /// PROPORTIONAL: pairs that rotate (0 = all rotary_dim/2).
    pub fn rope_pairs(mut self, pairs: u32) -> Config {
        self.raw.rope_pairs = pairs;
        self
    }
    /// LongRoPE's short and long factors, rotary_dim / 2 each (checked here, and again before
    /// every use: the library reads rotary_dim / 2 of each).
    pub fn longrope(mut self, short_factor: Vec<f32>, long_factor: Vec<f32>) -> Result<Config> {
        let half = (self.raw.rotary_dim / 2) as usize;
        if short_factor.len() != half || long_factor.len() != half {
            return Err(invalid("LongRoPE factors must hold rotary_dim / 2 values each"));
        }
        self.short_factor = Some(short_factor);
        self.long_factor = Some(long_factor);
        Ok(self)
    }

    /// The LongRoPE long factors this Config holds (set by [`Config::longrope`] or copied from
    /// a preset).
    pub fn long_factor(&self) -> Option<&[f32]> {
        self.long_factor.as_deref()
    }

    /// The LongRoPE short factors this Config holds.
    pub fn short_factor(&self) -> Option<&[f32]> {
        self.short_factor.as_deref()
    }

    /// The struct handed to C: the owned factors attached for LONGROPE with their count; for
    /// the other scaling types, which never read them, no pointer to them at all.
    fn c_config(&self) -> sys::rotor_config {
        let mut raw = self.raw;
        if let (Some(long), Some(short)) = (&self.long_factor, &self.short_factor) {
            if raw.scaling == sys::ROTOR_SCALING_LONGROPE {
                raw.long_factor = long.as_ptr();
                raw.short_factor = short.as_ptr();
                // Both have one length (checked by validated_raw before any use); saturating:
                // a length past u32 is refused there, never truncated into a smaller count.
                raw.factor_count = u32::try_from(long.len()).unwrap_or(u32::MAX);
            } else {
                raw.long_factor = ptr::null();
                raw.short_factor = ptr::null();
                raw.factor_count = 0;
            }
        }
        raw
    }

    /// The struct for a call into the library, after checking what the library cannot: that
    /// every pointer in it has the length the library will read (rotary_dim may have changed
    /// since the factors were set), and that this crate knows the layout (it sizes the id
    /// slices of the `*_axes` calls by it).
    pub(crate) fn validated_raw(&self) -> Result<sys::rotor_config> {
        let raw = self.c_config();
        if let (Some(long), Some(short)) = (&self.long_factor, &self.short_factor) {
            let half = (raw.rotary_dim / 2) as usize;
            if raw.scaling == sys::ROTOR_SCALING_LONGROPE && (long.len() != half || short.len() != half) {
                return Err(invalid("rotary_dim / 2 differs from the number of LongRoPE factors the config holds \
                                    (a preset's factors serve its own rotary_dim)"));
            }
        }
        if RopeLayout::from_raw(raw.layout).is_none() {
            return Err(Error::with_message(ErrorKind::Unsupported,
                                           "a layout this crate does not know (it could not size the position ids)"));
        }
        Ok(raw)
    }

    /// Bytes a table of this config needs (`rotor_table_arena_size`); `Error::InvalidArgument`
    /// when the config is invalid.
    pub fn arena_size(&self) -> Result<usize> {
        let raw = self.validated_raw()?;
        // SAFETY: raw's factor pointers, if any, point at factor_count == rotary_dim/2 floats
        // owned by self (alive for the call), or are what the caller of raw_mut vouched for.
        match unsafe { sys::rotor_table_arena_size(&raw) } {
            0 => Err(invalid("rotor_table_arena_size refused the config (rotor_attention_scale tells why)")),
            n => Ok(n),
        }
    }

    /// The softmax scale this config implies for heads of `head_dim` dims
    /// (`rotor_attention_scale`).
    pub fn attention_scale(&self, head_dim: u32) -> Result<f32> {
        let raw = self.validated_raw()?;
        let mut scale = 0.0f32;
        // SAFETY: as in arena_size; scale is a valid out pointer.
        check(unsafe { sys::rotor_attention_scale(&raw, head_dim, &mut scale) })?;
        Ok(scale)
    }
}
