/* argv parsing for portserve.exe (see options.h). */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errtab.h"
#include "ps_compat.h"
#include "config.h"
#include "services.h"

/* argv parsing for portserve.exe, and the table of every option (see
 * options.h). A row of opt__table is the one description of an option: its
 * flag and INI key, type and range, field, default and --help text. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errtab.h"
#include "ps_compat.h"
#include "config.h"
#include "services.h"

/* ENUM rows write their field through an unsigned*: the enum types must be
 * that size (C11 6.7.2.2: compatible with an integer type; both are int or
 * unsigned int on every compiler we build with, and signed/unsigned variants
 * may alias). */
typedef char opt__level_is_uint_sized[sizeof(ps_level_option) == sizeof(unsigned) ? 1 : -1];
typedef char opt__time_is_uint_sized[sizeof(ps_log_time_option) == sizeof(unsigned) ? 1 : -1];

static const char *const opt__levels[] = {"error", "warn", "info", "debug", NULL}; /* ps_level_option */
static const char *const opt__log_times[] = {"local", "utc", NULL};                /* ps_log_time_option */

#define OPT_FIELD(f) offsetof(ps_options, f)

static const ps_option_def opt__table[] = {
  {"--config", NULL, PS_OPT_CONFIG, PS_UNIT_COUNT, OPT_FIELD(config_path), 0, 0, 0, "", NULL, "FILE",
   "read options and listeners from an INI file (see portserve.ini.example)", NULL, NULL},
  {"--listen", NULL, PS_OPT_LISTEN, PS_UNIT_COUNT, 0, 0, 0, 0, "", NULL, "SPEC",
   "add a listener, as above; may be repeated ([listeners] in the file)", NULL, PS_DEFAULT_LISTEN},
  {"--threads", "threads", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(threads), 0, 256, 0, NULL, NULL, NULL,
   "worker threads", "one per processor", NULL},
  {"--accepts", "accepts", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(accepts), 1, 4096, 16, NULL, NULL, NULL,
   "AcceptEx kept posted per TCP listener", NULL, NULL},
  {"--buffer-size", "buffer_size", PS_OPT_UINT, PS_UNIT_BYTES, OPT_FIELD(buffer_size), 512, 1048576, 8192, NULL, NULL,
   NULL, "size of one pooled I/O buffer (and the largest datagram served)", NULL, NULL},
  {"--send-queue-max", "send_queue_max", PS_OPT_UINT, PS_UNIT_BYTES, OPT_FIELD(send_queue_max), 1024, 1073741824,
   262144, NULL, NULL, NULL, "unsent bytes per connection before the server stops reading from it", NULL, NULL},
  {"--max-connections", "max_connections", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(max_connections), 0, 10000000, 0, NULL,
   NULL, NULL,
   "open connections the server holds; at the limit it stops posting AcceptEx, so further clients wait in "
   "the listen backlog and are accepted once a connection closes (they are not reset)",
   "no limit", NULL},
  {"--max-connections-per-source", "max_connections_per_source", PS_OPT_UINT, PS_UNIT_COUNT,
   OPT_FIELD(max_connections_per_source), 0, 10000000, 0, NULL, NULL, NULL,
   "open connections one source IP address may hold; beyond it new connections from that address are refused",
   "no limit", NULL},
  {"--idle-timeout", "idle_timeout", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(idle_timeout_s), 0, 604800, 300, NULL, NULL,
   NULL, "close a connection gracefully when no byte has moved either way for SEC seconds", "never", NULL},
  {"--linger-timeout", "linger_timeout", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(linger_timeout_s), 0, 3600, 30, NULL, NULL,
   NULL, "after the server's FIN, how long the peer gets to send its own before the server closes", "forever", NULL},
  {"--send-timeout", "send_timeout", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(send_timeout_s), 0, 3600, 60, NULL, NULL, NULL,
   "reset a connection whose queued data made no progress for SEC seconds: the peer stopped reading", "never", NULL},
  {"--keepalive", "keepalive", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(keepalive_s), 0, 86400, 60, NULL, NULL, NULL,
   "TCP keep-alive after SEC idle seconds, so vanished peers are found", "off", NULL},
  {"--drain-timeout", "drain_timeout", PS_OPT_UINT, PS_UNIT_MS, OPT_FIELD(drain_timeout_ms), 0, 3600000, 5000, NULL,
   NULL, NULL,
   "on stop, time connections get to finish before they are reset (at most 3000 when the console is closed: "
   "Windows ends the process 5 s after that)",
   NULL, NULL},
  {"--shutdown-grace", "shutdown_grace", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(shutdown_grace_s), 0, 3600, 0, NULL, NULL,
   NULL,
   "on stop, /healthz answers 503 at once while the listeners keep serving for SEC seconds, so a load balancer "
   "takes this instance out of rotation before it closes; then the drain begins (0 when the console is closed)",
   "none", NULL},
  {"--bind-retry", "bind_retry", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(bind_retry_s), 0, PS_BIND_RETRY_MAX_S,
   PS_BIND_RETRY_DEFAULT, NULL, NULL, NULL,
   "a port still held (WSAEADDRINUSE), e.g. by the previous instance's closing connections, is retried this "
   "long before the start fails",
   "fail at once", PS_STR(PS_BIND_RETRY_CONSOLE_S) " in the console, " PS_STR(PS_BIND_RETRY_SERVICE_S) " as a service"},
  {"--stats-interval", "stats_interval", PS_OPT_UINT, PS_UNIT_S, OPT_FIELD(stats_interval_s), 0, 86400, 5, NULL, NULL,
   NULL, "log a stats line every SEC seconds", "off", NULL},
  {"--udp-receives", "udp_receives", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(udp_receives), 1, 1024, 8, NULL, NULL, NULL,
   "WSARecvFrom kept posted per UDP socket", NULL, NULL},
  {"--udp-reply-rate", "udp_reply_rate", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(udp_reply_rate), 0, 1000000, 100, NULL,
   NULL, NULL, "UDP replies per second to one source address, so the server cannot be used to flood a spoofed victim",
   "no limit", NULL},
  {"--udp-reply-burst", "udp_reply_burst", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(udp_reply_burst), 1, 1000000, 200,
   NULL, NULL, NULL, "UDP replies a source may get at once", NULL, NULL},
  {"--udp-reply-rate-total", "udp_reply_rate_total", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(udp_reply_rate_total), 0,
   10000000, 10000, NULL, NULL, NULL, "UDP replies per second to all sources together", "no limit", NULL},
  {"--udp-allow-low-ports", "udp_allow_low_ports", PS_OPT_BOOL, PS_UNIT_COUNT, OPT_FIELD(udp_allow_low_ports), 0, 1, 0,
   NULL, NULL, NULL,
   "1: answer datagrams from source ports 1-1023 too (0: dropped, they are other hosts' services; port 0 and "
   "this server's own UDP ports always are)",
   NULL, NULL},
  {"--admin", "admin", PS_OPT_ADDR, PS_UNIT_COUNT, OPT_FIELD(admin), 0, 0, 0, "", NULL, "ADDR",
   "serve the admin HTTP endpoint (metrics, health) on HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100", "off", NULL},
  {"--log-level", "log_level", PS_OPT_ENUM, PS_UNIT_COUNT, OPT_FIELD(log_level), 0, 0, PS_LEVEL_INFO, NULL, opt__levels,
   "LEVEL", "log lines of this level and above: error, warn, info or debug", NULL, NULL},
  {"--log-file", "log_file", PS_OPT_PATH, PS_UNIT_COUNT, OPT_FIELD(log_file), 0, 0, 0, "", NULL, "FILE",
   "also append log lines to FILE", "none", NULL},
  {"--log-max-size", "log_max_size", PS_OPT_UINT, PS_UNIT_BYTES, OPT_FIELD(log_max_size), 0, 1073741824, 10485760, NULL,
   NULL, NULL, "rotate the log file when a line would take it past this size", "never rotate", NULL},
  {"--log-files", "log_files", PS_OPT_UINT, PS_UNIT_COUNT, OPT_FIELD(log_files), 1, 100, 5, NULL, NULL, NULL,
   "old log files kept when the log file rotates", NULL, NULL},
  {"--log-time", "log_time", PS_OPT_ENUM, PS_UNIT_COUNT, OPT_FIELD(log_time), 0, 0, PS_LOG_TIME_LOCAL, NULL,
   opt__log_times, NULL, "time stamps of log lines in local time or UTC", NULL, NULL},
  {"--quotes-file", "quotes_file", PS_OPT_PATH, PS_UNIT_COUNT, OPT_FIELD(quotes_file), 0, 0, 0, "", NULL, "FILE",
   "quotes for qotd, separated by blank lines", "built-in quotes", NULL},
};

