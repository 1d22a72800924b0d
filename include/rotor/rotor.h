/*
 * rotor: Rotary Position Embeddings (RoPE) for language-model inference on edge devices.
 *
 * This header is the whole public C interface (C99, usable from C++ and through any FFI).
 * It includes only <stddef.h> and <stdint.h>.
 *
 * Conventions that hold for every function unless its comment says otherwise:
 *  - It returns a rotor_status. ROTOR_OK is 0; every other value is an error.
 *  - A NULL for a required pointer gives ROTOR_ERR_INVALID_ARGUMENT.
 *  - On any error, nothing the caller owns is modified: every argument is validated (every
 *    position included) before the first byte is written.
 *  - Nothing aborts, prints, throws or calls malloc once a table or pool exists
 *    (rotor_table_create and rotor_pool_create allocate, once, when called).
 *  - Thread safety: a table may be used by any number of threads at once (applies, cos_sin,
 *    reserve and stats_get all race safely with growth and rescales). A pool runs one call at
 *    a time: concurrent calls that pass the same pool are serialised on it.
 */
#ifndef ROTOR_ROTOR_H
#define ROTOR_ROTOR_H

#include <stddef.h>
#include <stdint.h>

#ifndef ROTOR_API
#  if defined(ROTOR_STATIC_DEFINE)
#    define ROTOR_API
#  elif defined(_WIN32)
#    if defined(ROTOR_BUILDING_LIBRARY)
#      define ROTOR_API __declspec(dllexport)
#    else
#      define ROTOR_API __declspec(dllimport)
#    endif
#  elif defined(__GNUC__) && defined(ROTOR_BUILDING_LIBRARY)
#    define ROTOR_API __attribute__((visibility("default")))
#  else
#    define ROTOR_API
#  endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Version and errors                                                                          */
/* ------------------------------------------------------------------------------------------ */

#define ROTOR_VERSION_MAJOR 1
#define ROTOR_VERSION_MINOR 3
#define ROTOR_VERSION_PATCH 0

/* (major << 16) | (minor << 8) | patch of the library actually linked: compare it with the
   macros above to detect a header/library mismatch. Cannot fail. */
ROTOR_API uint32_t rotor_version(void);

/* Values are pinned: they never change between versions. */
typedef enum rotor_status {
  ROTOR_OK = 0,
  ROTOR_ERR_INVALID_ARGUMENT = 1, /* NULL, odd or zero rotary_dim, rotary_dim > head_dim, bad enum,
                                     bad shape or stride, NaN config */
  ROTOR_ERR_OUT_OF_RANGE = 2,     /* a position < 0 or >= max_len (the table's hard maximum) */
  ROTOR_ERR_OUT_OF_MEMORY = 3,    /* the arena (or allocator) cannot hold what is asked */
  ROTOR_ERR_UNSUPPORTED = 4,      /* not built in (e.g. CUDA absent) */
  ROTOR_ERR_DEVICE = 5,           /* a CUDA runtime error */
  ROTOR_ERR_RESCALED = 6,         /* the table's rows changed since cached keys were rotated and
                                     the keys cannot be brought along (ROTOR_RESCALE_REFUSE, or
                                     an epoch older than the table keeps): re-prefill */
  ROTOR_ERR_INTERNAL = 7,         /* (1.2) a system primitive the library relies on failed (a
                                     mutex or a once-flag reported an error): the call stopped
                                     there; no C++ exception ever crosses this interface */
  ROTOR_ERR_NO_ROTARY = 8,        /* (1.3) this layer of the model has no rotary embedding (Llama 4's
                                     and SmolLM3's NoPE layers, Command R7B's full-attention
                                     layers): rotate nothing there; *cfg was not touched */
  ROTOR_STATUS_FORCE_32BIT = 0x7fffffff  /* never returned: keeps the enum 32 bits wide */
} rotor_status;

/* A short English description of s; unknown values give "unknown rotor status".
   Never NULL, static storage. Cannot fail. */
ROTOR_API const char *rotor_status_string(rotor_status s);

/* (1.2) Why the last rotor call made on the calling thread returned what it did, in English,
   naming the argument or field at fault ("rotary_dim is odd", "rotary_dim exceeds the tensor's
   head_dim", "unknown preset name"); "" after a call that returned ROTOR_OK. Each thread has
   its own message (thread-local, nothing allocated); the string is static storage, valid for
   ever. Every function sets or clears it, except rotor_version, rotor_status_string,
   rotor_preset_count, rotor_kv_cache_length, rotor_tensor_bshd/_bhsd and this one, which leave
   it as it was; a size function (rotor_*_arena_size, rotor_*_workspace_size) that returns 0
   gives the reason too. Cannot fail; never NULL. */
ROTOR_API const char *rotor_last_error_message(void);

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef enum rotor_pairing {
  ROTOR_PAIRING_HALF = 0,        /* GPT-NeoX / Llama rotate_half: dims (i, i + r/2) */
  ROTOR_PAIRING_INTERLEAVED = 1, /* GPT-J, ggml normal mode, ONNX interleaved=1: dims (2i, 2i+1) */
  ROTOR_PAIRING_FORCE_32BIT = 0x7fffffff
} rotor_pairing;

/* How a table grows when a call needs `required` rows and `current` are computed. Every result
   is clipped to max_len; a request past max_len is ROTOR_ERR_OUT_OF_RANGE and changes nothing.
     EXPONENTIAL: doubles current until it holds required       (64 held, 100 needed: 128)
     LINEAR:      required rounded up to a multiple of growth_increment (increment 50: 100)
     EXACT:       required                                       (100)
     MARGIN:      ceil(required * (1 + growth_margin))           (margin 0.5: 150) */
typedef enum rotor_growth {
  ROTOR_GROWTH_EXPONENTIAL = 0,
  ROTOR_GROWTH_LINEAR = 1,
  ROTOR_GROWTH_EXACT = 2,
  ROTOR_GROWTH_MARGIN = 3,
  ROTOR_GROWTH_FORCE_32BIT = 0x7fffffff
} rotor_growth;

typedef enum rotor_scaling {
  ROTOR_SCALING_NONE = 0,
  ROTOR_SCALING_LINEAR = 1,
  ROTOR_SCALING_NTK = 2,
  ROTOR_SCALING_DYNAMIC_NTK = 3,
  ROTOR_SCALING_YARN = 4,
  ROTOR_SCALING_LLAMA3 = 5,
  ROTOR_SCALING_LONGROPE = 6,
  ROTOR_SCALING_PROPORTIONAL = 7,  /* Hugging Face "proportional" (Gemma 4), see rotor_config */
  ROTOR_SCALING_FORCE_32BIT = 0x7fffffff
} rotor_scaling;

/* Which position a rotary pair takes its angle from. A 1-D table has one position per token;
   the others take several position ids per token ("axes") and give each pair the angle of one
   of them, with the pair's own frequency (r = rotary_dim, j = 0 .. r/2 - 1 the pair index):
     ROTOR_LAYOUT_1D                 every pair: the token's one position (default).
     ROTOR_LAYOUT_MROPE              3 axes (temporal, height, width): Qwen2-VL / Qwen2.5-VL
                                     multimodal RoPE. mrope_section[3] counts pairs per axis,
                                     in order: pairs [0, s0) take t, [s0, s0+s1) h, the rest w
                                     (both halves of a rotate_half head use the same map).
     ROTOR_LAYOUT_MROPE_INTERLEAVED  3 axes, Qwen3-VL: pair j takes h if j % 3 == 1 and
                                     j < 3 s1, w if j % 3 == 2 and j < 3 s2, else t.
     ROTOR_LAYOUT_VISION_HALVES      2 axes (patch row, column): the Qwen2-VL / Qwen2.5-VL vision
                                     towers. Pairs [0, r/4) take the row, [r/4, r/2) the column,
                                     each half with the frequencies base^(-4k/r), k < r/4
                                     (Hugging Face: VisionRotaryEmbedding(head_dim / 2)).
     ROTOR_LAYOUT_VISION_ALTERNATE   2 axes (row, column): Pixtral's vision encoder. Pairs
                                     [0, r/4) take the row with the even frequencies
                                     base^(-2(2k)/r), [r/4, r/2) the column with the odd ones
                                     base^(-2(2k+1)/r).
   Sections sum to r/2 (MROPE, MROPE_INTERLEAVED); vision layouts need r % 4 == 0 and scaling
   NONE; multi-axis layouts need r <= ROTOR_MAX_AXES_ROTARY_DIM. A multi-axis table is applied
   with rotor_apply_axes / rotor_apply_qk_axes / rotor_attention_forward_axes; when a token's
   ids are all equal (text tokens of a VL model) its row is the table's row, bit for bit what a
   1-D table of the same config gives. */
