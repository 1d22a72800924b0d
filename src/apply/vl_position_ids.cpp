#include "apply/vl_position_ids.hpp"

#include <algorithm>
#include <cmath>

#include "common/last_error.hpp"

namespace rotor {
namespace {

// The largest id a prompt may hold: next_position (largest + 1) must fit an int32 as well.
constexpr int64_t kLargestId = INT32_MAX - 1;

// How far frame f of a vision item sits from the item's first id on the temporal axis.
class TemporalStep {
 public:
  TemporalStep(const VlPrompt &p, bool video, uint32_t video_index) {
    if (p.model != ROTOR_VL_QWEN2_5_VL) return;  // Qwen2-VL, Qwen3-VL: frame f at f
    if (!video) {
      // Qwen's code gave Qwen2.5-VL images second_per_grid 0; transformers 5.x gives them 1.
      zero_ = p.rule == ROTOR_VL_RULE_ORIGINAL;
      return;
    }
    scaled_ = true;
    tokens_per_second_ = p.tokens_per_second;
    if (p.seconds_per_grid != nullptr) seconds_ = p.seconds_per_grid[video_index];
    // transformers 5.x with no second_per_grid_ts multiplies by the integer 1: exact integers.
    integer_ = p.seconds_per_grid == nullptr && p.rule == ROTOR_VL_RULE_TRANSFORMERS_5;
    original_order_ = p.rule == ROTOR_VL_RULE_ORIGINAL;
  }

  // The offset of frame f, or -1 when it does not fit an int32 (a float past 2^31, inf, NaN).
  // The float32 products are transformers' own: 5.x scales arange(t) by the float32 tensor
  // tokens_per_second * second_per_grid (get_vision_position_ids' time_interval); Qwen's code
  // multiplied arange(t) by second_per_grid first, then by tokens_per_second. Both truncate
  // (.long()). Each product is one float multiply, rounded once, as torch's are.
  int64_t offset(uint32_t f) const {
    if (zero_) return 0;
    if (!scaled_) return f;
    if (integer_) return int64_t{f} * tokens_per_second_;
    const float tps = static_cast<float>(tokens_per_second_);
    const float frame = static_cast<float>(f);
    const float value = original_order_ ? (frame * seconds_) * tps : frame * (tps * seconds_);
    if (!(value < 2147483648.0f)) return -1;
    return static_cast<int64_t>(value);  // truncation toward zero, as .long(); value >= 0
  }

 private:
  bool zero_ = false, scaled_ = false, integer_ = false, original_order_ = false;
  uint32_t tokens_per_second_ = 0;
  float seconds_ = 1.0f;
};

// Writes nothing: check_vl_prompt's pass.
struct NoWrites {
  void text(uint32_t, uint32_t, int64_t) {}
  void vision(uint32_t, int64_t, uint32_t, uint32_t, uint32_t, const TemporalStep &) {}
};

// Writes the ids of write_vl_position_ids' pass: axis a of token i at ids[a * stride + i].
struct IdWriter {
  int32_t *t, *h, *w;