size_t ps_option_count(void) { return PS_COUNTOF(opt__table); }

const ps_option_def *ps_option_at(size_t i) { return i < PS_COUNTOF(opt__table) ? &opt__table[i] : NULL; }

const ps_option_def *ps_option_by_flag(const char *flag) {
  size_t k;
  for (k = 0; k < PS_COUNTOF(opt__table); k++)
    if (strcmp(flag, opt__table[k].flag) == 0) return &opt__table[k];
  return NULL;
}

const ps_option_def *ps_option_by_ini_key(const char *key) {
  size_t k;
  for (k = 0; k < PS_COUNTOF(opt__table); k++)
    if (opt__table[k].ini_key != NULL && strcmp(key, opt__table[k].ini_key) == 0) return &opt__table[k];
  return NULL;
}

char *ps_option_default_text(const ps_option_def *d, char *buf, size_t size) {
  if (d->default_shown != NULL) snprintf(buf, size, "%s", d->default_shown);
  else if (d->type == PS_OPT_UINT || d->type == PS_OPT_BOOL) snprintf(buf, size, "%u", d->default_uint);
  else if (d->type == PS_OPT_ENUM) snprintf(buf, size, "%s", d->names[d->default_uint]);
  else snprintf(buf, size, "%s", d->default_str != NULL ? d->default_str : "");
  return buf;
}

