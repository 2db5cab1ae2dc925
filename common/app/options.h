/* Command line of portserve.exe: the command, its flags and their defaults.
 * Portable so that every bad flag gets the same message on every platform
 * and the parser is unit-tested natively. The configuration file (config.h)
 * sets the same options by the same names.
 *
 * Every option is one row of the table in options.c (ps_option_def): flag,
 * INI key, type and range, field, default and --help text. Parsing, the
 * defaults, --help, the INI keys and the documentation test all read it. */
#ifndef PS_OPTIONS_H
#define PS_OPTIONS_H

#include <stddef.h>

#include "listen_spec.h"
#include "path.h"
#include "ps_engine.h"
#include "ps_services.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_MAX_LISTENS 64
#define PS_DEFAULT_LISTEN "echo=localhost:7007"

/* --bind-retry: how long a listener whose bind fails with WSAEADDRINUSE keeps
 * trying before the start fails. With SO_EXCLUSIVEADDRUSE, Windows refuses
 * the bind while connections a previous instance accepted on that port still
 * exist, TIME_WAIT included (120 s by default since Windows Server 2003), so a
 * quick restart can meet the port "in use" by our own former connections.
 * The service waits long enough for TIME_WAIT to pass (an SCM restart after a
 * crash, `net stop` then `net start`); the console, where an operator sees
 * the waiting line and a conflict with another program is the likelier
 * cause, gives up soon. PS_BIND_RETRY_DEFAULT in the options means "not set":
 * ps_options_bind_retry_s picks the default for the command. */
#define PS_BIND_RETRY_CONSOLE_S 5
#define PS_BIND_RETRY_SERVICE_S 120
#define PS_BIND_RETRY_MAX_S 3600
#define PS_BIND_RETRY_DEFAULT 0xFFFFFFFFu

typedef enum ps_command {
  PS_CMD_RUN = 1, /* console server */
  PS_CMD_HELP,
  PS_CMD_VERSION,
  PS_CMD_SERVICE,   /* run under the Service Control Manager */
  PS_CMD_INSTALL,   /* register the service */
  PS_CMD_UNINSTALL, /* remove the service */
  PS_CMD_START,     /* ask the SCM to start the service */
  PS_CMD_STOP,      /* ask the SCM to stop the service */
  PS_CMD_STATUS,    /* print the service's state */
  PS_CMD_RELOAD,    /* ask the service (or the console instance with reload_pid) to re-read its configuration */
  PS_CMD_CHECK      /* validate a configuration file (--bind: try its addresses) */
} ps_command;

typedef enum ps_level_option { PS_LEVEL_ERROR = 0, PS_LEVEL_WARN, PS_LEVEL_INFO, PS_LEVEL_DEBUG } ps_level_option;

typedef enum ps_log_time_option { PS_LOG_TIME_LOCAL = 0, PS_LOG_TIME_UTC } ps_log_time_option;

typedef enum ps_log_format_option { PS_LOG_FORMAT_TEXT = 0, PS_LOG_FORMAT_JSON } ps_log_format_option;

/* --admin HOST:PORT, as given ("" = off). */
#define PS_ADMIN_MAX (PS_HOST_MAX + 8)
/* The admin port of the shipped configuration and of `portserve stats`:
 * free in Prometheus' default port allocations, so it clashes with neither
 * node_exporter (9100) nor windows_exporter (9182). */
#define PS_ADMIN_DEFAULT_PORT 9612

