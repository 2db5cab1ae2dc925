/* ps_run (run.h): the one run loop shared by the console (main.c) and the
 * Windows service (service.c): start the engine, open the listeners, log
 * stats while waiting for the stop event, stop gracefully, check the live
 * counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "errtab.h"
#include "logsink.h"
#include "metrics.h"
#include "options.h"
#include "ps_engine.h"
#include "ps_log.h"
#include "ps_stats.h"
#include "ps_win.h"
#include "run.h"
#include "services.h"
#include "version.h"

const char *ps_run_status_text(ps_run_status status) {
  switch (status) {
    case PS_RUN_OK:
      return "";
    case PS_RUN_CONFIG_ERROR:
      return "configuration error";
    case PS_RUN_LISTEN_FAILED:
      return "a listener could not open";
    case PS_RUN_ENGINE_FAILED:
      return "the engine could not start";
    case PS_RUN_UNCLEAN_STOP:
      return "live counters not zero after the stop";
  }
  return "unknown status";
}

unsigned ps_run_console_drain_ms(DWORD ctrl_type, unsigned drain_timeout_ms) {
  switch (ctrl_type) {
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      return drain_timeout_ms < PS_CONSOLE_CLOSE_DRAIN_MS ? drain_timeout_ms : PS_CONSOLE_CLOSE_DRAIN_MS;
    default:
      return drain_timeout_ms;
  }
}

unsigned ps_run_console_grace_ms(DWORD ctrl_type, unsigned grace_ms) {
  switch (ctrl_type) {
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      return 0;
    default:
      return grace_ms;
  }
}

/* The engine configuration for options `o`: the engine's defaults, then
 * the option rows' fields (ps_options_engine_config is the one mapping),
 * at the start and at every reload. */
static void run__engine_config(const ps_options *o, const ps_run_hooks *hooks, ps_engine_config *cfg) {
  ps_engine_config_default(cfg);
  ps_options_engine_config(o, cfg);
  cfg->bind_cancel = hooks->stop_event;
  cfg->hurry_event = hooks->hurry_event;
  cfg->hurry_drain_ms = PS_CONSOLE_CLOSE_DRAIN_MS;
}

/* The admin endpoint's figures (ps_admin_options.metrics_fill): called from
 * the admin service's callbacks on any worker, so it only reads counters
 * and the engine's stats tables (their own innermost lock), never the
 * connection list. */
typedef struct run__admin {
  ps_engine *e;
  volatile LONG stopping;
  uint64_t start_unix; /* when the process started */
  ps_admin_options options;
  /* The configuration in force (the run loop writes, the admin reads). */
  SRWLOCK config_lock;
  unsigned reload_ok;
  uint64_t loaded_unix;
  char config_hash[20];
} run__admin;

/* The configuration in force, for /metrics: at start and after each reload. */
static void run__config_loaded(run__admin *a, const ps_options *o, int ok) {
  AcquireSRWLockExclusive(&a->config_lock);
  a->reload_ok = (unsigned)ok;
  if (ok) {
    a->loaded_unix = (uint64_t)time(NULL);
    ps_options_hash(o, a->config_hash, sizeof(a->config_hash));
  }
  ReleaseSRWLockExclusive(&a->config_lock);
}

/* When the process started, seconds since 1970 (process_start_time_seconds). */
static uint64_t run__process_start_unix(void) {
  FILETIME created, exited, kernel, user;
  ULARGE_INTEGER u;
  if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user)) return (uint64_t)time(NULL);
  u.LowPart = created.dwLowDateTime;
  u.HighPart = created.dwHighDateTime;
  return (u.QuadPart - 116444736000000000ULL) / 10000000ULL;
}

static void run__metrics_fill(void *arg, ps_metrics *m) {
  run__admin *a = (run__admin *)arg;
  ps_error_count errs[PS_METRICS_ERRORS_MAX];
  size_t i, n;
  ps_engine_stats(a->e, &m->stats);
  n = ps_engine_listener_stats(a->e, m->listeners, PS_METRICS_LISTENERS_MAX);
  m->listener_count = n < PS_METRICS_LISTENERS_MAX ? n : PS_METRICS_LISTENERS_MAX;
  m->listener_rows_dropped = n - m->listener_count;
  n = ps_engine_error_counts(a->e, errs, PS_COUNTOF(errs));
  for (i = 0; i < n && i < PS_COUNTOF(errs); i++) {
    const char *sym = ps_err_symbol(errs[i].error);
    char name[24];
    if (sym == NULL) {
      snprintf(name, sizeof(name), "error_%lu", errs[i].error);
      sym = name;
    }
    ps_metrics_add_error(m, ps_error_site_name(errs[i].site), sym, errs[i].count);
  }
  m->worker_threads = ps_engine_threads(a->e);
  snprintf(m->version, sizeof(m->version), "%s", PS_VERSION);
  m->state = a->stopping ? PS_METRICS_STOPPING : PS_METRICS_SERVING;
  m->start_time_unix = a->start_unix;
  AcquireSRWLockShared(&a->config_lock);
  m->reload_ok = a->reload_ok;
  m->reload_success_unix = a->loaded_unix;
  memcpy(m->config_hash, a->config_hash, sizeof(m->config_hash));
  ReleaseSRWLockShared(&a->config_lock);
}

