// rotor_pool_create when the OS refuses a thread (RLIMIT_NPROC on a small board, a container's
// pids limit): it must return ROTOR_ERR_OUT_OF_MEMORY, leave *out alone, and neither crash nor
// leak the threads that did start. This program defines pthread_create itself, so that
// libstdc++'s std::thread reaches it first (the executable exports it: ENABLE_EXPORTS), and
// fails the N-th start on demand; every other start goes to the real one (dlsym RTLD_NEXT).
// Run under the sanitizer stage too, where ASan would report the double destruction the pool
// once did (a heap-use-after-free on its worker vector) and LeakSanitizer a leaked pool.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "rotor/rotor.h"
#include "support/program_checks.hpp"

namespace {
// Starts allowed before the next one fails; negative: never fail.
std::atomic<int> g_starts_before_failure{-1};
std::atomic<int> g_started{0};

using CreateFn = int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
}  // namespace

extern "C" int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
  static const CreateFn real = reinterpret_cast<CreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
  const int allowed = g_starts_before_failure.load();
  if (allowed >= 0 && g_started.load() >= allowed) return EAGAIN;
  const int result = real(thread, attr, start, arg);
  if (result == 0) g_started.fetch_add(1);
  return result;
}

int main() {
  rotor_test::ProgramChecks check;

  // The seam works: with no failure requested, a pool of 4 starts 3 workers.
  rotor_pool *pool = nullptr;
  check(rotor_pool_create(&pool, 4) == ROTOR_OK && pool != nullptr, "a pool of 4 is created");
  check(g_started.load() == 3, "the program's pthread_create saw the 3 worker starts");
  rotor_pool_destroy(pool);

  // Every point of failure: the first worker, a middle one, the last one.
  for (int allowed = 0; allowed < 7; ++allowed) {
    g_started.store(0);
    g_starts_before_failure.store(allowed);
    rotor_pool *untouched = reinterpret_cast<rotor_pool *>(0x1);
    const rotor_status status = rotor_pool_create(&untouched, 8);
    g_starts_before_failure.store(-1);
    check(status == ROTOR_ERR_OUT_OF_MEMORY, "a failed thread start is OUT_OF_MEMORY");
    check(untouched == reinterpret_cast<rotor_pool *>(0x1), "*out is left as it was");
    check(g_started.load() == allowed, "exactly the allowed workers started (and were joined)");
  }

  // Afterwards the library works as before: a pool runs a parallel apply.
  g_started.store(0);
  check(rotor_pool_create(&pool, 2) == ROTOR_OK, "a pool is created after the failures");
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  rotor_table *table = nullptr;
  check(rotor_table_create(&table, &cfg) == ROTOR_OK, "table");
  static float q[512 * 4 * 64];
  for (unsigned i = 0; i < sizeof q / sizeof q[0]; ++i) q[i] = float(i % 97) / 97.0f;
  const rotor_tensor view = rotor_tensor_bshd(q, ROTOR_DTYPE_F32, 1, 512, 4, 64);
  check(rotor_apply(table, &view, nullptr, 0, ROTOR_FORWARD, pool) == ROTOR_OK, "apply on the pool");
  rotor_table_destroy(table);
  rotor_pool_destroy(pool);

  return check.finish("pool creation with failing thread starts");
}
