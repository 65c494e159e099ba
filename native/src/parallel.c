/*
 * Fork-join over rows (parallel.h) on a persistent pool. A worker that finishes a part spins for
 * about as long as OpenBLAS's threads do after a GEMM (the loader sets 2^16 cycles), so that the
 * next kernel of a step finds it awake, then sleeps on a condition variable and costs nothing.
 * The addon is linked with -z nodelete: the workers outlive every call, so the code they run must
 * stay mapped when a worker_threads Worker that loaded the addon ends.
 */
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  void (*fn)(void *, int64_t, int64_t, int);
  void *ctx;
  int64_t begin, end;
  int part;
} part_job;

/* How long an idle worker spins before it sleeps, and how long a caller spins for its workers'
 * parts before it sleeps. Their parts take about as long as its own, so a caller that slept
 * sooner would often pay a wake-up (about 20 µs: GELU over 589,824 floats took 357-392 µs with
 * a 30 µs spin, 320-322 with this one); past 200 µs a worker has lost its core to another process. */
#define SPIN_NANOSECONDS 30000
#define CALLER_SPIN_NANOSECONDS 200000

/* CAMMSR_POOL_SPIN=0 (read when the first worker starts) makes workers and callers sleep after
 * 64 pauses instead of spinning: the tests run the sleeping paths on most calls with it. */
static int64_t worker_spin = SPIN_NANOSECONDS, caller_spin = CALLER_SPIN_NANOSECONDS;

static atomic_int thread_count = 1;
/* A worker could not be started: later calls run those parts on the caller until setThreads. */
static atomic_bool start_failed;

int parallel_threads(void) { return atomic_load_explicit(&thread_count, memory_order_relaxed); }

void parallel_set_threads(int threads) {
  const int n = threads < 1 ? 1 : threads > PARALLEL_MAX_PARTS ? PARALLEL_MAX_PARTS : threads;
  atomic_store_explicit(&thread_count, n, memory_order_relaxed);
  atomic_store(&start_failed, false);
}

static void run_part(const part_job *j) { j->fn(j->ctx, j->begin, j->end, j->part); }

/* One call at a time uses the pool; a call that finds it busy (another thread's, or a nested one)
 * runs its parts on its own thread, with the same cut and so the same results. */
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;
static part_job jobs[PARALLEL_MAX_PARTS];
static atomic_int workers; /* started so far: worker w runs part w (1 .. workers) */
/* A call's number (upper bits) and its part count (low 8 bits) in one word, published after
 * jobs[] is written: a worker reads both at once, so it never acts on one call's count with
 * another's jobs. 2^56 calls do not wrap. */
static _Atomic uint64_t call;
_Static_assert(PARALLEL_MAX_PARTS < 256, "a call's part count must fit its low 8 bits");
static atomic_int pending; /* workers' parts of the current call not yet done */

/* A sleeping worker w waits on wake[w], so that a call wakes only the workers it asks for parts;
 * a caller whose workers are slow waits on `done`. Each side raises its flag before it reads the
 * other side's word, and the other side writes its word before it reads the flag (all
 * sequentially consistent): one of the two sees the other. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER, done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake[PARALLEL_MAX_PARTS], done = PTHREAD_COND_INITIALIZER;
static atomic_bool asleep[PARALLEL_MAX_PARTS]; /* worker w waits on wake[w] or is about to */
static atomic_bool caller_waiting;             /* the caller waits on `done` or is about to */

int parallel_workers(void) { return atomic_load(&workers); }

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

/* Whether the published call c asks worker w for a part, and is not the call it ran last. */
static inline bool asks(uint64_t c, uint64_t last, int w) { return (c >> 8) != (last >> 8) && w < (int)(c & 0xff); }

/* Spins for up to SPIN_NANOSECONDS until a call asks worker w for a part; returns the call or 0. */
static uint64_t spin_for_call(uint64_t last, int w) {
  const int64_t until = nanoseconds() + worker_spin;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      const uint64_t c = atomic_load(&call);
      if (asks(c, last, w)) return c;
      cpu_relax();
    }
    if (nanoseconds() > until) return 0;
  }
}

/* The call a worker starts after: the last one published before it was created, not whatever
 * `call` holds when the thread first runs (the call that started it may be published by then). */
static uint64_t first_seen[PARALLEL_MAX_PARTS];

static void *worker_main(void *arg) {
  const int w = (int)(intptr_t)arg;
  uint64_t last = first_seen[w];
  for (;;) {
    uint64_t c = spin_for_call(last, w);
    if (c == 0) {
      pthread_mutex_lock(&wake_lock);
      atomic_store(&asleep[w], true);
      while (!asks(c = atomic_load(&call), last, w)) pthread_cond_wait(&wake[w], &wake_lock);
      atomic_store(&asleep[w], false);
      pthread_mutex_unlock(&wake_lock);
    }
    /* A call that asks for part w cannot end before it is done: jobs[w] is this call's. */
    run_part(&jobs[w]);
    last = c;
    if (atomic_fetch_sub(&pending, 1) == 1 && atomic_load(&caller_waiting)) {
      pthread_mutex_lock(&done_lock);
      pthread_cond_signal(&done);
      pthread_mutex_unlock(&done_lock);
    }
  }
  return NULL;
}

/* Starts workers up to `wanted` (parts 1 .. wanted); returns how many exist. */
static int start_workers(int wanted) {
  if (atomic_load(&workers) == 0) {
    const char *spin = getenv("CAMMSR_POOL_SPIN");
    if (spin && strcmp(spin, "0") == 0) worker_spin = caller_spin = 0;
  }
  while (atomic_load(&workers) < wanted && !atomic_load(&start_failed)) {
    const int w = atomic_load(&workers) + 1;
    pthread_attr_t attr;
    pthread_t id;
    bool started = false;
    if (pthread_cond_init(&wake[w], NULL) == 0 && pthread_attr_init(&attr) == 0) {
      first_seen[w] = atomic_load(&call);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      started = pthread_create(&id, &attr, worker_main, (void *)(intptr_t)w) == 0;
      pthread_attr_destroy(&attr);
    }
    if (!started) atomic_store(&start_failed, true);
    else atomic_store(&workers, w);
  }
  return atomic_load(&workers);
}

static void wait_for_workers(void) {
  const int64_t until = nanoseconds() + caller_spin;
  for (int spins = 1; atomic_load(&pending) > 0; spins++) {
    cpu_relax();
    if (spins % 64 == 0 && nanoseconds() > until) {
      /* A worker that lost its core (a loaded machine): sleep until the last part is done. */
      pthread_mutex_lock(&done_lock);
      atomic_store(&caller_waiting, true);
      while (atomic_load(&pending) > 0) pthread_cond_wait(&done, &done_lock);
      atomic_store(&caller_waiting, false);
      pthread_mutex_unlock(&done_lock);
      return;
    }
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
  atomic_store(&pending, pooled - 1);
  const uint64_t number = (atomic_load(&call) >> 8) + 1;
  atomic_store(&call, number << 8 | (uint64_t)pooled);
  bool locked = false;
  for (int w = 1; w < pooled; w++)
    if (atomic_load(&asleep[w])) {
      if (!locked) pthread_mutex_lock(&wake_lock);
      locked = true;
      pthread_cond_signal(&wake[w]);
    }
  if (locked) pthread_mutex_unlock(&wake_lock);
  run_part(&cut[0]);
  for (int64_t p = pooled; p < parts; p++) run_part(&cut[p]);
  wait_for_workers();
  pthread_mutex_unlock(&pool_busy);
  return (int)parts;
}