/* Opens the admin endpoint for --admin ADDR (0 without one). It is for the
 * operator's own machine: a warning says so when it listens elsewhere. */
static int run__admin_open(ps_engine *e, const char *addr, run__admin *a) {
  ps_listen_spec spec;
  ps_endpoint eps[64];
  char err[300];
  size_t i, n;
  if (addr[0] == '\0') return 0;
  if (ps_options_admin_spec(addr, &spec, err, sizeof(err)) != 0) {
    ps_log(PS_LOG_ERROR, "--admin %s: %s", addr, err);
    return -1;
  }
  if (ps_engine_serve(e, &spec, &ps_svc_admin, &a->options) != 0) return -1;
  n = ps_engine_endpoints(e, eps, PS_COUNTOF(eps));
  for (i = 0; i < n && i < PS_COUNTOF(eps); i++)
    if (strcmp(eps[i].service, "admin") == 0 && strncmp(eps[i].address, "127.", 4) != 0 &&
        strcmp(eps[i].address, "::1") != 0)
      ps_log(PS_LOG_WARN,
             "the admin endpoint listens on %s port %u, not only on loopback: anyone who can reach "
             "it can read the server's figures",
             eps[i].address, eps[i].port);
  return 0;
}

/* The handler the registry names for a listener's service, and its
 * options (qotd has its own; the other built-ins have none), or NULL after
 * logging why. */
static const ps_handler *run__handler(const ps_options *o, const ps_listen_spec *spec, const ps_qotd_options *qotd,
                                      const void **options) {
  const ps_registry *reg = ps_options_services(o);
  const ps_handler *h = ps_registry_find(reg, spec->service);
  if (h == NULL) {
    char names[300];
    ps_log(PS_LOG_ERROR, "listen: unknown service '%s' (known: %s)", spec->service,
           ps_registry_names(reg, names, sizeof(names)));
    return NULL;
  }
  *options = strcmp(spec->service, "qotd") == 0 ? qotd : NULL;
  return h;
}

/* Opens one listener with that handler. */
static int run__listen(ps_engine *e, const ps_options *o, const ps_listen_spec *spec, const ps_qotd_options *qotd) {
  const void *options;
  const ps_handler *h = run__handler(o, spec, qotd, &options);
  return h != NULL ? ps_engine_serve(e, spec, h, options) : -1;
}

/* Hands the sockets of `from` to `to` (ps_engine_switch), with the handler
 * `o` names for `to`. */
static int run__switch(ps_engine *e, const ps_options *o, const ps_listen_spec *from, const ps_listen_spec *to,
                       const ps_qotd_options *qotd) {
  const void *options;
  const ps_handler *h = run__handler(o, to, qotd, &options);
  return h != NULL ? ps_engine_switch(e, from, to, h, options) : -1;
}

static int run__has_listener(const ps_options *o, const ps_listen_spec *spec) {
  size_t i;
  for (i = 0; i < o->listen_count; i++)
    if (ps_listen_spec_equal(&o->listens[i], spec)) return 1;
  return 0;
}

/* The running listener that `spec`, new in a reload, takes over in place
 * (ps_engine_switch): one on the same host, port and transports that the
 * new configuration drops and no other new listener took yet. Binding the
 * new one before closing the old would be refused by our own socket
 * (SO_EXCLUSIVEADDRUSE). Port 0 binds a new port each time: never paired. */
static size_t run__same_address(const ps_options *cur, const ps_options *next, const ps_listen_spec *spec,
                                const size_t *taken_by, size_t none) {
  size_t j;
  if (spec->port == 0) return none;
  for (j = 0; j < cur->listen_count; j++) {
    const ps_listen_spec *old = &cur->listens[j];
    if (taken_by[j] == none && old->port == spec->port && old->transports == spec->transports &&
        strcmp(old->host, spec->host) == 0 && !run__has_listener(next, old))
      return j;
  }
  return none;
}

