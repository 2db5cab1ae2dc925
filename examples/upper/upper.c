/* The "upper" protocol (upper.h): a handler, nothing else. */
#include "upper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per session: the line being received. */
typedef struct upper_state {
  size_t len;
  char line[UPPER_LINE_MAX];
} upper_state;

/* The service context: the greeting, copied from the options at start. */
typedef struct upper_ctx {
  char greeting[64];
} upper_ctx;

static int upper__on_start(const ps_service_config *cfg, void **ctx, char *err, size_t errsize) {
  const upper_options *opt = (const upper_options *)cfg->options;
  const char *greeting = opt != NULL && opt->greeting != NULL ? opt->greeting : "upper:";
  upper_ctx *c;
  if (strlen(greeting) >= sizeof(c->greeting)) {
    snprintf(err, errsize, "greeting longer than %u characters", (unsigned)sizeof(c->greeting) - 1);
    return -1;
  }
  c = (upper_ctx *)malloc(sizeof(*c));
  if (c == NULL) {
    snprintf(err, errsize, "out of memory");
    return -1;
  }
  strcpy(c->greeting, greeting);
  *ctx = c;
  return 0;
}

static void upper__on_stop(void *ctx) { free(ctx); }

static void upper__to_upper(char *dst, const char *src, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 'a' + 'A') : src[i];
}

static void upper__on_open(ps_session *s) {
  const upper_ctx *c = (const upper_ctx *)ps_session_context(s);
  char peer[64], hello[160];
  int n = snprintf(hello, sizeof(hello), "%s hello %s\r\n", c->greeting, ps_session_peer_name(s, peer, sizeof(peer)));
  (void)ps_session_send(s, hello, (size_t)n);
}

/* One complete line (without its line end). */
static void upper__line(ps_session *s, const char *line, size_t len) {
  char out[UPPER_LINE_MAX + 2];
  if (len == 4 && (memcmp(line, "quit", 4) == 0 || memcmp(line, "QUIT", 4) == 0)) {
    (void)ps_session_send(s, "BYE\r\n", 5);
    ps_session_close(s); /* graceful: BYE goes out, then FIN */
    return;
  }
  upper__to_upper(out, line, len);
  out[len] = '\r';
  out[len + 1] = '\n';
  (void)ps_session_send(s, out, len + 2);
}

static void upper__on_data(ps_session *s, const void *data, size_t len) {
  upper_state *st = (upper_state *)ps_session_state(s);
  const char *p = (const char *)data;
  size_t i;
  for (i = 0; i < len; i++) {
    if (p[i] == '\n') {
      size_t n = st->len;
      if (n > 0 && st->line[n - 1] == '\r') n--;
      upper__line(s, st->line, n);
      st->len = 0;
    } else if (st->len == sizeof(st->line)) {
      (void)ps_session_send(s, "ERR line too long\r\n", 19);
      ps_session_close(s);
      return;
    } else {
      st->line[st->len++] = p[i];
    }
  }
}

/* The peer is done sending: answer a last line without a line end, then
 * close (the engine closes once the answer is sent). */
static void upper__on_eof(ps_session *s) {
  upper_state *st = (upper_state *)ps_session_state(s);
  if (st->len > 0) upper__line(s, st->line, st->len);
  st->len = 0;
  ps_session_close(s);
}

static void upper__on_datagram(ps_datagram *d, const void *data, size_t len) {
  char out[1500];
  if (len > sizeof(out)) return; /* larger than one Ethernet frame: dropped */
  upper__to_upper(out, (const char *)data, len);
  (void)ps_datagram_reply(d, out, len);
}

const ps_handler upper_handler = {
  .name = "upper",
  .state_size = sizeof(upper_state),
  .on_open = upper__on_open,
  .on_data = upper__on_data,
  .on_eof = upper__on_eof,
  .on_datagram = upper__on_datagram,
  .on_start = upper__on_start,
  .on_stop = upper__on_stop,
};
