/* portload's command line (see load_options.h). Every flag takes its value
 * either as the next argument or after '=' (--size=64). */
#include "load_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const options__modes[] = {"echo", "discard", "chargen", "storm", "idle", "udp"};

const char *load_mode_name(load_mode m) {
  return (unsigned)m < sizeof(options__modes) / sizeof(options__modes[0]) ? options__modes[m] : "?";
}

const char *load_options_usage(void) {
  return "usage: portload --target HOST:PORT [options]\n"
         "\n"
         "Drives a TCP (or, in udp mode, UDP) server with load and verifies every byte\n"
         "it echoes.\n"
         "\n"
         "  --target HOST:PORT   server to load: 127.0.0.1:7007, [::1]:7007, localhost:7007\n"
         "  --mode MODE          echo     round trips, each echoed byte verified (default)\n"
         "                       discard  send only; whatever comes back is read and dropped\n"
         "                       chargen  receive only, verified as an RFC 864 stream\n"
         "                       storm    connect, one verified round trip, close, repeat;\n"
         "                                reports connections/s and refused/reset counts\n"
         "                       idle     open the connections and hold them for the duration\n"
         "                                (after --idle-messages round trips each)\n"
         "                       udp      UDP echo: each socket keeps --pipeline datagrams of\n"
         "                                --size bytes (8 or more) in flight, verifies every\n"
         "                                echo; reports datagrams/s and datagrams lost\n"
         "  --connections N      concurrent connections (udp: sockets) (default 1)\n"
         "  --size BYTES         bytes per message (default 64)\n"
         "  --pipeline N         messages in flight per connection (default 1)\n"
         "  --duration SEC       measured time, may be fractional (default 10)\n"
         "  --warmup SEC         load before measuring starts (default 0)\n"
         "  --threads N          I/O threads (default 1)\n"
         "  --stall-timeout SEC  a connection whose request (echo, storm) or stream (chargen)\n"
         "                       gets no byte back for this long is counted as stalled\n"
         "                       (default 2; checked while the load runs)\n"
         "  --loss-timeout SEC   udp: a datagram not echoed within this time is counted as\n"
         "                       lost and its slot reused (default 0.5)\n"
         "  --idle-messages N    idle: each connection first makes N verified round trips\n"
         "                       (--size bytes, --pipeline in flight), then goes quiet\n"
         "                       (default 0: it never sends)\n"
         "  --json               print one JSON line with the results on stdout\n"
         "                       (the human summary then goes to stderr)\n"
         "  --help               this text\n"
         "\n"
         "Progress goes to stderr once a second. Exit status: 0 when there were no errors\n"
         "and no stalled connections (and, in echo mode, at least one message completed),\n"
         "1 otherwise, 2 for a bad command line.\n";
}

static int options__unsigned(const char *flag, const char *value, unsigned lo, unsigned hi, unsigned *out, char *err,
                             size_t err_size) {
  char *end;
  unsigned long v;
  errno = 0;
  v = strtoul(value, &end, 10);
  if (value[0] == '\0' || value[0] == '-' || *end != '\0' || errno != 0 || v < lo || v > hi) {
    snprintf(err, err_size, "%s: '%s' is not a whole number from %u to %u", flag, value, lo, hi);
    return -1;
  }
  *out = (unsigned)v;
  return 0;
}

