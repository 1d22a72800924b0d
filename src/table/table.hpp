// The sin/cos table: arena layout, lazy growth, rescales, and leases that give each call one
// consistent set of rows.
//
// Concurrency design:
//  - Rows of a set are append-only: rows [0, published) never change while the set is active,
//    so a reader that finds its rows published reads them with no lock (one acquire load).
//  - Growth (appending rows) and rescales take grow_mutex_. Computing happens outside any
//    reader's path: readers never wait for a grow they do not need.
//  - Adaptive scaling types (NTK with ntk_dynamic, dynamic NTK, LongRoPE) keep two row sets.
//    A rescale rebuilds the inactive set and then switches `active_`. A call pins the set it
//    leases (a reader count, one atomic increment) so a later rescale never rebuilds rows under
//    it: the rebuild waits until the inactive set has no readers. Each call therefore sees one
//    set of rows from start to end, never a mix.
//  - NTK without ntk_dynamic serves an outlier call from a scratch set (sets_[1]) guarded by
//    one_off_mutex_, held for that call only; the table's own rows are untouched.
//  - Epochs and cached keys (src/attention/rerotate_keys.hpp): every lease reports the ScaleState of its
//    rows, so a KV cache can tell whether its keys carry them. The table keeps the states of its
//    last kEpochHistory epochs (a ring written under grow_mutex_ at each rescale, read under it:
//    a few bytes copied) and its current epoch in an atomic, so a caller's keys can be brought
//    from an older epoch to the current rows. lease_expecting serves the REFUSE policy: it leases
//    like lease(), or, when the rows would not be those expected, returns false having leased
//    and rescaled nothing (the check is repeated under grow_mutex_ before a rebuild).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "rotor/rotor.h"
#include "table/layout.hpp"
#include "table/scaling.hpp"

namespace rotor {

struct RowSet {
  float *rows = nullptr;        // max_len rows of r floats (cos half, then sin half)
  double *inv_freq = nullptr;   // r/2 frequencies these rows were computed with
  double attention_factor = 1.0;
  ScaleState state;
  uint64_t epoch = 0;           // increments with each rescale of the table
  std::atomic<uint32_t> published{0};
  std::atomic<uint32_t> readers{0};
};

// What one call reads. Obtained from Table::lease, returned with Table::release.
struct RowsLease {
  const float *rows = nullptr;  // row p at rows + p * 2 * half
  uint32_t half = 0;
  uint64_t epoch = 0;
  ScaleState state;             // the state these rows were computed from (one-off ones included)
  RowSet *pinned = nullptr;
  bool holds_one_off = false;
};

class Table {
 public:
  // Bytes of an arena for cfg (already validated), or 0 when it does not fit in size_t.
  static size_t arena_size(const rotor_config &cfg);
  // Builds a table at the start of arena (validated config, big and aligned enough).
  static Table *construct(const rotor_config &cfg, void *arena, size_t arena_bytes, bool owns_arena);
  // Runs the destructor; returns the arena if the table owns it (the caller frees it).
  void *teardown();

  // Makes rows [0, positions) of the current set ready (positions <= max_len).
  void reserve(uint32_t positions);
  // Leases rows that serve positions [0, seq_len) (1 <= seq_len <= max_len), growing or
  // rescaling as the config says. Every successful lease must be released.
  void lease(uint32_t seq_len, RowsLease *out);
  void release(RowsLease *lease);

  // ---- epochs, the rescale policy and re-rotated keys (see the header comment) ----
  static constexpr uint32_t kEpochHistory = ROTOR_EPOCH_HISTORY;
  uint64_t current_epoch() const { return current_epoch_.load(std::memory_order_acquire); }
  // The state of `epoch`: false when it is newer than the current epoch or older than the ring
  // keeps.
  bool state_of_epoch(uint64_t epoch, ScaleState *out);
  // Leases the current rows for [0, seq_len), growing them but never rescaling.
  void lease_current(uint32_t seq_len, RowsLease *out);
  // lease(), unless the rows it would give are not those of `expected`: then false, nothing is
  // leased and this call rescales nothing.
  bool lease_expecting(uint32_t seq_len, const ScaleState &expected, RowsLease *out);
  void set_rescale_policy(int policy) { rescale_policy_.store(policy, std::memory_order_relaxed); }
  int rescale_policy() const { return rescale_policy_.load(std::memory_order_relaxed); }
  void count_rerotation() { key_rerotations_.fetch_add(1, std::memory_order_relaxed); }

