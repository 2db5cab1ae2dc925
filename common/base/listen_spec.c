/* Parser for the SERVICE=[HOST]:PORT[/tcp|/udp][,optional][,proxy] listener syntax. */
#include "listen_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "errtab.h"
#include "ps_compat.h"

static int spec__parse_port(const char *s, size_t len, unsigned *port) {
  unsigned long v = 0;
  size_t i;
  if (len == 0 || len > 5) return -1;
  for (i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > 65535) return -1;
  *port = (unsigned)v;
  return 0;
}

int ps_listen_spec_parse(const char *text, ps_listen_spec *out, char *err, size_t errsize) {
  const char *eq, *addr, *end, *suffix, *host, *port, *colon;
  size_t svc_len, host_len, i;
  char shown[48]; /* the input as quoted in messages, shortened so the reason fits */

  if (strlen(text) < sizeof(shown)) snprintf(shown, sizeof(shown), "%s", text);
  else snprintf(shown, sizeof(shown), "%.40s...", text);
  memset(out, 0, sizeof(*out));
  out->transports = PS_TRANSPORT_BOTH;

  eq = strchr(text, '=');
  if (eq == NULL) return ps_fail(err, errsize, "'%s': expected SERVICE=[HOST]:PORT, e.g. echo=127.0.0.1:7007", shown);
  svc_len = (size_t)(eq - text);
  if (svc_len == 0) return ps_fail(err, errsize, "'%s': missing service name before '='", shown);
  if (svc_len >= sizeof(out->service))
    return ps_fail(err, errsize, "'%s': service name longer than %u characters", shown,
                   (unsigned)sizeof(out->service) - 1);
  for (i = 0; i < svc_len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (!isalnum(c) && c != '-' && c != '_')
      return ps_fail(err, errsize, "'%s': bad character '%c' in service name", shown, c);
    out->service[i] = (char)tolower(c);
  }

  addr = eq + 1;
  end = addr + strlen(addr);

  /* Options after the address: ",optional" and ",proxy", each at most once. */
  suffix = strchr(addr, ',');
  if (suffix != NULL) {
    const char *opt = suffix + 1;
    end = suffix;
    for (;;) {
      const char *next = strchr(opt, ',');
      size_t n = next != NULL ? (size_t)(next - opt) : strlen(opt);
      int *flag = n == 8 && strncmp(opt, "optional", 8) == 0 ? &out->optional
                  : n == 5 && strncmp(opt, "proxy", 5) == 0  ? &out->proxy
                                                             : NULL;
      if (flag == NULL)
        return ps_fail(err, errsize, "'%s': unknown option '%.*s' (',optional' and ',proxy' are known)", shown, (int)n,
                       opt);
      if (*flag) return ps_fail(err, errsize, "'%s': option '%.*s' given twice", shown, (int)n, opt);
      *flag = 1;
      if (next == NULL) break;
      opt = next + 1;
    }
  }

  /* Transport suffix: "/tcp" or "/udp". */
  suffix = NULL;
  for (host = addr; host < end; host++)
    if (*host == '/') {
      suffix = host;
      break;
    }
  if (suffix != NULL) {
    size_t n = (size_t)(end - suffix);
    if (n == 4 && (strncmp(suffix, "/tcp", 4) == 0 || strncmp(suffix, "/TCP", 4) == 0))
      out->transports = PS_TRANSPORT_TCP;
    else if (n == 4 && (strncmp(suffix, "/udp", 4) == 0 || strncmp(suffix, "/UDP", 4) == 0))
      out->transports = PS_TRANSPORT_UDP;
    else
      return ps_fail(err, errsize, "'%s': unknown transport '%.*s' (use /tcp or /udp)", shown, (int)(n - 1),
                     suffix + 1);
    end = suffix;
  }

  if (out->proxy && out->transports != PS_TRANSPORT_TCP)
    return ps_fail(err, errsize, "'%s': ',proxy' (PROXY protocol headers) is for TCP listeners: add /tcp", shown);
  if (addr == end) return ps_fail(err, errsize, "'%s': missing [HOST]:PORT after '='", shown);

  if (*addr == '[') {
    const char *close = addr + 1;
    while (close < end && *close != ']') close++;
    if (close == end) return ps_fail(err, errsize, "'%s': missing ']' after IPv6 address", shown);
    host = addr + 1;
    host_len = (size_t)(close - host);
    if (host_len == 0) return ps_fail(err, errsize, "'%s': empty IPv6 address in brackets", shown);
    if (close + 1 == end || close[1] != ':') return ps_fail(err, errsize, "'%s': expected ':PORT' after ']'", shown);
    port = close + 2;
  } else {
    colon = NULL;
    for (host = addr; host < end; host++)
      if (*host == ':') colon = host;
    if (colon == NULL) return ps_fail(err, errsize, "'%s': missing ':PORT'", shown);
    host = addr;
    host_len = (size_t)(colon - addr);
    if (memchr(host, ':', host_len) != NULL)
      return ps_fail(err, errsize, "'%s': IPv6 addresses go in brackets, e.g. echo=[::1]:7007", shown);
    if (host_len == 1 && host[0] == '*') host_len = 0;
    port = colon + 1;
  }
  if (host_len >= sizeof(out->host)) return ps_fail(err, errsize, "'%s': host name too long", shown);
  /* Brackets only delimit: inside a host they could not be written back
   * (ps_listen_spec_format), and no name or address holds one. "[*]" would
   * come back as "*", every address. */
  if (memchr(host, '[', host_len) != NULL || memchr(host, ']', host_len) != NULL)
    return ps_fail(err, errsize, "'%s': '[' or ']' inside the host", shown);
  if (*addr == '[' && host_len == 1 && host[0] == '*')
    return ps_fail(err, errsize, "'%s': '*' (every address) goes without brackets", shown);
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';

  if (spec__parse_port(port, (size_t)(end - port), &out->port) != 0)
    return ps_fail(err, errsize, "'%s': port '%.*s' is not a number from 0 to 65535", shown, (int)(end - port), port);
  return 0;
}

char *ps_listen_spec_format(const ps_listen_spec *spec, char *buf, size_t bufsize) {
  const char *transport = spec->transports == PS_TRANSPORT_TCP   ? "/tcp"
                          : spec->transports == PS_TRANSPORT_UDP ? "/udp"
                                                                 : "";
  int v6 = strchr(spec->host, ':') != NULL;
  snprintf(buf, bufsize, "%s=%s%s%s:%u%s%s%s", spec->service, v6 ? "[" : "", spec->host, v6 ? "]" : "", spec->port,
           transport, spec->optional ? ",optional" : "", spec->proxy ? ",proxy" : "");
  return buf;
}

int ps_listen_spec_equal(const ps_listen_spec *a, const ps_listen_spec *b) {
  return strcmp(a->service, b->service) == 0 && strcmp(a->host, b->host) == 0 && a->port == b->port &&
         a->transports == b->transports && (a->optional != 0) == (b->optional != 0) &&
         (a->proxy != 0) == (b->proxy != 0);
}
