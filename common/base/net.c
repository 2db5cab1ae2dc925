/* Address ranges (include/ps_net.h). Strict, self-contained parsers: the
 * list comes from an operator's file and decides who is trusted, so
 * anything that is not exactly an address is refused with its position. */
#include "ps_net.h"

#include <stdio.h>
#include <string.h>

#include "errtab.h"

/* One decimal IPv4 part, 0..255, no leading zero. Returns its length or 0. */
static size_t net__v4_part(const char *s, size_t len, unsigned *v) {
  size_t i = 0;
  *v = 0;
  while (i < len && i < 4 && s[i] >= '0' && s[i] <= '9') {
    *v = *v * 10 + (unsigned)(s[i] - '0');
    i++;
  }
  if (i == 0 || i > 3 || *v > 255 || (i > 1 && s[0] == '0')) return 0;
  return i;
}

static int net__v4(const char *s, size_t len, uint8_t out[4]) {
  size_t pos = 0, n;
  unsigned k, v;
  for (k = 0; k < 4; k++) {
    if (k > 0) {
      if (pos >= len || s[pos] != '.') return 0;
      pos++;
    }
    n = net__v4_part(s + pos, len - pos, &v);
    if (n == 0) return 0;
    out[k] = (uint8_t)v;
    pos += n;
  }
  return pos == len;
}

static int net__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int net__v6(const char *s, size_t len, uint8_t out[16]) {
  uint8_t words[16];
  size_t pos = 0, n = 0; /* n: bytes written to words */
  long gap = -1;         /* where "::" stands, in bytes */
  memset(words, 0, sizeof(words));
  if (len >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    pos = 2;
  } else if (len >= 1 && s[0] == ':') {
    return 0;
  }
  while (pos < len) {
    size_t digits = 0;
    unsigned v = 0;
    /* A dotted IPv4 tail takes the last 4 bytes. */
    const char *dot = (const char *)memchr(s + pos, '.', len - pos);
    if (dot != NULL && memchr(s + pos, ':', (size_t)(dot - (s + pos))) == NULL) {
      if (n + 4 > 16 || !net__v4(s + pos, len - pos, words + n)) return 0;
      n += 4;
      pos = len;
      break;
    }
    while (pos < len && digits < 5 && net__hex(s[pos]) >= 0) {
      v = v * 16 + (unsigned)net__hex(s[pos]);
      pos++;
      digits++;
    }
    if (digits == 0 || digits > 4 || n + 2 > 16) return 0;
    words[n++] = (uint8_t)(v >> 8);
    words[n++] = (uint8_t)v;
    if (pos == len) break;
    if (s[pos] != ':') return 0;
    pos++;
    if (pos < len && s[pos] == ':') {
      if (gap >= 0) return 0; /* "::" twice */
      gap = (long)n;
      pos++;
    } else if (pos == len) {
      return 0; /* a trailing single ':' */
    }
  }
  if (gap < 0) {
    if (n != 16) return 0;
    memcpy(out, words, 16);
    return 1;
  }
  if (n >= 16) return 0; /* "::" must stand for at least one group */
  memset(out, 0, 16);
  memcpy(out, words, (size_t)gap);
  memcpy(out + 16 - (n - (size_t)gap), words + gap, n - (size_t)gap);
  return 1;
}

int ps_net_addr_parse(const char *text, size_t len, uint8_t out[16]) {
  if (memchr(text, ':', len) != NULL) return net__v6(text, len, out) ? 6 : 0;
  memset(out, 0, 16);
  return net__v4(text, len, out) ? 4 : 0;
}

static int net__trim(char c) { return c == ' ' || c == '\t'; }