  void text(uint32_t first, uint32_t count, int64_t id) {
    for (uint32_t k = 0; k < count; ++k) {
      const auto value = static_cast<int32_t>(id + k);
      t[first + k] = h[first + k] = w[first + k] = value;
    }
  }
  void vision(uint32_t first, int64_t start, uint32_t frames, uint32_t rows, uint32_t cols, const TemporalStep &step) {
    size_t i = first;
    for (uint32_t f = 0; f < frames; ++f) {
      const auto frame_id = static_cast<int32_t>(start + step.offset(f));
      for (uint32_t y = 0; y < rows; ++y) {
        for (uint32_t x = 0; x < cols; ++x, ++i) {
          t[i] = frame_id;
          h[i] = static_cast<int32_t>(start + y);
          w[i] = static_cast<int32_t>(start + x);
        }
      }
    }
  }
};

// The one walk over a prompt, run twice: to check (NoWrites), then to write (IdWriter). Every
// check lives here, so the writing pass cannot meet an input the checking pass did not accept.
template <typename Sink>
rotor_status walk(const VlPrompt &p, Sink &sink, int32_t *next_position_out) {
  int64_t current = 0;   // the id the next text token takes
  int64_t largest = -1;  // the largest id so far
  uint32_t images_used = 0, videos_used = 0;
  uint32_t frames_used = 0;  // Qwen3-VL: frames of video videos_used already met
  const bool frame_runs = p.model == ROTOR_VL_QWEN3_VL;
  uint32_t i = 0;
  while (i < p.n_tokens) {
    const uint8_t kind = p.kinds[i];
    if (kind > ROTOR_VL_KIND_VIDEO) return fail(ROTOR_ERR_INVALID_ARGUMENT, "a token kind is not a rotor_vl_kind");
    uint32_t end = i + 1;
    while (end < p.n_tokens && p.kinds[end] == kind) ++end;
    const uint32_t run = end - i;

    if (kind == ROTOR_VL_KIND_TEXT) {
      if (current + run - 1 > kLargestId) return fail(ROTOR_ERR_OUT_OF_RANGE, "a position id is past INT32_MAX - 1");
      sink.text(i, run, current);
      current += run;
      largest = std::max(largest, current - 1);  // 5.x text after a video may lie below its ids
      i = end;
      continue;
    }

    // A vision item: which grid, and how many frames this run holds.
    const bool video = kind == ROTOR_VL_KIND_VIDEO;
    const uint32_t *grid = nullptr;
    uint32_t video_index = 0;
    if (!video) {
      if (images_used == p.n_images) return fail(ROTOR_ERR_INVALID_ARGUMENT, "more image runs than image grids");
      grid = p.image_grids + 3 * size_t{images_used++};
    } else {
      if (videos_used == p.n_videos) return fail(ROTOR_ERR_INVALID_ARGUMENT, "more video runs than video grids");
      video_index = videos_used;
      grid = p.video_grids + 3 * size_t{video_index};
    }
    if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "a vision grid has t, h or w 0");
    if (grid[1] % p.merge != 0 || grid[2] % p.merge != 0)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "a vision grid's h or w is not a multiple of spatial_merge_size");
    // Qwen3-VL's processor puts each frame of a video in its own block (timestamps between).
    const uint32_t frames = video && frame_runs ? 1 : grid[0];
    if (video) {
      if (!frame_runs || ++frames_used == grid[0]) {
        ++videos_used;
        frames_used = 0;
      }
    }
    const uint32_t rows = grid[1] / p.merge, cols = grid[2] / p.merge;
    const uint64_t area = uint64_t{rows} * cols;  // < 2^64: each factor < 2^32
    if (area > run || area * frames != run)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "a vision run's length is not its grid's merged token count");

    const TemporalStep step(p, video, video_index);
    const int64_t last_frame = step.offset(frames - 1);  // offsets never decrease with the frame
    if (last_frame < 0) return fail(ROTOR_ERR_OUT_OF_RANGE, "a temporal position id is past INT32_MAX - 1");
    const int64_t start = current;
    const int64_t block_largest = start + std::max<int64_t>(last_frame, int64_t{std::max(rows, cols)} - 1);
    if (block_largest > kLargestId) return fail(ROTOR_ERR_OUT_OF_RANGE, "a position id is past INT32_MAX - 1");
    sink.vision(i, start, frames, rows, cols, step);
    largest = std::max(largest, block_largest);
    // The text after the item (transformers #45381): 5.x advances by the larger merged side,
    // Qwen's code continues after the item's largest id.
    current = p.rule == ROTOR_VL_RULE_TRANSFORMERS_5 ? start + std::max(rows, cols) : block_largest + 1;
    i = end;
  }
  if (images_used != p.n_images) return fail(ROTOR_ERR_INVALID_ARGUMENT, "an image grid has no image run");
  if (videos_used != p.n_videos || frames_used != 0)
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "a video grid (or some of its frames) has no video run");
  *next_position_out = static_cast<int32_t>(largest + 1);
  return ROTOR_OK;
}

}  // namespace

rotor_status check_vl_prompt(const VlPrompt &p, int32_t *next_position_out) {
  if (p.merge == 0) return fail(ROTOR_ERR_INVALID_ARGUMENT, "spatial_merge_size is 0");
  if (p.model == ROTOR_VL_QWEN2_5_VL && p.seconds_per_grid != nullptr) {
    for (uint32_t v = 0; v < p.n_videos; ++v) {
      const float s = p.seconds_per_grid[v];
      if (!(std::isfinite(s) && s >= 0.0f))
        return fail(ROTOR_ERR_INVALID_ARGUMENT, "a seconds_per_grid value is negative, infinite or NaN");
    }
  }
  NoWrites none;
  return walk(p, none, next_position_out);
}

void write_vl_position_ids(const VlPrompt &p, int32_t *ids, size_t row_stride) {
  IdWriter writer{ids, ids + row_stride, ids + 2 * row_stride};
  int32_t next_position = 0;
  (void)walk(p, writer, &next_position);
}

}  // namespace rotor
