/*
 * Fork-join over rows (parallel.h) on a persistent pool. A worker that finishes a part spins for
 * about as long as OpenBLAS's threads do after a GEMM (the loader sets 2^16 cycles), so that the
 * next kernel of a step finds it awake, then sleeps on a condition variable and costs nothing.
 */
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

typedef struct {
  void (*fn)(void *, int64_t, int64_t, int);
  void *ctx;
  int64_t begin, end;
  int part;
} part_job;

/* How long an idle worker and a waiting caller spin before they sleep or yield. */
#define SPIN_NANOSECONDS 30000

static int thread_count = 1;

int parallel_threads(void) { return thread_count; }

void parallel_set_threads(int threads) { thread_count = threads < 1 ? 1 : threads > PARALLEL_MAX_PARTS ? PARALLEL_MAX_PARTS : threads; }

static void run_part(const part_job *j) { j->fn(j->ctx, j->begin, j->end, j->part); }

/* One call at a time uses the pool; a call that finds it busy (another thread's, or a nested one)
 * runs its parts on its own thread, with the same cut and so the same results. */
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static part_job jobs[PARALLEL_MAX_PARTS];
static int workers; /* started so far: worker w runs part w (1 .. workers) */
/* A call's number (upper bits) and its part count (low 8 bits) in one word, published after
 * jobs[] is written: a worker reads both at once, so it never acts on one call's count with
 * another's jobs. 2^56 calls do not wrap. */
static _Atomic uint64_t call;
_Static_assert(PARALLEL_MAX_PARTS < 256, "a call's part count must fit its low 8 bits");
static atomic_int pending;  /* workers' parts of the current call not yet done */
static atomic_int sleepers; /* workers waiting on `wake` or about to */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static int64_t nanoseconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until *word differs from seen, for up to SPIN_NANOSECONDS; returns whether it did. */
static bool spin_until_changed(_Atomic uint64_t *word, uint64_t seen) {
  const int64_t until = nanoseconds() + SPIN_NANOSECONDS;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (atomic_load_explicit(word, memory_order_acquire) != seen) return true;
      cpu_relax();
    }
    if (nanoseconds() > until) return false;
  }
}

/* The call a worker starts after: the last one published before it was created, not whatever
 * `call` holds when the thread first runs (the call that started it may be published by then). */
static uint64_t first_seen[PARALLEL_MAX_PARTS];

static void *worker_main(void *arg) {
  const int w = (int)(intptr_t)arg;
  uint64_t seen = first_seen[w];
  for (;;) {
    if (!spin_until_changed(&call, seen)) {
      /* sleepers is raised before call is read again, and the caller publishes a call before it
       * reads sleepers (both sequentially consistent): one of them sees the other. */
      pthread_mutex_lock(&wake_lock);
      atomic_fetch_add(&sleepers, 1);
      while (atomic_load(&call) == seen) pthread_cond_wait(&wake, &wake_lock);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&wake_lock);
    }
    seen = atomic_load(&call);
    if (w < (int)(seen & 0xff)) {
      run_part(&jobs[w]);
      atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
    }
  }
  return NULL;
}

/* Starts workers up to `wanted` (parts 1 .. wanted); returns how many exist. */
static int start_workers(int wanted) {
  while (workers < wanted) {
    pthread_attr_t attr;
    pthread_t id;
    if (pthread_attr_init(&attr) != 0) break;
    first_seen[workers + 1] = atomic_load(&call);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int failed = pthread_create(&id, &attr, worker_main, (void *)(intptr_t)(workers + 1));
    pthread_attr_destroy(&attr);
    if (failed) break;
    workers++;
  }
  return workers;
}

static void wait_for_workers(void) {
  const int64_t until = nanoseconds() + SPIN_NANOSECONDS;
  int spins = 0;
  while (atomic_load_explicit(&pending, memory_order_acquire) > 0) {
    cpu_relax();
    /* A worker that lost its core (a loaded machine) gets it back sooner if the caller yields. */
    if (++spins % 64 == 0 && nanoseconds() > until) sched_yield();
  }
}

int parallel_rows(int64_t n, int threads, int64_t min_rows, void (*fn)(void *, int64_t, int64_t, int), void *ctx) {
  int64_t parts = threads < 1 ? 1 : threads > PARALLEL_MAX_PARTS ? PARALLEL_MAX_PARTS : threads;
  if (min_rows < 1) min_rows = 1;
  if (parts > n / min_rows) parts = n / min_rows > 1 ? n / min_rows : 1;
  part_job cut[PARALLEL_MAX_PARTS];
  for (int64_t p = 0; p < parts; p++) cut[p] = (part_job){fn, ctx, n * p / parts, n * (p + 1) / parts, (int)p};
  if (parts == 1 || pthread_mutex_trylock(&pool_busy) != 0) {
    for (int64_t p = 0; p < parts; p++) run_part(&cut[p]);
    return (int)parts;
  }
  /* Parts without a worker (one could not be started) run here after part 0. */
  const int started = start_workers((int)parts - 1);
  const int pooled = started + 1 < parts ? started + 1 : (int)parts;
  for (int p = 1; p < pooled; p++) jobs[p] = cut[p];
  atomic_store_explicit(&pending, pooled - 1, memory_order_relaxed);
  const uint64_t number = (atomic_load_explicit(&call, memory_order_relaxed) >> 8) + 1;
  atomic_store(&call, number << 8 | (uint64_t)pooled);
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&wake_lock);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
  }
  run_part(&cut[0]);
  for (int64_t p = pooled; p < parts; p++) run_part(&cut[p]);
  wait_for_workers();
  pthread_mutex_unlock(&pool_busy);
  return (int)parts;
}