typedef enum rotor_layout {
  ROTOR_LAYOUT_1D = 0,
  ROTOR_LAYOUT_MROPE = 1,
  ROTOR_LAYOUT_MROPE_INTERLEAVED = 2,
  ROTOR_LAYOUT_VISION_HALVES = 3,
  ROTOR_LAYOUT_VISION_ALTERNATE = 4,
  ROTOR_LAYOUT_FORCE_32BIT = 0x7fffffff
} rotor_layout;

/* The largest rotary_dim of a multi-axis layout: a token's combined row is gathered into a
   buffer of this many floats on the applying thread's stack (no allocation). */
#define ROTOR_MAX_AXES_ROTARY_DIM 1024

typedef enum rotor_dtype {
  ROTOR_DTYPE_F32 = 0,
  ROTOR_DTYPE_F16 = 1,  /* IEEE binary16 */
  ROTOR_DTYPE_BF16 = 2,  /* bfloat16 */
  /* KV cache storage only (1.3; tensors refuse them): ggml's block quantizations, blocks of 32
     elements of one key or value sharing an f16 scale d. Q8_0: x = d * q, q int8 in [-127, 127];
     Q4_0: x = d * (q - 8), q in [0, 15]. Numbers as ggml's reference quantizer makes them. */
  ROTOR_DTYPE_Q8_0 = 3,
  ROTOR_DTYPE_Q4_0 = 4,
  ROTOR_DTYPE_FORCE_32BIT = 0x7fffffff
} rotor_dtype;

/* Structs that cross the ABI, and how they grow:
    - rotor_config is the caller's: its struct_size field holds the size of the struct the
      caller was compiled with (rotor_config_init sets it). A library accepts a size that ends
      where one of its fields ends, from 8 (struct_size and rotary_dim) up to its own
      sizeof(rotor_config) (a size that cuts a field in two is INVALID_ARGUMENT): fields past a smaller,
      older struct_size take their defaults, and the library never reads or writes past it. A
      struct_size larger than the library knows (a header newer than the library) is
      INVALID_ARGUMENT: the library cannot honour fields it does not know. New fields are only
      ever appended, and their zero or default value means the behaviour before they existed.
    - rotor_table_stats is the caller's too (struct_size set by the caller, ending at a field's
      end as for rotor_config; filled up to it).
    - rotor_table_event is the library's: read its struct_size before any appended field.
    - rotor_tensor is a plain value type with a frozen layout: it never grows (a new kind of
      view would be a new struct). Its padding on 64-bit targets is the named field reserved_0,
      which the library ignores (binaries built against 1.1 left those bytes unset).
   Padding is explicit (reserved_* fields, which must be 0), so the layout is the same for every
   compiler of a target and an FFI can lay it out field by field. Enum-typed fields stay C enums
   (C and C++ callers keep their type checking and existing source), and each enum has a
   *_FORCE_32BIT member of value 0x7fffffff, so it is 32 bits wide even under -fshort-enums
   (common in ARM toolchains); the check below refuses to compile where that does not hold. */
typedef struct rotor_config {
  uint32_t      struct_size;       /* sizeof the caller's rotor_config (set by rotor_config_init) */
  uint32_t      rotary_dim;        /* r: even, > 0; the leading r dims of each head are rotated */
  rotor_pairing pairing;           /* default ROTOR_PAIRING_HALF */
  uint32_t      reserved_0;        /* explicit padding: 0 */
  double        base;              /* theta, default 10000; finite and >= 1 */
  uint32_t      initial_len;       /* rows computed at creation, default 2048 (clipped to max_len) */
  uint32_t      max_len;           /* hard maximum number of positions, default 32768; 1 .. 2^31 - 1 */
  rotor_growth  growth;            /* default ROTOR_GROWTH_MARGIN */
  uint32_t      growth_increment;  /* LINEAR: > 0, default 1024 */
  float         growth_margin;     /* MARGIN, default 0.25; finite and >= 0 */
  /* growth_threshold, default 0.8, in (0, 1]: pre-emptive growth. When a call needs `required`
     rows, `current` are computed, required <= current (no growth is needed yet) and
     required > growth_threshold * current, the table grows by one step of its strategy (as if
     current + 1 rows were needed: EXPONENTIAL doubles, LINEAR adds one increment, MARGIN gives
     ceil((current + 1) * (1 + margin))) before the call returns, so a decode loop that walks
     towards the end of the table finds its next rows ready. 1.0 turns this off. EXACT never
     grows pre-emptively (it grows to exactly what is asked). Clipped to max_len like any growth;
     reported to the event callback as ROTOR_EVENT_GROW_AHEAD. */
  float         growth_threshold;
  /* Long-context scaling (formulas, models and sources: docs/scaling.md). Every type changes
     only the frequencies theta_i and the attention factor folded into the rows; r = rotary_dim,
     L0 = original_max_len, s = factor, "seq_len" = a call's largest position + 1.
       NONE         theta_i = base^(-2i/r).
       LINEAR       theta_i / s (position interpolation). s finite, > 0.
       NTK          base * k^(r/(r-2)), k = s >= 1 (r >= 4, L0 > 0); serves seq_len <= L0 * k. A call
                    past that uses the smallest even integer k' with L0 * k' >= seq_len: adopted for
                    good with ntk_dynamic = 1 (stats.factor = k', a RESCALE event), used by that
                    call alone with 0 (the next ordinary call sees k's rows, bit for bit).
       DYNAMIC_NTK  Hugging Face "dynamic": base * (s * L / L0 - (s - 1))^(r/(r-2)) with L the
                    longest seq_len seen past L0 (base grows, a RESCALE each time); a call with
                    seq_len < L0 returns to the original base. s >= 1, r >= 4, L0 > 0.
       YARN         ramp between the pairs making beta_fast and beta_slow rotations over L0:
                    fast pairs keep theta_i, slow ones get theta_i / s; attention factor
                    attention_factor if > 0, else mscale_fn(s, mscale) / mscale_fn(s, mscale_all_dim)
                    if both > 0 (DeepSeek-V2/V3), else mscale_fn(s, 1), mscale_fn(s, m) =
                    0.1 m ln s + 1 (1 for s <= 1). s > 0, L0 > 0, base != 1, beta_fast >= beta_slow.
       LLAMA3       wavelengths 2 pi / theta_i below L0 / high_freq_factor keep theta_i, above
                    L0 / low_freq_factor get theta_i / s, a smooth blend between. L0 > 0.
       LONGROPE     theta_i / short_factor[i] while seq_len <= L0, theta_i / long_factor[i] past
                    it (the table switches sets per call, a RESCALE each switch); attention factor
                    attention_factor if > 0, else sqrt(1 + ln s / ln L0) (1 for s <= 1), in both
                    sets. s > 0 (Hugging Face: max_position_embeddings / L0), L0 > 0.
       PROPORTIONAL Hugging Face "proportional" (Gemma 4): theta_i = base^(-2i/r) / s for
                    i < rope_pairs, 0 (cos 1, sin 0: the pair is not rotated) past it; r is the
                    whole head (the exponent divides by head_dim, not by the rotated dims), so
                    with rotate_half the unrotated dims are [P, r/2) and [r/2 + P, r), P =
                    rope_pairs, the end of each half, not the tail. rope_pairs = 0 means r/2;
                    else 1 .. r/2. s finite, > 0 (default 1).
     A rescale is safe while other threads apply: every call sees one set of rows, never a mix.
     Fields a type does not use are ignored; NaN or negative values in those it uses are
     INVALID_ARGUMENT. */
  rotor_scaling scaling;           /* default NONE */
  float         factor;            /* s above (NTK: the starting ratio k); default 1 */
  uint32_t      original_max_len;  /* L0: the context length the model was trained at; default 0 */
  int           ntk_dynamic;       /* NTK only: 1 = adopt k' after an outlier, 0 = for that call only */
  /* YaRN: beta_fast (0 = 32) and beta_slow (0 = 1) in rotations over L0; mscale and
     mscale_all_dim (0 = unset, DeepSeek's pair); attention_factor (0 = computed; also LONGROPE). */
  float         beta_fast, beta_slow, mscale, mscale_all_dim, attention_factor;
  float         low_freq_factor, high_freq_factor;  /* LLAMA3: 0 = 1 and 4 (Llama 3.1); high > low */
#if UINTPTR_MAX > 0xffffffffu
  uint32_t      reserved_1;        /* explicit padding before the pointers (64-bit targets): 0 */
#endif
  /* LONGROPE: r/2 finite positive values each, copied at init (the caller may free them after). */
  const float  *long_factor, *short_factor;
#if UINTPTR_MAX <= 0xffffffffu
  uint32_t      reserved_1;        /* explicit tail padding (32-bit targets; the struct holds a
                                      double): 0. Offsets are rotor 1.0's on both. */
#endif
  /* Appended in rotor 1.1 (a 1.0 struct ends above; these then take their defaults, 0): */
  rotor_layout  layout;            /* default ROTOR_LAYOUT_1D; see rotor_layout */
  uint32_t      mrope_section[3];  /* MROPE / MROPE_INTERLEAVED: pairs per axis (t, h, w) */
  uint32_t      rope_pairs;        /* PROPORTIONAL: pairs that rotate (0 = all r/2) */
  uint32_t      reserved_2;        /* explicit padding: 0 */
  /* Appended in rotor 1.2 (a 1.1 struct ends above; then 0, the default): */
  /* LONGROPE: the number of floats long_factor and short_factor each point at. It must be
     rotary_dim / 2 (else INVALID_ARGUMENT: the arrays would be read past their end); presets
     and the bindings set it. 0 = not given: the arrays are then taken to hold rotary_dim / 2
     floats, as before 1.2 (the library still refuses a preset's own arrays for another
     rotary_dim, whose length it knows). */
  uint32_t      factor_count;
  uint32_t      reserved_3;        /* explicit padding: 0 */
} rotor_config;

