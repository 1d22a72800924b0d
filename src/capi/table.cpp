// The C entry points of tables: thin wrappers that validate and call rotor::Table.
#include <cstddef>
#include <cstdlib>

#include "common/enum_bits.hpp"
#include "common/dtype.hpp"
#include "capi/guard.hpp"
#include "common/checked_math.hpp"
#include "table/config.hpp"
#include "table/cos_sin.hpp"
#include "table/table.hpp"

using namespace rotor;

namespace {

// A caller's rotor_table_stats ends where one of its fields ends, as a rotor_config does: a size
// cutting a field in two would have the library write half a counter. Sizes past the
// library's struct (a newer header) are refused: the library cannot fill fields it lacks.
bool accepted_stats_size(uint32_t size) {
#define ROTOR_STATS_END(field) offsetof(rotor_table_stats, field) + sizeof(rotor_table_stats::field)
  constexpr size_t kEnds[] = {ROTOR_STATS_END(rows), ROTOR_STATS_END(max_len), ROTOR_STATS_END(reserved_0),
                              ROTOR_STATS_END(bytes_in_use), ROTOR_STATS_END(arena_bytes),
                              ROTOR_STATS_END(grow_events), ROTOR_STATS_END(rescale_events),
                              ROTOR_STATS_END(factor), ROTOR_STATS_END(attention_factor),
                              ROTOR_STATS_END(epoch), ROTOR_STATS_END(key_rerotations)};
#undef ROTOR_STATS_END
  static_assert(kEnds[sizeof kEnds / sizeof kEnds[0] - 1] == sizeof(rotor_table_stats),
                "every field of rotor_table_stats is listed");
  for (size_t end : kEnds)
    if (size == end) return true;
  return false;
}

}  // namespace

extern "C" {

ROTOR_API size_t rotor_table_arena_size(const rotor_config *cfg) {
  return guarded_value<size_t>(0, [&]() -> size_t {
    rotor_config full;
    if (read_config(cfg, &full) != ROTOR_OK) return 0;
    return Table::arena_size(full);
  });
}

ROTOR_API rotor_status rotor_table_init(rotor_table **out, const rotor_config *cfg, void *arena,
                                        size_t arena_size) {
  return guarded([&]() -> rotor_status {
    if (out == nullptr || arena == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    rotor_config full;
    rotor_status status = read_config(cfg, &full);
    if (status != ROTOR_OK) return status;
    if (!arena_aligned(arena)) return ROTOR_ERR_INVALID_ARGUMENT;
    const size_t needed = Table::arena_size(full);
    if (needed == 0) return ROTOR_ERR_OUT_OF_MEMORY;
    if (arena_size < needed) return ROTOR_ERR_OUT_OF_MEMORY;
    *out = as_handle(Table::construct(full, arena, arena_size, false));
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_table_create(rotor_table **out, const rotor_config *cfg) {
  return guarded([&]() -> rotor_status {
    if (out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    rotor_config full;
    rotor_status status = read_config(cfg, &full);
    if (status != ROTOR_OK) return status;
    const size_t needed = Table::arena_size(full);
    if (needed == 0) return ROTOR_ERR_OUT_OF_MEMORY;
    // aligned_alloc wants a multiple of the alignment; arena sizes already are one.
    void *arena = std::aligned_alloc(ROTOR_ARENA_ALIGNMENT, needed);
    if (arena == nullptr) return ROTOR_ERR_OUT_OF_MEMORY;
    *out = as_handle(Table::construct(full, arena, needed, true));
    return ROTOR_OK;
  });
}

ROTOR_API void rotor_table_destroy(rotor_table *t) {
  guarded_void([&] {
    if (t == nullptr) return;
    std::free(as_table(t)->teardown());
  });
}

ROTOR_API rotor_status rotor_table_reserve(rotor_table *t, uint32_t positions) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    if (positions > as_table(t)->max_len()) return ROTOR_ERR_OUT_OF_RANGE;
    as_table(t)->reserve(positions);
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_table_stats_get(const rotor_table *t, rotor_table_stats *out) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "t or out is NULL");
    if (!accepted_stats_size(out->struct_size))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "stats struct_size does not end at a field of rotor_table_stats");
    as_table(t)->stats(out);
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_table_set_event_callback(rotor_table *t, rotor_table_event_fn fn, void *user) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    as_table(t)->set_callback(fn, user);
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_table_cos_sin(rotor_table *t, uint32_t start, uint32_t count,
                                           rotor_dtype dtype, int duplicated, void *cos_out,
                                           void *sin_out) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || cos_out == nullptr || sin_out == nullptr || count == 0 || !valid_dtype(enum_bits(dtype)))
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    if (uint64_t{start} + count > table.max_len()) return ROTOR_ERR_OUT_OF_RANGE;
    write_cos_sin(table, start, count, dtype, duplicated != 0, cos_out, sin_out);
    return ROTOR_OK;
  });
}

}  // extern "C"
