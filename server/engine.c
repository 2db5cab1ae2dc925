/* The completion port, its worker threads, and the stop procedure.
 *
 * Threads: main (or the service) calls new/listen/stop; `worker_count`
 * workers block in GetQueuedCompletionStatusEx and dispatch each completed
 * op to its owner by op kind (accept -> listener.c, recv/send -> conn.c).
 * Workers hold no state of their own: any worker may run any completion. */
#define PS_ENGINE_INTERNAL
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "listener.h"
#include "log.h"
#include "services.h"
#include "udp.h"
#include "wsx.h"

/* Completions dequeued per GetQueuedCompletionStatusEx call. */
#define PS_BATCH 64
/* Free I/O buffers the pool keeps for reuse. */
#define PS_POOL_MAX_FREE 1024
/* After the drain deadline, how long the reset connections and the aborted
 * accepts get to complete before stop gives up waiting and reports a leak. */
#define PS_FINAL_WAIT_MS 30000

void ps_engine_config_set_options(ps_engine_config *cfg, const ps_options *o) {
  cfg->threads = o->threads;
  cfg->accepts = o->accepts;
  cfg->buffer_size = o->buffer_size;
  cfg->send_queue_max = o->send_queue_max;
  cfg->max_connections = o->max_connections;
  cfg->max_connections_per_source = o->max_connections_per_source;
  cfg->drain_timeout_ms = o->drain_timeout_ms;
  cfg->udp_receives = o->udp_receives;
  cfg->idle_timeout_ms = o->idle_timeout_s * 1000u;
  cfg->linger_timeout_ms = o->linger_timeout_s * 1000u;
  cfg->send_timeout_ms = o->send_timeout_s * 1000u;
  cfg->keepalive_ms = o->keepalive_s * 1000u;
  cfg->quotes_file = o->quotes_file[0] ? o->quotes_file : NULL;
  cfg->bind_retry_ms = ps_options_bind_retry_s(o) * 1000u;
  cfg->udp_allow_low_ports = (int)o->udp_allow_low_ports;
  cfg->udp_reply_rate = o->udp_reply_rate;
  cfg->udp_reply_burst = o->udp_reply_burst;
  cfg->udp_reply_rate_total = o->udp_reply_rate_total;
}