/* Every enum of this header is the width of a uint32_t (see "Structs that cross the ABI"). */
typedef char rotor_enums_are_32_bits_wide[(sizeof(rotor_pairing) == sizeof(uint32_t) &&
                                           sizeof(rotor_status) == sizeof(uint32_t)) ? 1 : -1];

/* Fills the first cfg_size bytes of *cfg with every default above for the given rotary_dim and
   sets struct_size = cfg_size; never writes past cfg_size. cfg_size is the caller's
   sizeof(rotor_config): from 8 up to the library's own (a smaller, older struct gets the fields
   it has). Errors: INVALID_ARGUMENT (NULL, cfg_size < 8 or larger than the library's struct);
   nothing written then. An invalid rotary_dim is reported by the functions that use cfg. */
ROTOR_API rotor_status rotor_config_init_sized(rotor_config *cfg, size_t cfg_size, uint32_t rotary_dim);

/* The 1.0 form, kept for source compatibility: a macro that passes the caller's sizeof (cfg
   must then be a rotor_config pointer, not a NULL literal). Binaries built against 1.0 call the
   function of the same name, which the library still exports (declared here in parentheses, so
   the macro does not apply): it fills the 1.0 struct, and does nothing when cfg is NULL. */
ROTOR_API void(rotor_config_init)(rotor_config *cfg, uint32_t rotary_dim);
#define rotor_config_init(cfg, rotary_dim) ((void)rotor_config_init_sized((cfg), sizeof *(cfg), (rotary_dim)))

/* ------------------------------------------------------------------------------------------ */
/* Tables                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* A table holds, for positions 0 .. rows-1, the rows cos(p * theta_i) and sin(p * theta_i) for
   the r/2 frequencies theta_i of its config (scaled as the config says, attention factor folded
   in). Rows are computed in double precision and rounded once to float; a row is a pure
   function of its position and the table's frequencies, so a table grown in many steps is bit
   for bit the table computed at once. Rows are computed lazily: arena memory past the rows in
   use is never written (on Linux it then costs no resident memory). */
typedef struct rotor_table rotor_table;

/* Alignment the arena of rotor_table_init must have. */
#define ROTOR_ARENA_ALIGNMENT 64

/* Bytes that hold a table at max_len, all included; 0 if cfg is NULL or invalid (or the size
   does not fit in size_t). */
ROTOR_API size_t rotor_table_arena_size(const rotor_config *cfg);

/* Builds a table inside the caller's memory: arena must be ROTOR_ARENA_ALIGNMENT-aligned and at
   least rotor_table_arena_size(cfg) bytes; it must outlive the table and must not be touched
   while the table lives. No malloc, ever. Computes cfg->initial_len rows (clipped to max_len).
   cfg is copied (LONGROPE factors included): it may be freed after the call.
   Errors: INVALID_ARGUMENT (NULL, bad config, misaligned arena), OUT_OF_MEMORY (arena too small).
   On error *out is left as it was. */
ROTOR_API rotor_status rotor_table_init(rotor_table **out, const rotor_config *cfg, void *arena,
                                        size_t arena_size);

/* Like rotor_table_init with an arena the library allocates once (OUT_OF_MEMORY if it cannot). */
ROTOR_API rotor_status rotor_table_create(rotor_table **out, const rotor_config *cfg);

/* Frees what rotor_table_create allocated; harmless on init'ed tables (the arena stays the
   caller's) and on NULL. No other thread may use the table during or after this call. */
ROTOR_API void rotor_table_destroy(rotor_table *t);

/* Makes rows [0, positions) ready now (exactly those: no strategy is applied). A request past
   max_len is OUT_OF_RANGE and changes nothing. positions <= rows computed is a no-op. */
ROTOR_API rotor_status rotor_table_reserve(rotor_table *t, uint32_t positions);

typedef struct rotor_table_stats {
  uint32_t struct_size;     /* set by the caller to sizeof(rotor_table_stats) */
  uint32_t rows;            /* rows computed and published */
  uint32_t max_len;
  uint32_t reserved_0;      /* explicit padding: written as 0 */
  uint64_t bytes_in_use;    /* memory holding computed rows and state */
  uint64_t arena_bytes;     /* the whole arena (rotor_table_arena_size of the config) */
  uint32_t grow_events, rescale_events;
  float    factor;          /* current scaling factor (NTK: current k) */
  float    attention_factor;/* factor folded into the current rows (1 when none) */
  /* Appended fields (a caller's older, smaller struct is filled up to its struct_size): */
  uint64_t epoch;           /* rotor_table_epoch: rescales adopted so far */
  uint64_t key_rerotations; /* key sets brought to new rows: caches re-rotated by
                               rotor_attention_forward plus rotor_rerotate_keys calls that
                               rotated (see "Rescales and cached keys") */
} rotor_table_stats;

/* Snapshot of the table's counters. out->struct_size must be set to a size that ends at one of
   the fields' ends, from 8 (struct_size and rows) up to this sizeof(rotor_table_stats); a
   smaller (older) struct is filled up to its size. Errors: INVALID_ARGUMENT (NULL, a size that
   cuts a field in two or is larger than the library's struct; nothing written). Lock-free; safe
   while other threads grow the table. */
ROTOR_API rotor_status rotor_table_stats_get(const rotor_table *t, rotor_table_stats *out);

/* cos and sin of positions [start, start + count), each [count, r/2] (half) or, with
   duplicated != 0, [count, r] laid out as Hugging Face's cat(freqs, freqs); converted to dtype
   (f16/bf16: rounded to nearest even from the float row). Grows the table as needed.
   Errors: INVALID_ARGUMENT (NULL, count 0, bad dtype), OUT_OF_RANGE (start + count > max_len). */
ROTOR_API rotor_status rotor_table_cos_sin(rotor_table *t, uint32_t start, uint32_t count,
                                           rotor_dtype dtype, int duplicated, void *cos_out,
                                           void *sin_out);

/* Growth and rescale events, for the caller's logs and metrics (the library never prints). */
typedef enum rotor_event_reason {
  ROTOR_EVENT_GROW = 0,        /* a call needed rows past those computed */
  ROTOR_EVENT_GROW_AHEAD = 1,  /* pre-emptive growth past growth_threshold */
  ROTOR_EVENT_RESERVE = 2,     /* rotor_table_reserve */
  ROTOR_EVENT_RESCALE = 3,     /* the frequencies changed (scaling types that adapt) */
  ROTOR_EVENT_REASON_FORCE_32BIT = 0x7fffffff
} rotor_event_reason;

typedef struct rotor_table_event {
  uint32_t           struct_size;  /* sizeof(rotor_table_event) of the library */
  rotor_event_reason reason;
  uint32_t           old_rows, new_rows;
  float              old_factor, new_factor;  /* equal unless a rescale changed the factor */
} rotor_table_event;

typedef void (*rotor_table_event_fn)(void *user, const rotor_table_event *event);

/* Registers fn (NULL removes it). fn runs on the thread that grew the table, after the new
   rows are published, while the table's growth lock is held: it may call rotor_table_stats_get
   but must not grow the table (apply, cos_sin, reserve on the same table would deadlock).
   Errors: INVALID_ARGUMENT (t NULL). */