/* A reload (docs/design.md, "Reload"): the new configuration is read
 * whole, then the listeners it adds are opened, and only if every one
 * opened are the ones it drops closed (their connections drain on their
 * own) and the changed limits applied. Anything wrong, and the running
 * configuration stays as it was, with the reason in the log. */
/* Appends "--flag old -> new" (or "--flag" for `restart`) to a list. */
static void run__note_change(char *list, size_t size, const ps_options *cur, const ps_options *next,
                             const ps_option_def *d) {
  char from[80], to[80];
  size_t n = strlen(list);
  snprintf(list + n, size - n, "%s%s %s -> %s", n ? ", " : "", d->flag,
           ps_option_value_text(cur, d, from, sizeof(from)), ps_option_value_text(next, d, to, sizeof(to)));
}

/* A rejected reload's undo: the listeners it opened close again, and the
 * running ones it changed in place get their own service back (their
 * handler's context exists, their sockets never closed: this cannot fail). */
static void run__undo(ps_engine *e, const ps_options *cur, const ps_options *next, const unsigned char *opened,
                      const size_t *taken_by, const ps_qotd_options *qotd) {
  size_t i;
  for (i = 0; i < next->listen_count; i++)
    if (opened[i]) ps_engine_unlisten(e, &next->listens[i]);
  for (i = 0; i < cur->listen_count; i++)
    if (taken_by[i] != PS_MAX_LISTENS) run__switch(e, cur, &next->listens[taken_by[i]], &cur->listens[i], qotd);
}

/* Rejects a reload: one line an operator can alert on, and /metrics says so. */
static void run__reject(run__admin *admin, const char *why) {
  run__config_loaded(admin, NULL, 0);
  ps_log_event(PS_LOG_ERROR, PS_EVENT_RELOAD_REJECTED, "reload rejected: %s; the running configuration stays", why);
}

