/* ps_check (check.h): the configuration file read with every error reported
 * (ps_config_load_each), then with --bind one bind per address each listener
 * resolves to, done as the server does it (ps_bind_trial: IPV6_V6ONLY,
 * SO_EXCLUSIVEADDRUSE), so "in use" means the server would fail there too. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ps_engine.h"
#include "ps_log.h"
#include "ps_win.h"
#include "resolve.h"

/* Sockets held at once: every address stays bound until all are tried, so
 * two listeners of the file that collide are found as the server would
 * find them. More than this are closed as they go. */
#define CHECK__HELD_MAX 256

typedef struct check__binds {
  const char *file;
  uintptr_t held[CHECK__HELD_MAX];
  size_t held_count;
  unsigned failed; /* addresses of required listeners that cannot be bound */
} check__binds;

static int check__print_error(void *ctx, const char *message) {
  PS_UNUSED(ctx);
  ps_console_printf(stderr, "%s\n", message);
  return 0;
}

/* Binds every address of one listener on one transport. */
static void check__bind_spec(check__binds *b, const ps_listen_spec *spec, unsigned transport) {
  ps_resolved r;
  char shown[400], where[80], msg[200];
  const char *name = transport == PS_TRANSPORT_TCP ? "tcp" : "udp";
  const char *kind = spec->optional ? "warning (optional: the server skips it)" : "error";
  size_t i;
  int rc;

  ps_listen_spec_format(spec, shown, sizeof(shown));
  /* The addresses the server would open: the same resolution. */
  rc = ps_resolve_passive(spec->host, spec->port, transport == PS_TRANSPORT_TCP ? SOCK_STREAM : SOCK_DGRAM, &r);
  if (rc != 0) {
    ps_console_printf(stderr, "%s: listener '%s': %s: cannot resolve host '%s': %s\n", b->file, shown, kind, spec->host,
                      ps_errstr((unsigned long)rc, msg, sizeof(msg)));
    if (!spec->optional) b->failed++;
    return;
  }
  for (i = 0; i < r.count; i++) {
    const char *step = "";
    uintptr_t s;
    unsigned long err;
    ps_sockaddr_format((const struct sockaddr *)&r.addrs[i].addr, where, sizeof(where));
    err = ps_bind_trial((const struct sockaddr *)&r.addrs[i].addr, r.addrs[i].len, transport, &s, &step);
    if (err != 0) {
      if (err == WSAEADDRINUSE)
        ps_console_printf(stderr, "%s: listener '%s': %s: %s %s is in use: %s\n", b->file, shown, kind, name, where,
                          ps_errstr(err, msg, sizeof(msg)));
      else
        ps_console_printf(stderr, "%s: listener '%s': %s: %s %s: %s failed: %s\n", b->file, shown, kind, name, where,
                          step, ps_errstr(err, msg, sizeof(msg)));
      if (!spec->optional) b->failed++;
      continue;
    }
    if (b->held_count < CHECK__HELD_MAX) b->held[b->held_count++] = s;
    else ps_bind_trial_close(s);
  }
}

int ps_check(const ps_options *cmdline) {
  ps_options *o = (ps_options *)malloc(sizeof(*o));
  ps_listen_spec default_spec;
  const ps_listen_spec *specs;
  size_t spec_count, i;
  unsigned errors;
  char msg[200];
  int status = 0;
  check__binds *b;

  if (o == NULL) {
    fputs("portserve check: out of memory\n", stderr);
    return 1;
  }
  ps_options_defaults(o);
  errors = ps_config_load_each(cmdline->config_path, o, check__print_error, NULL);
  if (errors != 0) {
    ps_console_printf(stderr, "%s: %u error(s)\n", cmdline->config_path, errors);
    free(o);
    return 1;
  }
  /* The file's listeners; none means the server would serve the default one. */
  specs = o->listens;
  spec_count = o->listen_count;
  if (spec_count == 0) {
    if (ps_listen_spec_parse(PS_DEFAULT_LISTEN, &default_spec, msg, sizeof(msg)) != 0) abort();
    specs = &default_spec;
    spec_count = 1;
  }
  if (cmdline->check_bind) {
    WSADATA wsa;
    /* getaddrinfo needs Winsock started; ps_bind_trial starts it too. */
    int wsa_err = WSAStartup(MAKEWORD(2, 2), &wsa);
    b = (check__binds *)calloc(1, sizeof(*b));
    if (wsa_err != 0 || b == NULL) {
      ps_console_printf(stderr, "portserve check: %s\n",
                        wsa_err != 0 ? ps_errstr((unsigned long)wsa_err, msg, sizeof(msg)) : "out of memory");
      free(b);
      free(o);
      return 1;
    }
    b->file = cmdline->config_path;
    for (i = 0; i < spec_count; i++) {
      if (specs[i].transports & PS_TRANSPORT_TCP) check__bind_spec(b, &specs[i], PS_TRANSPORT_TCP);
      if (specs[i].transports & PS_TRANSPORT_UDP) check__bind_spec(b, &specs[i], PS_TRANSPORT_UDP);
    }
    for (i = 0; i < b->held_count; i++) ps_bind_trial_close(b->held[i]);
    if (b->failed != 0) {
      ps_console_printf(stderr, "%s: %u address(es) cannot be bound\n", cmdline->config_path, b->failed);
      status = 1;
    }
    free(b);
  }
  if (status == 0) {
    if (o->listen_count == 0)
      ps_console_printf(stdout, "%s: OK (0 listeners: the server would use " PS_DEFAULT_LISTEN ")%s\n",
                        cmdline->config_path, cmdline->check_bind ? "; its addresses can be bound" : "");
    else
      ps_console_printf(stdout, "%s: OK (%u listener%s)%s\n", cmdline->config_path, (unsigned)o->listen_count,
                        o->listen_count == 1 ? "" : "s", cmdline->check_bind ? "; every address can be bound" : "");
  }
  free(o);
  return status;
}