typedef struct ps_options {
  /* The services --listen may name; NULL = the built-in ones
   * (ps_options_parse_for sets it). */
  const ps_registry *services;
  ps_command command;
  unsigned reload_pid; /* reload: the console instance's process ID (0: the service) */
  ps_listen_spec listens[PS_MAX_LISTENS];
  size_t listen_count;
  unsigned threads;                    /* worker threads; 0 = one per processor */
  unsigned accepts;                    /* AcceptEx kept posted per TCP listener */
  unsigned accept_data;                /* 1: AcceptEx waits for a client-first service's first bytes */
  unsigned buffer_size;                /* bytes in one pooled I/O buffer */
  unsigned burst_reads;                /* 1: after a full read, read what else is waiting at once (64 KiB) */
  unsigned send_queue_max;             /* per-connection unsent bytes before reading pauses */
  unsigned drain_timeout_ms;           /* graceful stop deadline */
  unsigned shutdown_grace_s;           /* on stop, /healthz fails this long before the listeners close */
  unsigned stats_interval_s;           /* stats line period; 0 = off */
  unsigned max_connections;            /* 0 = no limit */
  unsigned max_connections_per_source; /* open connections per source address; 0 = no limit */
  unsigned source_prefix_v4;           /* bits of an IPv4 source that make one source */
  unsigned source_prefix_v6;           /* bits of an IPv6 source that make one source */
  ps_net_list proxy_from;              /* load balancers trusted to send PROXY headers */
  unsigned udp_receives;               /* WSARecvFrom kept posted per UDP socket */
  unsigned idle_timeout_s;             /* no byte either way this long: graceful close; 0 = off */
  unsigned linger_timeout_s;           /* after our FIN, wait this long for the peer's; 0 = forever */
  unsigned send_timeout_s;             /* no send progress this long: reset; 0 = off */
  unsigned keepalive_s;                /* TCP keep-alive idle time; 0 = off */
  unsigned bind_retry_s;               /* see PS_BIND_RETRY_*; PS_BIND_RETRY_DEFAULT = not set */
  unsigned udp_reply_rate;             /* UDP replies per second per source address; 0 = no limit */
  unsigned udp_reply_burst;            /* UDP replies a source may get at once */
  unsigned udp_reply_rate_total;       /* UDP replies per second, all sources; 0 = no cap */
  unsigned udp_allow_low_ports;        /* 1: serve datagrams from source ports 1-1023 */
  ps_level_option log_level;
  ps_log_time_option log_time;     /* log line time stamps in UTC or local time */
  ps_log_format_option log_format; /* text lines or JSON objects */
  unsigned log_max_size;           /* bytes; the log file rotates before passing it; 0 = never */
  unsigned log_files;              /* rotated log files kept */
  unsigned check_bind;             /* `check --bind`: also try to bind every address */
  char admin[PS_ADMIN_MAX];        /* admin HTTP endpoint HOST:PORT ("" = off) */
  char config_path[PS_PATH_MAX];   /* --config, as given ("" = none) */
  char log_file[PS_PATH_MAX];      /* also log to this file ("" = none) */
  char quotes_file[PS_PATH_MAX];   /* qotd quotes ("" = built-in) */
} ps_options;

/* The kinds of option rows. */
typedef enum ps_option_type {
  PS_OPT_UINT = 1, /* unsigned, min..max; `unit` says what it counts */
  PS_OPT_BOOL,     /* unsigned, 0 or 1 */
  PS_OPT_ENUM,     /* an enum field; the value is one of `names` */
  PS_OPT_PATH,     /* char[PS_PATH_MAX] */
  PS_OPT_ADDR,     /* char[PS_ADMIN_MAX]: HOST:PORT, checked as a listener's address */
  PS_OPT_NETS,     /* ps_net_list: addresses and CIDR ranges, comma-separated */
  PS_OPT_LISTEN,   /* --listen: adds a listener ([listeners] in the file) */
  PS_OPT_CONFIG    /* --config: reads a file (command line only) */
} ps_option_type;

typedef enum ps_option_unit {
  PS_UNIT_COUNT = 0,
  PS_UNIT_S,    /* a duration in seconds */
  PS_UNIT_MS,   /* a duration in milliseconds */
  PS_UNIT_BYTES /* a size in bytes */
} ps_option_unit;

/* What a reload does with a changed option (run.c, "Reload" in
 * docs/design.md). */
typedef enum ps_reload_class {
  PS_RELOAD_NONE = 0, /* not compared: --config, --listen (listeners are compared one by one) */
  PS_RELOAD_LIVE,     /* applied at once: open connections too (timeouts, queue, limits), the log, the run loop */
  PS_RELOAD_NEW_CONNECTIONS, /* applied to connections accepted from now on (a socket option set at the accept) */
  PS_RELOAD_NEW_LISTENERS,   /* applied to listeners opened from now on (pool sizes) */
  PS_RELOAD_RESTART          /* fixed at start: the change is logged and the running value stays */
} ps_reload_class;

/* One option: the one place its name, key, range, default, help, engine
 * field and reload behaviour are written. */
typedef struct ps_option_def {
  const char *flag;    /* "--buffer-size" */
  const char *ini_key; /* "buffer_size" in [server]; NULL: command line only */
  ps_option_type type;
  ps_option_unit unit;
  size_t offset;             /* offsetof(ps_options, field); unused for LISTEN */
  unsigned min, max;         /* UINT */
  unsigned default_uint;     /* UINT, BOOL, ENUM (the index into names) */
  const char *default_str;   /* PATH, ADDR: default text ("" = none) */
  const char *const *names;  /* ENUM: the values, NULL-terminated */
  const char *metavar;       /* in --help; NULL: from the type ("N", "SEC", "BYTES", ...) */
  const char *help;          /* one paragraph, wrapped by ps_options_usage */
  const char *zero_means;    /* what 0 (or "") means: "no limit"; NULL: nothing special */
  const char *default_shown; /* --help's default when the value alone would mislead; NULL: the value */
  /* An engine setting (UINT and BOOL rows): the unsigned field of
   * ps_engine_config it sets, times engine_scale (1000: seconds to ms). */
  int engine;
  size_t engine_offset;
  unsigned engine_scale;
  ps_reload_class reload;
} ps_option_def;