static void run__reload(ps_engine *e, ps_options *cur, const ps_run_hooks *hooks, const ps_qotd_options *qotd,
                        run__admin *admin) {
  ps_options *next = (ps_options *)malloc(sizeof(*next));
  ps_engine_config cfg;
  ps_logsink_config lc;
  char err[600], text[PS_HOST_MAX + 200], restart[600] = "";
  /* The changed rows by what they reach: PS_RELOAD_LIVE, _NEW_CONNECTIONS, _NEW_LISTENERS. */
  char applied[3][1200] = {"", "", ""};
  static const char *const reaches[3] = {
    "applied now, to open connections too: ", "for connections accepted from now on: ",
    "for listeners opened from now on: "};
  char summary[3700] = "";
  unsigned char opened[PS_MAX_LISTENS];
  size_t taken_by[PS_MAX_LISTENS]; /* a running listener's new form (ps_engine_switch), or PS_MAX_LISTENS */
  size_t i, j, k, added = 0, removed = 0, switched = 0;
  int log_err;
  if (next == NULL) {
    run__reject(admin, "out of memory");
    return;
  }
  ps_log(PS_LOG_INFO, "reload: reading the configuration again");
  if (hooks->reload(hooks->reload_ctx, next, err, sizeof(err)) != 0) {
    run__reject(admin, err);
    free(next);
    return;
  }
  /* The binds of this reload wait for a port on their own window. */
  ps_engine_rebind_window(e);
  memset(opened, 0, sizeof(opened));
  for (j = 0; j < PS_MAX_LISTENS; j++) taken_by[j] = PS_MAX_LISTENS;
  for (i = 0; i < next->listen_count; i++) {
    int failed;
    if (run__has_listener(cur, &next->listens[i])) continue;
    /* Same address, another service or flags: the running sockets change
     * hands; anything else is a new listener, bound before the old close. */
    j = run__same_address(cur, next, &next->listens[i], taken_by, PS_MAX_LISTENS);
    failed = j != PS_MAX_LISTENS ? run__switch(e, next, &cur->listens[j], &next->listens[i], qotd)
                                 : run__listen(e, next, &next->listens[i], qotd);
    if (failed) {
      run__undo(e, cur, next, opened, taken_by, qotd);
      snprintf(text, sizeof(text), "listener %s could not open (the error above says why)",
               ps_listen_spec_format(&next->listens[i], err, sizeof(err)));
      run__reject(admin, text);
      free(next);
      return;
    }
    if (j != PS_MAX_LISTENS) {
      taken_by[j] = i;
      switched++;
    } else {
      opened[i] = 1;
      added++;
    }
  }
  if (strcmp(next->admin, cur->admin) != 0) {
    ps_listen_spec old;
    if (run__admin_open(e, next->admin, admin) != 0) {
      run__undo(e, cur, next, opened, taken_by, qotd);
      snprintf(text, sizeof(text), "the admin endpoint %s could not open", next->admin);
      run__reject(admin, text);
      free(next);
      return;
    }
    if (cur->admin[0] != '\0' && ps_options_admin_spec(cur->admin, &old, err, sizeof(err)) == 0)
      ps_engine_unlisten(e, &old);
  }
  for (i = 0; i < cur->listen_count; i++) {
    if (run__has_listener(next, &cur->listens[i]) || taken_by[i] != PS_MAX_LISTENS) continue;
    ps_engine_unlisten(e, &cur->listens[i]);
    removed++;
  }
  /* Every setting, by its row: applied, or kept with a warning. */
  for (k = 0; k < ps_option_count(); k++) {
    const ps_option_def *d = ps_option_at(k);
    if (d->reload == PS_RELOAD_NONE || ps_option_equal(cur, next, d)) continue;
    if (d->reload == PS_RELOAD_RESTART) {
      run__note_change(restart, sizeof(restart), cur, next, d);
      ps_option_copy(next, cur, d);
    } else {
      size_t c = d->reload == PS_RELOAD_NEW_CONNECTIONS ? 1 : d->reload == PS_RELOAD_NEW_LISTENERS ? 2 : 0;
      run__note_change(applied[c], sizeof(applied[c]), cur, next, d);
    }
  }
  run__engine_config(next, hooks, &cfg);
  ps_engine_reconfigure(e, &cfg);
  ps_logsink_config_from_options(&lc, next, 0);
  log_err = ps_logsink_reconfigure(&lc);
  if (log_err != 0) {
    ps_log(PS_LOG_WARN, "reload: cannot open the log file %s: %s; still logging to %s", next->log_file,
           ps_errstr((unsigned long)log_err, err, sizeof(err)), cur->log_file[0] ? cur->log_file : "no file");
    memcpy(next->log_file, cur->log_file, sizeof(next->log_file));
  }
  if (restart[0] != '\0') ps_log(PS_LOG_WARN, "reload: needs a restart, the running values stay: %s", restart);
  for (k = 0; k < 3; k++)
    if (applied[k][0] != '\0') {
      size_t n = strlen(summary);
      snprintf(summary + n, sizeof(summary) - n, "%s%s%s", n ? "; " : "", reaches[k], applied[k]);
    }
  ps_log_event(PS_LOG_INFO, PS_EVENT_RELOAD_DONE,
               "reload done: %u listener(s) added, %u removed, %u changed in place; %s", (unsigned)added,
               (unsigned)removed, (unsigned)switched, summary[0] != '\0' ? summary : "no setting changed");
  *cur = *next;
  free(next);
  run__config_loaded(admin, cur, 1);
}

