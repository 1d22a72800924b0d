// rotor_vl_position_ids (Qwen-VL M-RoPE ids): bit for bit against transformers' own
// get_rope_index (tests/golden/vl_position_ids.txt, written by gen_vl_position_ids.py from
// transformers 5.25 and, for the original rule, 4.49 / 4.57), against a plain re-derivation
// here on random layouts (both rules, all three models), the row stride, every error (nothing
// written), and end to end: the ids through rotor_apply_axes on the Qwen presets against a
// double-precision rotation, and decode from next_position against 1-D RoPE.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rotor/rotor.h"

namespace {

// One prompt and the ids transformers gave it.
struct GoldenCase {
  std::string name, model, rule, version;
  uint32_t merge = 0, tps = 0;
  std::vector<uint8_t> kinds;
  std::vector<uint32_t> images, videos;
  std::vector<float> spg;
  bool has_spg = false;
  std::vector<int32_t> ids[3];
  int32_t next = -1;
};

std::string golden_path() {
  if (const char *data = std::getenv("ROTOR_TEST_DATA")) return std::string(data) + "/../golden/vl_position_ids.txt";
  std::string here = __FILE__;
  return here.substr(0, here.find_last_of('/')) + "/golden/vl_position_ids.txt";
}

std::vector<GoldenCase> read_golden() {
  std::ifstream in(golden_path());
  std::vector<GoldenCase> cases;
  GoldenCase c;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "case") {
      c = GoldenCase{};
      words >> c.name >> c.model >> c.rule >> c.version;
    } else if (key == "merge") {
      std::string tps_word;
      words >> c.merge >> tps_word >> c.tps;
    } else if (key == "kinds") {
      std::string run;
      while (words >> run) {
        const size_t x = run.find('x');
        const int kind = std::stoi(run.substr(0, x));
        const int count = std::stoi(run.substr(x + 1));
        c.kinds.insert(c.kinds.end(), size_t(count), uint8_t(kind));
      }
    } else if (key == "images" || key == "videos") {
      uint32_t v;
      while (words >> v) (key == "images" ? c.images : c.videos).push_back(v);
    } else if (key == "spg") {
      std::string bits;
      while (words >> bits) {
        if (bits == "none") break;
        const uint32_t u = uint32_t(std::stoul(bits, nullptr, 16));
        float f;
        std::memcpy(&f, &u, sizeof f);
        c.spg.push_back(f);
        c.has_spg = true;
      }
    } else if (key == "t" || key == "h" || key == "w") {
      const int axis = key == "t" ? 0 : key == "h" ? 1 : 2;
      int32_t v;
      while (words >> v) c.ids[axis].push_back(v);
    } else if (key == "next") {
      words >> c.next;
    } else if (key == "end") {
      cases.push_back(c);
    }
  }
  return cases;
}

rotor_vl_model model_of(const std::string &name) {
  if (name == "qwen2_vl") return ROTOR_VL_QWEN2_VL;
  if (name == "qwen2_5_vl") return ROTOR_VL_QWEN2_5_VL;
  return ROTOR_VL_QWEN3_VL;
}

rotor_vl_rule rule_of(const std::string &name) {
  return name == "original" ? ROTOR_VL_RULE_ORIGINAL : ROTOR_VL_RULE_TRANSFORMERS_5;
}

// rotor's ids for a golden case: [3][n] and next_position.
rotor_status run_case(const GoldenCase &c, std::vector<int32_t> &ids, int32_t &next) {
  const uint32_t n = uint32_t(c.kinds.size());
  ids.assign(size_t{3} * n, -7);
  next = -7;
  return rotor_vl_position_ids(model_of(c.model), rule_of(c.rule), c.kinds.data(), n, c.images.data(),
                               uint32_t(c.images.size() / 3), c.videos.data(), uint32_t(c.videos.size() / 3),
                               c.has_spg ? c.spg.data() : nullptr, c.tps, c.merge, ids.data(), n, &next);
}

