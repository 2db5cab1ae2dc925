/* The strict HTTP/1.1 request parser and response helpers (http.h). The head
 * is buffered until its blank line, then parsed in one pass; line-end errors
 * are caught as bytes arrive, so a client that sends bare LFs gets its 400 at
 * once instead of waiting for the idle timeout. */
#include "http.h"

#include <stdio.h>
#include <string.h>

void ps_http_parser_init(ps_http_parser *p) {
  p->len = 0;
  p->empty_lines = 0;
}

/* RFC 9110 section 5.6.2: tchar. */
static int http__tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB (RFC 9110 section 5.5), obs-text included. */
static int http__field_char(unsigned char c) { return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7F); }

static int http__ieq(const char *a, size_t alen, const char *b) {
  size_t i;
  if (alen != strlen(b)) return 0;
  for (i = 0; i < alen; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
    if (x != y) return 0;
  }
  return 1;
}

static ps_http_result http__fail(ps_http_parser *p, int code, const char *reason, int *status, const char **why) {
  *status = code;
  *why = reason;
  p->len = 0;
  return PS_HTTP_ERROR;
}

/* The head overflowed PS_HTTP_HEAD_MAX: which limit did the client break? */
static int http__overflow_status(const ps_http_parser *p, const char **why) {
  const char *crlf = NULL, *sp1, *sp2;
  size_t i;
  for (i = 0; i + 1 < p->len; i++)
    if (p->head[i] == '\r' && p->head[i + 1] == '\n') {
      crlf = p->head + i;
      break;
    }
  if (crlf != NULL) {
    *why = "request header fields too large";
    return 431;
  }
  sp1 = (const char *)memchr(p->head, ' ', p->len);
  if (sp1 != NULL) {
    sp2 = (const char *)memchr(sp1 + 1, ' ', p->len - (size_t)(sp1 + 1 - p->head));
    if (sp2 == NULL || (size_t)(sp2 - sp1 - 1) > PS_HTTP_TARGET_MAX) {
      *why = "request target too long";
      return 414;
    }
  }
  *why = "request line too long";
  return 400;
}

/* Splits the list in a Connection value into tokens: close / keep-alive. */
static void http__connection(const char *v, size_t len, int *saw_close, int *saw_keep_alive) {
  size_t i = 0;
  while (i < len) {
    size_t start, end;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    start = i;
    while (i < len && v[i] != ',') i++;
    end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    if (http__ieq(v + start, end - start, "close")) *saw_close = 1;
    else if (http__ieq(v + start, end - start, "keep-alive")) *saw_keep_alive = 1;
  }
}

