// No C++ exception crosses the C ABI: std::mutex::lock throws std::system_error when
// pthread_mutex_lock fails (EAGAIN, EINVAL, EDEADLK), and an exception leaving an extern "C"
// function would terminate the caller's process. This program defines pthread_mutex_lock itself
// (the executable exports it, as tests/runtime/test_pool_thread_failure.cpp does for
// pthread_create), makes it fail on demand, and checks that each entry point that locks on the
// calling thread returns ROTOR_ERR_INTERNAL with a reason, changes nothing, and works again once
// the lock does.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "rotor/rotor.h"
#include "support/program_checks.hpp"

namespace {
// Locks fail only on the thread that calls the library: a pool's workers have no caller to
// return a status to (their failure would terminate, the documented limit), and they may be
// taking their own locks at any moment (starting up, going back to sleep).
std::atomic<bool> g_fail_locks{false};
pthread_t g_caller;
std::atomic<int> g_refused{0};
using LockFn = int (*)(pthread_mutex_t *);
}  // namespace

extern "C" int pthread_mutex_lock(pthread_mutex_t *mutex) {
  static const LockFn real = reinterpret_cast<LockFn>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
  if (g_fail_locks.load() && pthread_equal(pthread_self(), g_caller)) {
    g_refused.fetch_add(1);
    return EAGAIN;
  }
  return real(mutex);
}

int main() {
  g_caller = pthread_self();
  rotor_test::ProgramChecks check;

  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  cfg.initial_len = 16;
  cfg.max_len = 4096;
  rotor_table *table = nullptr;
  check(rotor_table_create(&table, &cfg) == ROTOR_OK, "table");
  rotor_table_stats before{};
  before.struct_size = sizeof before;
  check(rotor_table_stats_get(table, &before) == ROTOR_OK, "stats");

  // Growth takes the table's growth lock on the calling thread.
  g_fail_locks.store(true);
  const rotor_status reserved = rotor_table_reserve(table, 1024);
  g_fail_locks.store(false);
  check(g_refused.load() > 0, "the program's pthread_mutex_lock was reached");
  check(reserved == ROTOR_ERR_INTERNAL, "a failing lock is ROTOR_ERR_INTERNAL, not an exception");
  check(std::strstr(rotor_last_error_message(), "system primitive") != nullptr, "with its reason");
  rotor_table_stats after{};
  after.struct_size = sizeof after;
  check(rotor_table_stats_get(table, &after) == ROTOR_OK && after.rows == before.rows, "no row was added");

  // An apply that needs new rows: the same, and the tensor is untouched.
  static float x[64];
  for (float &v : x) v = 1.0f;
  const rotor_tensor view = rotor_tensor_bshd(x, ROTOR_DTYPE_F32, 1, 1, 1, 64);
  g_fail_locks.store(true);
  const rotor_status applied = rotor_apply(table, &view, nullptr, 2000, ROTOR_FORWARD, nullptr);
  g_fail_locks.store(false);
  check(applied == ROTOR_ERR_INTERNAL, "apply with a failing growth lock is ROTOR_ERR_INTERNAL");
  bool untouched = true;
  for (float v : x) untouched &= v == 1.0f;
  check(untouched, "the tensor is unchanged");

  // A pool serialises its calls with a mutex taken on the calling thread.
  rotor_pool *pool = nullptr;
  check(rotor_pool_create(&pool, 2) == ROTOR_OK, "pool");
  static float big[256 * 4 * 64];
  const rotor_tensor wide = rotor_tensor_bshd(big, ROTOR_DTYPE_F32, 1, 256, 4, 64);
  g_fail_locks.store(true);
  const rotor_status pooled = rotor_apply(table, &wide, nullptr, 0, ROTOR_FORWARD, pool);
  g_fail_locks.store(false);
  check(pooled == ROTOR_ERR_INTERNAL || pooled == ROTOR_OK, "a pooled apply returns a status");

  // Afterwards everything works.
  check(rotor_table_reserve(table, 1024) == ROTOR_OK, "reserve after the failures");
  check(rotor_apply(table, &view, nullptr, 2000, ROTOR_FORWARD, nullptr) == ROTOR_OK, "apply after");
  check(rotor_apply(table, &wide, nullptr, 0, ROTOR_FORWARD, pool) == ROTOR_OK, "pooled apply after");
  check(rotor_last_error_message()[0] == '\0', "a successful call clears the reason");
  rotor_pool_destroy(pool);
  rotor_table_destroy(table);

  return check.finish("entry points with a failing pthread_mutex_lock");
}