TEST(VlPositionIds, GoldenFromTransformersBitForBit) {
  const std::vector<GoldenCase> cases = read_golden();
  ASSERT_GE(cases.size(), 130u) << "golden file " << golden_path();
  std::map<std::string, int> per_model_rule;
  for (const GoldenCase &c : cases) {
    std::vector<int32_t> ids;
    int32_t next;
    ASSERT_EQ(run_case(c, ids, next), ROTOR_OK) << c.name << " " << c.model << " " << c.rule << ": "
                                                 << rotor_last_error_message();
    const size_t n = c.kinds.size();
    for (int a = 0; a < 3; ++a) {
      ASSERT_EQ(c.ids[a].size(), n) << c.name;
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(ids[a * n + i], c.ids[a][i]) << c.name << " " << c.model << " " << c.rule << " axis " << a
                                               << " token " << i;
    }
    EXPECT_EQ(next, c.next) << c.name << " " << c.model << " " << c.rule;
    ++per_model_rule[c.model + "/" + c.rule];
  }
  // Every model under both rules, each with the full set of layouts.
  for (const char *key : {"qwen2_vl/transformers5", "qwen2_5_vl/transformers5", "qwen3_vl/transformers5",
                          "qwen2_vl/original", "qwen2_5_vl/original", "qwen3_vl/original"})
    EXPECT_GE(per_model_rule[key], 20) << key;
}

// The golden cases where the two rules must differ do differ (a test of the file as much as of
// rotor): a video whose temporal ids outrun max(h, w) / merge.
TEST(VlPositionIds, RulesDifferAfterLongVideosOnly) {
  std::map<std::string, std::vector<int32_t>> by_key;
  std::vector<GoldenCase> cases = read_golden();
  for (const GoldenCase &c : cases) by_key[c.model + "/" + c.name + "/" + c.rule] = c.ids[0];
  EXPECT_NE(by_key["qwen2_vl/video_long_t/transformers5"], by_key["qwen2_vl/video_long_t/original"]);
  EXPECT_NE(by_key["qwen2_5_vl/video_long_t/transformers5"], by_key["qwen2_5_vl/video_long_t/original"]);
  EXPECT_EQ(by_key["qwen2_vl/images_grids/transformers5"], by_key["qwen2_vl/images_grids/original"]);
  // Qwen3-VL splits videos into one-frame blocks: the rules agree.
  EXPECT_EQ(by_key["qwen3_vl/video_long_t/transformers5"], by_key["qwen3_vl/video_long_t/original"]);
}

// ---------------------------------------------------------------------------------------------
// A plain re-derivation: transformers 4.x's structure (blocks appended to a list; a text block
// starts at the previous block's largest id + 1) or 5.x's (a running position advanced by
// max(h, w) / merge), in 64-bit integers, the temporal step written out per model.

struct Item {
  bool video;
  uint32_t t, h, w;
  float spg;
};

struct Prompt {
  std::vector<uint8_t> kinds;
  std::vector<uint32_t> images, videos;
  std::vector<float> spg;
};

int64_t temporal(rotor_vl_model model, rotor_vl_rule rule, const Item &item, uint32_t f, uint32_t tps, bool spg_given) {
  if (model != ROTOR_VL_QWEN2_5_VL) return f;
  if (!item.video) return rule == ROTOR_VL_RULE_ORIGINAL ? 0 : f;
  if (rule == ROTOR_VL_RULE_TRANSFORMERS_5) {
    if (!spg_given) return int64_t(f) * tps;
    const float interval = float(tps) * item.spg;
    return int64_t(float(f) * interval);
  }
  const float spg = spg_given ? item.spg : 1.0f;
  const float scaled = float(f) * spg;
  return int64_t(scaled * float(tps));
}