/* ---- --help ---------------------------------------------------------------- */

/* Two literals around the generated option list: C11 promises string
 * literals of 4,095 characters only (-Woverlength-strings). */
static const char ps_usage_commands[] =
  "usage: portserve run [--config FILE] [--listen SERVICE=[HOST]:PORT[/tcp|/udp][,optional]]... [options]\n"
  "       portserve check --config FILE [--bind]\n"
  "       portserve install [--config FILE] | uninstall | start | stop | status\n"
  "       portserve reload [PID] | stats [--admin HOST:PORT] [--json]\n"
  "       portserve --help | --version\n"
  "\n"
  "Commands:\n"
  "  run                      serve in this console until Ctrl+C, Ctrl+Break or\n"
  "                           console close\n"
  "  check                    report every error in FILE as FILE:LINE: message,\n"
  "                           opening nothing; with --bind also bind each\n"
  "                           listener's addresses and report every one in use\n"
  "  install                  register the Windows service 'portserve' (automatic\n"
  "                           start, NT AUTHORITY\\LocalService) to run with\n"
  "                           --config FILE\n"
  "  uninstall                stop and remove the service\n"
  "  start | stop | status    drive the installed service through the SCM\n"
  "  reload [PID]             re-read the configuration without dropping\n"
  "                           connections: the service's (it gets\n"
  "                           SERVICE_CONTROL_PARAMCHANGE), or the console instance\n"
  "                           with that process ID (its ready line names it)\n"
  "  stats                    print a running instance's figures from its --admin\n"
  "                           endpoint (default 127.0.0.1:9100); --json for scripts\n"
  "  service                  (used by the SCM) run as the service\n"
  "\n"
  "Listeners (--listen may be repeated; default " PS_DEFAULT_LISTEN "):\n"
  "  --listen echo=127.0.0.1:7007   one IPv4 address\n"
  "  --listen echo=[::1]:7007       one IPv6 address (brackets required)\n"
  "  --listen echo=:7007            every local address, IPv4 and IPv6\n"
  "  --listen echo=localhost:7007   every address the name resolves to\n"
  "  PORT 0 picks a free port; the console prints the port chosen. A name that\n"
  "  resolves to several addresses gets one listening socket per address; add\n"
  "  ',optional' to skip addresses that cannot be opened instead of failing.\n";

/* After the services line, which the registry makes (ps_options_usage_for). */
static const char ps_usage_options_head[] =
  "\n"
  "Options (applied in order: flags after --config override the file; in the file,\n"
  "[server] keys are the flags without '--' and with '_' for '-'):\n";

static const char ps_usage_tail[] = "  -h, --help               this text\n"
                                    "  --version                print the version\n"
                                    "\n"
                                    "Exit status: 0 after a clean stop, 1 if the server could not start or failed\n"
                                    "(check: the file has errors or an address is in use), 2 for a bad command line.\n";

