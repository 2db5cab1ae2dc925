/* The connection state machine (see load_conn.h).
 *
 * Streams: every connection (every cycle, in storm mode) sends the pattern
 * starting at its own base offset, so the echo of one connection arriving on
 * another, or bytes dropped, duplicated or reordered, all show as a
 * mismatch. Echo mode keeps `pipeline` messages in flight: a message is sent
 * when its bytes are handed to the backend, and completes when its last
 * byte has come back.
 *
 * UDP: a socket keeps `pipeline` datagrams in flight, one slot each. A
 * datagram is an 8-byte header (sequence number and slot, little-endian)
 * followed by the pattern from an offset given by the socket's base and the
 * sequence number; an echo must match what was sent byte for byte and in
 * length. A datagram not echoed within --loss-timeout is lost and its slot
 * reused; its echo arriving later is counted as late, not as an error. */
#include "load_conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_LOG_MAX 20u
/* Receive buffer bounds; idle connections get the small one. */
#define LOAD_RBUF_MIN 4096u
#define LOAD_RBUF_MAX 65536u
#define LOAD_RBUF_IDLE 256u
/* RFC 864: 72 printable characters, CR, LF; each line starts one character
 * later in the 95 printable ASCII characters. */
#define CHARGEN_LINE 74u
#define CHARGEN_CHARS 72u
#define CHARGEN_RING 95u

/* ---- the run ----------------------------------------------------------- */

int load_run_init(load_run *run, const load_options *opt) {
  uint64_t x = 0x9E3779B97F4A7C15u;
  size_t i;
  memset(run, 0, sizeof(*run));
  run->opt = *opt;
  atomic_init(&run->stopping, 0);
  atomic_init(&run->errors_logged, 0u);
  run->pattern = (unsigned char *)malloc(2 * (size_t)LOAD_PATTERN_LEN);
  if (run->pattern == NULL) return -1;
  /* xorshift64: fixed seed, so a capture of two runs shows the same bytes. */
  for (i = 0; i < LOAD_PATTERN_LEN; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    run->pattern[i] = (unsigned char)(x >> 24);
  }
  memcpy(run->pattern + LOAD_PATTERN_LEN, run->pattern, LOAD_PATTERN_LEN);
  return 0;
}

void load_run_close(load_run *run) {
  free(run->pattern);
  run->pattern = NULL;
}