void reference(rotor_vl_model model, rotor_vl_rule rule, const std::vector<uint8_t> &kinds,
               const std::vector<Item> &items, uint32_t merge, uint32_t tps, bool spg_given,
               std::vector<int64_t> (&ids)[3], int64_t &next) {
  std::vector<std::vector<int64_t>> blocks[3];  // transformers' llm_pos_ids_list, per axis
  int64_t running = 0;
  size_t item_at = 0, i = 0;
  while (i < kinds.size()) {
    size_t end = i;
    while (end < kinds.size() && kinds[end] == kinds[i]) ++end;
    if (kinds[i] == 0) {
      int64_t start = running;
      if (rule == ROTOR_VL_RULE_ORIGINAL && !blocks[0].empty()) {
        start = 0;
        for (int a = 0; a < 3; ++a)
          for (int64_t v : blocks[a].back()) start = std::max(start, v + 1);
      }
      for (int a = 0; a < 3; ++a) {
        blocks[a].emplace_back();
        for (size_t k = 0; k < end - i; ++k) blocks[a].back().push_back(start + int64_t(k));
      }
      running = start + int64_t(end - i);
    } else {
      const Item &item = items[item_at++];
      const uint32_t rows = item.h / merge, cols = item.w / merge;
      int64_t start = running;
      if (rule == ROTOR_VL_RULE_ORIGINAL && !blocks[0].empty()) {
        start = 0;
        for (int a = 0; a < 3; ++a)
          for (int64_t v : blocks[a].back()) start = std::max(start, v + 1);
      }
      for (int a = 0; a < 3; ++a) blocks[a].emplace_back();
      for (uint32_t f = 0; f < item.t; ++f)
        for (uint32_t y = 0; y < rows; ++y)
          for (uint32_t x = 0; x < cols; ++x) {
            blocks[0].back().push_back(start + temporal(model, rule, item, f, tps, spg_given));
            blocks[1].back().push_back(start + y);
            blocks[2].back().push_back(start + x);
          }
      running = start + std::max(rows, cols);
    }
    i = end;
  }
  next = 0;
  for (int a = 0; a < 3; ++a) {
    ids[a].clear();
    for (const auto &b : blocks[a])
      for (int64_t v : b) {
        ids[a].push_back(v);
        next = std::max(next, v + 1);
      }
  }
}

// A random prompt: text runs between vision items (Qwen3-VL videos as one-frame runs with text
// between, the way its processor writes them).
void random_prompt(std::mt19937 &gen, rotor_vl_model model, uint32_t merge, Prompt &p, std::vector<Item> &items) {
  auto pick = [&](uint32_t lo, uint32_t hi) { return lo + uint32_t(gen() % (hi - lo + 1)); };
  p = Prompt{};
  items.clear();
  const uint32_t count = pick(0, 5);
  auto text = [&](uint32_t n) { p.kinds.insert(p.kinds.end(), n, uint8_t(0)); };
  text(pick(0, 4));
  for (uint32_t k = 0; k < count; ++k) {
    const bool video = gen() % 2 == 0;
    const uint32_t t = video ? pick(1, 7) : (gen() % 5 == 0 ? 2 : 1), h = merge * pick(1, 5), w = merge * pick(1, 5);
    const float spg = float(pick(0, 12)) / 4.0f + (gen() % 3 == 0 ? 1.0f / 3.0f : 0.0f);
    const uint32_t area = (h / merge) * (w / merge);
    (video ? p.videos : p.images).insert((video ? p.videos : p.images).end(), {t, h, w});
    if (video) p.spg.push_back(spg);
    if (video && model == ROTOR_VL_QWEN3_VL) {
      for (uint32_t f = 0; f < t; ++f) {
        text(pick(1, 3));
        p.kinds.insert(p.kinds.end(), area, uint8_t(2));
        items.push_back({true, 1, h, w, spg});
      }
    } else {
      p.kinds.insert(p.kinds.end(), size_t{t} * area, uint8_t(video ? 2 : 1));
      items.push_back({video, t, h, w, spg});
    }
    text(pick(1, 4));  // vision_end, then text
  }
}