#define OPT__HELP_COLUMN 27
#define OPT__HELP_WIDTH 79

/* Text appended to a caller's buffer, counting what did not fit. */
typedef struct opt__text {
  char *buf;
  size_t size, len;
} opt__text;

static void opt__put(opt__text *t, const char *s, size_t n) {
  size_t k;
  for (k = 0; k < n; k++, t->len++)
    if (t->len + 1 < t->size) t->buf[t->len] = s[k];
  if (t->size > 0) t->buf[t->len < t->size ? t->len : t->size - 1] = '\0';
}

static void opt__puts(opt__text *t, const char *s) { opt__put(t, s, strlen(s)); }

static void opt__pad(opt__text *t, size_t n) {
  while (n-- > 0) opt__put(t, " ", 1);
}

/* "  --flag META   help wrapped at OPT__HELP_WIDTH, indented to OPT__HELP_COLUMN". */
static void opt__usage_row(opt__text *t, const char *left, const char *text) {
  size_t col = strlen(left);
  const char *w = text;
  opt__puts(t, left);
  if (col + 1 > OPT__HELP_COLUMN) {
    opt__puts(t, "\n");
    col = 0;
  }
  opt__pad(t, OPT__HELP_COLUMN - col);
  col = OPT__HELP_COLUMN;
  while (*w != '\0') {
    size_t n = strcspn(w, " ");
    if (col > OPT__HELP_COLUMN && col + 1 + n > OPT__HELP_WIDTH) {
      opt__puts(t, "\n");
      opt__pad(t, OPT__HELP_COLUMN);
      col = OPT__HELP_COLUMN;
    } else if (col > OPT__HELP_COLUMN) {
      opt__puts(t, " ");
      col++;
    }
    opt__put(t, w, n);
    col += n;
    w += n;
    while (*w == ' ') w++;
  }
  opt__puts(t, "\n");
}

static const char *opt__metavar(const ps_option_def *d, char *buf, size_t size) {
  size_t k, len = 0;
  if (d->metavar != NULL) return d->metavar;
  switch (d->type) {
    case PS_OPT_BOOL:
      return "0|1";
    case PS_OPT_ENUM:
      buf[0] = '\0';
      for (k = 0; d->names[k] != NULL; k++)
        len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", k ? "|" : "", d->names[k]);
      return buf;
    default:
      break;
  }
  switch (d->unit) {
    case PS_UNIT_S:
      return "SEC";
    case PS_UNIT_MS:
      return "MS";
    case PS_UNIT_BYTES:
      return "BYTES";
    default:
      return "N";
  }
}

size_t ps_options_usage(char *buf, size_t size) { return ps_options_usage_for(NULL, buf, size); }

size_t ps_options_usage_for(const ps_registry *services, char *buf, size_t size) {
  opt__text t;
  size_t k;
  char names[400], line[480];
  t.buf = buf;
  t.size = size;
  t.len = 0;
  if (size > 0) buf[0] = '\0';
  opt__puts(&t, ps_usage_commands);
  /* The services --listen takes: the registry's names (built-in: RFC 862
   * echo, 863 discard, 864 chargen, 867 daytime, 865 qotd). */
  ps_registry_names(services != NULL ? services : ps_registry_builtin(), names, sizeof(names));
  snprintf(line, sizeof(line), "  Services: %s.\n", names);
  opt__puts(&t, line);
  opt__puts(&t, ps_usage_options_head);
  for (k = 0; k < PS_COUNTOF(opt__table); k++) {
    const ps_option_def *d = &opt__table[k];
    char left[80], meta[64], def[64], text[700];
    int zero_default = (d->type == PS_OPT_UINT || d->type == PS_OPT_BOOL)
                         ? d->default_uint == 0
                         : (d->type == PS_OPT_PATH || d->type == PS_OPT_ADDR);
    snprintf(left, sizeof(left), "  %s %s", d->flag, opt__metavar(d, meta, sizeof(meta)));
    ps_option_default_text(d, def, sizeof(def));
    if (d->type == PS_OPT_CONFIG) snprintf(text, sizeof(text), "%s", d->help);
    else if (d->zero_means == NULL) snprintf(text, sizeof(text), "%s (default %s)", d->help, def);
    else if (zero_default && d->default_shown == NULL && def[0] == '\0')
      snprintf(text, sizeof(text), "%s (default: %s)", d->help, d->zero_means);
    else if (zero_default && d->default_shown == NULL)
      snprintf(text, sizeof(text), "%s (default 0: %s)", d->help, d->zero_means);
    else snprintf(text, sizeof(text), "%s (default %s; 0: %s)", d->help, def, d->zero_means);
    opt__usage_row(&t, left, text);
  }
  opt__puts(&t, ps_usage_tail);
  return t.len;
}