ROTOR_API rotor_status rotor_table_set_event_callback(rotor_table *t, rotor_table_event_fn fn,
                                                      void *user);

/* ------------------------------------------------------------------------------------------ */
/* Applying                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* A strided 4-D view [batch, seq, heads, head_dim]. Strides are in elements, >= 0; the head_dim
   elements of a head are contiguous. Layouts: [b,s,h,d] (rotor_tensor_bshd), [b,h,s,d]
   (rotor_tensor_bhsd), a 3-D [b, s, h*d] buffer (the bshd view of it), Q or K inside a fused
   QKV buffer [b, s, (hq + 2*hk) * d] (data pointing at the first head of Q or K,
   stride_seq = (hq + 2*hk) * d). Views whose heads overlap one another are rejected
   (INVALID_ARGUMENT), as are views whose last element's byte offset overflows. */
typedef struct rotor_tensor {
  void       *data;
  rotor_dtype dtype;
  uint32_t    batch, seq, heads, head_dim;
#if UINTPTR_MAX > 0xffffffffu
  uint32_t    reserved_0;     /* explicit padding (64-bit targets), ignored: the strides' offsets
                                 are rotor 1.0's. Initialise views by field name or with the
                                 constructors below, not by position. */
#endif
  int64_t     stride_batch, stride_seq, stride_head;   /* in elements */
} rotor_tensor;

/* Contiguous views. Cannot fail (validation happens where the view is used). */
ROTOR_API rotor_tensor rotor_tensor_bshd(void *data, rotor_dtype dt, uint32_t b, uint32_t s,
                                         uint32_t h, uint32_t d);
ROTOR_API rotor_tensor rotor_tensor_bhsd(void *data, rotor_dtype dt, uint32_t b, uint32_t s,
                                         uint32_t h, uint32_t d);

typedef enum rotor_direction {
  ROTOR_FORWARD = 0,
  ROTOR_INVERSE = 1,  /* rotates by -angle: the backward pass; undoes FORWARD up to float rounding */
  ROTOR_DIRECTION_FORCE_32BIT = 0x7fffffff
} rotor_direction;

/* Persistent worker threads. A call that passes a pool splits its tokens x heads across the
   pool's threads and the calling thread (one fork, one join, no allocation); small calls (a
   decode token) run on the calling thread alone. */
typedef struct rotor_pool rotor_pool;

/* threads: total threads a call may use, the caller's included (1 = no workers, >= 1,
   at most 256). Allocates once. Errors: INVALID_ARGUMENT, OUT_OF_MEMORY. */
ROTOR_API rotor_status rotor_pool_create(rotor_pool **out, uint32_t threads);
/* Joins the workers and frees the pool; NULL is harmless. No call may be using the pool. */
ROTOR_API void rotor_pool_destroy(rotor_pool *p);

/* Rotation of pair (a, b) with angle p * theta_i: a' = a cos - b sin, b' = b cos + a sin
   (INVERSE: sin negated). f16 and bf16 are computed in float and rounded to nearest even once.
   Dims past rotary_dim are left as they are.

   positions: batch*seq int32 values (row-major [batch][seq]), or NULL for offset + s.
   pool: NULL runs on the calling thread. In place on x. Grows the table as needed (every
   position is checked first: one at or past max_len, or negative, is OUT_OF_RANGE and nothing
   changes, the table included).
   Errors: INVALID_ARGUMENT (NULL t or x, bad view, head_dim < rotary_dim, bad dtype or dir),
   OUT_OF_RANGE. No allocation. */
ROTOR_API rotor_status rotor_apply(rotor_table *t, const rotor_tensor *x, const int32_t *positions,
                                   uint32_t offset, rotor_direction dir, rotor_pool *pool);

/* q and k share batch, seq and positions (heads may differ: grouped-query attention); q and k
   must not overlap each other (INVALID_ARGUMENT; Q and K of one fused QKV buffer, side by side
   in every token, are recognised as disjoint; other interleavings of the two views count as
   overlapping). One pass: a token's table row is read once for all its heads. */
ROTOR_API rotor_status rotor_apply_qk(rotor_table *t, const rotor_tensor *q, const rotor_tensor *k,
                                      const int32_t *positions, uint32_t offset,
                                      rotor_direction dir, rotor_pool *pool);

/* Out of place: out has in's shape and dtype (strides may differ); it may alias in exactly (same
   data and strides), and must not overlap it otherwise. The dims past rotary_dim are copied. */
ROTOR_API rotor_status rotor_apply_to(rotor_table *t, const rotor_tensor *in, const rotor_tensor *out,
                                      const int32_t *positions, uint32_t offset,
                                      rotor_direction dir, rotor_pool *pool);

/* Rotation with cos and sin rows the caller brings (the ONNX RotaryEmbedding operator's
   cos_cache/sin_cache, or tables loaded from a model file), through the same kernels.
   cos, sin: [rows, rotary_dim/2] float, row-major; token (b, s) uses row positions[b*seq + s]
   (or offset + s when positions is NULL), which must be < rows (else OUT_OF_RANGE, nothing
   written). in/out as in rotor_apply_to (out may be in itself for in place). */
ROTOR_API rotor_status rotor_apply_cos_sin(const float *cos, const float *sin, uint32_t rows,
                                           uint32_t rotary_dim, rotor_pairing pairing,
                                           const rotor_tensor *in, const rotor_tensor *out,
                                           const int32_t *positions, uint32_t offset,
                                           rotor_direction dir, rotor_pool *pool);

/* Multi-axis positions (M-RoPE, 2-D vision RoPE; see rotor_layout). positions holds one int32
   id per axis and token, axis-major: [axes][batch*seq], token (b, s) at b*seq + s of each axis
   (axes = 3 for MROPE layouts: t, h, w; 2 for vision layouts: row, column; 1 for a 1-D table,
   which then equals rotor_apply with those positions). Pair j of a token rotates by its
   frequency times the id of its axis; a token whose ids are all equal uses the table's row for
   that id directly (bit for bit 1-D RoPE). Rows come from the table (grown as for rotor_apply
   to the largest id + 1; every id of every axis is checked first: one negative or >= max_len
   is OUT_OF_RANGE and nothing changes). Other tokens get their row gathered on the applying
   thread's stack (ROTOR_MAX_AXES_ROTARY_DIM floats at most), then the same SIMD kernels run.
   No allocation. Who computes the ids: the caller; for Qwen2-VL, Qwen2.5-VL and Qwen3-VL,
   rotor_vl_position_ids (below) computes them from the prompt's token kinds and vision grids.
   rotor only rotates by them.
   In place. Errors: INVALID_ARGUMENT (NULL, bad view, head_dim < rotary_dim, bad dir; q and k
   as in rotor_apply_qk), OUT_OF_RANGE. */
ROTOR_API rotor_status rotor_apply_axes(rotor_table *t, const rotor_tensor *x, const int32_t *positions,
                                        rotor_direction dir, rotor_pool *pool);
ROTOR_API rotor_status rotor_apply_qk_axes(rotor_table *t, const rotor_tensor *q, const rotor_tensor *k,
                                           const int32_t *positions, rotor_direction dir, rotor_pool *pool);

