// Concurrency stress: eight threads rotate tensors of random shapes, layouts, dtypes and
// positions through one shared table while a ninth reserves, grows, reads cos/sin and stats and
// (for the adaptive scaling types) forces rescales. Every result must be bit-identical to the
// single-threaded result with the rows of one state the table may legitimately have been in
// for that call (a call never sees a mix of two states, nor a row that is not yet computed).
//
// The single-threaded results come from rotor_apply_cos_sin fed with the rows of a separate
// table driven, on one thread, into each state; those rows are themselves checked against a
// plain double-precision formula once. ROTOR_STRESS_ITERATIONS sets the calls per thread per
// scenario (default 48, sized for ThreadSanitizer on two cores).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/half.hpp"
#include "rotor/rotor.h"

namespace {

constexpr int kApplyThreads = 8;

uint32_t stress_iterations() {
  const char *env = std::getenv("ROTOR_STRESS_ITERATIONS");
  if (env != nullptr) {
    const long value = std::strtol(env, nullptr, 10);
    if (value > 0) return static_cast<uint32_t>(value);
  }
  return 48;
}

// The rows of one state a table can be in, and which sequence lengths it may serve.
struct StateRows {
  std::string name;
  uint32_t rows = 0;            // rows [0, rows) are valid for this state
  std::vector<float> cos, sin;  // [rows, r/2] each
  std::function<bool(uint32_t seq_len)> may_serve;
};

struct Scenario {
  std::string name;
  rotor_config cfg{};
  uint32_t head_dim = 0;
  std::vector<float> long_factor, short_factor;
  std::vector<uint32_t> lengths;  // sequence lengths (largest position + 1) calls use
  std::vector<StateRows> states;
  std::function<double(uint32_t state, uint32_t pair)> inv_freq;  // plain formula per state
  double attention_factor = 1.0;
};

// ---- building the expected rows -------------------------------------------------------------

// Rows of a fresh table after one single-threaded call of sequence length drive_len, which puts
// it in the wanted state; rows [0, rows) then read back through rotor_table_cos_sin.
void fill_state(const Scenario &sc, const rotor_config &cfg, uint32_t drive_len, StateRows *state) {
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK) << sc.name;
  const uint32_t half = cfg.rotary_dim / 2;
  std::vector<float> scratch_cos(uint64_t{drive_len} * half), scratch_sin(scratch_cos.size());
  ASSERT_EQ(rotor_table_cos_sin(t, 0, drive_len, ROTOR_DTYPE_F32, 0, scratch_cos.data(), scratch_sin.data()),
            ROTOR_OK);
  state->cos.assign(scratch_cos.begin(), scratch_cos.begin() + int64_t{state->rows} * half);
  state->sin.assign(scratch_sin.begin(), scratch_sin.begin() + int64_t{state->rows} * half);
  rotor_table_destroy(t);
}

// The state rows against cos(p * theta_i) and sin(p * theta_i) in double. Not the subject of
// this test (the table tests bound this to an ulp); it guards against the expected results
// being wrong in the same way as the results under test.
void check_state_rows(const Scenario &sc, uint32_t index) {
  const StateRows &state = sc.states[index];
  const uint32_t half = sc.cfg.rotary_dim / 2;
  for (uint32_t p = 0; p < state.rows; ++p)
    for (uint32_t i = 0; i < half; ++i) {
      const double angle = double(p) * sc.inv_freq(index, i);
      const double c = std::cos(angle) * sc.attention_factor, s = std::sin(angle) * sc.attention_factor;
      ASSERT_NEAR(state.cos[uint64_t{p} * half + i], c, 1e-5) << sc.name << " " << state.name << " p=" << p;
      ASSERT_NEAR(state.sin[uint64_t{p} * half + i], s, 1e-5) << sc.name << " " << state.name << " p=" << p;
    }
}