/* ---- setting options ------------------------------------------------------- */

static int opt__uint(const char *flag, const char *value, unsigned min, unsigned max, unsigned *out, char *err,
                     size_t errsize) {
  char *end = NULL;
  unsigned long v;
  if (value[0] < '0' || value[0] > '9') return ps_fail(err, errsize, "%s: '%s' is not a number", flag, value);
  errno = 0;
  v = strtoul(value, &end, 10);
  if (*end != '\0') return ps_fail(err, errsize, "%s: '%s' is not a number", flag, value);
  /* strtoul saturates (ERANGE) instead of wrapping; unsigned long is 32 bits on Windows. */
  if (errno == ERANGE || v < min || v > max)
    return ps_fail(err, errsize, "%s: %s is out of range (%u to %u)", flag, value, min, max);
  *out = (unsigned)v;
  return 0;
}

/* Two specs collide when they name the same host and port on a shared transport. */
static int opt__same_listener(const ps_listen_spec *a, const ps_listen_spec *b) {
  return a->port != 0 && a->port == b->port && (a->transports & b->transports) != 0 && strcmp(a->host, b->host) == 0;
}

const ps_registry *ps_options_services(const ps_options *o) {
  return o->services != NULL ? o->services : ps_registry_builtin();
}

int ps_options_add_listen(ps_options *o, const char *value, char *err, size_t errsize) {
  ps_listen_spec spec;
  char msg[300];
  size_t i;
  if (o->listen_count == PS_MAX_LISTENS) return ps_fail(err, errsize, "more than %d listeners", PS_MAX_LISTENS);
  if (ps_listen_spec_parse(value, &spec, msg, sizeof(msg)) != 0) return ps_fail(err, errsize, "%s", msg);
  if (ps_registry_find(ps_options_services(o), spec.service) == NULL) {
    char names[300];
    return ps_fail(err, errsize, "'%.60s': unknown service '%s' (known: %s)", value, spec.service,
                   ps_registry_names(ps_options_services(o), names, sizeof(names)));
  }
  for (i = 0; i < o->listen_count; i++)
    if (opt__same_listener(&o->listens[i], &spec))
      return ps_fail(err, errsize, "'%.60s': duplicate of listener %u", value, (unsigned)i + 1);
  o->listens[o->listen_count++] = spec;
  return 0;
}

void ps_options_defaults(ps_options *o) {
  size_t k;
  memset(o, 0, sizeof(*o));
  for (k = 0; k < PS_COUNTOF(opt__table); k++) {
    const ps_option_def *d = &opt__table[k];
    char *field = (char *)o + d->offset;
    switch (d->type) {
      case PS_OPT_UINT:
      case PS_OPT_BOOL:
      case PS_OPT_ENUM:
        *(unsigned *)(void *)field = d->default_uint;
        break;
      case PS_OPT_PATH:
        snprintf(field, PS_PATH_MAX, "%s", d->default_str);
        break;
      case PS_OPT_ADDR:
        snprintf(field, PS_ADMIN_MAX, "%s", d->default_str);
        break;
      case PS_OPT_LISTEN: /* added after parsing when none is given (ps_options_parse) */
      case PS_OPT_CONFIG:
        break;
    }
  }
}

unsigned ps_options_bind_retry_s(const ps_options *o) {
  if (o->bind_retry_s != PS_BIND_RETRY_DEFAULT) return o->bind_retry_s;
  return o->command == PS_CMD_SERVICE ? PS_BIND_RETRY_SERVICE_S : PS_BIND_RETRY_CONSOLE_S;
}