/* (1.3) Qwen-VL position ids: the model's get_rope_index, so an engine goes from a prompt's
   token layout to rotor_apply_axes' ids without RoPE logic of its own (docs/vl-position-ids.md).

   kinds[i] is token i's rotor_vl_kind (transformers' mm_token_type_ids: an engine sets IMAGE for
   its image pad token id, VIDEO for the video pad, TEXT for everything else, vision_start and
   vision_end included). A run of equal vision kinds is one vision item and takes the next grid
   of its kind, in order: image_grids / video_grids hold (t, h, w) per item as the processor
   gives them (image_grid_thw, video_grid_thw: patches before merging), 3 uint32 each. An item
   has t * (h / m) * (w / m) tokens (m = spatial_merge_size), except for Qwen3-VL videos, whose
   processor writes each frame between timestamp text: there a run is one frame, (h / m) * (w / m)
   tokens, and a video's t runs follow each other. Text tokens take t = h = w = a running id;
   vision token (f, y, x) of an item starting at id s takes (s + T(f), s + y, s + x), frames, then
   rows, then columns; T(f) = f, except Qwen2.5-VL videos: trunc(f * tokens_per_second *
   seconds_per_grid[v]) in float32, each rule multiplying in its own code's order (see the doc;
   seconds_per_grid NULL: 1 each).
   The text after an item starts at
     ROTOR_VL_RULE_TRANSFORMERS_5: s + max(h, w) / m (transformers 5.x),
     ROTOR_VL_RULE_ORIGINAL:       the item's largest id + 1 (Qwen's code, transformers 4.49; for
                                   Qwen3-VL 4.57; Qwen2.5-VL images then take T(f) = 0).
   They differ when an item's temporal ids outrun max(h, w) / m: videos (transformers #45381).

   Writes ids[a * ids_row_stride + i] for axis a = 0, 1, 2 (t, h, w) and token i < n_tokens:
   ids_row_stride = n_tokens gives rotor_apply_axes' [3][n_tokens]; batch * seq with ids pointing
   at entry b's first token fills entry b of a [3][batch][seq] array. *next_position_out = the
   largest id + 1 (0 for no tokens): decode step k (0, 1, ...) after the prompt takes
   next_position + k on all three axes (transformers' rope_deltas = next_position - n_tokens).
   tokens_per_second is read for Qwen2.5-VL only, seconds_per_grid (n_videos finite floats >= 0,
   or NULL) too. No allocation; reads only the arrays it is given; any thread.
   Errors (nothing written): INVALID_ARGUMENT (NULL ids / next_position_out / kinds with
   n_tokens > 0 / a grid array with a count > 0, bad model, rule or kind, spatial_merge_size 0,
   a grid with t, h or w 0 or h, w not multiples of m, a run whose length is not its grid's token
   count, more vision runs than grids or grids left unused, a bad seconds_per_grid,
   ids_row_stride < n_tokens or a row stride whose 3 rows overflow size_t), OUT_OF_RANGE (an id
   or next_position past INT32_MAX). */
typedef enum rotor_vl_model {
  ROTOR_VL_QWEN2_VL = 0,
  ROTOR_VL_QWEN2_5_VL = 1,
  ROTOR_VL_QWEN3_VL = 2,
  ROTOR_VL_MODEL_FORCE_32BIT = 0x7fffffff
} rotor_vl_model;

typedef enum rotor_vl_rule {
  ROTOR_VL_RULE_TRANSFORMERS_5 = 0,
  ROTOR_VL_RULE_ORIGINAL = 1,
  ROTOR_VL_RULE_FORCE_32BIT = 0x7fffffff
} rotor_vl_rule;

typedef enum rotor_vl_kind {
  ROTOR_VL_KIND_TEXT = 0,
  ROTOR_VL_KIND_IMAGE = 1,
  ROTOR_VL_KIND_VIDEO = 2,
  ROTOR_VL_KIND_FORCE_32BIT = 0x7fffffff
} rotor_vl_kind;

ROTOR_API rotor_status rotor_vl_position_ids(rotor_vl_model model, rotor_vl_rule rule, const uint8_t *kinds,
                                             uint32_t n_tokens, const uint32_t *image_grids, uint32_t n_images,
                                             const uint32_t *video_grids, uint32_t n_videos,
                                             const float *seconds_per_grid, uint32_t tokens_per_second,
                                             uint32_t spatial_merge_size, int32_t *ids, size_t ids_row_stride,
                                             int32_t *next_position_out);

/* ------------------------------------------------------------------------------------------ */
/* Model presets                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Fills *cfg (after rotor_config_init defaults) with the RoPE part of a known model's config.
   Names (case-insensitive): "llama-2-7b", "llama-3.1-8b", "mistral-7b" (v0.1, base 1e4),
   "mistral-7b-v0.3" (base 1e6), "qwen2-7b", "phi-3-mini-128k", "deepseek-v3", "gpt-j-6b",
   "gpt-neox-20b". max_len is the model's max_position_embeddings; rotary_dim is the rotated part
   of a head (GPT-J 64 of 256, GPT-NeoX 24 of 96, DeepSeek-V3 its 64-dim qk_rope slice, which
   the caller passes as its own view). LongRoPE factor arrays point at static storage inside the
   library. Values and sources: src/table/presets.cpp and docs/scaling.md.
   cfg_size is the caller's sizeof(rotor_config), as for rotor_config_init_sized: only the
   first cfg_size bytes are written (struct_size = cfg_size). A preset that needs a field the
   caller's struct does not have (a 1.0-size struct and an M-RoPE, vision or proportional
   preset: layout, mrope_section, rope_pairs) is refused rather than filled without it, which
   would describe another model. LONGROPE presets set factor_count where the struct has it.
   Errors: INVALID_ARGUMENT (NULL, unknown name, cfg_size as rotor_config_init_sized refuses),
   UNSUPPORTED (the preset needs fields past cfg_size: rebuild against a newer header);
   *cfg is then unchanged. */
ROTOR_API rotor_status rotor_config_preset_sized(rotor_config *cfg, size_t cfg_size, const char *model_name);

/* The 1.0 form, kept for source compatibility: a macro, as rotor_config_init; the exported
   function of the same name serves binaries built against 1.0 (it fills the 1.0 struct). */
ROTOR_API rotor_status(rotor_config_preset)(rotor_config *cfg, const char *model_name);
#define rotor_config_preset(cfg, model_name) rotor_config_preset_sized((cfg), sizeof *(cfg), (model_name))

/* Presets added in 1.1: "qwen2-vl-7b", "qwen2.5-vl-7b" (MROPE [16, 24, 24]), "qwen3-vl-8b"
   (MROPE_INTERLEAVED [24, 20, 20]), "qwen2-vl-vision" (VISION_HALVES, head 80: the Qwen2-VL and
   Qwen2.5-VL vision towers), "pixtral-12b-vision" (VISION_ALTERNATE, head 64), "command-r",
   "command-r7b" (interleaved), "glm-4-9b" (interleaved, 64 of 128 dims), "llama-4-scout"
   (interleaved, llama3 scaling with equal frequency factors), and per layer type
   "gemma-3-4b/local", "gemma-3-4b/global", "gemma-4/sliding", "gemma-4/full" (PROPORTIONAL).

   Models whose layers use different tables. A model name is a single-table preset (one table,
   every layer: rotor_preset_layers gives 0, "any number") or one of: "gemma-3-4b" (34 layers,
   "gemma-3-4b/global" where (i + 1) % 6 == 0, "gemma-3-4b/local" elsewhere), "gemma-4" (30
   layers, transformers' Gemma4TextConfig defaults: "gemma-4/full" where (i + 1) % 6 == 0,
   "gemma-4/sliding" elsewhere), "llama-4-scout" (48 layers: none, i.e. no rotary embedding,
   where (i + 1) % 4 == 0), "command-r7b" (32 layers: none on the full-attention layers,
   (i + 1) % 4 == 0). rotor_preset_table_name: the index-th distinct table the model needs (a
   name for rotor_config_preset). rotor_preset_layers: the layer count. rotor_preset_layer_table:
   a layer's table, or NULL for a layer without rotary embedding. Names are static storage.
   Lock-free, no allocation. Errors: INVALID_ARGUMENT (NULL, unknown model, index or layer out
   of range; *out unchanged). */
ROTOR_API rotor_status rotor_preset_table_name(const char *model_name, uint32_t index, const char **name_out);
ROTOR_API rotor_status rotor_preset_layers(const char *model_name, uint32_t *layers_out);
ROTOR_API rotor_status rotor_preset_layer_table(const char *model_name, uint32_t layer, const char **name_out);

/* (1.2) Every name rotor_config_preset and rotor_preset_layers accept, for listing them: the
   single-table presets, common names among them ("llama-3-8b", "llama-3.2-1b", "qwen2.5-7b",
   ...: each its own preset with the values of that model's config.json; see
   src/table/presets.cpp), then the per-layer model names that are not also a single-table
   preset ("gemma-3-4b", "gemma-4"). rotor_preset_count cannot fail.
   rotor_preset_name: the index-th name (static storage) into *name_out. Errors:
   INVALID_ARGUMENT (NULL, index >= rotor_preset_count(); *name_out unchanged). */
ROTOR_API uint32_t rotor_preset_count(void);
ROTOR_API rotor_status rotor_preset_name(uint32_t index, const char **name_out);