TEST(VlPositionIds, MatchesPlainRederivationOnRandomLayouts) {
  std::mt19937 gen(2027);
  for (int iteration = 0; iteration < 600; ++iteration) {
    const auto model = rotor_vl_model(iteration % 3);
    const auto rule = rotor_vl_rule((iteration / 3) % 2);
    const uint32_t merge = 1 + gen() % 3, tps = gen() % 6;
    const bool spg_given = gen() % 2 == 0;
    Prompt p;
    std::vector<Item> items;
    random_prompt(gen, model, merge, p, items);
    const uint32_t n = uint32_t(p.kinds.size());
    std::vector<int32_t> ids(size_t{3} * n + 1, -3);
    int32_t next = -3;
    ASSERT_EQ(rotor_vl_position_ids(model, rule, p.kinds.data(), n, p.images.data(), uint32_t(p.images.size() / 3),
                                    p.videos.data(), uint32_t(p.videos.size() / 3),
                                    spg_given ? p.spg.data() : nullptr, tps, merge, ids.data(), n, &next),
              ROTOR_OK)
        << iteration << ": " << rotor_last_error_message();
    std::vector<int64_t> want[3];
    int64_t want_next;
    reference(model, rule, p.kinds, items, merge, tps, spg_given, want, want_next);
    for (int a = 0; a < 3; ++a)
      for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(ids[a * n + i], want[a][i]) << iteration << " axis " << a << " " << i;
    EXPECT_EQ(next, want_next) << iteration;
    EXPECT_EQ(ids[size_t{3} * n], -3) << "written past the third row";
  }
}

// A batch: each entry written into its slice of a [3][batch][seq] array through the row stride,
// the layout rotor_apply_axes reads; the gaps (left padding here) are left alone.
TEST(VlPositionIds, RowStrideFillsOneEntryOfABatch) {
  const std::vector<GoldenCase> cases = read_golden();
  const GoldenCase *a = nullptr, *b = nullptr;
  for (const GoldenCase &c : cases) {
    if (c.name == "mixed" && c.model == "qwen2_5_vl" && c.rule == "transformers5") a = &c;
    if (c.name == "one_image" && c.model == "qwen2_5_vl" && c.rule == "transformers5") b = &c;
  }
  ASSERT_TRUE(a && b);
  const uint32_t seq = uint32_t(std::max(a->kinds.size(), b->kinds.size())) + 2, batch = 2;
  std::vector<int32_t> ids(size_t{3} * batch * seq, -1);
  int32_t next_a, next_b;
  for (uint32_t entry = 0; entry < 2; ++entry) {
    const GoldenCase &c = entry == 0 ? *a : *b;
    const uint32_t n = uint32_t(c.kinds.size()), pad = seq - n;  // left padding
    ASSERT_EQ(rotor_vl_position_ids(ROTOR_VL_QWEN2_5_VL, ROTOR_VL_RULE_TRANSFORMERS_5, c.kinds.data(), n,
                                    c.images.data(), uint32_t(c.images.size() / 3), c.videos.data(),
                                    uint32_t(c.videos.size() / 3), c.has_spg ? c.spg.data() : nullptr, c.tps,
                                    c.merge, ids.data() + size_t{entry} * seq + pad, size_t{batch} * seq,
                                    entry == 0 ? &next_a : &next_b),
              ROTOR_OK);
  }
  for (uint32_t entry = 0; entry < 2; ++entry) {
    const GoldenCase &c = entry == 0 ? *a : *b;
    const uint32_t n = uint32_t(c.kinds.size()), pad = seq - n;
    for (uint32_t axis = 0; axis < 3; ++axis)
      for (uint32_t s = 0; s < seq; ++s) {
        const int32_t got = ids[(size_t{axis} * batch + entry) * seq + s];
        EXPECT_EQ(got, s < pad ? -1 : c.ids[axis][s - pad]) << entry << " " << axis << " " << s;
      }
  }
  EXPECT_EQ(next_a, a->next);
  EXPECT_EQ(next_b, b->next);
}

// ---------------------------------------------------------------------------------------------
// Errors: the status, a reason, and not one byte of ids or next_position written.

struct Call {
  int model = ROTOR_VL_QWEN2_5_VL, rule = ROTOR_VL_RULE_TRANSFORMERS_5;
  std::vector<uint8_t> kinds{0, 0, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2, 2, 2, 2, 0};
  std::vector<uint32_t> images{1, 4, 4}, videos{2, 4, 4};
  std::vector<float> spg{0.5f};
  bool null_kinds = false, null_images = false, null_videos = false, null_ids = false, null_next = false;
  uint32_t n_images = 1, n_videos = 1, tps = 2, merge = 2;
  size_t stride = 0;  // 0: n_tokens
  uint32_t n_tokens() const { return uint32_t(kinds.size()); }
};