void ps_engine_config_default(ps_engine_config *cfg) {
  /* About 21 KB of stack (64 listen specs): called once per engine, and a
   * static copy would be a mutable global. */
  ps_options o;
  memset(cfg, 0, sizeof(*cfg));
  ps_options_defaults(&o);
  ps_engine_config_set_options(cfg, &o);
  /* An engine used as a library does not retry a refused bind unless asked:
   * the retry window is a policy of the portserve commands (options.h). */
  cfg->bind_retry_ms = 0;
  /* Engine-only knobs, not user options. */
  cfg->inline_max = 16;
  cfg->skip_on_success = 1;
  cfg->buffer_idle_ms = 1000;
  cfg->bind_cancel = NULL;
  cfg->retry_limit_ms = 10000;
  cfg->warn_interval_ms = 60000;
  cfg->faults = NULL;
  cfg->udp_reply_sources = 4096;
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

static int engine__reply_limit_init(ps_engine *e) {
  ps_ratelimit_config rc;
  ps_ratelimit_locks locks;
  LARGE_INTEGER qpc;
  size_t i, n;
  memset(&rc, 0, sizeof(rc));
  rc.rate = e->cfg.udp_reply_rate;
  rc.burst = e->cfg.udp_reply_burst;
  rc.rate_total = e->cfg.udp_reply_rate_total;
  rc.sources = e->cfg.udp_reply_sources;
  /* Not secret, only unknown from outside: enough that a sender cannot
   * compute which addresses share a set with its victim's. */
  QueryPerformanceCounter(&qpc);
  rc.seed = (uint64_t)qpc.QuadPart ^ ((uint64_t)(uintptr_t)e << 17) ^ GetTickCount64();
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

void ps_engine__wake(ps_engine *e) { SetEvent(e->housekeeper_wake); }

unsigned ps_retry_backoff(unsigned prev) {
  if (prev == 0) return PS_RETRY_FIRST_MS;
  return prev >= PS_RETRY_MAX_MS / 2 ? PS_RETRY_MAX_MS : prev * 2;
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

static DWORD WINAPI engine__worker(LPVOID arg) {
  ps_engine *e = (ps_engine *)arg;
  OVERLAPPED_ENTRY entries[PS_BATCH];
  for (;;) {
    ULONG count = 0, i;
    unsigned quits = 0, budget;
    if (!GetQueuedCompletionStatusEx(e->port, entries, PS_BATCH, &count, INFINITE, FALSE)) {
      char msg[160];
      /* Only a closed port fails an infinite wait; the port is closed after
       * the workers are joined, so this is a bug we cannot run past. */
      ps_log(PS_LOG_ERROR, "fatal: GetQueuedCompletionStatusEx failed: %s",
             ps_errstr(GetLastError(), msg, sizeof(msg)));
      abort();
    }
    /* Inline budget per completion: the whole cfg.inline_max when this one
     * is all there was; shared out when others are waiting (conn.c). */
    budget = e->cfg.inline_max / count;
    if (budget == 0) budget = 1;
    for (i = 0; i < count; i++) {
      ULONG_PTR key = entries[i].lpCompletionKey;
      ps_op *op;
      DWORD err;
      if (key == PS_KEY_QUIT) {
        quits++;
        continue;
      }
      op = (ps_op *)(void *)entries[i].lpOverlapped;
      err = key == PS_KEY_DEFERRED ? 0 : ps_ntstatus_to_error(op->ov.Internal);
      switch (op->kind) {
        case PS_OP_ACCEPT:
          ps_listener_on_completion(op, entries[i].dwNumberOfBytesTransferred, err);
          break;
        case PS_OP_RECV:
        case PS_OP_SEND:
          ps_conn_on_completion(op, entries[i].dwNumberOfBytesTransferred, err, key, budget);
          break;
        case PS_OP_UDP_RECV:
        case PS_OP_UDP_SEND:
          ps_udp_on_completion(op, entries[i].dwNumberOfBytesTransferred, err, key);
          break;
      }
    }
    if (quits > 0) {
      /* One quit packet per worker; hand extras dequeued in this batch on. */
      while (--quits > 0) PostQueuedCompletionStatus(e->port, 0, PS_KEY_QUIT, NULL);
      return 0;
    }
  }
}

/* The engine's one timer: periodic work that belongs to no completion.
 * Every PS_SWEEP_MS (or buffer_idle_ms, if shorter) ps_conn_sweep checks
 * each connection's deadlines (idle, linger, send stall) and, every
 * buffer_idle_ms, parks idle receive buffers. Its cost grows with the
 * number of connections, not with time: docs/design.md has the figure.
 * Between sweeps it wakes for the retries of failed posts (accepts, UDP
 * receives, connection posts) when they are due: whoever schedules one
 * sets housekeeper_wake, so a 100 ms backoff is not rounded up to a sweep.
 * While the engine stops it keeps retrying (a connection draining may wait
 * on one) but no longer sweeps: stop closes everything itself. */
#define PS_SWEEP_MS 1000

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
  DWORD period = e->cfg.buffer_idle_ms < PS_SWEEP_MS ? e->cfg.buffer_idle_ms : PS_SWEEP_MS;
  ULONGLONG now = GetTickCount64(), last_park = now, next_sweep = now + period, next_retry = 0;
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
      int park = now - last_park + period / 2 >= e->cfg.buffer_idle_ms;
      LONG64 us;
      if (park) last_park = now;
      QueryPerformanceCounter(&t0);
      ps_conn_sweep(e, now, park);
      QueryPerformanceCounter(&t1);
      us = (LONG64)((t1.QuadPart - t0.QuadPart) * 1000000 / freq.QuadPart);
      if (us > e->sweep_us_max) e->sweep_us_max = us; /* only this thread writes it */
    }
    for (i = 0; i < PS_WARN_COUNT; i++) ps_log_limit_flush(&e->warn[i], PS_LOG_WARN);
  }
  return 0;
}