/* Parses the complete head p->head[0, p->len) (ending in CRLF CRLF). */
static ps_http_result http__parse_head(ps_http_parser *p, ps_http_request *req, int *status, const char **why) {
  const char *h = p->head, *end = p->head + p->len, *line, *eol, *sp1, *sp2, *t;
  size_t method_len, target_len, path_len;
  int saw_close = 0, saw_keep_alive = 0, hosts = 0, te = 0, cl_seen = 0;
  unsigned long long cl = 0;
  int cl_over = 0;

  memset(req, 0, sizeof(*req));
  /* Request line: method SP request-target SP HTTP-version (9112 section 3). */
  eol = strstr(h, "\r\n"); /* the head is NUL-free here, see ps_http_parse */
  sp1 = (const char *)memchr(h, ' ', (size_t)(eol - h));
  if (sp1 == NULL || sp1 == h) return http__fail(p, 400, "malformed request line", status, why);
  sp2 = (const char *)memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
  if (sp2 == NULL || sp2 == sp1 + 1) return http__fail(p, 400, "malformed request line", status, why);
  method_len = (size_t)(sp1 - h);
  for (t = h; t < sp1; t++)
    if (!http__tchar((unsigned char)*t)) return http__fail(p, 400, "malformed method", status, why);
  for (t = sp1 + 1; t < sp2; t++)
    if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7F)
      return http__fail(p, 400, "malformed request target", status, why);
  /* "HTTP/" DIGIT "." DIGIT, nothing after it. */
  if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 || sp2[6] < '0' || sp2[6] > '9' || sp2[7] != '.' ||
      sp2[8] < '0' || sp2[8] > '9')
    return http__fail(p, 400, "malformed HTTP version", status, why);
  if (sp2[6] != '1') return http__fail(p, 505, "only HTTP/1.x is served", status, why);
  req->version_minor = sp2[8] == '0' ? 0 : 1;
  target_len = (size_t)(sp2 - sp1 - 1);
  if (target_len > PS_HTTP_TARGET_MAX) return http__fail(p, 414, "request target too long", status, why);
  memcpy(req->target, sp1 + 1, target_len);
  req->target[target_len] = '\0';
  /* origin-form "/path?query", or absolute-form "http://authority/path"
   * which a server MUST accept (9112 section 3.2.2). */
  t = req->target;
  /* asterisk-form (OPTIONS *) is well formed; OPTIONS then gets its 405. */
  if (t[0] != '/' && strcmp(t, "*") != 0) {
    const char *scheme_end = strstr(t, "://");
    if (scheme_end == NULL ||
        !(http__ieq(t, (size_t)(scheme_end - t), "http") || http__ieq(t, (size_t)(scheme_end - t), "https")))
      return http__fail(p, 400, "request target is neither a path nor an http URL", status, why);
    t = strchr(scheme_end + 3, '/');
    if (t == NULL) t = "/";
  }
  path_len = strcspn(t, "?#");
  memcpy(req->path, t, path_len);
  req->path[path_len] = '\0';

  /* Header fields: name ":" OWS value OWS (9112 section 5). */
  for (line = eol + 2; line < end; line = eol + 2) {
    const char *colon, *v, *vend;
    eol = strstr(line, "\r\n");
    if (eol == line) break; /* the blank line */
    if (*line == ' ' || *line == '\t') return http__fail(p, 400, "obsolete line folding", status, why);
    colon = (const char *)memchr(line, ':', (size_t)(eol - line));
    if (colon == NULL || colon == line) return http__fail(p, 400, "malformed header field", status, why);
    for (t = line; t < colon; t++)
      if (!http__tchar((unsigned char)*t)) return http__fail(p, 400, "malformed header field name", status, why);
    v = colon + 1;
    vend = eol;
    while (v < vend && (*v == ' ' || *v == '\t')) v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) vend--;
    for (t = v; t < vend; t++)
      if (!http__field_char((unsigned char)*t))
        return http__fail(p, 400, "control character in a header value", status, why);
    if (http__ieq(line, (size_t)(colon - line), "host")) {
      hosts++;
      for (t = v; t < vend; t++)
        if (*t == ' ' || *t == '\t' || *t == ',' || *t == '/' || *t == '@')
          return http__fail(p, 400, "malformed Host", status, why);
    } else if (http__ieq(line, (size_t)(colon - line), "connection")) {
      http__connection(v, (size_t)(vend - v), &saw_close, &saw_keep_alive);
    } else if (http__ieq(line, (size_t)(colon - line), "transfer-encoding")) {
      te = 1;
    } else if (http__ieq(line, (size_t)(colon - line), "content-length")) {
      unsigned long long value = 0;
      int over = 0;
      if (v == vend) return http__fail(p, 400, "malformed Content-Length", status, why);
      for (t = v; t < vend; t++) {
        if (*t < '0' || *t > '9') return http__fail(p, 400, "malformed Content-Length", status, why);
        if (value > (~0ULL - 9) / 10) over = 1;
        else value = value * 10 + (unsigned)(*t - '0');
      }
      if (cl_seen && (value != cl || over != cl_over))
        return http__fail(p, 400, "conflicting Content-Length", status, why);
      cl_seen = 1;
      cl = value;
      cl_over = over;
    }
  }
  if (hosts > 1) return http__fail(p, 400, "more than one Host", status, why);
  if (hosts == 0 && req->version_minor == 1) return http__fail(p, 400, "HTTP/1.1 request without Host", status, why);
  if (te && cl_seen) return http__fail(p, 400, "both Transfer-Encoding and Content-Length", status, why);
  if (te && req->version_minor == 0) return http__fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request", status, why);

  if (method_len == 3 && memcmp(h, "GET", 3) == 0) req->method = PS_HTTP_GET;
  else if (method_len == 4 && memcmp(h, "HEAD", 4) == 0) req->method = PS_HTTP_HEAD;
  else return http__fail(p, 405, "only GET and HEAD are served", status, why);
  /* No body is accepted: one of unknown length is refused as 411 (we will
   * not read a chunked body to find its end), one of known length as 413. */
  if (te) return http__fail(p, 411, "request bodies are not accepted", status, why);
  if (cl_seen && (cl > 0 || cl_over)) return http__fail(p, 413, "request bodies are not accepted", status, why);

  req->has_host = hosts == 1;
  req->keep_alive = req->version_minor == 1 ? !saw_close : (saw_keep_alive && !saw_close);
  p->len = 0;
  p->empty_lines = 0;
  return PS_HTTP_DONE;
}