rotor_config base_config(uint32_t rotary_dim, rotor_pairing pairing, uint32_t max_len, rotor_growth growth) {
  rotor_config cfg;
  rotor_config_init(&cfg, rotary_dim);
  cfg.pairing = pairing;
  cfg.max_len = max_len;
  cfg.initial_len = 1;  // start almost empty: every run grows under contention
  cfg.growth = growth;
  cfg.growth_increment = 24;
  return cfg;
}

double plain(double base, uint32_t r, uint32_t i) { return std::pow(base, -2.0 * i / double(r)); }

Scenario plain_scenario() {
  Scenario sc;
  sc.name = "none/margin";
  sc.cfg = base_config(64, ROTOR_PAIRING_HALF, 600, ROTOR_GROWTH_MARGIN);
  sc.head_dim = 72;
  for (uint32_t len = 1; len <= 600; len += 37) sc.lengths.push_back(len);
  sc.lengths.push_back(600);
  StateRows only{"plain", 600, {}, {}, [](uint32_t) { return true; }};
  sc.states.push_back(only);
  fill_state(sc, sc.cfg, 600, &sc.states[0]);
  sc.inv_freq = [](uint32_t, uint32_t i) { return plain(10000.0, 64, i); };
  return sc;
}

// NTK, ntk_dynamic = 1: k only grows; a call may see any k that serves its length.
Scenario ntk_dynamic_scenario() {
  Scenario sc;
  sc.name = "ntk/dynamic";
  sc.cfg = base_config(32, ROTOR_PAIRING_INTERLEAVED, 512, ROTOR_GROWTH_EXPONENTIAL);
  sc.cfg.scaling = ROTOR_SCALING_NTK;
  sc.cfg.factor = 1.0f;
  sc.cfg.original_max_len = 64;
  sc.cfg.ntk_dynamic = 1;
  sc.head_dim = 32;
  sc.lengths = {1, 30, 64, 65, 128, 129, 200, 256, 300, 384, 450, 512};
  const double ks[] = {1, 2, 4, 6, 8};
  for (double k : ks) {
    const uint32_t served = std::min<uint32_t>(uint32_t(64 * k), 512);
    StateRows state{"k=" + std::to_string(int(k)), served, {}, {},
                    [served](uint32_t len) { return len <= served; }};
    rotor_config fresh = sc.cfg;
    fresh.factor = float(k);  // a fresh table starts in state k
    sc.states.push_back(state);
    fill_state(sc, fresh, served, &sc.states.back());
  }
  sc.inv_freq = [ks](uint32_t state, uint32_t i) {
    return plain(10000.0 * std::pow(ks[state], 32.0 / 30.0), 32, i);
  };
  return sc;
}

// NTK without ntk_dynamic: an outlier call uses its own k for itself alone; the rows a call
// sees depend on its length only.
Scenario ntk_one_off_scenario() {
  Scenario sc;
  sc.name = "ntk/one-off";
  sc.cfg = base_config(16, ROTOR_PAIRING_HALF, 400, ROTOR_GROWTH_LINEAR);
  sc.cfg.scaling = ROTOR_SCALING_NTK;
  sc.cfg.factor = 2.0f;
  sc.cfg.original_max_len = 64;
  sc.head_dim = 20;
  sc.lengths = {1, 50, 128, 129, 200, 256, 257, 330, 400};
  const double ks[] = {2, 4, 6, 8};
  for (double k : ks) {
    const uint32_t served = std::min<uint32_t>(uint32_t(64 * k), 400);
    const uint32_t below = k == 2 ? 0 : uint32_t(64 * (k - 2));
    StateRows state{"k=" + std::to_string(int(k)), served, {}, {},
                    [served, below](uint32_t len) { return len <= served && len > below; }};
    rotor_config fresh = sc.cfg;
    fresh.factor = float(k);
    sc.states.push_back(state);
    fill_state(sc, fresh, served, &sc.states.back());
  }
  sc.inv_freq = [ks](uint32_t state, uint32_t i) {
    return plain(10000.0 * std::pow(ks[state], 16.0 / 14.0), 16, i);
  };
  return sc;
}