int ps_engine_new(const ps_engine_config *cfg, ps_engine **out) {
  ps_engine *e;
  SYSTEM_INFO si;
  unsigned i;
  int err = ps_wsx_startup();
  *out = NULL;
  if (err != 0) return err;
  e = (ps_engine *)calloc(1, sizeof(*e));
  if (e == NULL) return ERROR_NOT_ENOUGH_MEMORY;
  e->cfg = *cfg;
  if (e->cfg.inline_max == 0) e->cfg.inline_max = 1;
  if (e->cfg.udp_receives == 0) e->cfg.udp_receives = 1;
  GetSystemInfo(&si);
  e->worker_count = cfg->threads ? cfg->threads : si.dwNumberOfProcessors;
  if (e->worker_count == 0) e->worker_count = 1;
  InitializeSRWLock(&e->lock);
  InitializeConditionVariable(&e->changed);
  err = engine__reply_limit_init(e);
  if (err != 0) {
    free(e);
    return err;
  }
  ps_bufpool_init(&e->pool, cfg->buffer_size, PS_POOL_MAX_FREE, cfg->faults);
  InitializeSRWLock(&e->retry_lock);
  if (e->cfg.warn_interval_ms == 0) e->cfg.warn_interval_ms = 60000;
  if (e->cfg.retry_limit_ms == 0) e->cfg.retry_limit_ms = 10000; /* 0 would give up at the second failure */
  {
    static const char *const what[PS_WARN_COUNT] = {
        "AcceptEx could not be posted",         "SO_UPDATE_ACCEPT_CONTEXT failed",
        "an accepted connection was dropped",   "a connection's WSARecv/WSASend failed",
        "a connection's post is retried later", "a connection was aborted for lack of resources",
        "WSARecvFrom could not be posted",      "a UDP receive failed"};
    for (i = 0; i < PS_WARN_COUNT; i++) ps_log_limit_init(&e->warn[i], what[i], e->cfg.warn_interval_ms);
  }

  /* Concurrency = worker count: the port releases no more runnable workers
   * than that, and wakes the most recent waiter first (LIFO). */
  e->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, e->worker_count);
  if (e->port == NULL) {
    err = (int)GetLastError();
    engine__reply_limit_close(e);
    free(e);
    return err;
  }
  e->workers = (HANDLE *)calloc(e->worker_count, sizeof(HANDLE));
  if (e->workers == NULL) {
    CloseHandle(e->port);
    engine__reply_limit_close(e);
    free(e);
    return ERROR_NOT_ENOUGH_MEMORY;
  }
  if (e->cfg.buffer_idle_ms == 0) e->cfg.buffer_idle_ms = 1000;
  e->housekeeper_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
  e->housekeeper_wake = CreateEventW(NULL, FALSE, FALSE, NULL);
  if (e->housekeeper_stop != NULL && e->housekeeper_wake != NULL)
    e->housekeeper = CreateThread(NULL, 0, engine__housekeeper, e, 0, NULL);
  if (e->housekeeper == NULL) {
    err = (int)GetLastError();
    if (e->housekeeper_stop != NULL) CloseHandle(e->housekeeper_stop);
    if (e->housekeeper_wake != NULL) CloseHandle(e->housekeeper_wake);
    CloseHandle(e->port);
    free(e->workers);
    engine__reply_limit_close(e);
    free(e);
    return err;
  }
  for (i = 0; i < e->worker_count; i++) {
    e->workers[i] = CreateThread(NULL, 0, engine__worker, e, 0, NULL);
    if (e->workers[i] == NULL) {
      err = (int)GetLastError();
      e->worker_count = i;
      e->stopping = 1;
      ps_engine_delete(e);
      return err;
    }
  }
  *out = e;
  return 0;
}

