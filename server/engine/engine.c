/* The completion port, its worker threads, and the stop procedure.
 *
 * Threads: main (or the service) calls new/listen/stop; `worker_count`
 * workers block in GetQueuedCompletionStatusEx and dispatch each completed
 * op to its owner by op kind (accept -> listener.c, recv/send -> conn.c,
 * datagrams -> udp.c). Any worker may run any completion from the port; a
 * worker's state of its own (ps_worker, engine.h) is its deferred queue
 * (inline results it put off for fairness and runs on its next pass) and
 * its share of the per-message counters, which the snapshots sum; only its
 * own thread writes either. */
#define PS_ENGINE_INTERNAL
#include "engine.h"

#include <bcrypt.h>
#include <psapi.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bound.h"
#include "conn.h"
#include "listener.h"
#include "ps_log.h"
#include "ntstatus.h"
#include "udp.h"
#include "wsx.h"

/* Completions dequeued per GetQueuedCompletionStatusEx call. */
#define PS_BATCH 64
/* Free I/O buffers the pool keeps for reuse. */
#define PS_POOL_MAX_FREE 1024
/* After the drain deadline, how long the reset connections and the aborted
 * accepts get to complete before stop gives up waiting and reports a leak. */
#define PS_FINAL_WAIT_MS 30000
/* Addresses the per-source table holds without a connection limit (1.3 MiB). */
#define PS_ENGINE_SOURCES_UNLIMITED 65536

void ps_engine_config_default(ps_engine_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->threads = PS_ENGINE_DEFAULT_THREADS;
  cfg->accepts = PS_ENGINE_DEFAULT_ACCEPTS;
  cfg->buffer_size = PS_ENGINE_DEFAULT_BUFFER_SIZE;
  cfg->send_queue_max = PS_ENGINE_DEFAULT_SEND_QUEUE_MAX;
  cfg->drain_timeout_ms = PS_ENGINE_DEFAULT_DRAIN_TIMEOUT_MS;
  cfg->inline_max = PS_ENGINE_DEFAULT_INLINE_MAX;
  cfg->skip_on_success = 1;
  cfg->accept_data = 1;
  cfg->burst_reads = 1;
  cfg->udp_receives = PS_ENGINE_DEFAULT_UDP_RECEIVES;
  cfg->idle_timeout_ms = PS_ENGINE_DEFAULT_IDLE_TIMEOUT_MS;
  cfg->linger_timeout_ms = PS_ENGINE_DEFAULT_LINGER_TIMEOUT_MS;
  cfg->send_timeout_ms = PS_ENGINE_DEFAULT_SEND_TIMEOUT_MS;
  cfg->keepalive_ms = PS_ENGINE_DEFAULT_KEEPALIVE_MS;
  /* A library engine retries no bind unless asked: how long to wait for a
   * port is the program's policy (portserve's depends on its command). */
  cfg->bind_retry_ms = 0;
  cfg->retry_limit_ms = PS_ENGINE_DEFAULT_RETRY_LIMIT_MS;
  cfg->warn_interval_ms = PS_ENGINE_DEFAULT_WARN_INTERVAL_MS;
  cfg->udp_reply_rate = PS_ENGINE_DEFAULT_UDP_REPLY_RATE;
  cfg->udp_reply_burst = PS_ENGINE_DEFAULT_UDP_REPLY_BURST;
  cfg->udp_reply_rate_total = PS_ENGINE_DEFAULT_UDP_REPLY_RATE_TOTAL;
  cfg->udp_reply_sources = PS_ENGINE_DEFAULT_UDP_REPLY_SOURCES;
  cfg->sweep_ms = PS_ENGINE_DEFAULT_SWEEP_MS;
  cfg->source_prefix_v4 = PS_ENGINE_DEFAULT_SOURCE_PREFIX_V4;
  cfg->source_prefix_v6 = PS_ENGINE_DEFAULT_SOURCE_PREFIX_V6;
  cfg->proxy_timeout_ms = PS_ENGINE_DEFAULT_PROXY_TIMEOUT_MS;
}

/* Fields where 0 cannot work take the default instead (a caller that
 * zeroed the struct rather than starting from ps_engine_config_default). */
static void engine__fill_zeros(ps_engine_config *c) {
  ps_engine_config d;
  ps_engine_config_default(&d);
  if (c->inline_max == 0) c->inline_max = d.inline_max;
  if (c->accepts == 0) c->accepts = d.accepts;
  if (c->buffer_size == 0) c->buffer_size = d.buffer_size;
  if (c->udp_receives == 0) c->udp_receives = d.udp_receives;
  if (c->sweep_ms == 0) c->sweep_ms = d.sweep_ms;
  if (c->warn_interval_ms == 0) c->warn_interval_ms = d.warn_interval_ms;
  if (c->retry_limit_ms == 0) c->retry_limit_ms = d.retry_limit_ms; /* 0 would give up at the second failure */
  if (c->udp_reply_sources == 0) c->udp_reply_sources = d.udp_reply_sources;
  if (c->source_prefix_v4 == 0 || c->source_prefix_v4 > 32) c->source_prefix_v4 = d.source_prefix_v4;
  if (c->source_prefix_v6 == 0 || c->source_prefix_v6 > 128) c->source_prefix_v6 = d.source_prefix_v6;
  if (c->proxy_timeout_ms == 0) c->proxy_timeout_ms = d.proxy_timeout_ms;
}

/* The reply table's locks: one SRW lock per set and one for the global
 * bucket (common/ratelimit.h). Datagram callbacks for different sources run
 * in parallel on the workers and meet only when their sources share a set. */
static void engine__reply_lock(void *ctx, size_t i) { AcquireSRWLockExclusive(&((SRWLOCK *)ctx)[i]); }
static void engine__reply_unlock(void *ctx, size_t i) { ReleaseSRWLockExclusive(&((SRWLOCK *)ctx)[i]); }

static void engine__reply_limit_close(ps_engine *e) {
  ps_ratelimit_close(&e->reply_limit);
  free(e->reply_locks);
  e->reply_locks = NULL;
}