// Hugging Face dynamic NTK: the base follows the longest length seen and returns to the
// original below original_max_len. A call of length L >= 64 may see any state d >= L.
Scenario dynamic_ntk_scenario() {
  Scenario sc;
  sc.name = "dynamic-ntk";
  sc.cfg = base_config(32, ROTOR_PAIRING_INTERLEAVED, 300, ROTOR_GROWTH_EXACT);
  sc.cfg.scaling = ROTOR_SCALING_DYNAMIC_NTK;
  sc.cfg.factor = 2.0f;
  sc.cfg.original_max_len = 64;
  sc.head_dim = 40;
  sc.lengths = {1, 17, 63, 64, 100, 200, 300};
  const uint32_t dyn[] = {64, 100, 200, 300};
  for (uint32_t d : dyn) {
    StateRows state{"len=" + std::to_string(d), d, {}, {}, [d](uint32_t len) {
                      return len < 64 ? d == 64 : len <= d;
                    }};
    sc.states.push_back(state);
    fill_state(sc, sc.cfg, d, &sc.states.back());
  }
  sc.inv_freq = [dyn](uint32_t state, uint32_t i) {
    const double bracket = 2.0 * dyn[state] / 64.0 - 1.0;
    return plain(10000.0 * std::pow(bracket, 32.0 / 30.0), 32, i);
  };
  return sc;
}

// LongRoPE: the short factors up to original_max_len, the long ones past it.
Scenario longrope_scenario() {
  Scenario sc;
  sc.name = "longrope";
  sc.cfg = base_config(16, ROTOR_PAIRING_HALF, 256, ROTOR_GROWTH_MARGIN);
  sc.cfg.scaling = ROTOR_SCALING_LONGROPE;
  sc.cfg.factor = 4.0f;
  sc.cfg.original_max_len = 64;
  sc.head_dim = 16;
  sc.short_factor = {1.0f, 1.1f, 1.2f, 1.5f, 2.0f, 2.5f, 3.0f, 4.0f};
  sc.long_factor = {1.0f, 1.5f, 2.0f, 3.0f, 5.0f, 8.0f, 12.0f, 16.0f};
  sc.cfg.short_factor = sc.short_factor.data();
  sc.cfg.long_factor = sc.long_factor.data();
  sc.lengths = {1, 33, 64, 65, 128, 256};
  sc.states.push_back(StateRows{"short", 64, {}, {}, [](uint32_t len) { return len <= 64; }});
  fill_state(sc, sc.cfg, 64, &sc.states.back());
  sc.states.push_back(StateRows{"long", 256, {}, {}, [](uint32_t len) { return len > 64; }});
  fill_state(sc, sc.cfg, 256, &sc.states.back());
  const std::vector<float> s = sc.short_factor, l = sc.long_factor;
  sc.inv_freq = [s, l](uint32_t state, uint32_t i) {
    return plain(10000.0, 16, i) / double(state == 0 ? s[i] : l[i]);
  };
  sc.attention_factor = std::sqrt(1.0 + std::log(4.0) / std::log(64.0));
  return sc;
}

// ---- one random call ------------------------------------------------------------------------

struct Buffer {
  std::vector<unsigned char> bytes;
  rotor_tensor view{};
};

// A uniform-enough draw in [0, n) as uint32_t (the engine's result_type is wider).
uint32_t below(std::mt19937 &rng, uint64_t n) { return static_cast<uint32_t>(rng() % n); }

size_t elem_size(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 4 : 2; }