/* The table, in --help order. */
size_t ps_option_count(void);
const ps_option_def *ps_option_at(size_t i);
/* The row of a flag ("--threads") or an INI key ("threads"); NULL if none. */
const ps_option_def *ps_option_by_flag(const char *flag);
const ps_option_def *ps_option_by_ini_key(const char *key);
/* The default as --help shows it ("8192", "info", ""); returns buf. */
char *ps_option_default_text(const ps_option_def *d, char *buf, size_t size);

/* Fills `o` from argv (argv[0] is the program). Options apply in order, so
 * flags after --config FILE override the file. Returns 0, or -1 with a
 * message naming the bad argument in err (the first error only: see
 * ps_options_parse_each). */
int ps_options_parse(int argc, char **argv, ps_options *o, char *err, size_t errsize);
/* The same for a program that serves its own services: --listen may name
 * those in `services` (NULL: the built-in ones). */
int ps_options_parse_for(const ps_registry *services, int argc, char **argv, ps_options *o, char *err, size_t errsize);

/* Receives one error of the command line or of its --config file ("FILE:LINE:
 * message" for the file's). 0 to go on, non-zero to stop at this error. */
typedef int (*ps_options_error_fn)(void *ctx, const char *message);
/* Room for one message of ps_options_parse_each (a longer one is cut). */
#define PS_OPTIONS_ERROR_MAX 600

/* ps_options_parse_for, reporting every error it finds instead of the
 * first: each bad line of the --config file (as `portserve check` does)
 * and each bad value of a known flag. It stops at an unknown command, an
 * unknown flag or an unexpected argument, after which the rest of the line
 * cannot be read. Returns the number of errors; 0 means `o` is complete. */
unsigned ps_options_parse_each(const ps_registry *services, int argc, char **argv, ps_options *o,
                               ps_options_error_fn on_error, void *ctx);

/* The defaults, as ps_options_parse starts from them. */
void ps_options_defaults(ps_options *o);

/* Sets one option by name: the flag ("--buffer-size") or its configuration
 * file key ("buffer_size"). 0, or -1 with a message naming `name` and the
 * value; 1 if `name` is unknown (the caller words that error, naming its own
 * context). --config is not set this way (ps_options_parse reads the file). */
int ps_options_set(ps_options *o, const char *name, const char *value, char *err, size_t errsize);

/* ps_options_set for a [server] key only (a flag, "listen" or "config" is
 * unknown there: 1). */
int ps_options_set_ini(ps_options *o, const char *key, const char *value, char *err, size_t errsize);

/* Parses an --admin value (HOST:PORT, IPv6 in brackets, port 0 allowed) into
 * a TCP listen spec named "admin". 0, or -1 with a message. */
int ps_options_admin_spec(const char *text, ps_listen_spec *out, char *err, size_t errsize);

/* Adds a listener (SERVICE=[HOST]:PORT...), rejecting unknown services and
 * duplicates. 0, or -1 with a message. */
int ps_options_add_listen(ps_options *o, const char *spec, char *err, size_t errsize);

/* o->services, or the built-in registry. */
const ps_registry *ps_options_services(const ps_options *o);

/* Sets every engine row's field of `cfg` from `o` (seconds to milliseconds
 * and the like), leaving the engine's other fields as they are (the caller
 * starts from ps_engine_config_default). The one mapping, used at start and
 * by every reload. */
void ps_options_engine_config(const ps_options *o, ps_engine_config *cfg);

/* The value of a UINT, BOOL or ENUM row in `o`, as it applies (bind_retry's
 * "not set" resolved for the command). */
unsigned ps_option_uint(const ps_options *o, const ps_option_def *d);
/* Row d's value in `o` as text ("300", "info", a path; "" for none). Returns buf. */
char *ps_option_value_text(const ps_options *o, const ps_option_def *d, char *buf, size_t size);
/* 1 if row d has the same value in `a` and `b` (LISTEN and CONFIG rows: always). */
int ps_option_equal(const ps_options *a, const ps_options *b, const ps_option_def *d);
/* Copies row d's value from `src` to `dst`. */
void ps_option_copy(ps_options *dst, const ps_options *src, const ps_option_def *d);

/* A hash of the configuration `o` holds (every option row with an INI key
 * and every listener), as 16 hex digits: equal configurations, equal
 * hashes (portserve_config_info on /metrics). */
void ps_options_hash(const ps_options *o, char *out, size_t size);

/* Seconds a bind refused with WSAEADDRINUSE is retried: --bind-retry if set,
 * else PS_BIND_RETRY_SERVICE_S for the service and PS_BIND_RETRY_CONSOLE_S
 * for everything else. */
unsigned ps_options_bind_retry_s(const ps_options *o);

/* The --help text, into buf (PS_USAGE_MAX is enough). Returns its length;
 * >= size means it was cut. */
#define PS_USAGE_MAX 12288
size_t ps_options_usage(char *buf, size_t size);
/* The same for a program with its own services (their names in the text). */
size_t ps_options_usage_for(const ps_registry *services, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