static int options__seconds(const char *flag, const char *value, double lo, double hi, double *out, char *err,
                            size_t err_size) {
  char *end;
  double v;
  errno = 0;
  v = strtod(value, &end);
  /* v != v: NaN. */
  if (value[0] == '\0' || *end != '\0' || errno != 0 || v != v || v < lo || v > hi) {
    snprintf(err, err_size, "%s: '%s' is not a number of seconds from %g to %g", flag, value, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

/* "host:port", "[v6]:port". */
static int options__target(const char *value, load_options *o, char *err, size_t err_size) {
  const char *colon, *host = value;
  size_t host_len;
  if (value[0] == '[') {
    const char *close = strchr(value, ']');
    if (close == NULL || close[1] != ':') {
      snprintf(err, err_size, "--target: '%s' is not [IPV6]:PORT", value);
      return -1;
    }
    host = value + 1;
    host_len = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(value, ':');
    if (colon == NULL || memchr(value, ':', (size_t)(colon - value)) != NULL) {
      snprintf(err, err_size, "--target: '%s' is not HOST:PORT (write IPv6 addresses as [::1]:PORT)", value);
      return -1;
    }
    host_len = (size_t)(colon - value);
  }
  if (host_len == 0 || host_len >= sizeof(o->host)) {
    snprintf(err, err_size, "--target: '%s' has %s host", value, host_len == 0 ? "an empty" : "a too long");
    return -1;
  }
  memcpy(o->host, host, host_len);
  o->host[host_len] = '\0';
  return options__unsigned("--target port", colon + 1, 1, 65535, &o->port, err, err_size);
}

int load_options_parse(int argc, char **argv, load_options *o, char *err, size_t err_size) {
  int i, have_target = 0;
  memset(o, 0, sizeof(*o));
  o->connections = 1;
  o->size = 64;
  o->pipeline = 1;
  o->duration_s = 10;
  o->warmup_s = 0;
  o->stall_timeout_s = 2;
  o->loss_timeout_s = 0.5;
  o->threads = 1;
  o->mode = LOAD_MODE_ECHO;

  for (i = 1; i < argc; i++) {
    char flag[32];
    const char *arg = argv[i], *value = NULL, *eq;
    int rc = 0;
    if (strncmp(arg, "--", 2) != 0) {
      snprintf(err, err_size, "unexpected argument '%s'", arg);
      return -1;
    }
    eq = strchr(arg, '=');
    if (eq != NULL) {
      size_t n = (size_t)(eq - arg);
      if (n >= sizeof(flag)) n = sizeof(flag) - 1;
      memcpy(flag, arg, n);
      flag[n] = '\0';
      value = eq + 1;
    } else {
      snprintf(flag, sizeof(flag), "%s", arg);
    }
    if (strcmp(flag, "--help") == 0 || strcmp(flag, "--json") == 0) {
      if (value != NULL) {
        snprintf(err, err_size, "%s takes no value", flag);
        return -1;
      }
      if (flag[2] == 'h') o->help = 1;
      else o->json = 1;
      continue;
    }
    if (strcmp(flag, "--target") != 0 && strcmp(flag, "--connections") != 0 && strcmp(flag, "--size") != 0 &&
        strcmp(flag, "--pipeline") != 0 && strcmp(flag, "--duration") != 0 && strcmp(flag, "--warmup") != 0 &&
        strcmp(flag, "--threads") != 0 && strcmp(flag, "--mode") != 0 && strcmp(flag, "--stall-timeout") != 0 &&
        strcmp(flag, "--loss-timeout") != 0 && strcmp(flag, "--idle-messages") != 0) {
      snprintf(err, err_size, "unknown option '%s'", arg);
      return -1;
    }
    if (value == NULL) {
      if (i + 1 >= argc) {
        snprintf(err, err_size, "%s needs a value", flag);
        return -1;
      }
      value = argv[++i];
    }
    if (strcmp(flag, "--target") == 0) {
      rc = options__target(value, o, err, err_size);
      have_target = 1;
    } else if (strcmp(flag, "--connections") == 0) {
      rc = options__unsigned(flag, value, 1, LOAD_MAX_CONNECTIONS, &o->connections, err, err_size);
    } else if (strcmp(flag, "--size") == 0) {
      rc = options__unsigned(flag, value, 1, LOAD_MAX_SIZE, &o->size, err, err_size);
    } else if (strcmp(flag, "--pipeline") == 0) {
      rc = options__unsigned(flag, value, 1, LOAD_MAX_PIPELINE, &o->pipeline, err, err_size);
    } else if (strcmp(flag, "--duration") == 0) {
      rc = options__seconds(flag, value, 0.1, 86400, &o->duration_s, err, err_size);
    } else if (strcmp(flag, "--warmup") == 0) {
      rc = options__seconds(flag, value, 0, 3600, &o->warmup_s, err, err_size);
    } else if (strcmp(flag, "--stall-timeout") == 0) {
      rc = options__seconds(flag, value, 0.01, 3600, &o->stall_timeout_s, err, err_size);
    } else if (strcmp(flag, "--loss-timeout") == 0) {
      rc = options__seconds(flag, value, 0.001, 3600, &o->loss_timeout_s, err, err_size);
    } else if (strcmp(flag, "--idle-messages") == 0) {
      rc = options__unsigned(flag, value, 0, LOAD_MAX_IDLE_MESSAGES, &o->idle_messages, err, err_size);
    } else if (strcmp(flag, "--threads") == 0) {
      rc = options__unsigned(flag, value, 1, LOAD_MAX_THREADS, &o->threads, err, err_size);
    } else {
      size_t m;
      for (m = 0; m < sizeof(options__modes) / sizeof(options__modes[0]); m++)
        if (strcmp(value, options__modes[m]) == 0) break;
      if (m == sizeof(options__modes) / sizeof(options__modes[0])) {
        snprintf(err, err_size, "--mode: unknown mode '%s' (echo, discard, chargen, storm, idle or udp)", value);
        return -1;
      }
      o->mode = (load_mode)m;
    }
    if (rc != 0) return -1;
  }
  if (o->help) return 0;
  if (!have_target) {
    snprintf(err, err_size, "--target HOST:PORT is required");
    return -1;
  }
  if (o->idle_messages != 0 && o->mode != LOAD_MODE_IDLE) {
    snprintf(err, err_size, "--idle-messages: only with --mode idle");
    return -1;
  }
  if (o->mode == LOAD_MODE_UDP && (o->size < LOAD_UDP_HEADER || o->size > LOAD_MAX_UDP_SIZE)) {
    snprintf(err, err_size, "--size: udp datagrams carry an %u-byte header; give %u to %u bytes", LOAD_UDP_HEADER,
             LOAD_UDP_HEADER, LOAD_MAX_UDP_SIZE);
    return -1;
  }
  if ((unsigned long long)o->size * o->pipeline > LOAD_MAX_WINDOW) {
    snprintf(err, err_size, "--size x --pipeline is %llu bytes in flight per connection; the limit is %u",
             (unsigned long long)o->size * o->pipeline, LOAD_MAX_WINDOW);
    return -1;
  }
  return 0;
}
