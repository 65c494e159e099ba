/* Fork-join over rows (parallel.h). */
#include "parallel.h"

#include <pthread.h>

typedef struct {
  void (*fn)(void *, int64_t, int64_t, int);
  void *ctx;
  int64_t begin, end;
  int part;
} part_job;

static int thread_count = 1;

int parallel_threads(void) { return thread_count; }

void parallel_set_threads(int threads) { thread_count = threads < 1 ? 1 : threads > PARALLEL_MAX_PARTS ? PARALLEL_MAX_PARTS : threads; }

static void *run_part(void *arg) {
  const part_job *j = arg;
  j->fn(j->ctx, j->begin, j->end, j->part);
  return NULL;
}

int parallel_rows(int64_t n, int threads, int64_t min_rows, void (*fn)(void *, int64_t, int64_t, int), void *ctx) {
  int64_t parts = threads < 1 ? 1 : threads > PARALLEL_MAX_PARTS ? PARALLEL_MAX_PARTS : threads;
  if (min_rows < 1) min_rows = 1;
  if (parts > n / min_rows) parts = n / min_rows > 1 ? n / min_rows : 1;
  part_job jobs[PARALLEL_MAX_PARTS];
  pthread_t ids[PARALLEL_MAX_PARTS];
  int started[PARALLEL_MAX_PARTS] = {0};
  for (int64_t p = 0; p < parts; p++)
    jobs[p] = (part_job){fn, ctx, n * p / parts, n * (p + 1) / parts, (int)p};
  for (int64_t p = 1; p < parts; p++) started[p] = pthread_create(&ids[p], NULL, run_part, &jobs[p]) == 0;
  run_part(&jobs[0]);
  for (int64_t p = 1; p < parts; p++) {
    if (started[p])
      pthread_join(ids[p], NULL);
    else
      run_part(&jobs[p]);
  }
  return (int)parts;
}