ps_run_status ps_run(const ps_options *options, const ps_run_hooks *hooks) {
  ps_engine_config cfg;
  ps_qotd_options qotd; /* qotd's own options; the other built-ins have none */
  ps_engine *e = NULL;
  ps_options *o; /* the running configuration (a reload replaces it) */
  ps_endpoint eps[64];
  ps_stats prev, now;
  ULONGLONG prev_ms;
  size_t i, n;
  unsigned reset, drain_ms, grace_ms;
  int err;
  ps_run_status status = PS_RUN_OK;
  char line[1024]; /* the stats line */
  run__admin admin;

  o = (ps_options *)malloc(sizeof(*o));
  if (o == NULL) {
    ps_log(PS_LOG_ERROR, "starting: out of memory");
    return PS_RUN_ENGINE_FAILED;
  }
  *o = *options;
  run__engine_config(o, hooks, &cfg);
  qotd.quotes_file = o->quotes_file[0] ? o->quotes_file : NULL;
  drain_ms = cfg.drain_timeout_ms;

  err = ps_engine_new(&cfg, &e);
  if (err != 0) {
    free(o);
    return PS_RUN_ENGINE_FAILED; /* it logged the call that failed */
  }
  for (i = 0; i < o->listen_count && status == PS_RUN_OK; i++)
    if (run__listen(e, o, &o->listens[i], &qotd) != 0) status = PS_RUN_LISTEN_FAILED;
  memset(&admin, 0, sizeof(admin));
  admin.e = e;
  admin.start_unix = run__process_start_unix();
  InitializeSRWLock(&admin.config_lock);
  run__config_loaded(&admin, o, 1);
  admin.options.metrics_fill = run__metrics_fill;
  admin.options.metrics_arg = &admin;
  if (status == PS_RUN_OK && run__admin_open(e, o->admin, &admin) != 0) status = PS_RUN_LISTEN_FAILED;

  if (status == PS_RUN_OK) {
    n = ps_engine_endpoints(e, eps, PS_COUNTOF(eps));
    ps_log(PS_LOG_INFO, "portserve %s ready: %u listener(s), %u worker thread(s); %s", PS_VERSION, (unsigned)n,
           ps_engine_threads(e), hooks->stop_hint);
    if (hooks->on_ready != NULL) hooks->on_ready(hooks->ctx);
    ps_engine_stats(e, &prev);
    prev_ms = GetTickCount64();
    for (;;) {
      HANDLE events[2];
      DWORD wait = o->stats_interval_s ? o->stats_interval_s * 1000u : INFINITE, got;
      events[0] = hooks->stop_event;
      events[1] = hooks->reload_event;
      got = WaitForMultipleObjects(hooks->reload_event != NULL ? 2 : 1, events, FALSE, wait);
      if (got == WAIT_OBJECT_0 + 1) {
        run__reload(e, o, hooks, &qotd, &admin);
        continue;
      }
      if (got != WAIT_TIMEOUT) break;
      ps_engine_stats(e, &now);
      ps_stats_format(&now, &prev, (double)(GetTickCount64() - prev_ms) / 1000.0, line, sizeof(line));
      ps_log(PS_LOG_INFO, "stats: %s", line);
      prev = now;
      prev_ms = GetTickCount64();
    }
    /* A reload may have changed both. */
    drain_ms = o->drain_timeout_ms;
    grace_ms = o->shutdown_grace_s * 1000u;
    if (hooks->stop_limits != NULL) hooks->stop_limits(hooks->ctx, &grace_ms, &drain_ms);
    /* Lame duck: health checks fail from now on (new admin connections
     * too: the admin listener stays open through the grace) while the
     * listeners keep serving, so a load balancer takes this instance out of
     * rotation before anything is refused. */
    InterlockedExchange(&admin.stopping, 1);
    if (grace_ms > 0) {
      ps_log(PS_LOG_INFO,
             "stopping (%s): /healthz answers 503 now; the listeners keep serving for %u ms "
             "(shutdown grace), then close",
             hooks->stop_reason(hooks->ctx), grace_ms);
      if (hooks->hurry_event != NULL) WaitForSingleObject(hooks->hurry_event, grace_ms);
      else Sleep(grace_ms);
    }
    ps_engine_stats(e, &now);
    ps_log(PS_LOG_INFO, "stopping (%s): closing listeners, draining %llu connection(s), deadline %u ms",
           hooks->stop_reason(hooks->ctx), (unsigned long long)now.conns_open, drain_ms);
  }

  reset = ps_engine_stop_within(e, drain_ms);
  ps_engine_stats(e, &now);
  ps_log(PS_LOG_INFO, "stopped: %llu connection(s) served, %llu bytes in, %llu bytes out, %u reset at the deadline",
         (unsigned long long)now.conns_total, (unsigned long long)now.bytes_in, (unsigned long long)now.bytes_out,
         reset);
  ps_log(PS_LOG_INFO, "timeouts: %llu idle, %llu linger, %llu send; longest timer sweep %llu us",
         (unsigned long long)now.timeouts_idle, (unsigned long long)now.timeouts_linger,
         (unsigned long long)now.timeouts_send, (unsigned long long)now.sweep_us_max);
  ps_log(PS_LOG_INFO,
         "udp guard: %llu datagram(s) dropped for source port 0, %llu for a low port, %llu for one of our ports; "
         "%llu repl(ies) over a source's rate, %llu over the total rate",
         (unsigned long long)now.dgrams_dropped_port0, (unsigned long long)now.dgrams_dropped_lowport,
         (unsigned long long)now.dgrams_dropped_loop, (unsigned long long)now.dgrams_dropped_rate,
         (unsigned long long)now.dgrams_dropped_rate_total);
  ps_log(PS_LOG_INFO, "live counters: sockets %llu, connections %llu, buffers in use %llu",
         (unsigned long long)now.sockets_live, (unsigned long long)now.conns_open,
         (unsigned long long)now.buffers_in_use);
  if (now.sockets_live != 0 || now.conns_open != 0 || now.buffers_in_use != 0) {
    ps_log(PS_LOG_ERROR, "live counters are not zero after stop: this is a bug");
    if (status == PS_RUN_OK) status = PS_RUN_UNCLEAN_STOP;
  }
  ps_engine_delete(e);
  free(o);
  return status;
}