int ps_net_list_parse(const char *text, ps_net_list *out, char *err, size_t errsize) {
  const char *p = text;
  memset(out, 0, sizeof(*out));
  for (;;) {
    const char *item, *end, *slash;
    size_t len, k;
    ps_net n;
    unsigned bits, max;
    while (net__trim(*p)) p++;
    if (*p == '\0' && out->count == 0) return 0; /* the empty list */
    item = p;
    while (*p != '\0' && *p != ',') p++;
    end = p;
    while (end > item && net__trim(end[-1])) end--;
    len = (size_t)(end - item);
    if (len == 0) return ps_fail(err, errsize, "empty item in the address list '%s'", text);
    if (out->count == PS_NET_LIST_MAX)
      return ps_fail(err, errsize, "more than %u addresses or ranges in '%s'", PS_NET_LIST_MAX, text);
    memset(&n, 0, sizeof(n));
    slash = (const char *)memchr(item, '/', len);
    n.family = (unsigned char)ps_net_addr_parse(item, slash != NULL ? (size_t)(slash - item) : len, n.addr);
    if (n.family == 0)
      return ps_fail(err, errsize, "'%.*s' is not an IPv4 or IPv6 address", (int)(slash != NULL ? slash - item : (long)len),
                     item);
    max = n.family == 4 ? 32 : 128;
    bits = max;
    if (slash != NULL) {
      size_t digits = (size_t)(end - slash - 1);
      bits = 0;
      if (digits == 0 || digits > 3) return ps_fail(err, errsize, "'%.*s': prefix length missing or too long", (int)len, item);
      for (k = 0; k < digits; k++) {
        char c = slash[1 + k];
        if (c < '0' || c > '9' || (k == 0 && c == '0' && digits > 1))
          return ps_fail(err, errsize, "'%.*s': the prefix length is not a number", (int)len, item);
        bits = bits * 10 + (unsigned)(c - '0');
      }
      if (bits > max) return ps_fail(err, errsize, "'%.*s': prefix length over %u", (int)len, item, max);
    }
    n.bits = (unsigned char)bits;
    for (k = bits; k < max; k++) {
      if (n.addr[k / 8] & (0x80u >> (k % 8)))
        return ps_fail(err, errsize, "'%.*s': address bits set past the /%u prefix", (int)len, item, bits);
    }
    out->v[out->count++] = n;
    if (*p == '\0') return 0;
    p++; /* the comma */
  }
}

static size_t net__format_v6(const uint8_t a[16], char *buf, size_t size) {
  /* RFC 5952: the longest run of two or more zero groups becomes "::". */
  int best = -1, best_len = 0, run = -1, run_len = 0, g;
  size_t len = 0;
  for (g = 0; g < 8; g++) {
    if (a[2 * g] == 0 && a[2 * g + 1] == 0) {
      if (run < 0) run = g, run_len = 0;
      run_len++;
      if (run_len > best_len) best = run, best_len = run_len;
    } else {
      run = -1;
    }
  }
  if (best_len < 2) best = -1, best_len = 0;
  for (g = 0; g < 8; g++) {
    if (g == best) {
      len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "::");
      g += best_len - 1;
      continue;
    }
    /* A ':' between groups, not right after the "::". */
    len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%x", g > 0 && g != best + best_len ? ":" : "",
                            (unsigned)(a[2 * g] << 8 | a[2 * g + 1]));
  }
  return len;
}

char *ps_net_list_format(const ps_net_list *list, char *buf, size_t size) {
  size_t len = 0;
  unsigned k;
  if (size == 0) return buf;
  buf[0] = '\0';
  for (k = 0; k < list->count; k++) {
    const ps_net *n = &list->v[k];
    char one[64];
    size_t m;
    if (n->family == 4) m = (size_t)snprintf(one, sizeof(one), "%u.%u.%u.%u", n->addr[0], n->addr[1], n->addr[2], n->addr[3]);
    else m = net__format_v6(n->addr, one, sizeof(one));
    if (n->bits != (n->family == 4 ? 32 : 128)) m += (size_t)snprintf(one + m, sizeof(one) - m, "/%u", n->bits);
    len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", k ? "," : "", one);
  }
  return buf;
}

static int net__in(const ps_net *n, const uint8_t *addr) {
  unsigned full = n->bits / 8, rest = n->bits % 8;
  if (memcmp(n->addr, addr, full) != 0) return 0;
  if (rest == 0) return 1;
  return ((n->addr[full] ^ addr[full]) & (uint8_t)(0xFFu << (8 - rest))) == 0;
}

int ps_net_list_match(const ps_net_list *list, int family, const uint8_t *addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  unsigned k;
  if (family == 6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
    family = 4;
    addr += 12;
  }
  for (k = 0; k < list->count; k++)
    if (list->v[k].family == family && net__in(&list->v[k], addr)) return 1;
  return 0;
}