/* The service context for `h`, made by its on_start on first use. */
static int engine__service_ctx(ps_engine *e, const ps_handler *h, void **ctx) {
  ps_service_config sc;
  char msg[300];
  unsigned i;
  *ctx = NULL;
  if (h->on_start == NULL) return 0;
  for (i = 0; i < e->service_count; i++)
    if (e->services[i].handler == h) {
      *ctx = e->services[i].ctx;
      return 0;
    }
  if (e->service_count == PS_MAX_SERVICE_CTX) return -1;
  memset(&sc, 0, sizeof(sc));
  sc.quotes_file = e->cfg.quotes_file;
  if (h->on_start(&sc, ctx, msg, sizeof(msg)) != 0) {
    ps_log(PS_LOG_ERROR, "listen %s: %s", h->name, msg);
    return -1;
  }
  e->services[e->service_count].handler = h;
  e->services[e->service_count].ctx = *ctx;
  e->service_count++;
  return 0;
}

int ps_engine_listen(ps_engine *e, const ps_listen_spec *spec) {
  const ps_handler *h = ps_service_find(spec->service);
  unsigned port = spec->port;
  void *ctx;
  if (h == NULL) {
    ps_log(PS_LOG_ERROR, "listen: unknown service '%s' (known: %s)", spec->service, ps_service_names());
    return -1;
  }
  if (engine__service_ctx(e, h, &ctx) != 0) return -1;
  if ((spec->transports & PS_TRANSPORT_TCP) && ps_listener_open_spec(e, spec, h, ctx, &port) != 0) return -1;
  if (spec->transports & PS_TRANSPORT_UDP) {
    if (h->on_datagram == NULL) {
      if (spec->transports == PS_TRANSPORT_UDP) {
        ps_log(PS_LOG_ERROR, "listen %s: the service has no UDP form", spec->service);
        return -1;
      }
      return 0;
    }
    /* Port 0 with both transports: UDP takes the port TCP was given. */
    if (ps_udp_open_spec(e, spec, h, ctx, port) != 0) return -1;
  }
  return 0;
}

size_t ps_engine_endpoints(ps_engine *e, ps_endpoint *out, size_t max) {
  size_t n;
  AcquireSRWLockShared(&e->lock);
  n = ps_listener_endpoints(e, out, max);
  n += ps_udp_endpoints(e, n < max ? out + n : out, n < max ? max - n : 0);
  ReleaseSRWLockShared(&e->lock);
  return n;
}

/* Waits until live_conns (and, with `all`, live_listeners) reach zero or the
 * deadline passes. Non-zero if they did. */