/* ------------------------------------------------------------------------------------------ */
/* Model files                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* (1.3) Fills *cfg with the rotary embedding of one layer of the model in a GGUF file (v2 or v3:
   llama.cpp, Ollama, LM Studio), exactly as rotor_config_preset does for the same model, from
   the image of the file the caller has read or mapped into memory (data, size bytes; the
   library does no file I/O and allocates nothing). layer counts from 0 and must be below the
   file's {arch}.block_count (rotor_gguf_layers); models whose layers share one table give the
   same config for every layer.
   What is read (docs/gguf.md has the key -> field table per architecture and llama.cpp's
   behaviour beside it): general.architecture, {arch}.context_length (max_len),
   .rope.dimension_count (else .attention.key_length, else embedding_length / head_count),
   .rope.freq_base, .rope.scaling.* (type, factor, original_context_length, attn_factor,
   yarn_*), .rope.dimension_sections (M-RoPE), .attention.sliding_window(_pattern) and the
   tensors rope_freqs (Llama 3.1-style per-frequency divisors: recognised as llama3 scaling, or
   else served as LONGROPE with factor 1 and both sets the file's divisors, as llama.cpp does)
   and rope_factors_long / rope_factors_short (LongRoPE). Pairing follows the architecture
   (llama.cpp's llama_model_rope_type): llama.cpp's converter permutes the Q/K weights of
   llama-family models, so their GGUF files rotate INTERLEAVED pairs where the Hugging Face
   checkpoint (and its preset) rotates halves: the one field in which such a file's config
   differs from the preset.
   Every count, offset, length and type in the image is checked before it is read (the file
   may come from anywhere). LongRoPE factors must be f32 tensors aligned to 4 bytes in the image:
   long_factor / short_factor then point INTO data, so the image must stay mapped until the
   config has been passed to rotor_table_init / _create (which copy them).
   cfg_size: as rotor_config_preset_sized (use the macro).
   Errors: INVALID_ARGUMENT (NULL, cfg_size refused, a malformed or truncated image, a required
   key missing or of the wrong type, layer >= block_count, values rotor_config refuses),
   UNSUPPORTED (an architecture rotor does not know, settings rotor cannot represent: f16 or
   bf16 factor tensors, an M-RoPE fourth section, a ramp factor other than 1, ...; or fields
   past cfg_size), NO_ROTARY (this layer has no rotary embedding, or the architecture has none
   at all). rotor_last_error_message names the key, tensor or field at fault. On any error
   *cfg is unchanged. Thread-safe, lock-free, no allocation. */
ROTOR_API rotor_status rotor_config_from_gguf_sized(rotor_config *cfg, size_t cfg_size, const void *data, size_t size,
                                                    uint32_t layer);
#define rotor_config_from_gguf(cfg, data, size, layer) \
  rotor_config_from_gguf_sized((cfg), sizeof *(cfg), (data), (size), (layer))

/* (1.3) The number of layers ({arch}.block_count) of the model in a GGUF image, after the same
   validation of the whole image as rotor_config_from_gguf. Errors: INVALID_ARGUMENT (NULL,
   malformed image, block_count missing or not an integer); *layers_out unchanged then. */
ROTOR_API rotor_status rotor_gguf_layers(const void *data, size_t size, uint32_t *layers_out);

/* ------------------------------------------------------------------------------------------ */
/* Kernels                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* The kernel set in use: "scalar", "sse2", "avx2", "avx512", "avx512bf16", "neon", "neon64".
   Chosen once, on first use, as the best one the CPU and OS support, unless the environment
   variable ROTOR_KERNEL names another (read once, at that first use) or rotor_kernel_force is
   called. Never NULL, static storage. */
ROTOR_API const char *rotor_kernel_name(void);

/* Number of kernel sets this CPU can run (the scalar reference included), and the name of the
   i-th, best first (NULL past the end). For tests that run every kernel in turn. */
ROTOR_API uint32_t rotor_kernel_count(void);
ROTOR_API const char *rotor_kernel_available(uint32_t index);

/* Forces the kernel set named (one of rotor_kernel_available), or returns to the automatic
   choice when name is NULL. Not to be called while other threads apply.
   Errors: INVALID_ARGUMENT (unknown name), UNSUPPORTED (known, but this CPU or build lacks it). */