int ps_options_admin_spec(const char *text, ps_listen_spec *out, char *err, size_t errsize) {
  char spec[PS_ADMIN_MAX + 8], msg[300];
  const char *reason;
  if (strlen(text) >= PS_ADMIN_MAX) return ps_fail(err, errsize, "'%.40s...': address too long", text);
  snprintf(spec, sizeof(spec), "admin=%s", text);
  if (ps_listen_spec_parse(spec, out, msg, sizeof(msg)) != 0) {
    /* The listener parser quotes "admin=TEXT" first; keep only its reason. */
    reason = strstr(msg, "': ");
    return ps_fail(err, errsize, "'%s' is not HOST:PORT: %s", text, reason != NULL ? reason + 3 : msg);
  }
  if (out->transports != PS_TRANSPORT_BOTH || out->optional)
    return ps_fail(err, errsize,
                   "'%s' is not HOST:PORT (the admin endpoint is HTTP over TCP: no /tcp, /udp or ,optional)", text);
  out->transports = PS_TRANSPORT_TCP;
  return 0;
}

/* Sets the option of row `d` named `name` (as the user wrote it: flag or key). */
static int opt__set(ps_options *o, const ps_option_def *d, const char *name, const char *value, char *err,
                    size_t errsize) {
  char *field = (char *)o + d->offset;
  size_t k;
  switch (d->type) {
    case PS_OPT_UINT:
      return opt__uint(name, value, d->min, d->max, (unsigned *)(void *)field, err, errsize);
    case PS_OPT_BOOL:
      if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
        return ps_fail(err, errsize, "%s: '%s' is not 0 or 1", name, value);
      *(unsigned *)(void *)field = value[0] == '1';
      return 0;
    case PS_OPT_ENUM: {
      char names[128];
      size_t len = 0;
      names[0] = '\0';
      for (k = 0; d->names[k] != NULL; k++) {
        if (strcmp(value, d->names[k]) == 0) {
          *(unsigned *)(void *)field = (unsigned)k;
          return 0;
        }
        len += (size_t)snprintf(names + len, len < sizeof(names) ? sizeof(names) - len : 0, "%s%s", k ? ", " : "",
                                d->names[k]);
      }
      return ps_fail(err, errsize, "%s: '%s' is not one of %s", name, value, names);
    }
    case PS_OPT_PATH:
      if (strlen(value) >= PS_PATH_MAX) return ps_fail(err, errsize, "%s: path too long", name);
      snprintf(field, PS_PATH_MAX, "%s", value);
      return 0;
    case PS_OPT_ADDR: {
      ps_listen_spec spec;
      char msg[400];
      if (value[0] != '\0' && ps_options_admin_spec(value, &spec, msg, sizeof(msg)) != 0)
        return ps_fail(err, errsize, "%s: %s", name, msg);
      snprintf(field, PS_ADMIN_MAX, "%s", value);
      return 0;
    }
    case PS_OPT_LISTEN:
      return ps_options_add_listen(o, value, err, errsize);
    case PS_OPT_CONFIG:
      break;
  }
  return 1;
}

int ps_options_set(ps_options *o, const char *name, const char *value, char *err, size_t errsize) {
  const ps_option_def *d = strncmp(name, "--", 2) == 0 ? ps_option_by_flag(name) : ps_option_by_ini_key(name);
  if (d == NULL) return 1;
  return opt__set(o, d, name, value, err, errsize);
}

int ps_options_set_ini(ps_options *o, const char *key, const char *value, char *err, size_t errsize) {
  const ps_option_def *d = ps_option_by_ini_key(key);
  if (d == NULL) return 1;
  return opt__set(o, d, key, value, err, errsize);
}

static const struct {
  const char *name;
  ps_command command;
} opt__commands[] = {
  {"run", PS_CMD_RUN},     {"service", PS_CMD_SERVICE},   {"install", PS_CMD_INSTALL}, {"uninstall", PS_CMD_UNINSTALL},
  {"start", PS_CMD_START}, {"stop", PS_CMD_STOP},         {"status", PS_CMD_STATUS},   {"reload", PS_CMD_RELOAD},
  {"check", PS_CMD_CHECK}, {"help", PS_CMD_HELP},         {"--help", PS_CMD_HELP},     {"-h", PS_CMD_HELP},
  {"/?", PS_CMD_HELP},     {"--version", PS_CMD_VERSION}, {"version", PS_CMD_VERSION},
};