static int engine__wait_idle(ps_engine *e, int all, ULONGLONG deadline) {
  int idle;
  AcquireSRWLockExclusive(&e->lock);
  for (;;) {
    ULONGLONG now = GetTickCount64();
    idle = e->live_conns == 0 && (!all || e->live_listeners == 0);
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
  if (e->stopped) {
    ReleaseSRWLockExclusive(&e->lock);
    return 0;
  }
  e->stopping = 1;
  ReleaseSRWLockExclusive(&e->lock);

  /* 0. No more sweeps (`stopping` is set): stop cancels and closes
   * everything itself. The housekeeper still runs the retries of failed
   * posts, which a draining connection may wait for, until step 4. */

  /* 1. Take no new work: close the listening and the UDP sockets. */
  ps_listener_close_all(e);
  ps_udp_close_all(e);

  /* 2. Close every connection gracefully, and give them the drain time. */
  ps_conn_close_all(e, 0);
  if (!engine__wait_idle(e, 0, GetTickCount64() + drain_timeout_ms)) {
    reset = (unsigned)e->live_conns;
    ps_log(PS_LOG_WARN, "stop: %u connection(s) still open after the %u ms drain deadline; resetting them", reset,
           drain_timeout_ms);
    ps_conn_close_all(e, 1);
  }

  /* 3. Every pending op completes (the sockets are closed); wait for them. */
  if (!engine__wait_idle(e, 1, GetTickCount64() + PS_FINAL_WAIT_MS))
    ps_log(PS_LOG_ERROR, "stop: %lld connection(s) and %lld listener(s) never completed; not freeing them",
           (long long)e->live_conns, (long long)e->live_listeners);
  if (e->live_conns != 0) ps_conn_log_live(e);

  /* 4. Stop the housekeeper (nothing is left to retry), wake the workers,
   * join them, close the port. */
  SetEvent(e->housekeeper_stop);
  WaitForSingleObject(e->housekeeper, INFINITE);
  CloseHandle(e->housekeeper);
  CloseHandle(e->housekeeper_stop);
  CloseHandle(e->housekeeper_wake);
  e->housekeeper = e->housekeeper_stop = e->housekeeper_wake = NULL;
  for (i = 0; i < e->worker_count; i++) PostQueuedCompletionStatus(e->port, 0, PS_KEY_QUIT, NULL);
  for (i = 0; i < e->worker_count; i++) {
    WaitForSingleObject(e->workers[i], INFINITE);
    CloseHandle(e->workers[i]);
  }
  e->worker_count = 0;
  CloseHandle(e->port);
  e->port = NULL;

  AcquireSRWLockExclusive(&e->lock);
  e->stopped = 1;
  ReleaseSRWLockExclusive(&e->lock);
  return reset;
}

void ps_engine_stats(ps_engine *e, ps_stats *out) {
  memset(out, 0, sizeof(*out));
  out->conns_open = (uint64_t)e->live_conns;
  out->conns_total = (uint64_t)e->conns_total;
  out->conns_reset = (uint64_t)e->conns_reset;
  out->conns_refused = (uint64_t)e->conns_refused;
  out->bytes_in = (uint64_t)e->bytes_in;
  out->bytes_out = (uint64_t)e->bytes_out;
  out->msgs_in = (uint64_t)e->msgs_in;
  out->sockets_live = (uint64_t)e->live_sockets;
  out->buffers_live = (uint64_t)e->pool.live;
  out->buffers_in_use = (uint64_t)e->pool.in_use;
  out->dgrams_in = (uint64_t)e->dgrams_in;
  out->dgrams_out = (uint64_t)e->dgrams_out;
  out->dgrams_dropped = (uint64_t)e->dgrams_dropped;
  out->timeouts_idle = (uint64_t)e->timeouts_idle;
  out->timeouts_linger = (uint64_t)e->timeouts_linger;
  out->timeouts_send = (uint64_t)e->timeouts_send;
  out->sweep_us_max = (uint64_t)e->sweep_us_max;
  out->conns_skip = (uint64_t)e->conns_skip;
  out->inline_deferred = (uint64_t)e->inline_deferred;
  out->reads_parked = (uint64_t)e->reads_parked;
  out->udp_connreset_off = (uint64_t)e->udp_connreset_off;
  out->accepts_posted = (uint64_t)e->accepts_posted;
  out->udp_receives_posted = (uint64_t)e->udp_receives_posted;
  out->accept_errors = (uint64_t)e->accept_errors;
  out->udp_recv_errors = (uint64_t)e->udp_recv_errors;
  out->conn_retries = (uint64_t)e->conn_retries;
  out->conns_out_of_resources = (uint64_t)e->conns_out_of_resources;
  out->dgrams_dropped_port0 = (uint64_t)e->dgrams_dropped_port0;
  out->dgrams_dropped_lowport = (uint64_t)e->dgrams_dropped_lowport;
  out->dgrams_dropped_loop = (uint64_t)e->dgrams_dropped_loop;
  out->dgrams_dropped_rate = (uint64_t)e->dgrams_dropped_rate;
  out->dgrams_dropped_rate_total = (uint64_t)e->dgrams_dropped_rate_total;
}

unsigned ps_engine_threads(ps_engine *e) { return e->worker_count; }

void ps_engine_delete(ps_engine *e) {
  if (e == NULL) return;
  unsigned i;
  if (!e->stopped) ps_engine_stop(e);
  if (e->live_conns == 0 && e->live_listeners == 0) ps_bufpool_close(&e->pool);
  for (i = 0; i < e->service_count; i++)
    if (e->services[i].handler->on_stop != NULL) e->services[i].handler->on_stop(e->services[i].ctx);
  engine__reply_limit_close(e);
  free(e->workers);
  free(e);
}
