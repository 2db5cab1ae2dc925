/* qotd (RFC 865): one quote, under 512 characters; TCP then closes, UDP
 * replies with one datagram. The quote changes once a day (UTC). Quotes come
 * from the configured file (paragraphs separated by blank lines) or the
 * built-in list; they are loaded once at start and only read afterwards, so
 * sessions on any thread share them without locking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errtab.h"
#include "path.h"
#include "ps_compat.h"
#include "ps_handler.h"
#include "services.h"

typedef struct qotd_ctx {
  size_t count;
  char **quotes; /* CR LF line ends, ending with CR LF */
} qotd_ctx;

static const char qotd__builtin[] = "The most effective debugging tool is still careful thought, coupled with\n"
                                    "judiciously placed print statements.\n"
                                    "    -- Brian Kernighan\n"
                                    "\n"
                                    "Simplicity is prerequisite for reliability.\n"
                                    "    -- Edsger W. Dijkstra\n"
                                    "\n"
                                    "Be conservative in what you do, be liberal in what you accept from others.\n"
                                    "    -- Jon Postel, RFC 793\n"
                                    "\n"
                                    "Premature optimization is the root of all evil.\n"
                                    "    -- Donald Knuth\n"
                                    "\n"
                                    "There are two ways of constructing a software design: one way is to make it\n"
                                    "so simple that there are obviously no deficiencies, and the other way is to\n"
                                    "make it so complicated that there are no obvious deficiencies.\n"
                                    "    -- C. A. R. Hoare\n";

void ps_qotd_free(void *ctx) {
  qotd_ctx *q = (qotd_ctx *)ctx;
  size_t i;
  if (q == NULL) return;
  for (i = 0; i < q->count; i++) free(q->quotes[i]);
  free(q->quotes);
  free(q);
}

/* Appends the paragraph [start, end) (LF or CRLF lines) as a CRLF quote. */
static int qotd__add(qotd_ctx *q, const char *start, const char *end, const char *name, unsigned first_line, char *err,
                     size_t errsize) {
  char *quote, *out, **grown;
  const char *p;
  size_t len = 0;
  for (p = start; p < end; p++)
    if (*p != '\r') len += *p == '\n' ? 2 : 1;
  len += 2; /* final CR LF */
  if (len > PS_QOTD_MAX)
    return ps_fail(err, errsize, "%s:%u: quote is %u characters; RFC 865 asks for under 512", name, first_line,
                   (unsigned)len);
  quote = (char *)malloc(len + 1);
  grown = (char **)realloc(q->quotes, (q->count + 1) * sizeof(*q->quotes));
  if (quote == NULL || grown == NULL) {
    free(quote);
    if (grown != NULL) q->quotes = grown;
    return ps_fail(err, errsize, "%s: out of memory", name);
  }
  q->quotes = grown;
  out = quote;
  for (p = start; p < end; p++) {
    if (*p == '\r') continue;
    if (*p == '\n') *out++ = '\r';
    *out++ = *p;
  }
  *out++ = '\r';
  *out++ = '\n';
  *out = '\0';
  q->quotes[q->count++] = quote;
  return 0;
}

int ps_qotd_parse(const char *text, const char *name, void **ctx, char *err, size_t errsize) {
  qotd_ctx *q = (qotd_ctx *)calloc(1, sizeof(*q));
  const char *p = text, *para = NULL, *para_end = NULL;
  unsigned line_no = 0, para_line = 0;
  if (q == NULL) return ps_fail(err, errsize, "%s: out of memory", name);
  /* A UTF-8 byte order mark, as Notepad writes it, is not part of a quote. */
  if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3;
  for (;;) {
    const char *nl = strchr(p, '\n');
    const char *line_end = nl ? nl : p + strlen(p);
    const char *t = p;
    int blank;
    line_no++;
    while (t < line_end && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
    blank = t == line_end;
    if (!blank) {
      if (para == NULL) {
        para = p;
        para_line = line_no;
      }
      para_end = line_end;
      while (para_end > para && (para_end[-1] == '\r' || para_end[-1] == ' ' || para_end[-1] == '\t')) para_end--;
    }
    if ((blank || nl == NULL) && para != NULL) {
      if (qotd__add(q, para, para_end, name, para_line, err, errsize) != 0) {
        ps_qotd_free(q);
        return -1;
      }
      para = NULL;
    }
    if (nl == NULL) break;
    p = nl + 1;
  }
  if (q->count == 0) {
    ps_qotd_free(q);
    return ps_fail(err, errsize, "%s: no quotes (separate quotes with blank lines)", name);
  }
  *ctx = q;
  return 0;
}

const char *ps_qotd_quote(const void *ctx, int64_t day) {
  const qotd_ctx *q = (const qotd_ctx *)ctx;
  size_t i = (size_t)((day % (int64_t)q->count + (int64_t)q->count) % (int64_t)q->count);
  return q->quotes[i];
}

static int qotd__on_start(const ps_service_config *cfg, void **ctx, char *err, size_t errsize) {
  char *text;
  int rc;
  const ps_qotd_options *opt = cfg != NULL ? (const ps_qotd_options *)cfg->options : NULL;
  const char *path = opt != NULL ? opt->quotes_file : NULL;
  if (path == NULL || path[0] == '\0') return ps_qotd_parse(qotd__builtin, "built-in quotes", ctx, err, errsize);
  text = ps_read_text_file(path, PS_QOTD_FILE_MAX, "quotes file ", err, errsize);
  if (text == NULL) return -1;
  rc = ps_qotd_parse(text, path, ctx, err, errsize);
  free(text);
  return rc;
}

static const char *qotd__today(void *ctx) { return ps_qotd_quote(ctx, (int64_t)time(NULL) / 86400); }

static void qotd__on_open(ps_session *s) {
  const char *quote = qotd__today(ps_session_context(s));
  (void)ps_session_send(s, quote, strlen(quote));
  ps_session_close(s);
}

static void qotd__on_datagram(ps_datagram *d, const void *data, size_t len) {
  const char *quote = qotd__today(ps_datagram_context(d));
  (void)data;
  (void)len;
  (void)ps_datagram_reply(d, quote, strlen(quote));
}

const ps_handler ps_svc_qotd = {
  .name = "qotd",
  .on_open = qotd__on_open, /* no on_data: input is read and dropped */
  .on_datagram = qotd__on_datagram,
  .on_start = qotd__on_start,
  .on_stop = ps_qotd_free,
};
