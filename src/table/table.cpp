#include "table/table.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <thread>

#include "common/checked_math.hpp"
#include "table/growth.hpp"
#include "table/row_compute.hpp"

namespace rotor {
namespace {

constexpr uint64_t kAlign = ROTOR_ARENA_ALIGNMENT;

// Where each part of a table lives in its arena (byte offsets from the arena's start).
struct ArenaLayout {
  uint64_t factors = 0;     // LONGROPE: long then short factors, r/2 floats each
  uint64_t inv_freq[2] = {0, 0};
  uint64_t rows[2] = {0, 0};
  uint64_t header_bytes = 0;  // everything before the first row set
  uint64_t total = 0;
  uint32_t set_count = 1;
};

bool plan_layout(const rotor_config &cfg, size_t object_bytes, ArenaLayout *layout) {
  const uint64_t half = cfg.rotary_dim / 2;
  layout->set_count = (scaling_is_adaptive(cfg) || scaling_has_one_off(cfg)) ? 2 : 1;
  uint64_t at;
  if (!align_up(object_bytes, kAlign, &at)) return false;
  layout->factors = at;
  if (cfg.scaling == ROTOR_SCALING_LONGROPE) {
    uint64_t bytes = half * 2 * sizeof(float);
    if (!align_up(at + bytes, kAlign, &at)) return false;
  }
  for (uint32_t s = 0; s < layout->set_count; ++s) {
    layout->inv_freq[s] = at;
    if (!align_up(at + half * sizeof(double), kAlign, &at)) return false;
  }
  layout->header_bytes = at;
  uint64_t row_set_bytes;
  if (mul_overflows(uint64_t{cfg.max_len}, uint64_t{cfg.rotary_dim} * sizeof(float), &row_set_bytes))
    return false;
  for (uint32_t s = 0; s < layout->set_count; ++s) {
    layout->rows[s] = at;
    uint64_t end;
    if (add_overflows(at, row_set_bytes, &end) || !align_up(end, kAlign, &at)) return false;
  }
  layout->total = at;
  return at <= SIZE_MAX;
}

template <typename T>
T *at_offset(void *arena, uint64_t offset) {
  return reinterpret_cast<T *>(static_cast<unsigned char *>(arena) + offset);
}

}  // namespace

size_t Table::arena_size(const rotor_config &cfg) {
  ArenaLayout layout;
  if (!plan_layout(cfg, sizeof(Table), &layout)) return 0;
  return static_cast<size_t>(layout.total);
}

Table::Table(const rotor_config &cfg, size_t arena_bytes, bool owns_arena)
    : cfg_(cfg),
      arena_bytes_(arena_bytes),
      owns_arena_(owns_arena),
      adaptive_(scaling_is_adaptive(cfg)),
      one_off_(scaling_has_one_off(cfg)),
      axes_(layout_axes(cfg)) {
  if (axes_ > 1) pair_axes(cfg, pair_axis_);  // validate_layout bounds r/2 by the array
}

Table *Table::construct(const rotor_config &cfg, void *arena, size_t arena_bytes, bool owns_arena) {
  ArenaLayout layout;
  plan_layout(cfg, sizeof(Table), &layout);
  Table *table = new (arena) Table(cfg, arena_bytes, owns_arena);
  table->header_bytes_ = static_cast<size_t>(layout.header_bytes);
  const uint32_t half = cfg.rotary_dim / 2;
  if (cfg.scaling == ROTOR_SCALING_LONGROPE) {
    // The caller's factor arrays may be freed after init: keep our own copies.
    float *copies = at_offset<float>(arena, layout.factors);
    std::copy(cfg.long_factor, cfg.long_factor + half, copies);
    std::copy(cfg.short_factor, cfg.short_factor + half, copies + half);
    table->cfg_.long_factor = copies;
    table->cfg_.short_factor = copies + half;
  }
  for (uint32_t s = 0; s < layout.set_count; ++s) {
    table->sets_[s].inv_freq = at_offset<double>(arena, layout.inv_freq[s]);
    table->sets_[s].rows = at_offset<float>(arena, layout.rows[s]);
  }
  table->set_frequencies(table->sets_[0], initial_scale_state(table->cfg_));
  const uint32_t initial_rows = std::min(cfg.initial_len, cfg.max_len);
  RowFrequencies freqs{table->sets_[0].inv_freq, half, table->sets_[0].attention_factor};
  compute_rows(freqs, 0, initial_rows, table->sets_[0].rows);
  table->sets_[0].published.store(initial_rows, std::memory_order_release);
  table->record_epoch_locked(0, table->sets_[0].state);  // no other thread sees it yet
  return table;
}

void *Table::teardown() {
  void *arena = owns_arena_ ? static_cast<void *>(this) : nullptr;
  this->~Table();
  return arena;
}

void Table::set_frequencies(RowSet &set, const ScaleState &state) {
  set.state = state;
  compute_frequencies(cfg_, state, set.inv_freq, &set.attention_factor);
}

bool Table::pin(uint32_t index) {
  RowSet &set = sets_[index];
  set.readers.fetch_add(1, std::memory_order_seq_cst);
  // A rescale may have switched sets between our load of active_ and the increment; its
  // rebuild of this set then may already be running, so we must not read it.
  if (active_index() == index) return true;
  unpin(set);
  return false;
}

void Table::fill_lease(RowSet &set, RowsLease *out, bool pinned) {
  out->rows = set.rows;
  out->half = half();
  out->epoch = set.epoch;
  out->state = set.state;
  out->pinned = pinned ? &set : nullptr;
  out->holds_one_off = false;
}

void Table::lease(uint32_t seq_len, RowsLease *out) { lease_impl(seq_len, nullptr, out); }

bool Table::lease_expecting(uint32_t seq_len, const ScaleState &expected, RowsLease *out) {
  return lease_impl(seq_len, &expected, out);
}

bool Table::lease_impl(uint32_t seq_len, const ScaleState *expected, RowsLease *out) {
  for (;;) {
    const uint32_t index = adaptive_ ? active_index() : 0;
    if (adaptive_ && !pin(index)) continue;
    RowSet &set = sets_[index];
    // Rows that never rescale (neither adaptive nor one-off) are always kept: no scaling plan to
    // make on every decode step of such a table.
    const ScalePlan plan = adaptive_ || one_off_ ? plan_scale(cfg_, set.state, seq_len) : ScalePlan{};
    const ScaleState &would_use = plan.kind == ScalePlanKind::kKeep ? set.state : plan.state;
    if (expected != nullptr && would_use != *expected) {
      if (adaptive_) unpin(set);
      return false;
    }
    if (plan.kind == ScalePlanKind::kKeep) {
      const uint32_t have = set.published.load(std::memory_order_acquire);
      if (have < seq_len || growth_ahead_target(cfg_, have, seq_len) > have) {
        std::lock_guard<std::mutex> lock(grow_mutex_);
        grow_for_locked(set, seq_len);
      }
      fill_lease(set, out, adaptive_);
      return true;
    }
    if (adaptive_) unpin(set);
    if (plan.kind == ScalePlanKind::kOneOff) {
      lease_one_off(plan.state, seq_len, out);
      return true;
    }
    return adopt_and_lease(seq_len, expected, out);
  }
}

void Table::release(RowsLease *lease) {
  if (lease->pinned != nullptr) unpin(*lease->pinned);
  if (lease->holds_one_off) one_off_mutex_.unlock();
  // Cleared field by field: `*lease = RowsLease{}` built a temporary on the stack and read it
  // back across the pieces it was written in (a failed store forward on every call).
  lease->rows = nullptr;
  lease->pinned = nullptr;
  lease->holds_one_off = false;
}

void Table::grow_for_locked(RowSet &set, uint32_t seq_len) {
  const uint32_t have = set.published.load(std::memory_order_relaxed);
  if (have < seq_len) {
    append_rows_locked(set, growth_target(cfg_, have, seq_len), ROTOR_EVENT_GROW);
    return;
  }
  const uint32_t ahead = growth_ahead_target(cfg_, have, seq_len);
  if (ahead > have) append_rows_locked(set, ahead, ROTOR_EVENT_GROW_AHEAD);
}

void Table::append_rows_locked(RowSet &set, uint32_t target, rotor_event_reason reason) {
  const uint32_t have = set.published.load(std::memory_order_relaxed);
  if (target <= have) return;
  RowFrequencies freqs{set.inv_freq, half(), set.attention_factor};
  compute_rows(freqs, have, target, set.rows);
  // Release: a reader that sees the new count also sees every row below it.
  set.published.store(target, std::memory_order_release);
  grow_events_.fetch_add(1, std::memory_order_relaxed);
  const double factor = reported_factor(cfg_, set.state);
  emit_locked(reason, have, target, factor, factor);
}

void Table::reserve(uint32_t positions) {
  std::lock_guard<std::mutex> lock(grow_mutex_);
  append_rows_locked(sets_[adaptive_ ? active_index() : 0], positions, ROTOR_EVENT_RESERVE);
}

bool Table::adopt_and_lease(uint32_t seq_len, const ScaleState *expected, RowsLease *out) {
  std::unique_lock<std::mutex> lock(grow_mutex_);
  for (;;) {
    // active_ only changes under grow_mutex_, so it is stable from here to the unlock.
    const uint32_t index = active_index();
    RowSet &current = sets_[index];
    ScalePlan plan = plan_scale(cfg_, current.state, seq_len);
    // Another thread may have rescaled since the caller planned: check again under the lock.
    const ScaleState &would_use = plan.kind == ScalePlanKind::kKeep ? current.state : plan.state;
    if (expected != nullptr && would_use != *expected) return false;
    if (plan.kind == ScalePlanKind::kKeep) {  // another thread adopted what we need
      current.readers.fetch_add(1, std::memory_order_seq_cst);
      grow_for_locked(current, seq_len);
      fill_lease(current, out, true);
      return true;
    }
    RowSet &next = sets_[1 - index];
    if (next.readers.load(std::memory_order_seq_cst) != 0) {
      // Calls still read the previous rows; let them finish (they may need this lock to
      // append to their set, so wait without holding it).
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
      continue;
    }
    const uint32_t old_rows = current.published.load(std::memory_order_relaxed);
    next.published.store(0, std::memory_order_relaxed);
    set_frequencies(next, plan.state);
    // The new set starts lazily, like a new table: what this call needs, by the strategy.
    const uint32_t initial = std::min(cfg_.initial_len, cfg_.max_len);
    const uint32_t rows = std::max(growth_target(cfg_, 0, seq_len), initial);
    RowFrequencies freqs{next.inv_freq, half(), next.attention_factor};
    compute_rows(freqs, 0, rows, next.rows);
    next.published.store(rows, std::memory_order_release);
    next.epoch = current.epoch + 1;
    record_epoch_locked(next.epoch, next.state);
    active_.store(1 - index, std::memory_order_seq_cst);
    current_epoch_.store(next.epoch, std::memory_order_release);
    rescale_events_.fetch_add(1, std::memory_order_relaxed);
    emit_locked(ROTOR_EVENT_RESCALE, old_rows, rows, reported_factor(cfg_, current.state),
                reported_factor(cfg_, next.state));
    next.readers.fetch_add(1, std::memory_order_seq_cst);
    fill_lease(next, out, true);
    return true;
  }
}

void Table::lease_one_off(const ScaleState &state, uint32_t seq_len, RowsLease *out) {
  one_off_mutex_.lock();  // released by release(): the scratch rows serve this call alone
  RowSet &scratch = sets_[1];
  if (scratch.state != state || scratch.published.load(std::memory_order_relaxed) == 0) {
    scratch.published.store(0, std::memory_order_relaxed);
    set_frequencies(scratch, state);
  }
  const uint32_t have = scratch.published.load(std::memory_order_relaxed);
  if (have < seq_len) {
    RowFrequencies freqs{scratch.inv_freq, half(), scratch.attention_factor};
    compute_rows(freqs, have, seq_len, scratch.rows);
    scratch.published.store(seq_len, std::memory_order_relaxed);
  }
  out->rows = scratch.rows;
  out->half = half();
  out->epoch = sets_[0].epoch;
  out->state = state;
  out->pinned = nullptr;
  out->holds_one_off = true;
}

void Table::record_epoch_locked(uint64_t epoch, const ScaleState &state) {
  EpochRecord &record = history_[epoch % kEpochHistory];
  record.epoch = epoch;
  record.state = state;
}

bool Table::state_of_epoch(uint64_t epoch, ScaleState *out) {
  std::lock_guard<std::mutex> lock(grow_mutex_);
  const EpochRecord &record = history_[epoch % kEpochHistory];
  if (epoch > current_epoch() || record.epoch != epoch) return false;
  *out = record.state;
  return true;
}

void Table::lease_current(uint32_t seq_len, RowsLease *out) {
  uint32_t index = 0;
  if (adaptive_) {
    do index = active_index();
    while (!pin(index));
  }
  RowSet &set = sets_[index];
  if (set.published.load(std::memory_order_acquire) < seq_len) {
    std::lock_guard<std::mutex> lock(grow_mutex_);
    grow_for_locked(set, seq_len);
  }
  fill_lease(set, out, adaptive_);
}

void Table::emit_locked(rotor_event_reason reason, uint32_t old_rows, uint32_t new_rows,
                        double old_factor, double new_factor) {
  if (callback_ == nullptr) return;
  rotor_table_event event{};
  event.struct_size = sizeof(rotor_table_event);
  event.reason = reason;
  event.old_rows = old_rows;
  event.new_rows = new_rows;
  event.old_factor = static_cast<float>(old_factor);
  event.new_factor = static_cast<float>(new_factor);
  callback_(callback_user_, &event);
}

void Table::set_callback(rotor_table_event_fn fn, void *user) {
  std::lock_guard<std::mutex> lock(grow_mutex_);
  callback_ = fn;
  callback_user_ = user;
}

void Table::stats(rotor_table_stats *out) const {
  // Pinning keeps a concurrent rescale from rebuilding the set we read; it takes no lock, so
  // the event callback (which runs under grow_mutex_) may call this.
  Table *self = const_cast<Table *>(this);
  uint32_t index = 0;
  if (adaptive_) {
    do index = active_index();
    while (!self->pin(index));
  }
  const RowSet &set = sets_[index];
  const uint64_t row_bytes = uint64_t{cfg_.rotary_dim} * sizeof(float);
  uint64_t in_use = header_bytes_;
  for (const RowSet &s : sets_)
    if (s.rows != nullptr) in_use += row_bytes * s.published.load(std::memory_order_acquire);
  rotor_table_stats full{};
  full.struct_size = out->struct_size;
  full.rows = set.published.load(std::memory_order_acquire);
  full.max_len = cfg_.max_len;
  full.bytes_in_use = in_use;
  full.arena_bytes = arena_bytes_;
  full.grow_events = grow_events_.load(std::memory_order_relaxed);
  full.rescale_events = rescale_events_.load(std::memory_order_relaxed);
  full.factor = static_cast<float>(reported_factor(cfg_, set.state));
  full.attention_factor = static_cast<float>(set.attention_factor);
  full.epoch = set.epoch;
  full.key_rerotations = key_rerotations_.load(std::memory_order_relaxed);
  if (adaptive_) self->unpin(self->sets_[index]);
  std::memcpy(out, &full, std::min<size_t>(out->struct_size, sizeof full));
}

}  // namespace rotor