// A view of the given shape in one of three layouts, over a buffer exactly as long as the view
// (padded heads leave gaps whose bytes must survive the call).
Buffer make_buffer(std::mt19937 &rng, rotor_dtype dt, uint32_t b, uint32_t s, uint32_t h, uint32_t d) {
  Buffer buf;
  const uint32_t layout = below(rng, 3);
  if (layout == 0) {
    buf.view = rotor_tensor_bshd(nullptr, dt, b, s, h, d);
  } else if (layout == 1) {
    buf.view = rotor_tensor_bhsd(nullptr, dt, b, s, h, d);
  } else {
    buf.view = rotor_tensor_bshd(nullptr, dt, b, s, h, d);
    buf.view.stride_head = d + 3;
    buf.view.stride_seq = int64_t{h} * (d + 3) + 1;
    buf.view.stride_batch = int64_t{s} * buf.view.stride_seq + 5;
  }
  const int64_t span = int64_t{b - 1} * buf.view.stride_batch + int64_t{s - 1} * buf.view.stride_seq +
                       int64_t{h - 1} * buf.view.stride_head + d;
  buf.bytes.resize(size_t(span) * elem_size(dt));
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  for (size_t i = 0; i < buf.bytes.size() / elem_size(dt); ++i) {
    const float v = value(rng);
    if (dt == ROTOR_DTYPE_F32) {
      std::memcpy(&buf.bytes[4 * i], &v, 4);
    } else {
      const uint16_t bits = dt == ROTOR_DTYPE_F16 ? rotor::float_to_f16(v) : rotor::float_to_bf16(v);
      std::memcpy(&buf.bytes[2 * i], &bits, 2);
    }
  }
  buf.view.data = buf.bytes.data();
  return buf;
}

// A copy whose view points at its own bytes.
Buffer clone(const Buffer &from) {
  Buffer copy;
  copy.bytes = from.bytes;
  copy.view = from.view;
  copy.view.data = copy.bytes.data();
  return copy;
}

struct Failures {
  std::atomic<uint32_t> count{0};
  std::mutex mutex;
  std::string first;
  void add(const std::string &what) {
    if (count.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mutex);
      first = what;
    }
  }
};

// Whether `actual` equals the single-threaded result with the rows of `state`.
bool matches_state(const StateRows &state, const rotor_config &cfg, const Buffer &input, const Buffer &actual,
                   const int32_t *positions, uint32_t offset, rotor_direction dir, bool out_of_place,
                   const Buffer *out_before) {
  Buffer expected = out_of_place ? clone(*out_before) : clone(input);
  const rotor_tensor in_view = out_of_place ? input.view : expected.view;
  if (rotor_apply_cos_sin(state.cos.data(), state.sin.data(), state.rows, cfg.rotary_dim, cfg.pairing, &in_view,
                          &expected.view, positions, offset, dir, nullptr) != ROTOR_OK)
    return false;
  return expected.bytes == actual.bytes;
}

class StressRun {
 public:
  StressRun(const Scenario &sc, rotor_table *table, rotor_pool *pool, Failures *failures)
      : sc_(sc), table_(table), pool_(pool), failures_(failures) {}

  void apply_thread(uint32_t seed, uint32_t calls) {
    std::mt19937 rng(seed);
    for (uint32_t call = 0; call < calls; ++call) one_call(rng, call);
  }