void load_run_log(load_run *run, const char *fmt, ...) {
  va_list ap;
  unsigned n = atomic_fetch_add_explicit(&run->errors_logged, 1u, memory_order_relaxed);
  if (n > LOAD_LOG_MAX) return;
  if (n == LOAD_LOG_MAX) {
    fprintf(stderr, "portload: further errors are counted, not shown\n");
    return;
  }
  va_start(ap, fmt);
  fputs("portload: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int load_stats_init(load_stats *st) {
  atomic_init(&st->msgs_total, 0u);
  atomic_init(&st->msgs, 0u);
  atomic_init(&st->bytes_out, 0u);
  atomic_init(&st->bytes_in, 0u);
  atomic_init(&st->errors, 0u);
  atomic_init(&st->mismatches, 0u);
  atomic_init(&st->refused, 0u);
  atomic_init(&st->resets, 0u);
  atomic_init(&st->conns_opened, 0u);
  atomic_init(&st->lost, 0u);
  atomic_init(&st->late, 0u);
  atomic_init(&st->open, 0);
  load_hist_init(&st->latency);
  return 0;
}

/* ---- a connection ------------------------------------------------------ */

int load_conn_init(load_conn *c, load_run *run, unsigned id) {
  const load_options *o = &run->opt;
  memset(c, 0, sizeof(*c));
  c->run = run;
  c->id = id;
  c->chargen_phase = -1;
  atomic_init(&c->waiting_since, 0u);
  if (o->mode == LOAD_MODE_IDLE) {
    c->r_cap = LOAD_RBUF_IDLE;
  } else if (o->mode == LOAD_MODE_UDP) {
    /* One byte more than a datagram: a longer echo shows as a wrong length. */
    c->r_cap = (size_t)o->size + 1;
  } else {
    c->r_cap = (size_t)o->size * o->pipeline;
    if (c->r_cap < LOAD_RBUF_MIN) c->r_cap = LOAD_RBUF_MIN;
    if (c->r_cap > LOAD_RBUF_MAX) c->r_cap = LOAD_RBUF_MAX;
  }
  c->rbuf = (unsigned char *)malloc(c->r_cap);
  if (o->mode == LOAD_MODE_ECHO || o->mode == LOAD_MODE_DISCARD || o->mode == LOAD_MODE_STORM ||
      (o->mode == LOAD_MODE_IDLE && o->idle_messages > 0)) {
    c->s_cap = (size_t)o->size * (o->mode == LOAD_MODE_STORM ? 1 : o->pipeline);
    c->sbuf = (unsigned char *)malloc(c->s_cap);
    c->t_sent = (uint64_t *)calloc(o->pipeline, sizeof(uint64_t));
    if (c->sbuf == NULL || c->t_sent == NULL) {
      load_conn_free(c);
      return -1;
    }
  }
  if (o->mode == LOAD_MODE_UDP) {
    c->s_cap = o->size;
    c->sbuf = (unsigned char *)malloc(c->s_cap);
    c->slots = (load_udp_slot *)calloc(o->pipeline, sizeof(load_udp_slot));
    c->free_slots = (unsigned *)calloc(o->pipeline, sizeof(unsigned));
    if (c->sbuf == NULL || c->slots == NULL || c->free_slots == NULL) {
      load_conn_free(c);
      return -1;
    }
  }
  if (c->rbuf == NULL) {
    load_conn_free(c);
    return -1;
  }
  return 0;
}

void load_conn_free(load_conn *c) {
  free(c->rbuf);
  free(c->sbuf);
  free(c->t_sent);
  free(c->slots);
  free(c->free_slots);
  c->rbuf = c->sbuf = NULL;
  c->t_sent = NULL;
  c->slots = NULL;
  c->free_slots = NULL;
}

static void conn__waiting(load_conn *c, uint64_t since) {
  atomic_store_explicit(&c->waiting_since, since, memory_order_relaxed);
}

int load_conn_stalled(const load_conn *c, uint64_t now, uint64_t timeout_ns) {
  /* C11's atomic_load takes a non-const pointer; the read does not modify. */
  uint64_t since = atomic_load_explicit(&((load_conn *)(uintptr_t)c)->waiting_since, memory_order_relaxed);
  return since != 0 && now > since && now - since > timeout_ns;
}

static int conn__measured(const load_conn *c, uint64_t now) { return now >= c->run->t_measure && now < c->run->t_end; }

/* One message completed at `now`, `latency` ns after it started. */
static void conn__complete(load_conn *c, load_stats *st, uint64_t now, uint64_t latency, int timed) {
  load_stat_add(&st->msgs_total, 1);
  if (!conn__measured(c, now)) return;
  load_stat_add(&st->msgs, 1);
  c->msgs++;
  if (timed) load_hist_record(&st->latency, latency);
}

void load_conn_connecting(load_conn *c, uint64_t now) {
  /* Bases of successive cycles and neighbouring connections are far apart. */
  c->base = ((uint64_t)c->id * 7919u + (uint64_t)c->cycle * 104729u) % LOAD_PATTERN_LEN;
  c->cycle++;
  c->t_connect = now;
  c->tx_off = c->sent_off = c->rx_off = 0;
  c->msgs_sent = c->msgs_done = 0;
  c->s_pos = c->s_len = 0;
  c->chargen_phase = -1;
  if (c->slots != NULL) {
    unsigned i, n = c->run->opt.pipeline;
    /* Slot 0 on top of the stack: the first datagram uses it. */
    for (i = 0; i < n; i++) {
      c->slots[i].busy = 0;
      c->free_slots[i] = n - 1 - i;
    }
    c->free_count = n;
    c->next_seq = 0;
  }
  conn__waiting(c, 0);
}

load_next load_conn_connected(load_conn *c, load_stats *st, uint64_t now) {
  c->open = 1;
  if (c->run->opt.mode == LOAD_MODE_CHARGEN) conn__waiting(c, now); /* the stream is due at once */
  atomic_fetch_add_explicit(&st->open, 1, memory_order_relaxed);
  load_stat_add(&st->conns_opened, 1);
  return LOAD_GO;
}

void load_conn_closed(load_conn *c, load_stats *st) {
  conn__waiting(c, 0);
  if (!c->open) return;
  c->open = 0;
  atomic_fetch_sub_explicit(&st->open, 1, memory_order_relaxed);
}

load_next load_conn_failed(load_conn *c, load_stats *st, load_end why, const char *detail) {
  load_run *run = c->run;
  const char *what;
  if (load_stopping(run)) return LOAD_DROP; /* our own teardown, not the server's doing */
  load_stat_add(&st->errors, 1);
  switch (why) {
    case LOAD_END_REFUSED:
      load_stat_add(&st->refused, 1);
      what = "connect refused";
      break;
    case LOAD_END_RESET:
      load_stat_add(&st->resets, 1);
      what = "connection reset";
      break;
    case LOAD_END_EOF:
      load_stat_add(&st->resets, 1);
      what = "the server closed the connection";
      break;
    default:
      what = c->open ? "connection failed" : "connect failed";
      break;
  }
  load_run_log(run, "connection %u to %s: %s%s%s (after %llu bytes sent, %llu received)", c->id, run->target_name, what,
               detail != NULL ? ": " : "", detail != NULL ? detail : "", (unsigned long long)c->sent_off,
               (unsigned long long)c->rx_off);
  /* A storm keeps storming; any other mode has lost this connection. */
  return run->opt.mode == LOAD_MODE_STORM ? LOAD_RECONNECT : LOAD_DROP;
}

/* ---- sending ----------------------------------------------------------- */

/* Copies `len` pattern bytes of the current stream, starting at stream
 * offset `off`, to `dst`. */
static void conn__fill(const load_conn *c, unsigned char *dst, uint64_t off, size_t len) {
  while (len > 0) {
    size_t at = (size_t)((c->base + off) % LOAD_PATTERN_LEN);
    size_t n = len < LOAD_PATTERN_LEN ? len : LOAD_PATTERN_LEN;
    memcpy(dst, c->run->pattern + at, n);
    dst += n;
    off += n;
    len -= n;
  }
}

/* ---- udp --------------------------------------------------------------- */

static load_next conn__mismatch(load_conn *c, load_stats *st, uint64_t at, unsigned got, unsigned want);

static void conn__put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t conn__get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where datagram `seq`'s payload starts in the pattern (a window of up to
 * LOAD_MAX_UDP_SIZE bytes is contiguous: the pattern is stored twice). */
