/* argv parsing for portserve.exe (see options.h). */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errtab.h"
#include "ps_compat.h"
#include "config.h"
#include "services.h"

/* Two literals: C11 promises string literals of 4,095 characters only
 * (-Woverlength-strings), and the text is longer. */
static const char ps_usage_commands[] =
  "usage: portserve run [--config FILE] [--listen SERVICE=[HOST]:PORT[/tcp|/udp][,optional]]... [options]\n"
  "       portserve install [--config FILE] | uninstall | start | stop | status\n"
  "       portserve reload [PID]\n"
  "       portserve --help | --version\n"
  "\n"
  "Commands:\n"
  "  run                      serve in this console until Ctrl+C, Ctrl+Break or close\n"
  "  install                  register the Windows service 'portserve' (automatic start,\n"
  "                           NT AUTHORITY\\LocalService) to run with --config FILE\n"
  "  uninstall                stop and remove the service\n"
  "  start | stop | status    drive the installed service through the SCM\n"
  "  reload [PID]             re-read the configuration without dropping connections:\n"
  "                           the service (SERVICE_CONTROL_PARAMCHANGE), or the console\n"
  "                           instance with that process ID (its ready line names it)\n"
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
  "  Services (TCP and UDP): echo (RFC 862), discard (RFC 863), chargen (RFC 864),\n"
  "  daytime (RFC 867), qotd (RFC 865).\n"
  "\n";

static const char ps_usage_options[] =
  "Options (applied in order: flags after --config override the file):\n"
  "  --config FILE            read options and listeners from an INI file\n"
  "                           (see portserve.ini.example)\n"
  "  --threads N              worker threads (default 0: one per processor)\n"
  "  --accepts N              AcceptEx kept posted per TCP listener (default 16)\n"
  "  --buffer-size BYTES      size of one pooled I/O buffer (default 8192)\n"
  "  --buffer-idle-ms MS      a connection idle this long gives its receive buffer\n"
  "                           back to the pool (default 1000)\n"
  "  --send-queue-max BYTES   unsent bytes per connection before the server stops\n"
  "                           reading from it (default 262144)\n"
  "  --max-connections N      refuse connections beyond N open ones (default 0: no limit)\n"
  "  --idle-timeout SEC       close a connection gracefully when no byte has moved\n"
  "                           either way for SEC seconds (default 300; 0: never)\n"
  "  --linger-timeout SEC     after the server's FIN, how long the peer gets to send\n"
  "                           its own before the server closes (default 30; 0: forever)\n"
  "  --send-timeout SEC       reset a connection whose queued data made no progress\n"
  "                           for SEC seconds: the peer stopped reading (default 60; 0: never)\n"
  "  --keepalive SEC          TCP keep-alive after SEC idle seconds, so vanished peers\n"
  "                           are found (default 60; 0: off)\n"
  "  --drain-timeout MS       on stop, time connections get to finish before they\n"
  "                           are reset (default 5000; at most 3000 when the console\n"
  "                           is closed: Windows ends the process 5 s after that)\n"
  "  --bind-retry SEC         a port still held (WSAEADDRINUSE), e.g. by the previous\n"
  "                           instance's closing connections, is retried this long\n"
  "                           before the start fails (default " PS_STR(PS_BIND_RETRY_CONSOLE_S) " in the console,\n"
  "                           " PS_STR(PS_BIND_RETRY_SERVICE_S) " as a service; 0: fail at once)\n"
  "  --stats-interval SEC     log a stats line every SEC seconds (default 5; 0: off)\n"
  "  --udp-receives N         WSARecvFrom kept posted per UDP socket (default 8)\n"
  "  --udp-reply-rate N       UDP replies per second to one source address, so the\n"
  "                           server cannot be used to flood a spoofed victim\n"
  "                           (default 100; 0: no limit)\n"
  "  --udp-reply-burst N      UDP replies a source may get at once (default 200)\n"
  "  --udp-reply-rate-total N UDP replies per second to all sources together\n"
  "                           (default 10000; 0: no limit)\n"
  "  --udp-allow-low-ports 0|1  1: answer datagrams from source ports 1-1023 too\n"
  "                           (default 0: dropped, they are other hosts' services;\n"
  "                           port 0 and this server's own UDP ports always are)\n"
  "  --log-level LEVEL        error, warn, info (default) or debug\n"
  "  --log-file FILE          also append log lines to FILE\n"
  "  --quotes-file FILE       quotes for qotd, separated by blank lines\n"
  "  -h, --help               this text\n"
  "  --version                print the version\n"
  "\n"
  "Exit status: 0 after a clean stop, 1 if the server could not start or failed,\n"
  "2 for a bad command line.\n";