 private:
  void one_call(std::mt19937 &rng, uint32_t call) {
    const uint32_t len = sc_.lengths[below(rng, sc_.lengths.size())];
    const rotor_dtype dt = static_cast<rotor_dtype>(below(rng, 3));
    const rotor_direction dir = below(rng, 4) == 0 ? ROTOR_INVERSE : ROTOR_FORWARD;
    const bool big = pool_ != nullptr && below(rng, 8) == 0;  // big enough for the pool's workers
    const uint32_t batch = 1 + below(rng, 2);
    const uint32_t heads = big ? 8 : 1 + below(rng, 4);
    // Explicit positions: random in [0, len) with one at len - 1, so the call's sequence
    // length is exactly len. Otherwise offset + s (then seq <= len).
    const bool explicit_positions = big || below(rng, 2) == 0;
    uint32_t seq = big ? 64 : 1 + below(rng, 6);
    if (!explicit_positions) seq = std::min(seq, len);
    std::vector<int32_t> positions;
    uint32_t offset = 0;
    if (explicit_positions) {
      positions.resize(uint64_t{batch} * seq);
      for (int32_t &p : positions) p = int32_t(below(rng, len));
      positions[below(rng, positions.size())] = int32_t(len - 1);
    } else {
      offset = len - seq;
    }
    const int32_t *pos = explicit_positions ? positions.data() : nullptr;
    rotor_pool *pool = (big || below(rng, 8) == 0) ? pool_ : nullptr;

    const uint32_t op = below(rng, 3);  // 0 apply, 1 apply_to, 2 apply_qk
    Buffer x = make_buffer(rng, dt, batch, seq, heads, sc_.head_dim);
    const Buffer x_before = clone(x);
    Buffer out, out_before, k, k_before;
    rotor_status status;
    if (op == 0) {
      status = rotor_apply(table_, &x.view, pos, offset, dir, pool);
    } else if (op == 1) {
      out = make_buffer(rng, dt, batch, seq, heads, sc_.head_dim);
      out_before = clone(out);
      status = rotor_apply_to(table_, &x.view, &out.view, pos, offset, dir, pool);
    } else {
      // Grouped-query K: its own head count and dtype, same batch, seq and positions.
      const rotor_dtype k_dt = static_cast<rotor_dtype>(below(rng, 3));
      k = make_buffer(rng, k_dt, batch, seq, 1 + below(rng, 2), sc_.head_dim);
      k_before = clone(k);
      status = rotor_apply_qk(table_, &x.view, &k.view, pos, offset, dir, pool);
    }
    if (status != ROTOR_OK) {
      failures_->add(sc_.name + ": call " + std::to_string(call) + " returned " + std::to_string(status));
      return;
    }
    // The result must be one allowed state's, the same state for q and k.
    for (const StateRows &state : sc_.states) {
      if (!state.may_serve(len)) continue;
      bool ok;
      if (op == 0) {
        ok = matches_state(state, sc_.cfg, x_before, x, pos, offset, dir, false, nullptr);
      } else if (op == 1) {
        ok = x.bytes == x_before.bytes &&
             matches_state(state, sc_.cfg, x_before, out, pos, offset, dir, true, &out_before);
      } else {
        ok = matches_state(state, sc_.cfg, x_before, x, pos, offset, dir, false, nullptr) &&
             matches_state(state, sc_.cfg, k_before, k, pos, offset, dir, false, nullptr);
      }
      if (ok) return;
    }
    failures_->add(sc_.name + ": op " + std::to_string(op) + " len " + std::to_string(len) + " dtype " +
                   std::to_string(dt) + " matches no single-threaded result");
  }

  const Scenario &sc_;
  rotor_table *table_;
  rotor_pool *pool_;
  Failures *failures_;
};

// The ninth thread: reserves, reads cos/sin (checked like an apply), reads stats, until the
// appliers are done.
void mutator_thread(const Scenario &sc, rotor_table *table, const std::atomic<bool> *done, Failures *failures,
                    uint32_t seed, uint32_t *rounds_out) {
  std::mt19937 rng(seed);
  const uint32_t half = sc.cfg.rotary_dim / 2;
  uint32_t rounds = 0;
  while (!done->load(std::memory_order_acquire) || rounds < 4) {
    ++rounds;
    const uint32_t reserve_to = 1 + below(rng, sc.cfg.max_len);
    if (rotor_table_reserve(table, reserve_to) != ROTOR_OK) failures->add(sc.name + ": reserve failed");
    rotor_table_stats stats{};
    stats.struct_size = sizeof stats;
    if (rotor_table_stats_get(table, &stats) != ROTOR_OK || stats.rows > sc.cfg.max_len ||
        stats.max_len != sc.cfg.max_len)
      failures->add(sc.name + ": stats inconsistent");
    // cos/sin over [start, len) for a length that may force a rescale.
    const uint32_t len = sc.lengths[below(rng, sc.lengths.size())];
    const uint32_t start = below(rng, len);
    std::vector<float> cos_rows(uint64_t{len - start} * half), sin_rows(cos_rows.size());
    if (rotor_table_cos_sin(table, start, len - start, ROTOR_DTYPE_F32, 0, cos_rows.data(), sin_rows.data()) !=
        ROTOR_OK) {
      failures->add(sc.name + ": cos_sin failed");
      continue;
    }
    bool matched = false;
    for (const StateRows &state : sc.states) {
      if (!state.may_serve(len)) continue;
      const size_t from = size_t(start) * half, count = cos_rows.size();
      matched |= std::memcmp(state.cos.data() + from, cos_rows.data(), count * sizeof(float)) == 0 &&
                 std::memcmp(state.sin.data() + from, sin_rows.data(), count * sizeof(float)) == 0;
    }
    if (!matched) failures->add(sc.name + ": cos_sin of length " + std::to_string(len) + " matches no state");
    std::this_thread::yield();
  }
  *rounds_out = rounds;
}

