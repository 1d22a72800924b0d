// libFuzzer target for rotor_vl_position_ids (Qwen-VL M-RoPE ids): models, rules, token kinds
// (mostly well-formed runs that match their grids, sometimes not), grids (small, zero, huge),
// merge sizes, seconds_per_grid (any float bits), tokens_per_second and row strides, all
// carved from the input; enums pass through C (c_shim.c) as any int a C caller may pass.
//
// Properties checked on every call:
//  - the status is one of the enum's values;
//  - on any error, the ids buffer (every row, the gaps between rows and the slack after) and
//    next_position are unchanged;
//  - on success: every id lies in [0, next_position), next_position <= INT32_MAX; the gaps
//    between rows are unchanged; text tokens carry t = h = w, +1 per token within a run; the
//    runs' first ids (on h) strictly increase; under the original rule each run starts at the
//    largest earlier id + 1; under transformers 5.x a run after text starts at the last text
//    id + 1 and a run after a vision item at the item's start + max(rows, columns); vision
//    tokens take rows and columns from the item's start, frame by frame; the call with the
//    rows packed (stride n) writes the same ids;
//  - no access outside any buffer (AddressSanitizer), no undefined behaviour (UBSan).
#include <algorithm>
#include <cstring>
#include <vector>

#include "c_shim.h"
#include "fuzz_common.hpp"

namespace {

using fuzz::require;

constexpr int32_t kSentinel = 0x6b6b6b6b;

struct Input {
  int model = 0, rule = 0;
  std::vector<uint8_t> kinds;
  std::vector<uint32_t> images, videos;
  std::vector<float> spg;
  bool spg_given = false;
  uint32_t tps = 0, merge = 2;
  size_t stride_extra = 0;
};

uint32_t grid_value(FuzzedDataProvider &in, uint32_t merge) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return 0;
    case 1: return in.ConsumeIntegral<uint32_t>();
    case 2: return in.ConsumeIntegralInRange<uint32_t>(1, 40);
    default: return std::max<uint32_t>(merge, 1) * in.ConsumeIntegralInRange<uint32_t>(1, 6);
  }
}

// Kinds that mostly match the grids (as a processor writes them), sometimes not.
void draw(FuzzedDataProvider &in, Input &x) {
  const int model_pick = in.ConsumeIntegralInRange<int>(0, 15);
  x.model = model_pick < 15 ? model_pick % 3 : in.ConsumeIntegral<int>();
  const int rule_pick = in.ConsumeIntegralInRange<int>(0, 15);
  x.rule = rule_pick < 15 ? rule_pick % 2 : in.ConsumeIntegral<int>();
  x.merge = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegralInRange<uint32_t>(0, 5)
                                                       : in.ConsumeIntegralInRange<uint32_t>(1, 3);
  x.tps = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegral<uint32_t>()
                                                    : in.ConsumeIntegralInRange<uint32_t>(0, 30);
  x.stride_extra = in.ConsumeIntegralInRange<size_t>(0, 3);
  const bool qwen3 = x.model == ROTOR_VL_QWEN3_VL;
  const size_t kMaxTokens = 4096;
  auto text = [&](uint32_t n) { x.kinds.insert(x.kinds.end(), n, uint8_t(ROTOR_VL_KIND_TEXT)); };
  text(in.ConsumeIntegralInRange<uint32_t>(0, 4));
  const int items = in.ConsumeIntegralInRange<int>(0, 6);
  for (int k = 0; k < items && x.kinds.size() < kMaxTokens; ++k) {
    const bool video = in.ConsumeBool();
    const uint32_t t = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? grid_value(in, x.merge)
                                                                 : in.ConsumeIntegralInRange<uint32_t>(1, 6);
    const uint32_t h = grid_value(in, x.merge), w = grid_value(in, x.merge);
    (video ? x.videos : x.images).insert((video ? x.videos : x.images).end(), {t, h, w});
    if (video) {
      float s;
      switch (in.ConsumeIntegralInRange<int>(0, 4)) {
        case 0: { const uint32_t bits = in.ConsumeIntegral<uint32_t>(); std::memcpy(&s, &bits, sizeof s); break; }
        case 1: s = 2.0f / float(in.ConsumeIntegralInRange<int>(1, 60)); break;
        default: s = float(in.ConsumeIntegralInRange<int>(0, 16)) / 4.0f;
      }
      x.spg.push_back(s);
    }
    // The run(s) the item's grid asks for, or a length drawn freely.
    const uint64_t m = x.merge ? x.merge : 1;
    uint64_t area = uint64_t(h / m) * (w / m);
    if (in.ConsumeIntegralInRange<int>(0, 9) == 0) area += in.ConsumeIntegralInRange<int>(-1, 1);
    const uint64_t runs = video && qwen3 ? t : 1, per_run = video && qwen3 ? area : area * t;
    if (per_run == 0 || per_run * runs > kMaxTokens - std::min(kMaxTokens, x.kinds.size())) {
      x.kinds.insert(x.kinds.end(), in.ConsumeIntegralInRange<size_t>(1, 8), uint8_t(video ? 2 : 1));
    } else {
      for (uint64_t r = 0; r < runs; ++r) {
        if (r > 0) text(in.ConsumeIntegralInRange<uint32_t>(in.ConsumeIntegralInRange<int>(0, 9) == 0 ? 0 : 1, 3));
        x.kinds.insert(x.kinds.end(), size_t(per_run), uint8_t(video ? 2 : 1));
      }
    }
    text(in.ConsumeIntegralInRange<uint32_t>(in.ConsumeIntegralInRange<int>(0, 9) == 0 ? 0 : 1, 4));
  }
  // Now and then: a few kinds overwritten with any byte, or a grid dropped or added.
  if (!x.kinds.empty() && in.ConsumeIntegralInRange<int>(0, 9) == 0)
    x.kinds[in.ConsumeIntegralInRange<size_t>(0, x.kinds.size() - 1)] = in.ConsumeIntegral<uint8_t>();
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0 && !x.images.empty()) x.images.resize(x.images.size() - 3);
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) x.videos.insert(x.videos.end(), {1, x.merge, x.merge});
  x.spg.resize(x.videos.size() / 3, 1.0f);
  x.spg_given = in.ConsumeBool();
}