  void stats(rotor_table_stats *out) const;
  void set_callback(rotor_table_event_fn fn, void *user);

  const rotor_config &config() const { return cfg_; }
  uint32_t max_len() const { return cfg_.max_len; }
  uint32_t half() const { return cfg_.rotary_dim / 2; }
  // Position ids per token (1 for 1-D tables) and, for multi-axis layouts, each pair's axis.
  uint32_t axes() const { return axes_; }
  const uint8_t *pair_axis() const { return pair_axis_; }

 private:
  Table(const rotor_config &cfg, size_t arena_bytes, bool owns_arena);
  ~Table() = default;

  uint32_t active_index() const { return active_.load(std::memory_order_seq_cst); }
  bool pin(uint32_t index);  // false if the set stopped being active while pinning
  void unpin(RowSet &set) { set.readers.fetch_sub(1, std::memory_order_seq_cst); }
  void fill_lease(RowSet &set, RowsLease *out, bool pinned);

  // Under grow_mutex_: appends rows so that `set` serves seq_len (strategy and threshold).
  void grow_for_locked(RowSet &set, uint32_t seq_len);
  void append_rows_locked(RowSet &set, uint32_t target, rotor_event_reason reason);
  void set_frequencies(RowSet &set, const ScaleState &state);
  // expected: nullptr, or the state the rows must have (else false, nothing leased or rescaled).
  bool lease_impl(uint32_t seq_len, const ScaleState *expected, RowsLease *out);
  bool adopt_and_lease(uint32_t seq_len, const ScaleState *expected, RowsLease *out);
  void record_epoch_locked(uint64_t epoch, const ScaleState &state);
  void lease_one_off(const ScaleState &state, uint32_t seq_len, RowsLease *out);
  void emit_locked(rotor_event_reason reason, uint32_t old_rows, uint32_t new_rows,
                   double old_factor, double new_factor);

  rotor_config cfg_;            // copy; long/short factors point into the arena
  size_t arena_bytes_;
  size_t header_bytes_ = 0;     // bytes before the first row set (object, factors, frequencies)
  bool owns_arena_;
  bool adaptive_;
  bool one_off_;
  RowSet sets_[2];
  std::atomic<uint32_t> active_{0};
  std::mutex grow_mutex_;
  std::mutex one_off_mutex_;
  std::atomic<uint32_t> grow_events_{0};
  std::atomic<uint32_t> rescale_events_{0};
  rotor_table_event_fn callback_ = nullptr;
  void *callback_user_ = nullptr;
  struct EpochRecord {
    uint64_t epoch = UINT64_MAX;  // UINT64_MAX: never written
    ScaleState state;
  };
  EpochRecord history_[kEpochHistory];  // epoch e at history_[e % kEpochHistory], grow_mutex_
  std::atomic<uint64_t> current_epoch_{0};
  std::atomic<uint64_t> key_rerotations_{0};
  std::atomic<int> rescale_policy_{ROTOR_RESCALE_REROTATE};
  uint32_t axes_ = 1;
  uint8_t pair_axis_[kMaxAxesRotaryDim / 2] = {};  // filled for multi-axis layouts
};

}  // namespace rotor

// The opaque C handle is the table itself: rotor_table is never defined, only cast.
inline rotor::Table *as_table(rotor_table *t) { return reinterpret_cast<rotor::Table *>(t); }
inline const rotor::Table *as_table(const rotor_table *t) { return reinterpret_cast<const rotor::Table *>(t); }
inline rotor_table *as_handle(rotor::Table *t) { return reinterpret_cast<rotor_table *>(t); }