ROTOR_API rotor_status rotor_kernel_force(const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Rotary attention forward path                                                               */
/* ------------------------------------------------------------------------------------------ */

/* One sequence's keys (stored already rotated) and values, in the caller's memory, with a hard
   maximum length. Key and value of cached token i were rotated at position i. dtype is the
   storage type (f32, f16 or bf16; f16/bf16 round to nearest even once on append; Q8_0 and Q4_0
   quantize once on append, see rotor_kv_cache_config). A cache is used by one call at a time;
   distinct caches may be used by concurrent calls. */
typedef struct rotor_kv_cache rotor_kv_cache;

/* Keys stored as they come, before rotation: every forward call rotates each cached key it reads
   with the row of the key's position (its cache index) and the call's rows. A context shift
   (rotor_kv_cache_evict) or a rescale then changes no key: the cache after a shift holds the same
   bytes as a fresh prefill of the kept tokens. Costs a rotation per key read; refused by
   rotor_attention_forward_axes (the cache keeps no ids). docs/quantized-kv.md. */
#define ROTOR_KV_UNROTATED_KEYS 1u

/* How a cache stores its keys and values (1.3). A sized struct, as rotor_config: struct_size is
   the caller's sizeof (rotor_kv_cache_config_init sets it); the library reads no byte past it.
   key_dtype and value_dtype are chosen independently among the five rotor_dtype values; Q8_0
   and Q4_0 need head_dim to be a multiple of 32 and at most ROTOR_KV_MAX_QUANTIZED_HEAD_DIM.
   Layouts (internal, may change): quantized values are ggml's block rows (per token and head,
   head_dim / 32 blocks of 34 (Q8_0) or 18 (Q4_0) bytes, exactly ggml's bytes); quantized keys
   hold the same numbers dimension-major in 64-token blocks (the layout rotor's score kernels
   read). Bytes per token and head at head_dim 128: f16 256, Q8_0 136, Q4_0 72. */
typedef struct rotor_kv_cache_config {
  uint32_t    struct_size;  /* sizeof(rotor_kv_cache_config) of the caller */
  rotor_dtype key_dtype;
  rotor_dtype value_dtype;
  uint32_t    flags;        /* 0 or ROTOR_KV_UNROTATED_KEYS */
} rotor_kv_cache_config;

#define ROTOR_KV_MAX_QUANTIZED_HEAD_DIM 1024

/* Fills *c: struct_size = c_size, both dtypes = dtype, flags 0. c_size must be 12 (a struct
   without flags) or 16 (this header's). Errors: INVALID_ARGUMENT (NULL, c_size, dtype). */
ROTOR_API rotor_status rotor_kv_cache_config_init_sized(rotor_kv_cache_config *c, size_t c_size, rotor_dtype dtype);
#define rotor_kv_cache_config_init(c, dtype) rotor_kv_cache_config_init_sized((c), sizeof *(c), (dtype))

/* rotor_kv_cache_arena_size and rotor_kv_cache_init with a rotor_kv_cache_config: the same
   rules, plus INVALID_ARGUMENT for a struct_size other than 12 or 16, an unknown dtype or flag,
   or a quantized type with head_dim not a multiple of 32 or above ROTOR_KV_MAX_QUANTIZED_HEAD_DIM. */
ROTOR_API size_t rotor_kv_cache_arena_size_ex(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                                              const rotor_kv_cache_config *c);
ROTOR_API rotor_status rotor_kv_cache_init_ex(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim,
                                              uint32_t max_len, const rotor_kv_cache_config *c, void *arena,
                                              size_t arena_size);

/* The cache's storage types and flags into *out (out->struct_size set by the caller, 12 or 16).
   Errors: INVALID_ARGUMENT (NULL, struct_size). Same thread rule as rotor_kv_cache_length. */
ROTOR_API rotor_status rotor_kv_cache_get_config(const rotor_kv_cache *c, rotor_kv_cache_config *out);

/* Bytes of an arena that holds a cache (header, keys and values), all included; 0 when an
   argument is invalid (a zero count, max_len > 2^31 - 1, bad dtype, a quantized dtype with
   head_dim not a multiple of 32 or above ROTOR_KV_MAX_QUANTIZED_HEAD_DIM) or the size does not
   fit in size_t. dtype serves keys and values (rotor_kv_cache_arena_size_ex chooses each). Never allocates. Keys are stored in blocks of 64 tokens, so their part is sized for
   max_len rounded up to a multiple of 64 (the layout is internal and may change). */
ROTOR_API size_t rotor_kv_cache_arena_size(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                                           rotor_dtype dtype);

/* Builds an empty cache (length 0) inside arena, which must be ROTOR_ARENA_ALIGNMENT-aligned,
   at least rotor_kv_cache_arena_size(...) bytes, outlive the cache and not be touched while it
   lives (there is nothing to destroy: the caller frees the arena). Never allocates; the key and
   value storage is not written until a call appends tokens (a call that starts a 64-token block
   of keys also clears that block's columns past its new length).
   Errors: INVALID_ARGUMENT (NULL, zero count, max_len > 2^31 - 1, bad dtype, misaligned
   arena), OUT_OF_MEMORY (arena too small). On error *out is left as it was. */
ROTOR_API rotor_status rotor_kv_cache_init(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim,
                                           uint32_t max_len, rotor_dtype dtype, void *arena,
                                           size_t arena_size);

/* Tokens held (0 .. max_len) into *out. Not to be called while a forward call uses the cache.
   Errors: INVALID_ARGUMENT (NULL). Getters follow this one convention: a status, the value
   through an out pointer. */
ROTOR_API rotor_status rotor_kv_cache_get_length(const rotor_kv_cache *c, uint32_t *out);

/* The 1.0 getter, kept for source and binary compatibility: the length, or 0 for NULL (which
   an empty cache also gives; rotor_kv_cache_get_length tells the two apart). */
ROTOR_API uint32_t rotor_kv_cache_length(const rotor_kv_cache *c);

/* Empties the cache (length 0) so the engine can reuse it for a new sequence; the storage is
   not cleared. Errors: INVALID_ARGUMENT (NULL). Same thread rule as rotor_kv_cache_length. */
ROTOR_API rotor_status rotor_kv_cache_reset(rotor_kv_cache *c);

/* Bytes of the workspace of rotor_attention_forward for calls of up to max_new_tokens tokens
   per batch entry, running on `threads` threads (the pool's thread count, or 1 without a pool).
   Per thread it holds the rotated queries of one task (a block of tokens x the q heads that
   share one kv head) as float, their output accumulators, running maxima and sums, one block
   of scores, one block of keys and values converted to float (used when the cache is f16 or
   bf16), that block of keys transposed for the score kernel and a rotation buffer; about
   424 KiB per thread at 32 q heads, 8 kv heads, 128 dims (tasks of 256 query rows), whatever
   the sequence length, plus one table row and its corrections for rescales (under
   2 KiB at 128 dims; see "Rescales and cached keys"). 0 when an argument is zero, q_heads is not a multiple of
   kv_heads, or the size does not fit in size_t. Never allocates. */
ROTOR_API size_t rotor_attention_workspace_size(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim,
                                                uint32_t max_new_tokens, uint32_t threads);

/* For each batch entry b (cache caches[b], current length L): rotates its s new queries and keys at
   positions L .. L+s-1, appends the rotated keys and the values to the cache, and writes causal
   softmax(q k^T * scale) v of those s queries over all L+s cached keys into out.
   q, out: [batch, s, q_heads, d]; k, v: [batch, s, kv_heads, d]; q_heads a multiple of kv_heads.
   s = 1 is a decode step; s > 1 is a prefill, processed in parallel. No allocation.

   Details:
    - Rotation is rotor_apply's (same table rows, same kernels; rotary_dim <= d, dims past it are
      not rotated). q, k, v and out share one dtype; the cache's dtype may differ (a key is
      rotated in the tensors' dtype, then stored in the cache's). Scores, softmax and the
      weighted sum are computed in float. A score that overflows to +inf (a key element past the
      cache type's range is stored as infinity, for instance after a context shift rotates it)
      takes the softmax's limit: keys scoring +inf share the weight evenly and the others get
      none; -inf scores weigh nothing beside finite ones (a row whose every score is -inf
      averages its values); a NaN score gives NaN outputs.
    - Grouped-query attention: q head j reads kv head j / (q_heads / kv_heads). The causal mask is
      by index: query i of entry b sees cached tokens 0 .. L_b + i. Softmax is computed online
      over blocks of keys (no seq x seq matrix exists), in the same order for every query
      whatever s is, so a prefill of s tokens gives the results of s decode steps.
    - Entries may have different lengths L_b; caches[b] must be distinct caches (no two arenas
      sharing a byte) whose kv_heads and head_dim match k. out must not overlap q, k or v; the
      workspace must not overlap any tensor; and no tensor (the bytes from a view's first to its
      last element) and no workspace byte may lie in a cache's arena (its
      rotor_kv_cache_arena_size bytes): the call writes the caches while it reads q, k and v. workspace: ROTOR_ARENA_ALIGNMENT-aligned, at least
      rotor_attention_workspace_size(q_heads, kv_heads, d, s, threads) bytes, threads being the
      pool's thread count (1 when pool is NULL).
    - pool: NULL runs on the calling thread; otherwise the work (batch x kv heads x blocks of
      queries) is spread over the pool's threads. The table may be shared with other calls; each
      cache is written by this call only.
    - Tables whose frequencies adapt (NTK with ntk_dynamic, dynamic NTK, LongRoPE; NTK's
      one-off outlier rows too): each cache records the rows its keys carry. When this call's
      rows (those that serve positions up to L_b + s) differ, the table's rescale policy
      decides before anything is attended: REROTATE (default) brings the cached keys to this
      call's rows in place first, PIN keeps the cache on the rows of its first token, REFUSE
      returns ROTOR_ERR_RESCALED. See "Rescales and cached keys" below.
   Errors: INVALID_ARGUMENT (NULL, bad view, shapes or dtypes that disagree, q_heads not a multiple
   of kv_heads, a cache that does not match k or appears twice, head_dim < rotary_dim, scale not
   finite, overlapping buffers: out with q, k or v, the workspace with a tensor, a tensor or the
   workspace with a cache's arena, two caches' arenas; misaligned workspace), OUT_OF_MEMORY
   (workspace too small),
   OUT_OF_RANGE (L_b + s past a cache's max_len or the table's max_len), RESCALED (policy
   REFUSE and a cache's keys carry other rows than this call's). On error no cache, no
   output and no workspace byte is changed. */
ROTOR_API rotor_status rotor_attention_forward(rotor_table *t, rotor_kv_cache *const *caches,
                                               const rotor_tensor *q, const rotor_tensor *k,
                                               const rotor_tensor *v, const rotor_tensor *out, float scale,
                                               void *workspace, size_t workspace_size, rotor_pool *pool);

/* rotor_attention_forward for a multi-axis table (M-RoPE): the s new tokens of entry b rotate by
   the ids positions[a * batch * s + b * s + i] of each axis a (as rotor_apply_qk_axes; a
   token whose ids are equal uses the table's row). The cache index still orders the tokens
   (causal mask by index: a VL model's ids are not the cache index after an image), and cached
   keys keep the rotation they were stored with. positions may also be given for a 1-D table
   (axes = 1): each token's own position instead of L_b + i. The caller computes the ids (the
   model's rule; decode continues with its next text id on every axis). Tables whose rows
   change (NTK, DYNAMIC_NTK, LONGROPE) are refused here (INVALID_ARGUMENT):
   a re-rotation would need each cached key's ids, which the cache does not keep. Workspace,
   threads, allocation (none) and the other errors as rotor_attention_forward; OUT_OF_RANGE
   also for an id < 0 or >= the table's max_len. */
ROTOR_API rotor_status rotor_attention_forward_axes(rotor_table *t, rotor_kv_cache *const *caches,
                                                    const rotor_tensor *q, const rotor_tensor *k,
                                                    const rotor_tensor *v, const rotor_tensor *out,
                                                    const int32_t *positions, float scale, void *workspace,
                                                    size_t workspace_size, rotor_pool *pool);

/* ------------------------------------------------------------------------------------------ */
/* Rescales and cached keys                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Tables whose frequencies adapt (NTK with ntk_dynamic, DYNAMIC_NTK, LONGROPE) rescale: their
   rows change, and keys cached with the old rows no longer match queries rotated with the new
   ones (attention then degrades silently). Each set of rows a table adopts is an epoch: 0 at
   creation, + 1 at each rescale (a RESCALE event). Tables that never rescale stay at epoch 0.
   NTK with ntk_dynamic = 0 serves an outlier call from rows of its own without changing the
   epoch: rotor_attention_forward tracks those too (caches record the rows themselves, not only
   the epoch); rotor_rerotate_keys cannot name them.

   rotor_attention_forward, for a cache whose keys carry other rows than the call's (the rows
   that serve positions up to L_b + s, which may be a rescale this very call causes), follows
   the table's policy:
     REROTATE (default): before anything is appended or attended, the L_b cached keys are
       brought to the call's rows in place: per pair the rotation by the new angle minus the old
       one, with the factor folded into the rows divided out and the new one in, computed in
       double from the old row (recomputed from the recorded state, bit for bit the rows the
       keys were rotated with) and the new one, stored once in the cache's dtype. Once per cache
       per change of rows, spread over the pool, no allocation. Cost: about one rotation of the
       cached keys plus one row computation per cached token (O(L_b * kv_heads * r)); under
       DYNAMIC_NTK past original_max_len, whose rows change with every longer sequence, that is
       every decode step (PIN avoids it). Counted by rotor_kv_cache_rerotations and the table
       stats' key_rerotations.
     PIN: a cache keeps the rows of its first token for its whole sequence (until
       rotor_kv_cache_reset): the call's new queries and keys are rotated with rows computed
       per token from the recorded state (the table's rows serve other sequences). Cost: one
       row per new token and kv head group when the table has moved on; nothing otherwise.
       The sequence then keeps, e.g., LongRoPE's short factors past original_max_len: the
       model sees the rows it started with, never a mix.
     REFUSE: the call returns ROTOR_ERR_RESCALED and changes nothing (no cache, output or
       workspace byte; the call does not rescale the table either): the engine re-prefills
       (rotor_kv_cache_reset, then the whole sequence in one call, which rotates with the rows
       of its full length). Caches of one call holding keys of different rows are refused too.
   The policy is read at the start of each forward call; change it between calls. */
typedef enum rotor_rescale_policy {
  ROTOR_RESCALE_REROTATE = 0,
  ROTOR_RESCALE_PIN = 1,
  ROTOR_RESCALE_REFUSE = 2,
  ROTOR_RESCALE_POLICY_FORCE_32BIT = 0x7fffffff
} rotor_rescale_policy;

/* Sets t's policy (default ROTOR_RESCALE_REROTATE). Errors: INVALID_ARGUMENT (NULL, bad enum). */
ROTOR_API rotor_status rotor_table_set_rescale_policy(rotor_table *t, rotor_rescale_policy policy);

/* The table's current epoch (rescales adopted so far). Lock-free.
   Errors: INVALID_ARGUMENT (NULL). */
ROTOR_API rotor_status rotor_table_epoch(const rotor_table *t, uint64_t *out);

/* The epoch of the rows a cache's keys carry (set by the forward call that appended its first
   token, moved on by each re-rotation; a pinned cache keeps its first one), and the number of
   times its keys were re-rotated. Same thread rule as rotor_kv_cache_length.
   Errors: INVALID_ARGUMENT (NULL). */
ROTOR_API rotor_status rotor_kv_cache_epoch(const rotor_kv_cache *c, uint64_t *out);
ROTOR_API rotor_status rotor_kv_cache_rerotations(const rotor_kv_cache *c, uint64_t *out);

/* Epochs a table remembers: rotor_rerotate_keys accepts from_epoch in
   [current - ROTOR_EPOCH_HISTORY + 1, current]. */
#define ROTOR_EPOCH_HISTORY 16

/* Workspace bytes of rotor_rerotate_keys for keys of head_dim dims on `threads` threads (the
   pool's thread count, or 1): the old frequencies, then one row and its corrections per thread.
   0 when an argument is zero or the size does not fit. Never allocates. */
ROTOR_API size_t rotor_rerotate_workspace_size(uint32_t head_dim, uint32_t threads);

/* For callers that keep their own caches: keys (a view as in rotor_apply, rotated FORWARD at
   their positions with the rows of epoch from_epoch) are brought in place to the rows the table
   holds now, exactly as rotor_attention_forward does for its caches; *to_epoch receives the
   epoch they now carry (compare it with rotor_table_epoch after rotating the new queries: a
   rescale by another thread in between shows there). Does not rescale the table (it grows the
   current rows if needed). from_epoch == the current epoch changes nothing. positions: as in
   rotor_apply (NULL: offset + s). workspace: ROTOR_ARENA_ALIGNMENT-aligned,
   rotor_rerotate_workspace_size(keys->head_dim, threads) bytes, not overlapping keys.
   No allocation. Not to be called from the table's event callback.
   Errors: INVALID_ARGUMENT (NULL, bad view, head_dim < rotary_dim, from_epoch newer than the
   table's, misaligned or overlapping workspace), OUT_OF_MEMORY (workspace too small),
   OUT_OF_RANGE (a position < 0 or >= max_len), RESCALED (from_epoch older than the table
   remembers: re-prefill). On error nothing is changed. */
ROTOR_API rotor_status rotor_rerotate_keys(rotor_table *t, const rotor_tensor *keys, const int32_t *positions,
                                           uint32_t offset, uint64_t from_epoch, uint64_t *to_epoch,
                                           void *workspace, size_t workspace_size, rotor_pool *pool);

/* The softmax scale a config implies for heads of head_dim dims (the full q/k head, e.g.
   DeepSeek's qk_head_dim = nope + rope dims = 192, not rotary_dim):
     1 / sqrt(head_dim), times m^2 for YARN with mscale_all_dim > 0 and factor s > 1, where
     m = 0.1 * mscale_all_dim * ln(s) + 1 (DeepSeek-V2/V3: the rows carry
     mscale(s, mscale) / mscale(s, mscale_all_dim); the attention scale carries this m^2).
   DeepSeek-V3 (s 40, mscale_all_dim 1, head 192): 192^-0.5 * 1.368888^2 = 0.135234.
   Pass it as rotor_attention_forward's scale. Errors: INVALID_ARGUMENT (NULL, invalid config,
   head_dim 0 or < rotary_dim); *scale_out unchanged on error. */
ROTOR_API rotor_status rotor_attention_scale(const rotor_config *cfg, uint32_t head_dim, float *scale_out);

/* ------------------------------------------------------------------------------------------ */
/* Context shift                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Removes cached tokens [start, start + count) from c and moves tokens [start + count, L) (L the
   cache's length) down by count, keys and values, so that cached token i again holds the key
   and value of position i: each moved key is brought from position p to p - count. This is
   llama.cpp's context shift, and StreamingLLM's cache (below). The length becomes L - count;
   tokens before start are not touched; the storage past the new length is left as it was.

   Exactness: the moved keys are rotated, per pair, by the angle difference -count * theta_i,
   its cos and sin computed once per call in double from the frequencies theta_i of the rows
   the cache's keys carry (the state recorded for the cache: see "Rescales and cached keys"), so
   it holds for every scaling type, after a rescale and for a pinned cache alike. The attention
   factor folded into those rows is the same at both positions and is kept as it is. Each
   stored pair is rotated in double and rounded once to the cache's dtype: a shifted key is
   within one extra rounding of the key rotated afresh at its new position (and n shifts within
   n roundings). In place, spread over the pool (kv heads x tokens, then one move per kv head
   and array), no allocation, no workspace (the few doubles of the rotation live in the cache's
   arena), the same bits whatever the thread count.
   Quantized keys (Q8_0, Q4_0) are dequantized exactly, rotated the same way (in double, rounded
   to float) and quantized again in place, one key's floats on the stack: each shift adds one
   rounding to the 8- or 4-bit grid, and they accumulate (docs/quantized-kv.md). Un-rotated keys
   (ROTOR_KV_UNROTATED_KEYS) are only moved: the cache then holds what a fresh prefill of the
   kept tokens holds, whatever the number of shifts.

   The rows the cache records (rotor_kv_cache_epoch) do not change: a shift moves keys within
   the rows they carry. The next rotor_attention_forward call sees a shorter sequence, which an
   adaptive table may serve with other rows (LongRoPE back to its short factors once
   L - count + s <= original_max_len, dynamic NTK per its rule); the table's policy then
   applies as for any cache: REROTATE brings the kept keys to them, PIN keeps the cache on its
   first rows, REFUSE returns RESCALED. So under REROTATE, decoding after a shift gives what a
   fresh prefill of the kept tokens at their new positions gives.

   t must be the table the cache is used with (its config says which frequencies the recorded
   rows have); it is only read (its config), so other threads may use it meanwhile. Not to be
   called while a forward call uses c (the rule of rotor_kv_cache_length).
   count = 0 does nothing (any start <= L).

   StreamingLLM (keep the first `sink` tokens and the last `window`):
     uint32_t len;  rotor_kv_cache_get_length(c, &len);
     if (len > sink + window) rotor_kv_cache_evict(t, c, sink, len - sink - window, pool);
   llama.cpp's context shift (keep n_keep, drop half of the rest):
     rotor_kv_cache_evict(t, c, n_keep, (len - n_keep) / 2, pool);

   Errors: INVALID_ARGUMENT (NULL table or cache, a table whose rotary_dim exceeds the cache's
   head_dim), OUT_OF_RANGE (start + count > L: the range names tokens the cache does not hold;
   computed without overflow). On error nothing is changed. */
ROTOR_API rotor_status rotor_kv_cache_evict(rotor_table *t, rotor_kv_cache *c, uint32_t start, uint32_t count,
                                            rotor_pool *pool);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ROTOR_ROTOR_H */