rotor_status call(const Call &c, std::vector<int32_t> &ids, int32_t &next) {
  rotor_vl_model model;
  rotor_vl_rule rule;
  std::memcpy(&model, &c.model, sizeof model);  // any int, as a C caller may pass
  std::memcpy(&rule, &c.rule, sizeof rule);
  const size_t stride = c.stride ? c.stride : c.n_tokens();
  return rotor_vl_position_ids(model, rule, c.null_kinds ? nullptr : c.kinds.data(), c.n_tokens(),
                               c.null_images ? nullptr : c.images.data(), c.n_images,
                               c.null_videos ? nullptr : c.videos.data(), c.n_videos, c.spg.data(), c.tps, c.merge,
                               c.null_ids ? nullptr : ids.data(), stride, c.null_next ? nullptr : &next);
}

void expect_refused(const Call &c, rotor_status want, const char *what) {
  std::vector<int32_t> ids(size_t{3} * c.n_tokens() + 8, 0x5a5a5a5a);
  int32_t next = 0x5a5a5a5a;
  EXPECT_EQ(call(c, ids, next), want) << what;
  EXPECT_STRNE(rotor_last_error_message(), "") << what;
  for (int32_t v : ids) ASSERT_EQ(v, 0x5a5a5a5a) << what;
  EXPECT_EQ(next, 0x5a5a5a5a) << what;
}

TEST(VlPositionIds, ErrorsWriteNothing) {
  {
    Call ok;
    std::vector<int32_t> ids(size_t{3} * ok.n_tokens());
    int32_t next;
    ASSERT_EQ(call(ok, ids, next), ROTOR_OK) << rotor_last_error_message();
    EXPECT_EQ(next, 8);  // text 0 1, image 2..3, text 4, video 5..6 (interval 0.5 * 2 = 1), text 7
  }
  const rotor_status bad = ROTOR_ERR_INVALID_ARGUMENT;
  Call c;
  c.model = 3;
  expect_refused(c, bad, "model 3");
  c = Call{};
  c.model = 0x7fffffff;  // negative ints are the fuzz target's (through C: tests/fuzz/c_shim.c)
  expect_refused(c, bad, "model FORCE_32BIT");
  c = Call{};
  c.rule = 2;
  expect_refused(c, bad, "rule 2");
  c = Call{};
  c.null_kinds = true;
  expect_refused(c, bad, "kinds NULL");
  c = Call{};
  c.null_images = true;
  expect_refused(c, bad, "image grids NULL");
  c = Call{};
  c.null_videos = true;
  expect_refused(c, bad, "video grids NULL");
  c = Call{};
  c.null_next = true;
  expect_refused(c, bad, "next NULL");
  c = Call{};
  c.kinds[3] = 3;
  expect_refused(c, bad, "kind 3");
  c = Call{};
  c.merge = 0;
  expect_refused(c, bad, "merge 0");
  c = Call{};
  c.merge = 3;
  expect_refused(c, bad, "grid not a multiple of merge");
  c = Call{};
  c.images = {0, 4, 4};
  expect_refused(c, bad, "grid t 0");
  c = Call{};
  c.videos = {2, 4, 0};
  expect_refused(c, bad, "grid w 0");
  c = Call{};
  c.kinds.insert(c.kinds.begin() + 3, uint8_t(1));
  expect_refused(c, bad, "image run one token too long");
  c = Call{};
  c.kinds.erase(c.kinds.begin() + 8);
  expect_refused(c, bad, "video run one token short");
  c = Call{};
  c.kinds[6] = 1;  // image run and video run adjacent is fine; image run of 5 is not
  expect_refused(c, bad, "image run of 5");
  c = Call{};
  c.n_images = 0;
  expect_refused(c, bad, "an image run without a grid");
  c = Call{};
  c.images = {1, 4, 4, 1, 2, 2};
  c.n_images = 2;
  expect_refused(c, bad, "an image grid left unused");
  c = Call{};
  c.spg = {-0.5f};
  expect_refused(c, bad, "negative seconds_per_grid");
  c = Call{};
  c.spg = {std::nanf("")};
  expect_refused(c, bad, "NaN seconds_per_grid");
  c = Call{};
  c.spg = {INFINITY};
  expect_refused(c, bad, "infinite seconds_per_grid");
  c = Call{};
  c.stride = c.n_tokens() - 1;
  expect_refused(c, bad, "row stride below n_tokens");
  c = Call{};
  c.stride = SIZE_MAX / 2;
  expect_refused(c, bad, "row stride that overflows");
  c = Call{};
  c.images = {1, 0x80000000u, 0x80000000u};  // merged 2^30 x 2^30 tokens: far more than the run
  expect_refused(c, bad, "grid far larger than its run");
  // Qwen3-VL: a video's frames are runs of one frame each; all of them must be there.
  c = Call{};
  c.model = ROTOR_VL_QWEN3_VL;
  expect_refused(c, bad, "Qwen3-VL video run holding two frames");
  c.n_images = 0;
  c.kinds = {0, 2, 2, 2, 2, 0};
  expect_refused(c, bad, "Qwen3-VL video with one of two frames");
  c.n_images = 1;
  c.kinds = {0, 1, 1, 1, 1, 0, 2, 2, 2, 2, 0, 2, 2, 2, 2};
  {
    std::vector<int32_t> ids(size_t{3} * c.n_tokens());
    int32_t next;
    EXPECT_EQ(call(c, ids, next), ROTOR_OK) << rotor_last_error_message();
  }
  // Ids past INT32_MAX - 1: a Qwen2.5-VL video whose temporal ids scale past it, and a long text.
  c = Call{};
  c.spg = {3e9f};
  expect_refused(c, ROTOR_ERR_OUT_OF_RANGE, "temporal id past INT32_MAX");
  c = Call{};
  c.tps = 0xffffffffu;
  c.spg = {1.0f};
  expect_refused(c, ROTOR_ERR_OUT_OF_RANGE, "temporal id from tokens_per_second past INT32_MAX");
  c.rule = ROTOR_VL_RULE_ORIGINAL;
  expect_refused(c, ROTOR_ERR_OUT_OF_RANGE, "temporal id past INT32_MAX (original)");
}