static const unsigned char *conn__udp_payload(const load_conn *c, uint32_t seq) {
  return c->run->pattern + (size_t)((c->base + (uint64_t)seq * 8191u) % LOAD_PATTERN_LEN);
}

static int conn__udp_next(load_conn *c, uint64_t now) {
  const load_options *o = &c->run->opt;
  unsigned slot;
  uint32_t seq;
  if (c->free_count == 0) return 0;
  slot = c->free_slots[--c->free_count];
  seq = c->next_seq++;
  c->slots[slot].seq = seq;
  c->slots[slot].busy = 1;
  c->slots[slot].t_sent = now;
  conn__put32(c->sbuf, seq);
  conn__put32(c->sbuf + 4, slot);
  memcpy(c->sbuf + LOAD_UDP_HEADER, conn__udp_payload(c, seq), o->size - LOAD_UDP_HEADER);
  c->s_pos = 0;
  c->s_len = o->size;
  c->tx_off += o->size;
  c->msgs_sent++;
  return 1;
}

unsigned load_conn_expire(load_conn *c, load_stats *st, uint64_t now) {
  uint64_t timeout = (uint64_t)(c->run->opt.loss_timeout_s * 1e9);
  unsigned i, freed = 0;
  if (c->slots == NULL || !c->open) return 0;
  for (i = 0; i < c->run->opt.pipeline; i++) {
    load_udp_slot *s = &c->slots[i];
    if (!s->busy || now < s->t_sent || now - s->t_sent <= timeout) continue;
    s->busy = 0;
    c->free_slots[c->free_count++] = i;
    freed++;
    if (conn__measured(c, now)) load_stat_add(&st->lost, 1);
  }
  return freed;
}