size_t ps_options_usage(char *buf, size_t size) {
  int n = snprintf(buf, size, "%s%s", ps_usage_commands, ps_usage_options);
  return n < 0 ? 0 : (size_t)n;
}

static int opt__uint(const char *flag, const char *value, unsigned min, unsigned max, unsigned *out,
                     char *err, size_t errsize) {
  char *end = NULL;
  unsigned long v;
  if (value[0] < '0' || value[0] > '9')
    return ps_fail(err, errsize, "%s: '%s' is not a number", flag, value);
  v = strtoul(value, &end, 10);
  if (*end != '\0') return ps_fail(err, errsize, "%s: '%s' is not a number", flag, value);
  if (v < min || v > max)
    return ps_fail(err, errsize, "%s: %s is out of range (%u to %u)", flag, value, min, max);
  *out = (unsigned)v;
  return 0;
}

/* Two specs collide when they name the same host and port on a shared transport. */
static int opt__same_listener(const ps_listen_spec *a, const ps_listen_spec *b) {
  return a->port != 0 && a->port == b->port && (a->transports & b->transports) != 0 &&
         strcmp(a->host, b->host) == 0;
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

/* Numeric options: the flag, and the configuration key is the flag without
 * "--" and with '_' for '-'. */
typedef struct opt__uint_flag {
  const char *name;
  size_t offset;
  unsigned min, max;
} opt__uint_flag;

static const opt__uint_flag opt__uint_flags[] = {
  {"--threads", offsetof(ps_options, threads), 0, 256},
  {"--accepts", offsetof(ps_options, accepts), 1, 4096},
  {"--buffer-size", offsetof(ps_options, buffer_size), 512, 1048576},
  {"--send-queue-max", offsetof(ps_options, send_queue_max), 1024, 1073741824},
  {"--max-connections", offsetof(ps_options, max_connections), 0, 10000000},
  {"--drain-timeout", offsetof(ps_options, drain_timeout_ms), 0, 3600000},
  {"--stats-interval", offsetof(ps_options, stats_interval_s), 0, 86400},
  {"--udp-receives", offsetof(ps_options, udp_receives), 1, 1024},
  {"--buffer-idle-ms", offsetof(ps_options, buffer_idle_ms), 10, 3600000},
  {"--idle-timeout", offsetof(ps_options, idle_timeout_s), 0, 604800},
  {"--linger-timeout", offsetof(ps_options, linger_timeout_s), 0, 3600},
  {"--send-timeout", offsetof(ps_options, send_timeout_s), 0, 3600},
  {"--keepalive", offsetof(ps_options, keepalive_s), 0, 86400},
  {"--bind-retry", offsetof(ps_options, bind_retry_s), 0, PS_BIND_RETRY_MAX_S},
  {"--udp-reply-rate", offsetof(ps_options, udp_reply_rate), 0, 1000000},
  {"--udp-reply-burst", offsetof(ps_options, udp_reply_burst), 1, 1000000},
  {"--udp-reply-rate-total", offsetof(ps_options, udp_reply_rate_total), 0, 10000000},
  {"--udp-allow-low-ports", offsetof(ps_options, udp_allow_low_ports), 0, 1},
};

typedef struct opt__path_flag {
  const char *name;
  size_t offset;
} opt__path_flag;

static const opt__path_flag opt__path_flags[] = {
  {"--log-file", offsetof(ps_options, log_file)},
  {"--quotes-file", offsetof(ps_options, quotes_file)},
};

/* "buffer_size" -> "--buffer-size"; flags pass through. */
static void opt__flag_name(const char *name, char *flag, size_t size) {
  size_t i = 0, j = 0;
  if (strncmp(name, "--", 2) != 0) {
    flag[j++] = '-';
    flag[j++] = '-';
  }
  for (; name[i] != '\0' && j + 1 < size; i++) flag[j++] = name[i] == '_' ? '-' : name[i];
  flag[j] = '\0';
}

void ps_options_defaults(ps_options *o) {
  memset(o, 0, sizeof(*o));
  o->accepts = 16;
  o->buffer_size = 8192;
  o->send_queue_max = 262144;
  o->drain_timeout_ms = 5000;
  o->stats_interval_s = 5;
  o->udp_receives = 8;
  o->buffer_idle_ms = 1000;
  o->idle_timeout_s = 300;
  o->linger_timeout_s = 30;
  o->send_timeout_s = 60;
  o->keepalive_s = 60;
  o->log_level = PS_LEVEL_INFO;
  o->bind_retry_s = PS_BIND_RETRY_DEFAULT;
  o->udp_reply_rate = 100;
  o->udp_reply_burst = 200;
  o->udp_reply_rate_total = 10000;
  o->udp_allow_low_ports = 0;
}

unsigned ps_options_bind_retry_s(const ps_options *o) {
  if (o->bind_retry_s != PS_BIND_RETRY_DEFAULT) return o->bind_retry_s;
  return o->command == PS_CMD_SERVICE ? PS_BIND_RETRY_SERVICE_S : PS_BIND_RETRY_CONSOLE_S;
}

int ps_options_set(ps_options *o, const char *name, const char *value, char *err, size_t errsize) {
  static const char *const levels[] = {"error", "warn", "info", "debug"};
  char flag[64];
  size_t k;
  opt__flag_name(name, flag, sizeof(flag));
  if (strcmp(flag, "--listen") == 0) return ps_options_add_listen(o, value, err, errsize);
  if (strcmp(flag, "--log-level") == 0) {
    for (k = 0; k < PS_COUNTOF(levels); k++)
      if (strcmp(value, levels[k]) == 0) {
        o->log_level = (ps_level_option)k;
        return 0;
      }
    return ps_fail(err, errsize, "%s: '%s' is not one of error, warn, info, debug", flag, value);
  }
  for (k = 0; k < PS_COUNTOF(opt__path_flags); k++)
    if (strcmp(flag, opt__path_flags[k].name) == 0) {
      char *dst = (char *)o + opt__path_flags[k].offset;
      if (strlen(value) >= PS_PATH_MAX) return ps_fail(err, errsize, "%s: path too long", flag);
      snprintf(dst, PS_PATH_MAX, "%s", value);
      return 0;
    }
  for (k = 0; k < PS_COUNTOF(opt__uint_flags); k++)
    if (strcmp(flag, opt__uint_flags[k].name) == 0)
      return opt__uint(flag, value, opt__uint_flags[k].min, opt__uint_flags[k].max,
                       (unsigned *)(void *)((char *)o + opt__uint_flags[k].offset), err, errsize);
  return 1;
}

/* Whether `flag` names an option (so a bad flag is reported as unknown, not
 * as missing its value). */
static int opt__known(const char *flag) {
  static const char *const others[] = {"--listen", "--config", "--log-level"};
  size_t k;
  for (k = 0; k < PS_COUNTOF(others); k++)
    if (strcmp(flag, others[k]) == 0) return 1;
  for (k = 0; k < PS_COUNTOF(opt__path_flags); k++)
    if (strcmp(flag, opt__path_flags[k].name) == 0) return 1;
  for (k = 0; k < PS_COUNTOF(opt__uint_flags); k++)
    if (strcmp(flag, opt__uint_flags[k].name) == 0) return 1;
  return 0;
}

static const struct {
  const char *name;
  ps_command command;
} opt__commands[] = {
  {"run", PS_CMD_RUN},         {"service", PS_CMD_SERVICE}, {"install", PS_CMD_INSTALL},
  {"uninstall", PS_CMD_UNINSTALL}, {"start", PS_CMD_START}, {"stop", PS_CMD_STOP},
  {"status", PS_CMD_STATUS},   {"reload", PS_CMD_RELOAD},   {"help", PS_CMD_HELP},       {"--help", PS_CMD_HELP},
  {"-h", PS_CMD_HELP},         {"/?", PS_CMD_HELP},         {"--version", PS_CMD_VERSION},
  {"version", PS_CMD_VERSION},
};

int ps_options_parse(int argc, char **argv, ps_options *o, char *err, size_t errsize) {
  return ps_options_parse_for(NULL, argc, argv, o, err, errsize);
}

int ps_options_parse_for(const ps_registry *services, int argc, char **argv, ps_options *o, char *err,
                         size_t errsize) {
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
    if (!opt__known(flag)) return ps_fail(err, errsize, "unknown option '%s'", flag);
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
      if (ps_config_load(value, o, err, errsize) != 0) return -1;
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

  if ((o->command == PS_CMD_RUN || o->command == PS_CMD_SERVICE) && o->listen_count == 0)
    if (ps_options_add_listen(o, PS_DEFAULT_LISTEN, err, errsize) != 0) return -1;
  return 0;
}
