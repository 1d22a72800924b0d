//! Qwen-VL M-RoPE position ids (rotor 1.3, `rotor_vl_position_ids`): transformers'
//! `get_rope_index` for Qwen2-VL, Qwen2.5-VL and Qwen3-VL, from each token's kind and the
//! vision grids, ready for [`Table::apply_axes`](crate::Table::apply_axes).
use crate::error::{check, invalid, Result};
use crate::sys;

/// Which model's rule computes the ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VlModel {
    /// Qwen2-VL: frame f of a vision item at its start + f.
    Qwen2Vl,
    /// Qwen2.5-VL: video frames spaced by tokens_per_second * seconds_per_grid.
    Qwen25Vl,
    /// Qwen3-VL: each video frame its own run of tokens (timestamps between).
    Qwen3Vl,
}

/// Where the text after a vision item continues (they differ after videos; transformers #45381).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VlRule {
    /// transformers 5.x: the item's start + max(h, w) / spatial_merge_size.
    #[default]
    Transformers5,
    /// Qwen's original code (transformers 4.49; Qwen3-VL 4.57): the item's largest id + 1.
    Original,
}

/// A token's kind (transformers' `mm_token_type_ids`), as the `u8` values of [`VlPrompt::kinds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VlKind {
    /// Text, vision_start and vision_end tokens included.
    Text = sys::ROTOR_VL_KIND_TEXT as u8,
    /// An image pad token.
    Image = sys::ROTOR_VL_KIND_IMAGE as u8,
    /// A video pad token.
    Video = sys::ROTOR_VL_KIND_VIDEO as u8,
}

/// A prompt's layout: what `rotor_vl_position_ids` reads.
#[derive(Clone, Copy, Debug)]
pub struct VlPrompt<'a> {
    /// One [`VlKind`] value per token.
    pub kinds: &'a [u8],
    /// (t, h, w) per image, before merging (`image_grid_thw`), in order.
    pub image_grids: &'a [[u32; 3]],
    /// (t, h, w) per video (`video_grid_thw`).
    pub video_grids: &'a [[u32; 3]],
    /// Qwen2.5-VL: one value per video (`second_per_grid_ts`); `None`: 1 each.
    pub seconds_per_grid: Option<&'a [f32]>,
    /// Qwen2.5-VL's `vision_config.tokens_per_second`.
    pub tokens_per_second: u32,
    /// `vision_config.spatial_merge_size` (2 for the released models).
    pub spatial_merge_size: u32,
}

fn count(len: usize, what: &'static str) -> Result<u32> {
    u32::try_from(len).map_err(|_| invalid(what))
}

/// Writes the ids of `prompt` into `ids`: axis a (t, h, w) of token i at `ids[a * row_stride + i]`
/// (`row_stride` = the token count gives `[3][n]`; `batch * seq`, with `ids` starting at entry
/// b's first token, fills entry b of a `[3][batch][seq]` array). Returns the next position:
/// decode step k after the prompt takes `next + k` on all three axes. No allocation.
/// Refused before the call: slices too short for the stride, counts past `u32`, a
/// `seconds_per_grid` whose length is not the video count. On error `ids` is unchanged.
pub fn vl_position_ids_into(model: VlModel, rule: VlRule, prompt: &VlPrompt, ids: &mut [i32],
                            row_stride: usize) -> Result<i32> {
    let n = count(prompt.kinds.len(), "more than u32::MAX tokens")?;
    let n_images = count(prompt.image_grids.len(), "more than u32::MAX image grids")?;
    let n_videos = count(prompt.video_grids.len(), "more than u32::MAX video grids")?;
    if let Some(spg) = prompt.seconds_per_grid {
        if spg.len() != prompt.video_grids.len() {
            return Err(invalid("seconds_per_grid must hold one value per video"));
        }
    }
    if row_stride < prompt.kinds.len() {
        return Err(invalid("row_stride is below the token count"));
    }
    let needed = row_stride.checked_mul(2).and_then(|v| v.checked_add(prompt.kinds.len()));
    match needed {
        Some(needed) if needed <= ids.len() => {}
        _ => return Err(invalid("ids is shorter than 2 * row_stride + tokens")),
    }
    let model = match model {
        VlModel::Qwen2Vl => sys::ROTOR_VL_QWEN2_VL,
        VlModel::Qwen25Vl => sys::ROTOR_VL_QWEN2_5_VL,
        VlModel::Qwen3Vl => sys::ROTOR_VL_QWEN3_VL,
    };
    let rule = match rule {
        VlRule::Transformers5 => sys::ROTOR_VL_RULE_TRANSFORMERS_5,
        VlRule::Original => sys::ROTOR_VL_RULE_ORIGINAL,
    };
    let spg = prompt.seconds_per_grid.map_or(std::ptr::null(), |s| s.as_ptr());
    let mut next = 0i32;
    // SAFETY: every pointer comes with the length the library reads, checked above: kinds n
    // bytes, image and video grids 3 u32 per grid ([u32; 3] is three contiguous u32),
    // seconds_per_grid one f32 per video, ids 2 * row_stride + n i32s (the last one written is
    // ids[2 * row_stride + n - 1]); next is a local. Nothing is kept after the call.
    let status = unsafe {
        sys::rotor_vl_position_ids(model, rule, prompt.kinds.as_ptr(), n, prompt.image_grids.as_ptr() as *const u32,
                                   n_images, prompt.video_grids.as_ptr() as *const u32, n_videos, spg,
                                   prompt.tokens_per_second, prompt.spatial_merge_size, ids.as_mut_ptr(), row_stride,
                                   &mut next)
    };
    check(status)?;
    Ok(next)
}

/// [`vl_position_ids_into`] into a new `[3][n]` vector (t row, h row, w row): the ids and the
/// next position.
pub fn vl_position_ids(model: VlModel, rule: VlRule, prompt: &VlPrompt) -> Result<(Vec<i32>, i32)> {
    let n = prompt.kinds.len();
    let mut ids = vec![0i32; n.checked_mul(3).ok_or_else(|| invalid("too many tokens"))?];
    let next = vl_position_ids_into(model, rule, prompt, &mut ids, n)?;
    Ok((ids, next))
}
