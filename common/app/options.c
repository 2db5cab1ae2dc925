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
typedef char opt__format_is_uint_sized[sizeof(ps_log_format_option) == sizeof(unsigned) ? 1 : -1];

static const char *const opt__levels[] = {"error", "warn", "info", "debug", NULL}; /* ps_level_option */
static const char *const opt__log_times[] = {"local", "utc", NULL};                /* ps_log_time_option */
static const char *const opt__log_formats[] = {"text", "json", NULL};              /* ps_log_format_option */

#define OPT_FIELD(f) offsetof(ps_options, f)

/* An engine setting: the ps_engine_config field the option sets, and the
 * factor from the option's unit to the field's (seconds to milliseconds). */
#define OPT_ENGINE(f, scale) .engine = 1, .engine_offset = offsetof(ps_engine_config, f), .engine_scale = (scale)

static const ps_option_def opt__table[] = {
  {.flag = "--config",
   .type = PS_OPT_CONFIG,
   .offset = OPT_FIELD(config_path),
   .default_str = "",
   .metavar = "FILE",
   .help = "read options and listeners from an INI file (see portserve.ini.example)"},
  {.flag = "--listen",
   .type = PS_OPT_LISTEN,
   .default_str = "",
   .metavar = "SPEC",
   .help = "add a listener, as above; may be repeated ([listeners] in the file)",
   .default_shown = PS_DEFAULT_LISTEN},
  {.flag = "--threads",
   .ini_key = "threads",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(threads),
   .max = 256,
   .default_uint = PS_ENGINE_DEFAULT_THREADS,
   OPT_ENGINE(threads, 1),
   .reload = PS_RELOAD_RESTART,
   .help = "worker threads",
   .zero_means = "one per processor"},
  {.flag = "--accepts",
   .ini_key = "accepts",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(accepts),
   .min = 1,
   .max = 4096,
   .default_uint = PS_ENGINE_DEFAULT_ACCEPTS,
   OPT_ENGINE(accepts, 1),
   .reload = PS_RELOAD_NEW_LISTENERS,
   .help = "AcceptEx kept posted per TCP listener"},
  {.flag = "--accept-data",
   .ini_key = "accept_data",
   .type = PS_OPT_BOOL,
   .offset = OPT_FIELD(accept_data),
   .max = 1,
   .default_uint = 1,
   OPT_ENGINE(accept_data, 1),
   .reload = PS_RELOAD_LIVE,
   .help =
     "1: for services whose clients speak first (echo, discard) AcceptEx also waits for the client's first bytes, "
     "which saves the first read; a client silent for a second is set aside, served when it speaks and closed "
     "at --idle-timeout (0: accept at once, then read)"},
  {.flag = "--burst-reads",
   .ini_key = "burst_reads",
   .type = PS_OPT_BOOL,
   .offset = OPT_FIELD(burst_reads),
   .max = 1,
   .default_uint = 1,
   OPT_ENGINE(burst_reads, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "1: after a read that filled its buffer, read what else is waiting at once, up to 64 KiB per call "
           "into the worker thread's buffer (a non-blocking read, as libuv does), instead of posting one read "
           "per buffer (0: post them)"},
  {.flag = "--buffer-size",
   .ini_key = "buffer_size",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_BYTES,
   .offset = OPT_FIELD(buffer_size),
   .min = 512,
   .max = 1048576,
   .default_uint = PS_ENGINE_DEFAULT_BUFFER_SIZE,
   OPT_ENGINE(buffer_size, 1),
   .reload = PS_RELOAD_RESTART,
   .help = "size of one pooled I/O buffer (and the largest datagram served)"},
  {.flag = "--send-queue-max",
   .ini_key = "send_queue_max",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_BYTES,
   .offset = OPT_FIELD(send_queue_max),
   .min = 1024,
   .max = 1073741824,
   .default_uint = PS_ENGINE_DEFAULT_SEND_QUEUE_MAX,
   OPT_ENGINE(send_queue_max, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "unsent bytes per connection before the server stops reading from it"},
  {.flag = "--max-connections",
   .ini_key = "max_connections",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(max_connections),
   .max = 10000000,
   OPT_ENGINE(max_connections, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "open connections the server holds; at the limit it stops posting AcceptEx, so further clients wait in "
           "the listen backlog and are accepted once a connection closes (they are not reset)",
   .zero_means = "no limit"},
  {.flag = "--max-connections-per-source",
   .ini_key = "max_connections_per_source",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(max_connections_per_source),
   .max = 10000000,
   OPT_ENGINE(max_connections_per_source, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "open connections one source IP address may hold; beyond it new connections from that address are refused",
   .zero_means = "no limit"},
  {.flag = "--source-prefix-v4",
   .ini_key = "source_prefix_v4",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(source_prefix_v4),
   .min = 1,
   .max = 32,
   .default_uint = PS_ENGINE_DEFAULT_SOURCE_PREFIX_V4,
   .metavar = "BITS",
   OPT_ENGINE(source_prefix_v4, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "IPv4 sources that share their first BITS bits count as one source for --max-connections-per-source and "
           "the UDP reply rate (32: each address)"},
  {.flag = "--source-prefix-v6",
   .ini_key = "source_prefix_v6",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(source_prefix_v6),
   .min = 1,
   .max = 128,
   .default_uint = PS_ENGINE_DEFAULT_SOURCE_PREFIX_V6,
   .metavar = "BITS",
   OPT_ENGINE(source_prefix_v6, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "IPv6 sources that share their first BITS bits count as one source (64: one subnet, which a single host "
           "may hold whole; 128: each address)"},
  {.flag = "--proxy-from",
   .ini_key = "proxy_from",
   .type = PS_OPT_NETS,
   .offset = OPT_FIELD(proxy_from),
   .default_str = "",
   .metavar = "LIST",
   OPT_ENGINE(proxy_from, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "load balancers (addresses or CIDR ranges, comma-separated, e.g. 10.0.0.5,192.0.2.0/24) trusted to send "
           "PROXY protocol headers on ',proxy' listeners; a connection from any other address there is refused",
   .zero_means = "none"},
  {.flag = "--idle-timeout",
   .ini_key = "idle_timeout",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(idle_timeout_s),
   .max = 604800,
   .default_uint = PS_ENGINE_DEFAULT_IDLE_TIMEOUT_MS / 1000,
   OPT_ENGINE(idle_timeout_ms, 1000),
   .reload = PS_RELOAD_LIVE,
   .help = "close a connection gracefully when no byte has moved either way for SEC seconds",
   .zero_means = "never"},
  {.flag = "--linger-timeout",
   .ini_key = "linger_timeout",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(linger_timeout_s),
   .max = 3600,
   .default_uint = PS_ENGINE_DEFAULT_LINGER_TIMEOUT_MS / 1000,
   OPT_ENGINE(linger_timeout_ms, 1000),
   .reload = PS_RELOAD_LIVE,
   .help = "after the server's FIN, how long the peer gets to send its own before the server closes",
   .zero_means = "forever"},
  {.flag = "--send-timeout",
   .ini_key = "send_timeout",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(send_timeout_s),
   .max = 3600,
   .default_uint = PS_ENGINE_DEFAULT_SEND_TIMEOUT_MS / 1000,
   OPT_ENGINE(send_timeout_ms, 1000),
   .reload = PS_RELOAD_LIVE,
   .help = "reset a connection whose queued data made no progress for SEC seconds: the peer stopped reading",
   .zero_means = "never"},
  {.flag = "--keepalive",
   .ini_key = "keepalive",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(keepalive_s),
   .max = 86400,
   .default_uint = PS_ENGINE_DEFAULT_KEEPALIVE_MS / 1000,
   OPT_ENGINE(keepalive_ms, 1000),
   .reload = PS_RELOAD_NEW_CONNECTIONS, /* SIO_KEEPALIVE_VALS at the accept (conn.c) */
   .help = "TCP keep-alive after SEC idle seconds, so vanished peers are found",
   .zero_means = "off"},
  {.flag = "--drain-timeout",
   .ini_key = "drain_timeout",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_MS,
   .offset = OPT_FIELD(drain_timeout_ms),
   .max = 3600000,
   .default_uint = PS_ENGINE_DEFAULT_DRAIN_TIMEOUT_MS,
   OPT_ENGINE(drain_timeout_ms, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "on stop, time connections get to finish before they are reset (at most 3000 when the console is closed: "
           "Windows ends the process 5 s after that)"},
  {.flag = "--shutdown-grace",
   .ini_key = "shutdown_grace",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(shutdown_grace_s),
   .max = 3600,
   .reload = PS_RELOAD_LIVE,
   .help = "on stop, /healthz answers 503 at once while the listeners keep serving for SEC seconds, so a load "
           "balancer takes this instance out of rotation before it closes; then the drain begins (0 when the "
           "console is closed)",
   .zero_means = "none"},
  {.flag = "--bind-retry",
   .ini_key = "bind_retry",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(bind_retry_s),
   .max = PS_BIND_RETRY_MAX_S,
   .default_uint = PS_BIND_RETRY_DEFAULT,
   OPT_ENGINE(bind_retry_ms, 1000),
   .reload = PS_RELOAD_LIVE,
   .help = "a port still held (WSAEADDRINUSE), e.g. by the previous instance's closing connections, is retried "
           "this long before the start (or a reload's new listener) fails",
   .zero_means = "fail at once",
   .default_shown =
     PS_STR(PS_BIND_RETRY_CONSOLE_S) " in the console, " PS_STR(PS_BIND_RETRY_SERVICE_S) " as a service"},
  {.flag = "--stats-interval",
   .ini_key = "stats_interval",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_S,
   .offset = OPT_FIELD(stats_interval_s),
   .max = 86400,
   .default_uint = 5,
   .reload = PS_RELOAD_LIVE,
   .help = "log a stats line every SEC seconds",
   .zero_means = "off"},
  {.flag = "--udp-receives",
   .ini_key = "udp_receives",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(udp_receives),
   .min = 1,
   .max = 1024,
   .default_uint = PS_ENGINE_DEFAULT_UDP_RECEIVES,
   OPT_ENGINE(udp_receives, 1),
   .reload = PS_RELOAD_NEW_LISTENERS,
   .help = "WSARecvFrom kept posted per UDP socket (one reads a socket's waiting datagrams in turn; more let several "
           "workers serve one busy socket at once)"},
  {.flag = "--udp-reply-rate",
   .ini_key = "udp_reply_rate",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(udp_reply_rate),
   .max = 1000000,
   .default_uint = PS_ENGINE_DEFAULT_UDP_REPLY_RATE,
   OPT_ENGINE(udp_reply_rate, 1),
   .reload = PS_RELOAD_RESTART,
   .help = "UDP replies per second to one source address, so the server cannot be used to flood a spoofed victim",
   .zero_means = "no limit"},
  {.flag = "--udp-reply-burst",
   .ini_key = "udp_reply_burst",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(udp_reply_burst),
   .min = 1,
   .max = 1000000,
   .default_uint = PS_ENGINE_DEFAULT_UDP_REPLY_BURST,
   OPT_ENGINE(udp_reply_burst, 1),
   .reload = PS_RELOAD_RESTART,
   .help = "UDP replies a source may get at once"},
  {.flag = "--udp-reply-rate-total",
   .ini_key = "udp_reply_rate_total",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(udp_reply_rate_total),
   .max = 10000000,
   .default_uint = PS_ENGINE_DEFAULT_UDP_REPLY_RATE_TOTAL,
   OPT_ENGINE(udp_reply_rate_total, 1),
   .reload = PS_RELOAD_RESTART,
   .help = "UDP replies per second to all sources together",
   .zero_means = "no limit"},
  {.flag = "--udp-allow-low-ports",
   .ini_key = "udp_allow_low_ports",
   .type = PS_OPT_BOOL,
   .offset = OPT_FIELD(udp_allow_low_ports),
   .max = 1,
   OPT_ENGINE(udp_allow_low_ports, 1),
   .reload = PS_RELOAD_LIVE,
   .help = "1: answer datagrams from source ports 1-1023 too (0: dropped, they are other hosts' services; port 0 "
           "and this server's own UDP ports always are)"},
  {.flag = "--admin",
   .ini_key = "admin",
   .type = PS_OPT_ADDR,
   .offset = OPT_FIELD(admin),
   .default_str = "",
   .metavar = "ADDR",
   .reload = PS_RELOAD_LIVE,
   .help = "serve the admin HTTP endpoint (metrics, health) on HOST:PORT, e.g. 127.0.0.1:" PS_STR(
     PS_ADMIN_DEFAULT_PORT) " or [::1]:" PS_STR(PS_ADMIN_DEFAULT_PORT),
   .zero_means = "off"},
  {.flag = "--log-level",
   .ini_key = "log_level",
   .type = PS_OPT_ENUM,
   .offset = OPT_FIELD(log_level),
   .default_uint = PS_LEVEL_INFO,
   .names = opt__levels,
   .metavar = "LEVEL",
   .reload = PS_RELOAD_LIVE,
   .help = "log lines of this level and above: error, warn, info or debug"},
  {.flag = "--log-file",
   .ini_key = "log_file",
   .type = PS_OPT_PATH,
   .offset = OPT_FIELD(log_file),
   .default_str = "",
   .metavar = "FILE",
   .reload = PS_RELOAD_LIVE,
   .help = "also append log lines to FILE",
   .zero_means = "none"},
  {.flag = "--log-max-size",
   .ini_key = "log_max_size",
   .type = PS_OPT_UINT,
   .unit = PS_UNIT_BYTES,
   .offset = OPT_FIELD(log_max_size),
   .max = 1073741824,
   .default_uint = 10485760,
   .reload = PS_RELOAD_LIVE,
   .help = "rotate the log file when a line would take it past this size",
   .zero_means = "never rotate"},
  {.flag = "--log-files",
   .ini_key = "log_files",
   .type = PS_OPT_UINT,
   .offset = OPT_FIELD(log_files),
   .min = 1,
   .max = 100,
   .default_uint = 5,
   .reload = PS_RELOAD_LIVE,
   .help = "old log files kept when the log file rotates"},
  {.flag = "--log-time",
   .ini_key = "log_time",
   .type = PS_OPT_ENUM,
   .offset = OPT_FIELD(log_time),
   .default_uint = PS_LOG_TIME_LOCAL,
   .names = opt__log_times,
   .reload = PS_RELOAD_LIVE,
   .help = "time stamps of log lines in local time (with the UTC offset) or UTC"},
  {.flag = "--log-format",
   .ini_key = "log_format",
   .type = PS_OPT_ENUM,
   .offset = OPT_FIELD(log_format),
   .default_uint = PS_LOG_FORMAT_TEXT,
   .names = opt__log_formats,
   .reload = PS_RELOAD_LIVE,
   .help = "log lines as text, or as one JSON object per line (time, level, event, msg) for log shippers"},
  {.flag = "--quotes-file",
   .ini_key = "quotes_file",
   .type = PS_OPT_PATH,
   .offset = OPT_FIELD(quotes_file),
   .default_str = "",
   .metavar = "FILE",
   .reload = PS_RELOAD_RESTART,
   .help = "quotes for qotd, separated by blank lines",
   .zero_means = "built-in quotes"},
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
  "usage: portserve run [--config FILE] [--listen SERVICE=[HOST]:PORT[/tcp|/udp][,optional][,proxy]]... [options]\n"
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
  "                           listener's and the admin endpoint's addresses and\n"
  "                           report every one in use (those the running\n"
  "                           instance's admin endpoint lists do not fail)\n"
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
  "  ',optional' to skip addresses that cannot be opened instead of failing.\n"
  "  ',proxy' (with /tcp): each connection starts with a PROXY protocol header\n"
  "  (v1 or v2) from a load balancer named in --proxy-from; the client it names\n"
  "  is the connection's source for limits, logs and handlers.\n";

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
                         : (d->type == PS_OPT_PATH || d->type == PS_OPT_ADDR || d->type == PS_OPT_NETS);
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
      case PS_OPT_NETS:
        if (ps_net_list_parse(d->default_str, (ps_net_list *)(void *)field, NULL, 0) != 0) abort();
        break;
      case PS_OPT_LISTEN: /* added after parsing when none is given (ps_options_parse) */
      case PS_OPT_CONFIG:
        break;
    }
  }
}

unsigned ps_option_uint(const ps_options *o, const ps_option_def *d) {
  unsigned v;
  memcpy(&v, (const char *)o + d->offset, sizeof(v));
  /* The one row whose stored value may mean "not set": its default depends
   * on the command. */
  if (d->offset == OPT_FIELD(bind_retry_s)) v = ps_options_bind_retry_s(o);
  return v;
}

/* Bytes of a row's field in ps_options (0: the row has none). */
static size_t opt__field_size(const ps_option_def *d) {
  switch (d->type) {
    case PS_OPT_UINT:
    case PS_OPT_BOOL:
    case PS_OPT_ENUM:
      return sizeof(unsigned);
    case PS_OPT_PATH:
      return PS_PATH_MAX;
    case PS_OPT_ADDR:
      return PS_ADMIN_MAX;
    case PS_OPT_NETS:
      return sizeof(ps_net_list);
    default:
      return 0;
  }
}

char *ps_option_value_text(const ps_options *o, const ps_option_def *d, char *buf, size_t size) {
  const char *field = (const char *)o + d->offset;
  if (d->type == PS_OPT_UINT || d->type == PS_OPT_BOOL) snprintf(buf, size, "%u", ps_option_uint(o, d));
  else if (d->type == PS_OPT_ENUM) snprintf(buf, size, "%s", d->names[ps_option_uint(o, d)]);
  else if (d->type == PS_OPT_PATH || d->type == PS_OPT_ADDR) snprintf(buf, size, "%s", field);
  else if (d->type == PS_OPT_NETS) ps_net_list_format((const ps_net_list *)(const void *)field, buf, size);
  else snprintf(buf, size, "%s", "");
  return buf;
}

int ps_option_equal(const ps_options *a, const ps_options *b, const ps_option_def *d) {
  size_t n = opt__field_size(d);
  if (n == 0) return 1;
  if (d->type == PS_OPT_PATH || d->type == PS_OPT_ADDR)
    return strcmp((const char *)a + d->offset, (const char *)b + d->offset) == 0;
  if (d->type == PS_OPT_NETS) return memcmp((const char *)a + d->offset, (const char *)b + d->offset, n) == 0;
  return ps_option_uint(a, d) == ps_option_uint(b, d);
}

void ps_option_copy(ps_options *dst, const ps_options *src, const ps_option_def *d) {
  size_t n = opt__field_size(d);
  if (n != 0) memcpy((char *)dst + d->offset, (const char *)src + d->offset, n);
}

/* FNV-1a, 64 bits: a fingerprint, not a defence (nobody gains by making
 * two configurations collide). */
static uint64_t opt__fnv1a(uint64_t h, const char *text) {
  for (; *text != '\0'; text++) {
    h ^= (unsigned char)*text;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void ps_options_hash(const ps_options *o, char *out, size_t size) {
  uint64_t h = 0xcbf29ce484222325ULL;
  char text[PS_HOST_MAX + 600];
  size_t k;
  for (k = 0; k < PS_COUNTOF(opt__table); k++) {
    const ps_option_def *d = &opt__table[k];
    if (d->ini_key == NULL) continue;
    h = opt__fnv1a(h, d->ini_key);
    h = opt__fnv1a(h, "=");
    h = opt__fnv1a(h, ps_option_value_text(o, d, text, sizeof(text)));
    h = opt__fnv1a(h, "\n");
  }
  for (k = 0; k < o->listen_count; k++) {
    h = opt__fnv1a(h, ps_listen_spec_format(&o->listens[k], text, sizeof(text)));
    h = opt__fnv1a(h, "\n");
  }
  snprintf(out, size, "%016llx", (unsigned long long)h);
}

void ps_options_engine_config(const ps_options *o, ps_engine_config *cfg) {
  size_t k;
  for (k = 0; k < PS_COUNTOF(opt__table); k++) {
    const ps_option_def *d = &opt__table[k];
    unsigned v;
    if (!d->engine) continue;
    if (d->type == PS_OPT_NETS) {
      memcpy((char *)cfg + d->engine_offset, (const char *)o + d->offset, sizeof(ps_net_list));
      continue;
    }
    v = ps_option_uint(o, d) * d->engine_scale;
    memcpy((char *)cfg + d->engine_offset, &v, sizeof(v));
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
  if (out->transports != PS_TRANSPORT_BOTH || out->optional || out->proxy)
    return ps_fail(err, errsize,
                   "'%s' is not HOST:PORT (the admin endpoint is HTTP over TCP: no /tcp, /udp, ,optional or ,proxy)",
                   text);
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
    case PS_OPT_NETS: {
      char msg[200];
      if (ps_net_list_parse(value, (ps_net_list *)(void *)field, msg, sizeof(msg)) != 0)
        return ps_fail(err, errsize, "%s: %s", name, msg);
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
  ps_config_first first;
  first.err = err;
  first.errsize = errsize;
  return ps_options_parse_each(services, argc, argv, o, ps_config_keep_first, &first) == 0 ? 0 : -1;
}

/* ps_options_parse_each's errors: counted, then handed to the callback; the
 * config file's come through ps_config_load_each. */
typedef struct opt__errors {
  ps_options_error_fn on_error;
  void *ctx;
  unsigned count;
  int stop; /* the callback asked to stop */
} opt__errors;

static int opt__count_config_error(void *ctx, const char *message) {
  opt__errors *e = (opt__errors *)ctx;
  e->count++;
  if (e->on_error(e->ctx, message) != 0) e->stop = 1;
  return e->stop;
}

/* Reports `err`; non-zero when parsing must stop (the callback said so). */
static int opt__report(opt__errors *e, const char *err) { return opt__count_config_error(e, err); }

unsigned ps_options_parse_each(const ps_registry *services, int argc, char **argv, ps_options *o,
                               ps_options_error_fn on_error, void *ctx) {
  opt__errors errors;
  char err[PS_OPTIONS_ERROR_MAX];
  int i;
  size_t k;
  errors.on_error = on_error;
  errors.ctx = ctx;
  errors.count = 0;
  errors.stop = 0;
  ps_options_defaults(o);
  o->services = services;

  /* An error after which the rest of the line cannot be read: the last. */
#define OPT__FATAL(...) \
  do { \
    ps_fail(err, sizeof(err), __VA_ARGS__); \
    opt__report(&errors, err); \
    return errors.count; \
  } while (0)
  /* An error that spoils one option only: the others are still read. */
#define OPT__BAD(...) \
  do { \
    ps_fail(err, sizeof(err), __VA_ARGS__); \
    if (opt__report(&errors, err)) return errors.count; \
  } while (0)

  if (argc < 2) OPT__FATAL("missing command (try: portserve run)");
  for (k = 0; k < PS_COUNTOF(opt__commands); k++)
    if (strcmp(argv[1], opt__commands[k].name) == 0) break;
  if (k == PS_COUNTOF(opt__commands)) OPT__FATAL("unknown command '%s'", argv[1]);
  o->command = opt__commands[k].command;

  for (i = 2; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = NULL;
    char flag[64];
    const char *eq;
    int r;

    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      o->command = PS_CMD_HELP;
      return errors.count;
    }
    if (o->command == PS_CMD_RELOAD && o->reload_pid == 0 && arg[0] >= '1' && arg[0] <= '9' &&
        strspn(arg, "0123456789") == strlen(arg) && strlen(arg) <= 9) {
      o->reload_pid = (unsigned)strtoul(arg, NULL, 10);
      continue;
    }
    if (strncmp(arg, "--", 2) != 0) OPT__FATAL("unexpected argument '%s'", arg);
    eq = strchr(arg, '=');
    if (eq != NULL) {
      size_t n = (size_t)(eq - arg);
      if (n >= sizeof(flag)) OPT__FATAL("unknown option '%.60s'", arg);
      memcpy(flag, arg, n);
      flag[n] = '\0';
      value = eq + 1;
    } else {
      if (strlen(arg) >= sizeof(flag)) OPT__FATAL("unknown option '%.60s'", arg);
      snprintf(flag, sizeof(flag), "%s", arg);
    }
    /* check's own switch: it takes no value and sets no option. */
    if (o->command == PS_CMD_CHECK && strcmp(flag, "--bind") == 0 && value == NULL) {
      o->check_bind = 1;
      continue;
    }
    /* Unknown: whether the next word is its value cannot be told. */
    if (ps_option_by_flag(flag) == NULL) OPT__FATAL("unknown option '%s'", flag);
    /* check reads the file itself, reporting every error (ps_config_load_all). */
    if (o->command == PS_CMD_CHECK && strcmp(flag, "--config") != 0)
      OPT__FATAL("check takes only --config FILE and --bind ('%s')", flag);
    /* The SCM commands take what the service will read, nothing else: a flag
     * they ignored would look applied and not be. */
    if (o->command == PS_CMD_INSTALL && strcmp(flag, "--config") != 0)
      OPT__FATAL("install takes only --config FILE (put '%s' in the configuration file)", flag);
    if (o->command == PS_CMD_UNINSTALL || o->command == PS_CMD_START || o->command == PS_CMD_STOP ||
        o->command == PS_CMD_STATUS || o->command == PS_CMD_RELOAD)
      OPT__FATAL("%s takes no options ('%s')", argv[1], flag);
    if (value == NULL) {
      if (i + 1 >= argc) OPT__FATAL("%s needs a value", flag);
      value = argv[++i];
    }
    if (strcmp(flag, "--config") == 0) {
      if (strlen(value) >= PS_PATH_MAX) {
        OPT__BAD("--config: path too long");
        continue;
      }
      snprintf(o->config_path, sizeof(o->config_path), "%s", value);
      /* Every bad line of the file, each with its line number. */
      if (o->command != PS_CMD_CHECK) ps_config_load_each(value, o, opt__count_config_error, &errors);
      if (errors.stop) return errors.count;
      continue;
    }
    r = ps_options_set(o, flag, value, err, sizeof(err));
    if (r == 1) OPT__FATAL("unknown option '%s'", flag);
    if (r != 0) {
      /* --listen's message starts with the spec, not the flag. */
      char msg[PS_OPTIONS_ERROR_MAX + 16];
      snprintf(msg, sizeof(msg), "%s%s", strcmp(flag, "--listen") == 0 ? "--listen " : "", err);
      if (opt__report(&errors, msg)) return errors.count;
    }
  }
#undef OPT__FATAL
#undef OPT__BAD

  if (o->command == PS_CMD_CHECK && o->config_path[0] == '\0') {
    ps_fail(err, sizeof(err), "check needs --config FILE");
    opt__report(&errors, err);
  }
  if (errors.count == 0 && (o->command == PS_CMD_RUN || o->command == PS_CMD_SERVICE) && o->listen_count == 0)
    if (ps_options_add_listen(o, PS_DEFAULT_LISTEN, err, sizeof(err)) != 0) opt__report(&errors, err);
  return errors.count;
}