static load_next conn__udp_received(load_conn *c, load_stats *st, size_t bytes, uint64_t now) {
  const load_options *o = &c->run->opt;
  const unsigned char *want;
  uint32_t seq, slot;
  size_t i;
  if (bytes != o->size) {
    load_stat_add(&st->errors, 1);
    load_stat_add(&st->mismatches, 1);
    load_run_log(c->run, "socket %u: received a datagram of %llu bytes, sent %u", c->id, (unsigned long long)bytes,
                 o->size);
    return LOAD_DROP;
  }
  seq = conn__get32(c->rbuf);
  slot = conn__get32(c->rbuf + 4);
  if (slot >= o->pipeline || seq >= c->next_seq) {
    load_stat_add(&st->errors, 1);
    load_stat_add(&st->mismatches, 1);
    load_run_log(c->run, "socket %u: received datagram %lu (slot %lu), never sent", c->id, (unsigned long)seq,
                 (unsigned long)slot);
    return LOAD_DROP;
  }
  want = conn__udp_payload(c, seq);
  for (i = LOAD_UDP_HEADER; i < bytes; i++)
    if (c->rbuf[i] != want[i - LOAD_UDP_HEADER]) return conn__mismatch(c, st, i, c->rbuf[i], want[i - LOAD_UDP_HEADER]);
  c->rx_off += bytes;
  if (!c->slots[slot].busy || c->slots[slot].seq != seq) {
    /* Already counted lost (or echoed twice). */
    if (conn__measured(c, now)) load_stat_add(&st->late, 1);
    return LOAD_GO;
  }
  c->slots[slot].busy = 0;
  c->free_slots[c->free_count++] = slot;
  conn__complete(c, st, now, now - c->slots[slot].t_sent, 1);
  c->msgs_done++;
  return LOAD_GO;
}

/* ---- what to send ------------------------------------------------------- */

int load_conn_next_send(load_conn *c, uint64_t now, const unsigned char **data, size_t *len) {
  const load_options *o = &c->run->opt;
  uint64_t count = 0, k;
  if (o->mode == LOAD_MODE_UDP && c->s_pos == c->s_len && !conn__udp_next(c, now)) return 0;
  if (c->s_pos == c->s_len) {
    c->s_pos = c->s_len = 0;
    switch (o->mode) {
      case LOAD_MODE_ECHO:
        count = o->pipeline - (c->msgs_sent - c->msgs_done);
        break;
      case LOAD_MODE_DISCARD:
        count = o->pipeline; /* a continuous stream, `pipeline` messages per send */
        break;
      case LOAD_MODE_STORM:
        count = c->msgs_sent == 0 ? 1 : 0;
        break;
      case LOAD_MODE_IDLE:
        /* Echo mode's window, until idle_messages have gone out. */
        count = o->pipeline - (c->msgs_sent - c->msgs_done);
        if (count > o->idle_messages - c->msgs_sent) count = o->idle_messages - c->msgs_sent;
        break;
      default:
        break;
    }
    if (count == 0) return 0;
    if (o->mode != LOAD_MODE_DISCARD && c->rx_off == c->tx_off) conn__waiting(c, now);
    for (k = 0; k < count; k++) c->t_sent[(c->msgs_sent + k) % o->pipeline] = now;
    c->s_len = (size_t)(count * o->size);
    conn__fill(c, c->sbuf, c->tx_off, c->s_len);
    c->tx_off += c->s_len;
    c->msgs_sent += count;
  }
  *data = c->sbuf + c->s_pos;
  *len = c->s_len - c->s_pos;
  return 1;
}

void load_conn_sent(load_conn *c, load_stats *st, size_t bytes, uint64_t now) {
  const load_options *o = &c->run->opt;
  uint64_t before = c->sent_off;
  c->s_pos += bytes;
  c->sent_off += bytes;
  load_stat_add(&st->bytes_out, bytes);
  if (o->mode == LOAD_MODE_DISCARD) {
    uint64_t k;
    for (k = before / o->size; k < c->sent_off / o->size; k++) conn__complete(c, st, now, 0, 0);
  }
}

/* ---- receiving --------------------------------------------------------- */

void load_conn_recv_buf(load_conn *c, unsigned char **buf, size_t *len) {
  *buf = c->rbuf;
  *len = c->r_cap;
}

/* Compares received bytes with the stream at c->rx_off. Returns the index of
 * the first differing byte, or `len` if all match. */
static size_t conn__verify_pattern(const load_conn *c, const unsigned char *got, size_t len) {
  size_t done = 0;
  while (done < len) {
    size_t at = (size_t)((c->base + c->rx_off + done) % LOAD_PATTERN_LEN);
    size_t n = len - done < LOAD_PATTERN_LEN ? len - done : LOAD_PATTERN_LEN;
    const unsigned char *want = c->run->pattern + at;
    if (memcmp(got + done, want, n) != 0) {
      size_t i;
      for (i = 0; got[done + i] == want[i]; i++) {
      }
      return done + i;
    }
    done += n;
  }
  return len;
}

