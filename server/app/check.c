/* ps_check (check.h): the configuration file read with every error reported
 * (ps_config_load_each), then with --bind one bind per address each listener
 * and the admin endpoint resolve to, done as the server does it
 * (ps_bind_trial: IPV6_V6ONLY, SO_EXCLUSIVEADDRUSE), so "in use" means the
 * server would fail there too. An address in use that the configuration's
 * own running instance lists (its admin endpoint's /stats.json) is that
 * instance's, which a restart frees: reported, not a failure. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "config.h"
#include "http.h"
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
  /* The running instance's /stats.json body (its listeners), or NULL when
   * no admin endpoint is configured or nothing like portserve answers. */
  const char *running;
  const char *admin;
  uintptr_t held[CHECK__HELD_MAX];
  size_t held_count;
  unsigned failed; /* addresses of required listeners that cannot be bound */
  unsigned ours;   /* addresses in use by the running instance */
} check__binds;

static int check__print_error(void *ctx, const char *message) {
  PS_UNUSED(ctx);
  ps_console_printf(stderr, "%s\n", message);
  return 0;
}

/* Whether the running instance lists `where` ("127.0.0.1:7007") on
 * `transport` ("tcp") among its listeners. */
static int check__held_by_running(const check__binds *b, const char *where, const char *transport) {
  char needle[160];
  if (b->running == NULL) return 0;
  snprintf(needle, sizeof(needle), "\"address\":\"%s\",\"transport\":\"%s\"", where, transport);
  return strstr(b->running, needle) != NULL;
}

/* Asks the instance at the configured admin address for its listeners:
 * their JSON (malloc'ed), or NULL if nothing answers there with portserve's
 * /stats.json (then every address in use is someone else's). */
static char *check__running_listeners(const char *admin) {
  char *response = NULL, why[400], *body;
  size_t len = 0, off = 0, body_len = 0;
  int status = 0;
  if (admin[0] == '\0' || ps_admin_fetch(admin, "/stats.json", &response, &len, why, sizeof(why)) != 0) return NULL;
  if (ps_http_parse_response(response, len, &status, &off, &body_len) != 0 || status != 200 || body_len < 12 ||
      memcmp(response + off, "{\"format\":1,", 12) != 0 || (body = (char *)malloc(body_len + 1)) == NULL) {
    free(response);
    return NULL;
  }
  memcpy(body, response + off, body_len);
  body[body_len] = '\0';
  free(response);
  return body;
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
    if (err == WSAEADDRINUSE && check__held_by_running(b, where, name)) {
      ps_console_printf(stdout,
                        "%s: listener '%s': %s %s is held by the running portserve (its admin endpoint %s lists it)\n",
                        b->file, shown, name, where, b->admin);
      b->ours++;
      continue;
    }
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
  char *running;
  unsigned ours = 0;

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
    b->admin = o->admin;
    running = check__running_listeners(o->admin);
    b->running = running;
    for (i = 0; i < spec_count; i++) {
      if (specs[i].transports & PS_TRANSPORT_TCP) check__bind_spec(b, &specs[i], PS_TRANSPORT_TCP);
      if (specs[i].transports & PS_TRANSPORT_UDP) check__bind_spec(b, &specs[i], PS_TRANSPORT_UDP);
    }
    /* The admin endpoint binds like a listener: a port taken there makes
     * `run` fail as surely. */
    if (o->admin[0] != '\0') {
      ps_listen_spec admin;
      if (ps_options_admin_spec(o->admin, &admin, msg, sizeof(msg)) == 0) check__bind_spec(b, &admin, PS_TRANSPORT_TCP);
    }
    free(running);
    for (i = 0; i < b->held_count; i++) ps_bind_trial_close(b->held[i]);
    if (b->failed != 0) {
      ps_console_printf(stderr, "%s: %u address(es) cannot be bound\n", cmdline->config_path, b->failed);
      status = 1;
    }
    ours = b->ours;
    free(b);
  }
  if (status == 0) {
    const char *bind_note = !cmdline->check_bind ? ""
                            : ours == 0          ? "; every address can be bound"
                                                 : "; every address can be bound or is the running portserve's";
    if (o->listen_count == 0)
      ps_console_printf(stdout, "%s: OK (0 listeners: the server would use " PS_DEFAULT_LISTEN ")%s\n",
                        cmdline->config_path, bind_note);
    else
      ps_console_printf(stdout, "%s: OK (%u listener%s)%s\n", cmdline->config_path, (unsigned)o->listen_count,
                        o->listen_count == 1 ? "" : "s", bind_note);
  }
  free(o);
  return status;
}