// The largest ids that fit: next_position INT32_MAX; one more token is OUT_OF_RANGE. Long text
// is cheap to describe with a Qwen2.5-VL video: tokens_per_second scales its last frame.
TEST(VlPositionIds, IdsUpToInt32Max) {
  const std::vector<uint8_t> kinds{0, 2, 2};  // text id 0, then frames 0 and 1 of a 2 x 1 x 1 video
  const uint32_t video[3] = {2, 1, 1};
  int32_t ids[9], next = 0;
  const uint32_t top = INT32_MAX - 2;  // start 1 + 1 * top = INT32_MAX - 1
  ASSERT_EQ(rotor_vl_position_ids(ROTOR_VL_QWEN2_5_VL, ROTOR_VL_RULE_TRANSFORMERS_5, kinds.data(), 3, nullptr, 0,
                                  video, 1, nullptr, top, 1, ids, 3, &next),
            ROTOR_OK);
  EXPECT_EQ(next, INT32_MAX);
  EXPECT_EQ(ids[2], INT32_MAX - 1);
  std::fill(ids, ids + 9, 0);
  EXPECT_EQ(rotor_vl_position_ids(ROTOR_VL_QWEN2_5_VL, ROTOR_VL_RULE_TRANSFORMERS_5, kinds.data(), 3, nullptr, 0,
                                  video, 1, nullptr, top + 1, 1, ids, 3, &next),
            ROTOR_ERR_OUT_OF_RANGE);
  for (int32_t v : ids) EXPECT_EQ(v, 0);
  // No tokens: nothing to write, next position 0.
  next = 5;
  EXPECT_EQ(rotor_vl_position_ids(ROTOR_VL_QWEN2_VL, ROTOR_VL_RULE_TRANSFORMERS_5, nullptr, 0, nullptr, 0, nullptr,
                                  0, nullptr, 0, 2, ids, 0, &next),
            ROTOR_OK);
  EXPECT_EQ(next, 0);
}

// ---------------------------------------------------------------------------------------------
// End to end: a golden prompt's ids from rotor_vl_position_ids, straight into rotor_apply_axes
// on the model's preset, against a long-double rotation by transformers' own ids and the
// preset's sections written out here; then a decode step at next_position against 1-D RoPE.