int ps_options_parse(int argc, char **argv, ps_options *o, char *err, size_t errsize) {
  return ps_options_parse_for(NULL, argc, argv, o, err, errsize);
}

int ps_options_parse_for(const ps_registry *services, int argc, char **argv, ps_options *o, char *err, size_t errsize) {
  int i;
  size_t k;
  ps_options_defaults(o);
  o->services = services;

  if (argc < 2) return ps_fail(err, errsize, "missing command (try: portserve run)");
  for (k = 0; k < PS_COUNTOF(opt__commands); k++)
    if (strcmp(argv[1], opt__commands[k].name) == 0) break;
  if (k == PS_COUNTOF(opt__commands)) return ps_fail(err, errsize, "unknown command '%s'", argv[1]);
  o->command = opt__commands[k].command;

  for (i = 2; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = NULL;
    char flag[64];
    const char *eq;
    int r;

    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      o->command = PS_CMD_HELP;
      return 0;
    }
    if (o->command == PS_CMD_RELOAD && o->reload_pid == 0 && arg[0] >= '1' && arg[0] <= '9' &&
        strspn(arg, "0123456789") == strlen(arg) && strlen(arg) <= 9) {
      o->reload_pid = (unsigned)strtoul(arg, NULL, 10);
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) return ps_fail(err, errsize, "unexpected argument '%s'", arg);
    eq = strchr(arg, '=');
    if (eq != NULL) {
      size_t n = (size_t)(eq - arg);
      if (n >= sizeof(flag)) return ps_fail(err, errsize, "unknown option '%.60s'", arg);
      memcpy(flag, arg, n);
      flag[n] = '\0';
      value = eq + 1;
    } else {
      if (strlen(arg) >= sizeof(flag)) return ps_fail(err, errsize, "unknown option '%.60s'", arg);
      snprintf(flag, sizeof(flag), "%s", arg);
    }
    /* check's own switch: it takes no value and sets no option. */
    if (o->command == PS_CMD_CHECK && strcmp(flag, "--bind") == 0 && value == NULL) {
      o->check_bind = 1;
      continue;
    }
    if (ps_option_by_flag(flag) == NULL) return ps_fail(err, errsize, "unknown option '%s'", flag);
    /* check reads the file itself, reporting every error (ps_config_load_all). */
    if (o->command == PS_CMD_CHECK && strcmp(flag, "--config") != 0)
      return ps_fail(err, errsize, "check takes only --config FILE and --bind ('%s')", flag);
    /* The SCM commands take what the service will read, nothing else: a flag
     * they ignored would look applied and not be. */
    if (o->command == PS_CMD_INSTALL && strcmp(flag, "--config") != 0)
      return ps_fail(err, errsize, "install takes only --config FILE (put '%s' in the configuration file)", flag);
    if (o->command == PS_CMD_UNINSTALL || o->command == PS_CMD_START || o->command == PS_CMD_STOP ||
        o->command == PS_CMD_STATUS || o->command == PS_CMD_RELOAD)
      return ps_fail(err, errsize, "%s takes no options ('%s')", argv[1], flag);
    if (value == NULL) {
      if (i + 1 >= argc) return ps_fail(err, errsize, "%s needs a value", flag);
      value = argv[++i];
    }
    if (strcmp(flag, "--config") == 0) {
      if (strlen(value) >= PS_PATH_MAX) return ps_fail(err, errsize, "--config: path too long");
      snprintf(o->config_path, sizeof(o->config_path), "%s", value);
      if (o->command != PS_CMD_CHECK && ps_config_load(value, o, err, errsize) != 0) return -1;
      continue;
    }
    r = ps_options_set(o, flag, value, err, errsize);
    if (r == 1) return ps_fail(err, errsize, "unknown option '%s'", flag);
    if (r != 0) {
      if (strcmp(flag, "--listen") == 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "--listen %s", err);
        snprintf(err, errsize, "%s", msg);
      }
      return -1;
    }
  }

  if (o->command == PS_CMD_CHECK && o->config_path[0] == '\0')
    return ps_fail(err, errsize, "check needs --config FILE");
  if ((o->command == PS_CMD_RUN || o->command == PS_CMD_SERVICE) && o->listen_count == 0)
    if (ps_options_add_listen(o, PS_DEFAULT_LISTEN, err, errsize) != 0) return -1;
  return 0;
}