static unsigned char conn__chargen_byte(int phase, uint64_t off) {
  uint64_t line = off / CHARGEN_LINE + (uint64_t)phase;
  unsigned col = (unsigned)(off % CHARGEN_LINE);
  if (col == CHARGEN_CHARS) return '\r';
  if (col == CHARGEN_CHARS + 1) return '\n';
  return (unsigned char)(' ' + (line + col) % CHARGEN_RING);
}

static size_t conn__verify_chargen(load_conn *c, const unsigned char *got, size_t len) {
  size_t i;
  if (c->chargen_phase < 0) {
    /* Servers differ in the character they start at; take the first byte's. */
    if (len == 0 || got[0] < ' ' || got[0] > '~') return 0;
    c->chargen_phase = got[0] - ' ';
  }
  for (i = 0; i < len; i++)
    if (got[i] != conn__chargen_byte(c->chargen_phase, c->rx_off + i)) return i;
  return len;
}

static load_next conn__mismatch(load_conn *c, load_stats *st, uint64_t at, unsigned got, unsigned want) {
  load_stat_add(&st->errors, 1);
  load_stat_add(&st->mismatches, 1);
  load_run_log(c->run, "connection %u: received byte %llu is 0x%02x, expected 0x%02x", c->id, (unsigned long long)at,
               got, want);
  /* The stream cannot be trusted past this point. */
  return LOAD_DROP;
}

load_next load_conn_received(load_conn *c, load_stats *st, size_t bytes, uint64_t now) {
  const load_options *o = &c->run->opt;
  uint64_t before = c->rx_off, k;
  size_t ok;
  load_stat_add(&st->bytes_in, bytes);
  switch (o->mode) {
    case LOAD_MODE_UDP:
      return conn__udp_received(c, st, bytes, now);
    case LOAD_MODE_DISCARD:
      c->rx_off += bytes;
      return LOAD_GO;
    case LOAD_MODE_IDLE:
      /* The echoes of its round trips are checked as in echo mode, where a
       * byte beyond them is "more than were sent". */
      if (o->idle_messages > 0) break;
      load_stat_add(&st->errors, 1);
      load_run_log(c->run, "connection %u: %llu unexpected bytes on an idle connection", c->id,
                   (unsigned long long)bytes);
      return LOAD_DROP;
    case LOAD_MODE_CHARGEN:
      ok = conn__verify_chargen(c, c->rbuf, bytes);
      if (ok < bytes)
        return conn__mismatch(c, st, c->rx_off + ok, c->rbuf[ok],
                              c->chargen_phase < 0 ? ' ' : conn__chargen_byte(c->chargen_phase, c->rx_off + ok));
      c->rx_off += bytes;
      conn__waiting(c, now);
      for (k = before / o->size; k < c->rx_off / o->size; k++) conn__complete(c, st, now, 0, 0);
      return LOAD_GO;
    default:
      break;
  }

  /* Echo and storm: every byte must be one we sent, in order. */
  if (c->rx_off + bytes > c->tx_off) {
    load_stat_add(&st->errors, 1);
    load_stat_add(&st->mismatches, 1);
    load_run_log(c->run, "connection %u: received %llu bytes more than were sent", c->id,
                 (unsigned long long)(c->rx_off + bytes - c->tx_off));
    return LOAD_DROP;
  }
  ok = conn__verify_pattern(c, c->rbuf, bytes);
  if (ok < bytes) {
    size_t at = (size_t)((c->base + c->rx_off + ok) % LOAD_PATTERN_LEN);
    return conn__mismatch(c, st, c->rx_off + ok, c->rbuf[ok], c->run->pattern[at]);
  }
  c->rx_off += bytes;
  conn__waiting(c, c->rx_off == c->tx_off ? 0 : now);
  for (k = before / o->size; k < c->rx_off / o->size; k++) {
    if (o->mode == LOAD_MODE_STORM) {
      /* One round trip per connection: time it from the connect. */
      conn__complete(c, st, now, now - c->t_connect, 1);
      c->msgs_done++;
      return LOAD_RECONNECT;
    }
    conn__complete(c, st, now, now - c->t_sent[k % o->pipeline], 1);
    c->msgs_done++;
  }
  return LOAD_GO;
}