long double mrope_angle(const rotor_config &c, uint32_t j, const int32_t ids[3]) {
  int axis = 0;
  if (c.layout == ROTOR_LAYOUT_MROPE) {
    axis = j < c.mrope_section[0] ? 0 : j < c.mrope_section[0] + c.mrope_section[1] ? 1 : 2;
  } else {
    if (j % 3 == 1 && j < 3 * c.mrope_section[1]) axis = 1;
    if (j % 3 == 2 && j < 3 * c.mrope_section[2]) axis = 2;
  }
  return ids[axis] * std::pow((long double)c.base, -2.0L * j / c.rotary_dim);
}

void check_end_to_end(const char *preset, const char *model, const char *name) {
  const std::vector<GoldenCase> cases = read_golden();
  const GoldenCase *g = nullptr;
  for (const GoldenCase &c : cases)
    if (c.name == name && c.model == model && c.rule == "transformers5") g = &c;
  ASSERT_NE(g, nullptr);
  std::vector<int32_t> ids;
  int32_t next;
  ASSERT_EQ(run_case(*g, ids, next), ROTOR_OK);

  rotor_config cfg;
  ASSERT_EQ(rotor_config_preset(&cfg, preset), ROTOR_OK);
  cfg.initial_len = 16;
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  const uint32_t n = uint32_t(g->kinds.size()), heads = 2, d = cfg.rotary_dim, half = d / 2;
  std::mt19937 gen(5);
  std::normal_distribution<float> dist;
  std::vector<float> x(size_t{n + 1} * heads * d);
  for (float &v : x) v = dist(gen);
  std::vector<float> y(x.begin(), x.begin() + size_t{n} * heads * d);
  rotor_tensor view = rotor_tensor_bshd(y.data(), ROTOR_DTYPE_F32, 1, n, heads, d);
  ASSERT_EQ(rotor_apply_axes(t, &view, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_OK);
  double worst = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const int32_t tok[3] = {g->ids[0][i], g->ids[1][i], g->ids[2][i]};  // transformers' ids
    for (uint32_t h = 0; h < heads; ++h)
      for (uint32_t j = 0; j < half; ++j) {
        const long double angle = mrope_angle(cfg, j, tok);
        const size_t at = (size_t{i} * heads + h) * d;
        const long double a = x[at + j], b = x[at + j + half];
        worst = std::fmax(worst, double(std::fabs(a * std::cos(angle) - b * std::sin(angle) - y[at + j])));
        worst = std::fmax(worst, double(std::fabs(b * std::cos(angle) + a * std::sin(angle) - y[at + j + half])));
      }
  }
  EXPECT_LT(worst, 3e-6) << preset << " " << name;

  // Decode: the next token takes next_position on all three axes, which is 1-D RoPE at that
  // position, bit for bit.
  std::vector<float> step(x.end() - heads * d, x.end()), step_1d = step;
  const int32_t step_ids[3] = {next, next, next};
  rotor_tensor sv = rotor_tensor_bshd(step.data(), ROTOR_DTYPE_F32, 1, 1, heads, d);
  rotor_tensor sv1 = rotor_tensor_bshd(step_1d.data(), ROTOR_DTYPE_F32, 1, 1, heads, d);
  ASSERT_EQ(rotor_apply_axes(t, &sv, step_ids, ROTOR_FORWARD, nullptr), ROTOR_OK);
  ASSERT_EQ(rotor_apply(t, &sv1, &next, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  EXPECT_EQ(std::memcmp(step.data(), step_1d.data(), step.size() * sizeof(float)), 0);
  rotor_table_destroy(t);
}

TEST(VlPositionIds, EndToEndThroughApplyAxes) {
  check_end_to_end("qwen2.5-vl-7b", "qwen2_5_vl", "mixed");
  check_end_to_end("qwen2.5-vl-7b", "qwen2_5_vl", "big_ids");
  check_end_to_end("qwen2-vl-7b", "qwen2_vl", "video_long_t");
  check_end_to_end("qwen3-vl-8b", "qwen3_vl", "mixed");
}

}  // namespace