ps_http_result ps_http_parse(ps_http_parser *p, const void *data, size_t len, size_t *consumed, ps_http_request *req,
                             int *status, const char **why) {
  const unsigned char *in = (const unsigned char *)data;
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = in[i];
    char prev = p->len > 0 ? p->head[p->len - 1] : '\0';
    /* A full head refuses the next byte, whatever it is: never more than
     * PS_HTTP_HEAD_MAX bytes of head are read (the byte checks below would
     * otherwise read one more to call it a bare CR, a bare LF or a NUL). */
    if (p->len == PS_HTTP_HEAD_MAX) {
      *consumed = i;
      *status = http__overflow_status(p, why);
      p->len = 0;
      return PS_HTTP_ERROR;
    }
    if (c == '\0') {
      *consumed = i + 1;
      return http__fail(p, 400, "NUL byte in the request head", status, why);
    }
    if (c == '\n' && prev != '\r') {
      *consumed = i + 1;
      return http__fail(p, 400, "bare LF (line ends must be CRLF)", status, why);
    }
    if (prev == '\r' && c != '\n') {
      *consumed = i + 1;
      return http__fail(p, 400, "bare CR", status, why);
    }
    /* An empty line before the request line (9112 section 2.2). */
    if (c == '\n' && p->len == 1) {
      p->len = 0;
      if (++p->empty_lines > PS_HTTP_EMPTY_LINES_MAX) {
        *consumed = i + 1;
        return http__fail(p, 400, "too many empty lines before the request", status, why);
      }
      continue;
    }
    p->head[p->len++] = (char)c;
    if (c == '\n' && p->len >= 4 && memcmp(p->head + p->len - 4, "\r\n\r\n", 4) == 0) {
      p->head[p->len] = '\0';
      *consumed = i + 1;
      return http__parse_head(p, req, status, why);
    }
  }
  *consumed = len;
  return PS_HTTP_NEED_MORE;
}

const char *ps_http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

char *ps_http_date(int64_t unix_seconds, char *buf, size_t bufsize) {
  static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t day = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  int64_t secs = unix_seconds - day * 86400;
  /* Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil,
   * inverted); gmtime is not thread-safe and gmtime_r/gmtime_s differ. */
  int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  snprintf(buf, bufsize, "%s, %02d %s %04lld %02d:%02d:%02d GMT", days[((day % 7) + 7) % 7], (int)d, months[m - 1],
           (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
  return buf;
}

size_t ps_http_response_head(char *buf, size_t bufsize, int status, const char *content_type, size_t content_length,
                             int keep_alive, int64_t now_unix, const char *extra) {
  char date[40];
  int n = snprintf(buf, bufsize,
                   "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
                   "Cache-Control: no-store\r\nConnection: %s\r\n%s\r\n",
                   status, ps_http_reason(status), ps_http_date(now_unix, date, sizeof(date)), content_type,
                   (unsigned long long)content_length, keep_alive ? "keep-alive" : "close", extra != NULL ? extra : "");
  if (n < 0 || (size_t)n >= bufsize) return 0;
  return (size_t)n;
}

int ps_http_parse_response(const char *buf, size_t len, int *status, size_t *body_offset, size_t *body_len) {
  const char *end = NULL, *line;
  size_t i, head_len;
  int have_length = 0;
  unsigned long long length = 0;
  for (i = 0; i + 3 < len; i++)
    if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
      end = buf + i;
      break;
    }
  if (end == NULL || len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ') return -1;
  if (buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9') return -1;
  *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  head_len = (size_t)(end - buf) + 4;
  for (line = buf; line < end;) {
    const char *eol = line;
    while (eol < end && !(eol[0] == '\r' && eol[1] == '\n')) eol++;
    if ((size_t)(eol - line) >= 15 && http__ieq(line, 15, "content-length:")) {
      const char *v = line + 15, *vend = eol;
      unsigned long long value = 0;
      /* OWS, digits, OWS: anything else (junk after the number, a list)
       * leaves the body's end unknown, and two lengths must agree. */
      while (v < vend && (*v == ' ' || *v == '\t')) v++;
      while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) vend--;
      if (v == vend) return -1;
      for (; v < vend; v++) {
        if (*v < '0' || *v > '9' || value > 0xFFFFFFFFull) return -1;
        value = value * 10 + (unsigned)(*v - '0');
      }
      if (have_length && value != length) return -1;
      length = value;
      have_length = 1;
    }
    line = eol + 2;
  }
  *body_offset = head_len;
  *body_len = len - head_len;
  if (have_length && length != *body_len) return -1;
  return 0;
}