// The event callback may read stats (documented) and must see consistent values.
struct EventLog {
  std::atomic<uint32_t> events{0};
  std::atomic<uint32_t> bad{0};
  rotor_table *table = nullptr;
};
void on_event(void *user, const rotor_table_event *event) {
  EventLog &log = *static_cast<EventLog *>(user);
  log.events.fetch_add(1, std::memory_order_relaxed);
  rotor_table_stats stats{};
  stats.struct_size = sizeof stats;
  if (rotor_table_stats_get(log.table, &stats) != ROTOR_OK || event->new_rows > stats.max_len)
    log.bad.fetch_add(1, std::memory_order_relaxed);
}

void run_scenario(const Scenario &sc) {
  const uint32_t iterations = stress_iterations();
  rotor_pool *pool = nullptr;
  ASSERT_EQ(rotor_pool_create(&pool, 3), ROTOR_OK);
  // A few rounds, each on a fresh table, so growth from an empty table is contended each time.
  const uint32_t rounds = 3;
  for (uint32_t round = 0; round < rounds; ++round) {
    rotor_table *table = nullptr;
    ASSERT_EQ(rotor_table_create(&table, &sc.cfg), ROTOR_OK);
    EventLog log;
    log.table = table;
    ASSERT_EQ(rotor_table_set_event_callback(table, on_event, &log), ROTOR_OK);
    Failures failures;
    StressRun run(sc, table, pool, &failures);
    std::atomic<bool> done{false};
    uint32_t mutator_rounds = 0;
    std::thread mutator(mutator_thread, std::cref(sc), table, &done, &failures, 1000 + round, &mutator_rounds);
    std::vector<std::thread> appliers;
    const uint32_t calls = (iterations + rounds - 1) / rounds;
    for (int i = 0; i < kApplyThreads; ++i)
      appliers.emplace_back([&run, i, round, calls] { run.apply_thread(uint32_t(i * 7919 + round), calls); });
    for (std::thread &t : appliers) t.join();
    done.store(true, std::memory_order_release);
    mutator.join();
    EXPECT_EQ(failures.count.load(), 0u) << failures.first;
    EXPECT_GT(log.events.load(), 0u) << sc.name << ": the table never grew";
    EXPECT_EQ(log.bad.load(), 0u) << sc.name;
    EXPECT_GE(mutator_rounds, 4u);
    rotor_table_destroy(table);
  }
  rotor_pool_destroy(pool);
}

class Stress : public ::testing::TestWithParam<int> {};

Scenario make_scenario(int which) {
  switch (which) {
    case 0: return plain_scenario();
    case 1: return ntk_dynamic_scenario();
    case 2: return ntk_one_off_scenario();
    case 3: return dynamic_ntk_scenario();
    default: return longrope_scenario();
  }
}

TEST_P(Stress, EveryResultIsASingleThreadedResult) {
  const Scenario sc = make_scenario(GetParam());
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  for (uint32_t s = 0; s < sc.states.size(); ++s) {
    check_state_rows(sc, s);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
  }
  run_scenario(sc);
}

std::string scenario_name(const ::testing::TestParamInfo<int> &info) {
  const char *names[] = {"Plain", "NtkDynamic", "NtkOneOff", "DynamicNtk", "LongRope"};
  return names[info.param];
}

INSTANTIATE_TEST_SUITE_P(Tables, Stress, ::testing::Range(0, 5), scenario_name);

}  // namespace