rotor_status call(const Input &x, int32_t *ids, size_t stride, int32_t *next) {
  return fz_vl_position_ids(x.model, x.rule, x.kinds.data(), uint32_t(x.kinds.size()), x.images.data(),
                            uint32_t(x.images.size() / 3), x.videos.data(), uint32_t(x.videos.size() / 3),
                            x.spg_given ? x.spg.data() : nullptr, x.tps, x.merge, ids, stride, next);
}

// The properties of a successful call's ids ([3][stride], n tokens each).
void check_ids(const Input &x, const int32_t *ids, size_t stride, int32_t next) {
  const size_t n = x.kinds.size();
  const int32_t *t = ids, *h = ids + stride, *w = ids + 2 * stride;
  require(next >= 0, "next_position negative", next);
  if (n == 0) require(next == 0, "next_position of no tokens", next);
  int64_t largest = -1, expected_start = 0;
  bool first = true;
  size_t i = 0;
  while (i < n) {
    size_t end = i;
    while (end < n && x.kinds[end] == x.kinds[i]) ++end;
    const int64_t start = h[i];
    if (x.rule == ROTOR_VL_RULE_ORIGINAL)
      require(first ? start == 0 : start == largest + 1, "original: run does not start after the largest id", start,
              largest);
    else
      require(start == expected_start, "transformers5: run start", start, expected_start);
    int64_t span = 0;  // largest row or column offset + 1
    for (size_t k = i; k < end; ++k) {
      require(t[k] >= 0 && h[k] >= 0 && w[k] >= 0, "negative id", int64_t(k));
      require(t[k] < next && h[k] < next && w[k] < next, "id not below next_position", int64_t(k), next);
      if (x.kinds[i] == ROTOR_VL_KIND_TEXT) {
        require(t[k] == h[k] && h[k] == w[k], "text ids differ across axes", int64_t(k));
        require(h[k] == start + int64_t(k - i), "text ids not consecutive", int64_t(k));
      } else {
        require(h[k] >= start && w[k] >= start && t[k] >= start, "vision id below the item's start", int64_t(k));
        span = std::max<int64_t>(span, std::max(h[k], w[k]) - start + 1);
      }
      largest = std::max<int64_t>(largest, std::max({t[k], h[k], w[k]}));
    }
    expected_start = x.kinds[i] == ROTOR_VL_KIND_TEXT ? start + int64_t(end - i) : start + span;
    first = false;
    i = end;
  }
  require(next == largest + 1, "next_position is not the largest id + 1", next, largest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  Input x;
  draw(in, x);
  const size_t n = x.kinds.size(), stride = n + x.stride_extra, slack = 5;
  std::vector<int32_t> ids(3 * stride + slack, kSentinel);
  int32_t next = kSentinel;
  const rotor_status status = call(x, ids.data(), stride, &next);
  fuzz::check_status(status);
  if (status != ROTOR_OK) {
    for (int32_t v : ids) require(v == kSentinel, "an id written on error");
    require(next == kSentinel, "next_position written on error");
    return 0;
  }
  // Gaps between the rows and the slack after them: untouched.
  for (size_t a = 0; a < 3; ++a)
    for (size_t k = n; k < (a == 2 ? stride + slack : stride); ++k)
      require(ids[a * stride + k] == kSentinel, "written outside the rows", int64_t(a), int64_t(k));
  check_ids(x, ids.data(), stride, next);
  // Packed rows: the same ids.
  std::vector<int32_t> packed(3 * n + 1, kSentinel);
  int32_t packed_next = kSentinel;
  require(call(x, packed.data(), n, &packed_next) == ROTOR_OK, "packed call failed");
  require(packed_next == next, "packed next_position differs");
  for (size_t a = 0; a < 3; ++a)
    require(std::memcmp(&packed[a * n], &ids[a * stride], n * sizeof(int32_t)) == 0, "packed ids differ");
  require(packed[3 * n] == kSentinel, "packed call wrote past its rows");
  return 0;
}