/* A secret key for the per-source tables' SipHash, from the system's
 * generator. Should that fail, the old mix (not secret, only unknown from
 * outside) is still better than a fixed key. */
static void engine__hash_key(ps_engine *e, ps_siphash_key *key) {
  LARGE_INTEGER qpc;
  uint64_t mix;
  int i;
  if (BCRYPT_SUCCESS(BCryptGenRandom(NULL, key->bytes, (ULONG)sizeof(key->bytes), BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
    return;
  QueryPerformanceCounter(&qpc);
  mix = (uint64_t)qpc.QuadPart ^ ((uint64_t)(uintptr_t)e << 17) ^ GetTickCount64();
  for (i = 0; i < PS_SIPHASH_KEY_SIZE; i++) {
    mix = mix * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    key->bytes[i] = (uint8_t)(mix >> 56);
  }
}

static int engine__reply_limit_init(ps_engine *e) {
  ps_ratelimit_config rc;
  ps_ratelimit_locks locks;
  size_t i, n;
  memset(&rc, 0, sizeof(rc));
  rc.rate = e->cfg.udp_reply_rate;
  rc.burst = e->cfg.udp_reply_burst;
  rc.rate_total = e->cfg.udp_reply_rate_total;
  rc.sources = e->cfg.udp_reply_sources;
  engine__hash_key(e, &rc.hash_key);
  n = ps_ratelimit_lock_count_for(&rc);
  e->reply_locks = (SRWLOCK *)calloc(n, sizeof(SRWLOCK));
  if (e->reply_locks == NULL) return ERROR_NOT_ENOUGH_MEMORY;
  for (i = 0; i < n; i++) InitializeSRWLock(&e->reply_locks[i]);
  locks.lock = engine__reply_lock;
  locks.unlock = engine__reply_unlock;
  locks.ctx = e->reply_locks;
  if (ps_ratelimit_init(&e->reply_limit, &rc, &locks) != 0) {
    free(e->reply_locks);
    e->reply_locks = NULL;
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  return 0;
}

void ps_engine__signal(ps_engine *e) { WakeAllConditionVariable(&e->changed); }

void ps_engine__wake(ps_engine *e) {
  HANDLE h = e->housekeeper_wake;
  if (h != NULL) SetEvent(h);
}

int ps_engine__admit(ps_engine *e, const ps_handler *h) {
  LONG64 n;
  if (h->flags & PS_HANDLER_MANAGEMENT) return 1; /* its own allowance, taken at accept (conn.c) */
  n = InterlockedIncrement64(&e->stat[PS_STAT_admitted]);
  if (e->cfg.max_connections != 0 && n > (LONG64)e->cfg.max_connections) {
    InterlockedDecrement64(&e->stat[PS_STAT_admitted]);
    return 0;
  }
  return 1;
}

void ps_engine__unadmit(ps_engine *e, const ps_handler *h, int resume) {
  if (h->flags & PS_HANDLER_MANAGEMENT) return;
  /* Interlocked operations are full barriers: a listener that raised
   * accepts_held before looking for a token again either sees this token
   * or is seen here (listener__post, listener.c). */
  InterlockedDecrement64(&e->stat[PS_STAT_admitted]);
  if (resume && InterlockedCompareExchange64(&e->stat[PS_STAT_accepts_held], 0, 0) > 0) ps_listener_resume(e);
}

unsigned ps_retry_backoff(unsigned prev) {
  if (prev == 0) return PS_RETRY_FIRST_MS;
  return prev >= PS_RETRY_MAX_MS / 2 ? PS_RETRY_MAX_MS : prev * 2;
}

int ps_retry_schedule(ps_retry *r, ULONGLONG now) {
  if (r->at != 0) return 0;
  r->backoff_ms = ps_retry_backoff(r->backoff_ms);
  r->at = now + r->backoff_ms;
  return 1;
}

int ps_retry_take(ps_retry *r, ULONGLONG now) {
  if (r->at == 0 || now < r->at) return 0;
  r->at = 0;
  return 1;
}

void ps_retry_reset(ps_retry *r) { r->backoff_ms = 0; }

void ps_retry_earliest(const ps_retry *r, ULONGLONG *next) {
  if (r->at != 0 && (*next == 0 || r->at < *next)) *next = r->at;
}

int ps_err_is_resource(unsigned long err) {
  /* WSAEWOULDBLOCK from an overlapped WSASend/WSARecv means "too many
   * outstanding overlapped I/O requests", WSAENOBUFS "no buffer space"
   * (the WSASend and WSARecv pages); the others are memory, handles and
   * quota running out. None says anything about the peer. */
  return err == WSAENOBUFS || err == WSAEWOULDBLOCK || err == WSAEMFILE || err == ERROR_NOT_ENOUGH_MEMORY ||
         err == ERROR_NO_SYSTEM_RESOURCES || err == ERROR_OUTOFMEMORY || err == ERROR_NOT_ENOUGH_QUOTA;
}

void ps_faults_arm(ps_faults *f, ps_fault_site site, long nth, long count, unsigned long error) {
  ps_fault *s = &f->site[site];
  InterlockedExchange(&s->nth, 0);
  s->error = error;
  InterlockedExchange(&s->count, count);
  InterlockedExchange(&s->calls, 0);
  InterlockedExchange(&s->fired, 0);
  InterlockedExchange(&s->nth, nth); /* last: armed once everything else is set */
}

long ps_faults_disarm(ps_faults *f, ps_fault_site site) {
  InterlockedExchange(&f->site[site].nth, 0);
  return f->site[site].fired;
}

unsigned long ps_fault_hit(ps_faults *f, ps_fault_site site) {
  ps_fault *s;
  long k, nth, count;
  if (f == NULL) return 0;
  s = &f->site[site];
  nth = s->nth;
  if (nth == 0) return 0;
  count = s->count;
  k = InterlockedIncrement(&s->calls);
  if (k < nth || (count >= 0 && k >= nth + count)) return 0;
  InterlockedIncrement(&s->fired);
  return s->error;
}

void ps_worker_defer(ps_worker *w, ps_op *op, DWORD bytes) {
  op->bytes = bytes;
  op->next = NULL;
  if (w->tail != NULL) w->tail->next = op;
  else w->head = op;
  w->tail = op;
  w->count++;
}

int ps_worker_may_queue(const ps_worker *w) {
  const ps_engine *e = w->eng;
  unsigned i;
  for (i = 0; i < e->worker_count; i++) {
    const ps_worker *other = &e->worker_state[i];
    if (other != w && (LONG)w->count > other->owned) return 0;
  }
  return 1;
}

/* Hands one completion (from the port or from the deferred queue) to the
 * op's owner. */
static void engine__dispatch(ps_worker *w, ps_op *op, DWORD bytes, DWORD err, unsigned budget) {
  switch (op->kind) {
    case PS_OP_ACCEPT:
      ps_listener_on_completion(op, bytes, err, w);
      break;
    case PS_OP_RECV:
    case PS_OP_SEND:
      ps_conn_on_completion(op, bytes, err, w, budget);
      break;
    case PS_OP_UDP_RECV:
    case PS_OP_UDP_SEND:
      ps_udp_on_completion(op, bytes, err, w, budget);
      break;
  }
}

/* A worker's pass: take the results it deferred last pass, dequeue what
 * the port holds (without waiting if there are deferred results: they are
 * work to do now), handle the port's completions first and then the
 * deferred ones. Results deferred during this pass wait for the next, so
 * every connection gets a turn per pass (docs/design.md, "Inline
 * completions"); nothing is posted to the port for fairness. */
static DWORD WINAPI engine__worker(LPVOID arg) {
  ps_worker *w = (ps_worker *)arg;
  ps_engine *e = w->eng;
  OVERLAPPED_ENTRY entries[PS_BATCH];
  for (;;) {
    ps_op *queued = w->head, *op;
    ULONG count = 0, i;
    unsigned quits = 0, budget, work;
    DWORD wait = queued != NULL ? 0 : INFINITE;
    work = w->count;
    w->owned = (LONG)work;
    w->head = w->tail = NULL;
    w->count = 0;
    if (!GetQueuedCompletionStatusEx(e->port, entries, PS_BATCH, &count, wait, FALSE)) {
      char msg[160];
      DWORD gle = GetLastError();
      /* An infinite wait fails only on a closed port, which is closed
       * after the workers are joined: a bug we cannot run past. A poll
       * (wait 0) fails with WAIT_TIMEOUT when the port is empty. */
      if (wait == INFINITE || gle != WAIT_TIMEOUT) {
        ps_log(PS_LOG_ERROR, "fatal: GetQueuedCompletionStatusEx failed: %s", ps_errstr(gle, msg, sizeof(msg)));
        abort();
      }
      count = 0;
    }
    /* Inline budget per completion: the whole cfg.inline_max when this one
     * is all there is to do; shared out when others are waiting (conn.c). */
    work += (unsigned)count;
    budget = work > 0 ? e->cfg.inline_max / work : e->cfg.inline_max;
    if (budget == 0) budget = 1;
    for (i = 0; i < count; i++) {
      ULONG_PTR key = entries[i].lpCompletionKey;
      if (key == PS_KEY_QUIT) {
        quits++;
        continue;
      }
      op = (ps_op *)(void *)entries[i].lpOverlapped;
      engine__dispatch(w, op, entries[i].dwNumberOfBytesTransferred,
                       key == PS_KEY_DEFERRED ? 0 : ps_op_error(&op->ov, op->non_ifs), budget);
    }
    while (queued != NULL) {
      op = queued;
      queued = op->next;
      engine__dispatch(w, op, op->bytes, 0, budget);
    }
    if (quits > 0) {
      /* Quit packets come after every connection ended (ps_engine_stop),
       * so nothing can be deferred any more. */
      if (w->head != NULL) {
        ps_log(PS_LOG_ERROR, "fatal: a worker was told to quit with %u deferred completion(s)", w->count);
        abort();
      }
      /* One quit packet per worker; hand extras dequeued in this batch on. */
      while (--quits > 0) PostQueuedCompletionStatus(e->port, 0, PS_KEY_QUIT, NULL);
      /* Only this thread ever used it (conn.c's burst reads). */
      if (w->burst != NULL) {
        free(w->burst);
        w->burst = NULL;
        InterlockedDecrement64(&e->stat[PS_STAT_burst_buffers_live]);
      }
      return 0;
    }
  }
}

/* The engine's one timer: periodic work that belongs to no completion.
 * Every cfg.sweep_ms (a second) ps_conn_sweep checks each connection's
 * deadlines (idle, linger, send stall). Its cost grows with the
 * number of connections, not with time: docs/design.md has the figure.
 * Between sweeps it wakes for the retries of failed posts (accepts, UDP
 * receives, connection posts) when they are due: whoever schedules one
 * sets housekeeper_wake, so a 100 ms backoff is not rounded up to a sweep.
 * While the engine stops it keeps retrying (a connection draining may wait
 * on one) but no longer sweeps: stop closes everything itself. */
/* Runs the retries that are due; the GetTickCount64 of the next one, or 0. */
static ULONGLONG engine__retry(ps_engine *e, ULONGLONG now) {
  ULONGLONG due[3], next = 0;
  unsigned i;
  due[0] = ps_listener_retry(e, now);
  due[1] = ps_udp_retry(e, now);
  due[2] = ps_conn_retry(e, now);
  for (i = 0; i < 3; i++)
    if (due[i] != 0 && (next == 0 || due[i] < next)) next = due[i];
  return next;
}

static DWORD WINAPI engine__housekeeper(LPVOID arg) {
  ps_engine *e = (ps_engine *)arg;
  DWORD period = e->cfg.sweep_ms;
  ULONGLONG now = GetTickCount64(), next_sweep = now + period, next_retry = 0;
  HANDLE events[2];
  LARGE_INTEGER freq, t0, t1;
  events[0] = e->housekeeper_stop;
  events[1] = e->housekeeper_wake;
  QueryPerformanceFrequency(&freq);
  for (;;) {
    ULONGLONG due = next_retry != 0 && next_retry < next_sweep ? next_retry : next_sweep;
    int stopping;
    unsigned i;
    if (WaitForMultipleObjects(2, events, FALSE, due > now ? (DWORD)(due - now) : 0) == WAIT_OBJECT_0) break;
    now = GetTickCount64();
    next_retry = engine__retry(e, now);
    if (now < next_sweep) continue;
    next_sweep = now + period;
    AcquireSRWLockShared(&e->lock);
    stopping = e->stopping;
    ReleaseSRWLockShared(&e->lock);
    if (!stopping) {
      LONG64 us;
      QueryPerformanceCounter(&t0);
      ps_conn_sweep(e, now);
      ps_listener_sweep(e, now);
      QueryPerformanceCounter(&t1);
      us = (LONG64)((t1.QuadPart - t0.QuadPart) * 1000000 / freq.QuadPart);
      if (us > e->stat[PS_STAT_sweep_us_max]) e->stat[PS_STAT_sweep_us_max] = us; /* only this thread writes it */
    }
    for (i = 0; i < PS_WARN_COUNT; i++) ps_log_limit_flush(&e->warn[i], PS_LOG_WARN);
  }
  return 0;
}

/* Addresses the per-source table holds for a connection limit: every
 * address in it has an open connection, so with a limit it never needs
 * more than that (65,536 without one). */
static size_t engine__sources_for(unsigned max_connections) {
  return max_connections != 0 ? max_connections : PS_ENGINE_SOURCES_UNLIMITED;
}

/* A raised or lifted connection limit: the per-source table grows to match,
 * or more distinct addresses than the old limit would be refused as "table
 * full". The bigger table is made outside the lock; the counts of the open
 * connections move into it under the lock the accept path takes
 * (conn.c), so every release finds its count. It never shrinks: a lowered
 * limit leaves room to spare. */
static void engine__grow_sources(ps_engine *e, unsigned max_connections) {
  size_t want = engine__sources_for(max_connections);
  ps_connlimit bigger, old;
  int moved;
  if (e->src_limit.entries == NULL || want <= e->src_limit.sources) return;
  if (ps_connlimit_init(&bigger, e->src_limit.limit, want, &e->src_limit.hash_key) != 0) {
    ps_log(PS_LOG_WARN,
           "the per-source connection table stays sized for %u addresses (no memory for %u): more distinct "
           "addresses at once are refused",
           (unsigned)e->src_limit.sources, (unsigned)want);
    return;
  }
  AcquireSRWLockExclusive(&e->src_lock);
  moved = ps_connlimit_move(&bigger, &e->src_limit);
  old = e->src_limit;
  if (moved == 0) e->src_limit = bigger;
  ReleaseSRWLockExclusive(&e->src_lock);
  ps_connlimit_close(moved == 0 ? &old : &bigger);
}

/* Logs which call made ps_engine_new fail; returns err. */
static int engine__new_failed(const char *call, int err) {
  char msg[160];
  ps_log(PS_LOG_ERROR, "starting the engine: %s failed: %s", call, ps_errstr((unsigned long)err, msg, sizeof(msg)));
  return err;
}

int ps_engine_new(const ps_engine_config *cfg, ps_engine **out) {
  ps_engine *e;
  SYSTEM_INFO si;
  unsigned i;
  int err = ps_wsx_startup();
  *out = NULL;
  if (err != 0) return engine__new_failed("WSAStartup", err);
  e = (ps_engine *)calloc(1, sizeof(*e));
  if (e == NULL) return engine__new_failed("allocating the engine", ERROR_NOT_ENOUGH_MEMORY);
  e->cfg = *cfg;
  engine__fill_zeros(&e->cfg);
  GetSystemInfo(&si);
  e->worker_count = cfg->threads ? cfg->threads : si.dwNumberOfProcessors;
  if (e->worker_count == 0) e->worker_count = 1;
  InitializeSRWLock(&e->lock);
  InitializeConditionVariable(&e->changed);
  InitializeSRWLock(&e->src_lock);
  InitializeSRWLock(&e->stats_lock);
  InitializeSRWLock(&e->retry_lock);
  ps_bufpool_init(&e->pool, e->cfg.buffer_size, PS_POOL_MAX_FREE, e->cfg.faults);
  ps_bufpool_init(&e->spool, PS_SMALL_BUF_SIZE, PS_POOL_MAX_FREE, e->cfg.faults);
  {
    /* What each warning says in its flush line, and the condition it is
     * for an operator: resources running out is one to alert on. */
    static const struct {
      const char *what;
      ps_event event;
    } warn[PS_WARN_COUNT] = {{"AcceptEx could not be posted", PS_EVENT_RESOURCE_LIMIT},
                             {"SO_UPDATE_ACCEPT_CONTEXT failed", PS_EVENT_NONE},
                             {"an accepted connection was dropped", PS_EVENT_RESOURCE_LIMIT},
                             {"a connection's WSARecv/WSASend failed", PS_EVENT_NONE},
                             {"a connection's post is retried later", PS_EVENT_NONE},
                             {"a connection was aborted for lack of resources", PS_EVENT_RESOURCE_LIMIT},
                             {"WSARecvFrom could not be posted", PS_EVENT_RESOURCE_LIMIT},
                             {"a UDP receive failed", PS_EVENT_NONE}};
    for (i = 0; i < PS_WARN_COUNT; i++)
      ps_log_limit_init(&e->warn[i], warn[i].what, warn[i].event, e->cfg.warn_interval_ms);
  }
  /* From here on every failure goes through ps_engine_delete, which frees
   * whatever was made (it checks each handle and pointer). */
  e->stopped = 1;
  err = engine__reply_limit_init(e);
  if (err != 0) goto fail_call_reply;
  if (e->cfg.max_connections_per_source != 0) {
    size_t sources = engine__sources_for(e->cfg.max_connections);
    ps_siphash_key key;
    engine__hash_key(e, &key);
    if (ps_connlimit_init(&e->src_limit, e->cfg.max_connections_per_source, sources, &key) != 0) {
      err = ERROR_NOT_ENOUGH_MEMORY;
      ps_engine_delete(e);
      return engine__new_failed("allocating the per-source connection table", err);
    }
  }

  /* Concurrency = worker count: the port releases no more runnable workers
   * than that, and wakes the most recent waiter first (LIFO). */
  e->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, e->worker_count);
  if (e->port == NULL) {
    err = (int)GetLastError();
    ps_engine_delete(e);
    return engine__new_failed("CreateIoCompletionPort", err);
  }
  e->workers = (HANDLE *)calloc(e->worker_count, sizeof(HANDLE));
  /* Aligned: each worker's counters on cache lines of their own (engine.h). */
  e->worker_state = (ps_worker *)_aligned_malloc((size_t)e->worker_count * sizeof(ps_worker), PS_CACHE_LINE);
  if (e->workers == NULL || e->worker_state == NULL) {
    ps_engine_delete(e);
    return engine__new_failed("allocating the workers", ERROR_NOT_ENOUGH_MEMORY);
  }
  memset(e->worker_state, 0, (size_t)e->worker_count * sizeof(ps_worker));
  e->worker_states = e->worker_count;
  e->housekeeper_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
  e->housekeeper_wake = CreateEventW(NULL, FALSE, FALSE, NULL);
  if (e->housekeeper_stop == NULL || e->housekeeper_wake == NULL) {
    err = (int)GetLastError();
    ps_engine_delete(e);
    return engine__new_failed("CreateEventW", err);
  }
  e->stopped = 0;
  e->housekeeper = CreateThread(NULL, 0, engine__housekeeper, e, 0, NULL);
  if (e->housekeeper == NULL) {
    err = (int)GetLastError();
    e->stopped = 1;
    ps_engine_delete(e);
    return engine__new_failed("CreateThread (housekeeper)", err);
  }
  for (i = 0; i < e->worker_count; i++) {
    e->worker_state[i].eng = e;
    e->workers[i] = CreateThread(NULL, 0, engine__worker, &e->worker_state[i], 0, NULL);
    if (e->workers[i] == NULL) {
      err = (int)GetLastError();
      e->worker_count = i;
      ps_engine_delete(e); /* stops the threads started so far */
      return engine__new_failed("CreateThread (worker)", err);
    }
  }
  *out = e;
  return 0;

fail_call_reply:
  ps_engine_delete(e);
  return engine__new_failed("allocating the UDP reply-rate table", err);
}

/* The service context for `h` with `options`, made by its on_start on
 * first use. */
static int engine__service_ctx(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, const void *options,
                               void **ctx) {
  ps_service_config sc;
  char msg[300];
  unsigned i;
  *ctx = NULL;
  if (h->on_start == NULL) return 0;
  for (i = 0; i < e->service_count; i++)
    if (e->services[i].handler == h && e->services[i].options == options) {
      *ctx = e->services[i].ctx;
      return 0;
    }
  if (e->service_count == PS_MAX_SERVICE_CTX) {
    ps_log(PS_LOG_ERROR, "listen %s: more than %u service contexts in one engine", spec->service,
           (unsigned)PS_MAX_SERVICE_CTX);
    return -1;
  }
  memset(&sc, 0, sizeof(sc));
  sc.name = spec->service;
  sc.options = options;
  if (h->on_start(&sc, ctx, msg, sizeof(msg)) != 0) {
    ps_log(PS_LOG_ERROR, "listen %s: %s", spec->service, msg);
    return -1;
  }
  e->services[e->service_count].handler = h;
  e->services[e->service_count].options = options;
  e->services[e->service_count].ctx = *ctx;
  e->service_count++;
  return 0;
}

int ps_engine_serve(ps_engine *e, const ps_listen_spec *spec, const ps_handler *h, const void *options) {
  unsigned port = spec->port;
  void *ctx;
  if (h->on_open == NULL && h->on_data == NULL && h->on_datagram == NULL) {
    ps_log(PS_LOG_ERROR, "listen %s: the handler has no on_open, on_data or on_datagram", spec->service);
    return -1;
  }
  if ((spec->transports & PS_TRANSPORT_UDP) && h->on_datagram == NULL && spec->transports == PS_TRANSPORT_UDP) {
    ps_log(PS_LOG_ERROR, "listen %s: the service has no UDP form", spec->service);
    return -1;
  }
  if (engine__service_ctx(e, spec, h, options, &ctx) != 0) return -1;
  if ((spec->transports & PS_TRANSPORT_TCP) && ps_listener_open_spec(e, spec, h, ctx, &port) != 0) return -1;
  /* Port 0 with both transports: UDP takes the port TCP was given. If UDP
   * cannot open, the TCP sockets this call opened close again: a failed
   * call leaves nothing of `spec` open (a reload relies on it). */
  if ((spec->transports & PS_TRANSPORT_UDP) && h->on_datagram != NULL && ps_udp_open_spec(e, spec, h, ctx, port) != 0) {
    if (spec->transports & PS_TRANSPORT_TCP) ps_bound_close_all(e, spec);
    return -1;
  }
  return 0;
}

int ps_engine_switch(ps_engine *e, const ps_listen_spec *from, const ps_listen_spec *to, const ps_handler *h,
                     const void *options) {
  char was[PS_HOST_MAX + 64], now[PS_HOST_MAX + 64];
  void *ctx;
  size_t n;
  ps_listen_spec_format(from, was, sizeof(was));
  ps_listen_spec_format(to, now, sizeof(now));
  if (from->port != to->port || from->transports != to->transports || strcmp(from->host, to->host) != 0) {
    ps_log(PS_LOG_ERROR, "listener %s cannot become %s in place: the address or the transports differ", was, now);
    return -1;
  }
  if (h->on_open == NULL && h->on_data == NULL && h->on_datagram == NULL) {
    ps_log(PS_LOG_ERROR, "listen %s: the handler has no on_open, on_data or on_datagram", to->service);
    return -1;
  }
  /* The UDP sockets of `from` would stay open serving nothing. */
  if ((to->transports & PS_TRANSPORT_UDP) && h->on_datagram == NULL) {
    ps_log(PS_LOG_ERROR, "listener %s cannot become %s in place: the service has no UDP form", was, now);
    return -1;
  }
  if (engine__service_ctx(e, to, h, options, &ctx) != 0) return -1;
  n = ps_bound_switch(e, from, to, h, ctx);
  if (n == 0) {
    ps_log(PS_LOG_ERROR, "listener %s cannot become %s: none of its sockets is open", was, now);
    return -1;
  }
  ps_log(PS_LOG_INFO, "listener %s is now %s on the same %u socket(s); open connections keep their service", was, now,
         (unsigned)n);
  return 0;
}

size_t ps_engine_unlisten(ps_engine *e, const ps_listen_spec *spec) {
  char text[PS_HOST_MAX + 64];
  size_t n = ps_bound_close_all(e, spec);
  ps_log(PS_LOG_INFO, "closed %u socket(s) of listener %s; their connections carry on until they end", (unsigned)n,
         ps_listen_spec_format(spec, text, sizeof(text)));
  return n;
}

void ps_engine_reconfigure(ps_engine *e, const ps_engine_config *cfg) {
  ps_engine_config *c = &e->cfg;
  unsigned raised = cfg->max_connections == 0 || (c->max_connections != 0 && cfg->max_connections > c->max_connections);
  /* The table first: a source admitted under the new limit must find room. */
  engine__grow_sources(e, cfg->max_connections);
  /* Plain stores of aligned unsigned fields, read by the workers and the
   * housekeeper without a lock: each reader sees the old or the new value,
   * and every one is only compared against. */
  c->max_connections = cfg->max_connections;
  if (e->src_limit.entries != NULL && cfg->max_connections_per_source != 0) {
    c->max_connections_per_source = cfg->max_connections_per_source;
    AcquireSRWLockExclusive(&e->src_lock);
    e->src_limit.limit = cfg->max_connections_per_source;
    ReleaseSRWLockExclusive(&e->src_lock);
  }
  c->send_queue_max = cfg->send_queue_max;
  c->drain_timeout_ms = cfg->drain_timeout_ms;
  c->idle_timeout_ms = cfg->idle_timeout_ms;
  c->linger_timeout_ms = cfg->linger_timeout_ms;
  c->send_timeout_ms = cfg->send_timeout_ms;
  c->keepalive_ms = cfg->keepalive_ms;
  c->udp_allow_low_ports = cfg->udp_allow_low_ports;
  c->accept_data = cfg->accept_data; /* read at each AcceptEx post */
  c->burst_reads = cfg->burst_reads; /* read at each read */
  if (cfg->source_prefix_v4 >= 1 && cfg->source_prefix_v4 <= 32) c->source_prefix_v4 = cfg->source_prefix_v4;
  if (cfg->source_prefix_v6 >= 1 && cfg->source_prefix_v6 <= 128) c->source_prefix_v6 = cfg->source_prefix_v6;
  if (cfg->proxy_timeout_ms != 0) c->proxy_timeout_ms = cfg->proxy_timeout_ms;
  /* The list is read under src_lock (conn.c), being more than one word. */
  AcquireSRWLockExclusive(&e->src_lock);
  c->proxy_from = cfg->proxy_from;
  ReleaseSRWLockExclusive(&e->src_lock);
  c->bind_retry_ms = cfg->bind_retry_ms;
  c->retry_limit_ms = cfg->retry_limit_ms != 0 ? cfg->retry_limit_ms : c->retry_limit_ms;
  c->accepts = cfg->accepts != 0 ? cfg->accepts : c->accepts;                     /* listeners opened from now on */
  c->udp_receives = cfg->udp_receives != 0 ? cfg->udp_receives : c->udp_receives; /* UDP sockets opened from now on */
  /* A higher limit frees tokens now: post the slots held for it. */
  if (raised && e->stat[PS_STAT_accepts_held] > 0) ps_listener_resume(e);
}

void ps_engine_config_get(ps_engine *e, ps_engine_config *out) { *out = e->cfg; }

void ps_engine_rebind_window(ps_engine *e) { e->bind_deadline = 0; }

size_t ps_engine_endpoints(ps_engine *e, ps_endpoint *out, size_t max) {
  size_t n;
  AcquireSRWLockShared(&e->lock);
  n = ps_bound_endpoints(e, out, max);
  ReleaseSRWLockShared(&e->lock);
  return n;
}

/* Waits until live_conns (and, with `all`, live_listeners) reach zero or the
 * deadline passes. Non-zero if they did. */
/* The drain deadline after a hurry (cfg.hurry_event): no later than
 * cfg.hurry_drain_ms from the moment it was seen signalled. */
static ULONGLONG engine__hurried(ps_engine *e, ULONGLONG deadline, ULONGLONG now) {
  if (e->cfg.hurry_event != NULL && e->hurry_deadline == 0 &&
      WaitForSingleObject((HANDLE)e->cfg.hurry_event, 0) == WAIT_OBJECT_0)
    e->hurry_deadline = (LONG64)(now + e->cfg.hurry_drain_ms);
  return e->hurry_deadline != 0 && (ULONGLONG)e->hurry_deadline < deadline ? (ULONGLONG)e->hurry_deadline : deadline;
}

/* Connections not yet ended: the service's and the management ones, which
 * keep out of conns_open (PS_HANDLER_MANAGEMENT) but are drained alike. */
static LONG64 engine__conns_live(ps_engine *e) { return e->stat[PS_STAT_conns_open] + e->stat[PS_STAT_mgmt_open]; }

static int engine__wait_idle(ps_engine *e, int all, ULONGLONG deadline) {
  int idle;
  AcquireSRWLockExclusive(&e->lock);
  for (;;) {
    ULONGLONG now = GetTickCount64();
    idle = engine__conns_live(e) == 0 && (!all || e->live_listeners == 0);
    if (!all) deadline = engine__hurried(e, deadline, now);
    if (idle || now >= deadline) break;
    /* Bounded sleeps: a wake that races the check costs at most 50 ms. */
    SleepConditionVariableSRW(&e->changed, &e->lock, (DWORD)(deadline - now < 50 ? deadline - now : 50), 0);
  }
  ReleaseSRWLockExclusive(&e->lock);
  return idle;
}

unsigned ps_engine_stop(ps_engine *e) { return ps_engine_stop_within(e, e->cfg.drain_timeout_ms); }

unsigned ps_engine_stop_within(ps_engine *e, unsigned drain_timeout_ms) {
  unsigned reset = 0, i;
  AcquireSRWLockExclusive(&e->lock);
  if (e->stopping || e->stopped) {
    /* Another caller is stopping it (or did): wait for that stop to end,
     * so no handle is closed twice and every caller returns to a stopped
     * engine. */
    while (!e->stopped) SleepConditionVariableSRW(&e->changed, &e->lock, INFINITE, 0);
    ReleaseSRWLockExclusive(&e->lock);
    return 0;
  }
  e->stopping = 1;
  ReleaseSRWLockExclusive(&e->lock);
  if (e->cfg.faults != NULL && e->cfg.faults->on_stopping != NULL)
    e->cfg.faults->on_stopping(e->cfg.faults->on_stopping_arg);

  /* 0. No more sweeps (`stopping` is set): stop cancels and closes
   * everything itself. The housekeeper still runs the retries of failed
   * posts, which a draining connection may wait for, until step 4. */

  /* 1. Take no new work: close the listening and the UDP sockets. */
  ps_bound_close_all(e, NULL);

  /* 2. Close every connection gracefully, and give them the drain time. */
  ps_conn_close_all(e, 0);
  if (!engine__wait_idle(e, 0, GetTickCount64() + drain_timeout_ms)) {
    reset = (unsigned)engine__conns_live(e);
    ps_log_event(PS_LOG_WARN, PS_EVENT_STOP_DEADLINE,
                 "stop: %u connection(s) still open after the %u ms drain deadline; resetting them", reset,
                 drain_timeout_ms);
    ps_conn_close_all(e, 1);
  }

  /* 3. Every pending op completes (the sockets are closed); wait for them. */
  if (!engine__wait_idle(e, 1, GetTickCount64() + PS_FINAL_WAIT_MS))
    ps_log(PS_LOG_ERROR, "stop: %lld connection(s) and %lld listener(s) never completed; not freeing them",
           (long long)engine__conns_live(e), (long long)e->live_listeners);
  if (engine__conns_live(e) != 0) ps_conn_log_live(e);

  /* 4. Stop the housekeeper (nothing is left to retry), wake the workers,
   * join them, close the port. */
  SetEvent(e->housekeeper_stop);
  WaitForSingleObject(e->housekeeper, INFINITE);
  CloseHandle(e->housekeeper);
  CloseHandle(e->housekeeper_stop);
  e->housekeeper = e->housekeeper_stop = NULL;
  for (i = 0; i < e->worker_count; i++) PostQueuedCompletionStatus(e->port, 0, PS_KEY_QUIT, NULL);
  for (i = 0; i < e->worker_count; i++) {
    WaitForSingleObject(e->workers[i], INFINITE);
    CloseHandle(e->workers[i]);
  }
  e->worker_count = 0;
  /* The wake event last: after step 3's timeout a late completion may still
   * have been running on a worker and scheduled a retry (ps_engine__wake).
   * With the workers joined nobody can, and the field is cleared before the
   * handle is closed, so nothing signals a handle value Windows reuses. */
  {
    HANDLE wake = e->housekeeper_wake;
    e->housekeeper_wake = NULL;
    MemoryBarrier();
    CloseHandle(wake);
  }
  CloseHandle(e->port);
  e->port = NULL;
  /* Warnings still held by their rate limits, now that no lock is held
   * anywhere (ps_log_limited never writes itself). */
  for (i = 0; i < PS_WARN_COUNT; i++) ps_log_limit_flush(&e->warn[i], PS_LOG_WARN);

  AcquireSRWLockExclusive(&e->lock);
  e->stopped = 1;
  ReleaseSRWLockExclusive(&e->lock);
  ps_engine__signal(e);
  return reset;
}

/* Where each row of PS_STATS lives in ps_stats: the snapshot copies the
 * engine's array by it. */
static const size_t engine__stat_offsets[PS_STAT_COUNT] = {
#define ENGINE__STAT_OFFSET(field, kind, metric, label, help, line, div) offsetof(ps_stats, field),
  PS_STATS(ENGINE__STAT_OFFSET)
#undef ENGINE__STAT_OFFSET
};

/* 100-ns FILETIME units to microseconds. */
static uint64_t engine__filetime_us(const FILETIME *t) {
  ULARGE_INTEGER u;
  u.LowPart = t->dwLowDateTime;
  u.HighPart = t->dwHighDateTime;
  return u.QuadPart / 10u;
}

/* The shared total of counter i plus every worker's share (ps_count).
 * Every worker state is read, also after a stop (worker_states, not
 * worker_count): a worker's counts outlive its thread. */
static uint64_t engine__stat_sum(ps_engine *e, size_t i) {
  uint64_t v = (uint64_t)e->stat[i];
  unsigned w;
  for (w = 0; w < e->worker_states; w++) v += (uint64_t)e->worker_state[w].stat[i];
  return v;
}

/* The same for counter i of listening socket row st. */
static uint64_t engine__lstat_sum(ps_engine *e, const ps_bound_stats *st, size_t i) {
  uint64_t v = (uint64_t)st->v[i];
  unsigned w;
  for (w = 0; w < e->worker_states; w++) v += (uint64_t)e->worker_state[w].lstat[st->index][i];
  return v;
}

void ps_engine_stats(ps_engine *e, ps_stats *out) {
  size_t i;
  for (i = 0; i < PS_STAT_COUNT; i++) {
    uint64_t v = engine__stat_sum(e, i);
    memcpy((char *)out + engine__stat_offsets[i], &v, sizeof(v));
  }
  out->buffers_live = (uint64_t)e->pool.live;
  out->buffers_in_use = (uint64_t)e->pool.in_use;
  out->small_buffers_live = (uint64_t)e->spool.live;
  out->small_buffers_in_use = (uint64_t)e->spool.in_use;
  {
    /* The whole process's, for leak watching (a soak samples them). K32*
     * is kernel32's own export since Windows 7: no psapi.dll needed. */
    DWORD handles = 0;
    PROCESS_MEMORY_COUNTERS_EX pmc;
    FILETIME created, exited, kernel, user;
    out->process_handles = GetProcessHandleCount(GetCurrentProcess(), &handles) ? handles : 0;
    memset(&pmc, 0, sizeof(pmc));
    pmc.cb = (DWORD)sizeof(pmc);
    /* PagefileUsage is the same figure ("the Commit Charge ... the total
     * amount of private memory", PROCESS_MEMORY_COUNTERS_EX); Wine 8 fills
     * only that one, and reports 0 handles (docs/wine-notes.md). */
    if (K32GetProcessMemoryInfo(GetCurrentProcess(), (PROCESS_MEMORY_COUNTERS *)&pmc, (DWORD)sizeof(pmc))) {
      out->process_private_bytes = (uint64_t)(pmc.PrivateUsage != 0 ? pmc.PrivateUsage : pmc.PagefileUsage);
      out->process_resident_bytes = (uint64_t)pmc.WorkingSetSize;
    }
    if (GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
      out->process_cpu_us = engine__filetime_us(&kernel) + engine__filetime_us(&user);
  }
}

unsigned ps_engine_threads(ps_engine *e) { return e->worker_count; }

ps_bound_stats *ps_engine__bound_stats(ps_engine *e, const ps_endpoint *ep) {
  ps_bound_stats *st = NULL;
  size_t i;
  AcquireSRWLockExclusive(&e->stats_lock);
  for (i = 0; i < e->bound_stats_count && st == NULL; i++) {
    const ps_endpoint *x = &e->bound_stats[i]->ep;
    if (x->port == ep->port && x->transport == ep->transport && strcmp(x->address, ep->address) == 0 &&
        strcmp(x->service, ep->service) == 0)
      st = e->bound_stats[i];
  }
  if (st == NULL && e->bound_stats_count < PS_MAX_BOUND_STATS) {
    st = (ps_bound_stats *)calloc(1, sizeof(*st));
    if (st != NULL) {
      st->ep = *ep;
      st->index = e->bound_stats_count;
      e->bound_stats[e->bound_stats_count++] = st;
    }
  }
  if (st == NULL) e->stat[PS_STAT_listener_rows_full]++; /* under stats_lock */
  if (st != NULL) InterlockedIncrement64(&st->open);
  ReleaseSRWLockExclusive(&e->stats_lock);
  return st;
}

void ps_engine__count_error(ps_engine *e, ps_error_site site, unsigned long error) {
  size_t i;
  InterlockedIncrement64(&e->stat[PS_STAT_errors_accept + (int)site]);
  AcquireSRWLockExclusive(&e->stats_lock);
  for (i = 0; i < e->error_count; i++)
    if (e->errors[i].error == error && e->errors[i].site == site) break;
  if (i == e->error_count && i < PS_MAX_ERROR_COUNTS) {
    e->errors[i].site = site;
    e->errors[i].error = error;
    e->errors[i].count = 0;
    e->error_count++;
  }
  if (i < e->error_count) e->errors[i].count++;
  else e->stat[PS_STAT_error_rows_full]++; /* under stats_lock */
  ReleaseSRWLockExclusive(&e->stats_lock);
}

size_t ps_engine_error_counts(ps_engine *e, ps_error_count *out, size_t max) {
  size_t i, n;
  AcquireSRWLockShared(&e->stats_lock);
  n = e->error_count;
  for (i = 0; i < n && i < max; i++) out[i] = e->errors[i];
  ReleaseSRWLockShared(&e->stats_lock);
  return n;
}

size_t ps_engine_listener_stats(ps_engine *e, ps_listener_stats *out, size_t max) {
  size_t i, n;
  AcquireSRWLockShared(&e->stats_lock);
  n = e->bound_stats_count;
  for (i = 0; i < n && i < max; i++) {
    const ps_bound_stats *st = e->bound_stats[i];
    out[i].ep = st->ep;
    out[i].open = st->open > 0;
#define ENGINE__LSTAT_COPY(field, metric, transport, help) out[i].field = engine__lstat_sum(e, st, PS_LSTAT_##field);
    PS_LISTENER_STATS(ENGINE__LSTAT_COPY)
#undef ENGINE__LSTAT_COPY
  }
  ReleaseSRWLockShared(&e->stats_lock);
  return n;
}

void ps_engine_delete(ps_engine *e) {
  unsigned i;
  if (e == NULL) return;
  if (!e->stopped) ps_engine_stop(e);
  if (engine__conns_live(e) == 0 && e->live_listeners == 0) {
    ps_bufpool_close(&e->pool);
    ps_bufpool_close(&e->spool);
  }
  for (i = 0; i < e->service_count; i++)
    if (e->services[i].handler->on_stop != NULL) e->services[i].handler->on_stop(e->services[i].ctx);
  /* A failed ps_engine_new leaves some of these unmade (NULL). */
  if (e->housekeeper_stop != NULL) CloseHandle(e->housekeeper_stop);
  if (e->housekeeper_wake != NULL) CloseHandle(e->housekeeper_wake);
  if (e->port != NULL) CloseHandle(e->port);
  engine__reply_limit_close(e);
  ps_connlimit_close(&e->src_limit);
  for (i = 0; i < e->bound_stats_count; i++) free(e->bound_stats[i]);
  _aligned_free(e->worker_state);
  free(e->workers);
  free(e);
}
