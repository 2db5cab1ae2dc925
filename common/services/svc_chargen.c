/* chargen (RFC 864). TCP: the rotating 72-character line pattern, sent until
 * the peer closes; input is discarded. The next chunk is queued only when
 * the previous one has been handed to the network (on_drained), so a client
 * that never reads holds at most one chunk of server memory. UDP: each
 * datagram is answered with one datagram of the pattern, 512 characters. */
#include <string.h>

#include "ps_handler.h"
#include "services.h"

#define CHARGEN_CHUNK 8192

typedef struct chargen_state {
  uint64_t pos; /* offset in the infinite pattern */
} chargen_state;

void ps_chargen_fill(uint64_t *pos, char *buf, size_t len) {
  const uint64_t line_len = PS_CHARGEN_LINE + 2;
  size_t i;
  for (i = 0; i < len; i++) {
    uint64_t line = *pos / line_len;
    uint64_t col = *pos % line_len;
    if (col == PS_CHARGEN_LINE) buf[i] = '\r';
    else if (col == PS_CHARGEN_LINE + 1) buf[i] = '\n';
    else buf[i] = (char)(' ' + (line + col) % 95);
    (*pos)++;
  }
}

static void chargen__send_chunk(ps_session *s) {
  chargen_state *st = (chargen_state *)ps_session_state(s);
  char chunk[CHARGEN_CHUNK];
  ps_chargen_fill(&st->pos, chunk, sizeof(chunk));
  (void)ps_session_send(s, chunk, sizeof(chunk));
}

static void chargen__on_datagram(ps_datagram *d, const void *data, size_t len) {
  char reply[PS_CHARGEN_DATAGRAM_MAX];
  uint64_t pos = 0;
  (void)data;
  (void)len;
  ps_chargen_fill(&pos, reply, sizeof(reply));
  (void)ps_datagram_reply(d, reply, sizeof(reply));
}

const ps_handler ps_svc_chargen = {
  .name = "chargen",
  .state_size = sizeof(chargen_state),
  .on_open = chargen__send_chunk,    /* start streaming; no on_data: input is discarded */
  .on_drained = chargen__send_chunk, /* the next chunk; no on_eof: the peer is done, close */
  .on_datagram = chargen__on_datagram,
};
