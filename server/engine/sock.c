/* Socket creation, association with the port, and closing (see sock.h). */
#include "sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_log.h"
#include "resolve.h"
#include "wsx.h"

/* WSASocketW as every socket here is made: overlapped and, where the
 * system has the flag, not inherited. The one place the fallback lives;
 * PS_FAULT_NO_INHERIT_FLAG (tests) plays a system without the flag. */
static SOCKET sock__create(ps_faults *faults, int family, int type, DWORD flags) {
  int protocol = type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
  DWORD err = ps_fault_hit(faults, PS_FAULT_NO_INHERIT_FLAG);
  SOCKET s;
  /* WSA_FLAG_NO_HANDLE_INHERIT: a service that starts child processes must
   * not leak its sockets into them (Windows 7 SP1 and later; older systems
   * refuse the flag with WSAEINVAL). */
  if (err == 0) {
    s = WSASocketW(family, type, protocol, NULL, 0, flags | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s != INVALID_SOCKET) return s;
    err = (DWORD)WSAGetLastError();
  }
  if (err == WSAEINVAL) return WSASocketW(family, type, protocol, NULL, 0, flags);
  WSASetLastError((int)err);
  return INVALID_SOCKET;
}

SOCKET ps_sock_open(ps_engine *e, int family, int type, DWORD *err) {
  SOCKET s;
  DWORD fault = ps_fault_hit(e->cfg.faults, PS_FAULT_WSASOCKET);
  if (fault != 0) {
    *err = fault;
    return INVALID_SOCKET;
  }
  s = sock__create(e->cfg.faults, family, type, WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) {
    *err = (DWORD)WSAGetLastError();
    return INVALID_SOCKET;
  }
  InterlockedIncrement64(&e->stat[PS_STAT_sockets_live]);
  return s;
}

void ps_sock_close(ps_engine *e, SOCKET *s) {
  if (*s == INVALID_SOCKET) return;
  closesocket(*s);
  *s = INVALID_SOCKET;
  InterlockedDecrement64(&e->stat[PS_STAT_sockets_live]);
}

void ps_sock_abort(ps_engine *e, SOCKET *s) {
  struct linger lg;
  if (*s == INVALID_SOCKET) return;
  lg.l_onoff = 1;
  lg.l_linger = 0;
  setsockopt(*s, SOL_SOCKET, SO_LINGER, (const char *)&lg, (int)sizeof(lg));
  ps_sock_close(e, s);
}

int ps_sock_is_ifs(SOCKET s) {
  WSAPROTOCOL_INFOW info;
  int len = (int)sizeof(info);
  if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0) return 0;
  return (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0;
}

DWORD ps_sock_associate(ps_engine *e, SOCKET s, int skip_ok, int *skipping) {
  *skipping = 0;
  if (CreateIoCompletionPort((HANDLE)s, e->port, PS_KEY_IO, 0) == NULL) return GetLastError();
  if (skip_ok && e->cfg.skip_on_success &&
      SetFileCompletionNotificationModes((HANDLE)s,
                                         FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE))
    *skipping = 1;
  return 0;
}

/* The options and the bind every listening or UDP socket gets (sock.h);
 * 0, or -1 with the failing call in *step (WSAGetLastError has the error). */
static int sock__bind_exclusive(SOCKET s, const struct sockaddr *addr, int addrlen, const char **step) {
  int on = 1;
  *step = "setsockopt(IPV6_V6ONLY)";
  if (addr->sa_family == AF_INET6 && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&on, (int)sizeof(on)) != 0)
    return -1;
  *step = "setsockopt(SO_EXCLUSIVEADDRUSE)";
  if (setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, (int)sizeof(on)) != 0) return -1;
  *step = "bind";
  if (bind(s, addr, addrlen) != 0) return -1;
  return 0;
}

unsigned long ps_bind_trial(const struct sockaddr *addr, int addrlen, unsigned transport, uintptr_t *out,
                            const char **step) {
  SOCKET s;
  unsigned long err;
  *out = (uintptr_t)INVALID_SOCKET;
  *step = "WSAStartup";
  err = (unsigned long)ps_wsx_startup();
  if (err != 0) return err;
  *step = "WSASocketW";
  s = sock__create(NULL, addr->sa_family, transport == PS_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (s == INVALID_SOCKET) return (unsigned long)WSAGetLastError();
  if (sock__bind_exclusive(s, addr, addrlen, step) != 0) {
    err = (unsigned long)WSAGetLastError();
    closesocket(s);
    return err;
  }
  *out = (uintptr_t)s;
  return 0;
}

void ps_bind_trial_close(uintptr_t s) {
  if ((SOCKET)s != INVALID_SOCKET) closesocket((SOCKET)s);
}

/* One attempt of ps_sock_open_bound. */
static SOCKET sock__open_bound_once(ps_engine *e, const struct sockaddr *addr, int addrlen, int type,
                                    SOCKADDR_STORAGE *bound, const char **step, DWORD *err) {
  int len = (int)sizeof(*bound);
  SOCKET s;
  *step = "WSASocketW";
  s = ps_sock_open(e, addr->sa_family, type, err);
  if (s == INVALID_SOCKET) return INVALID_SOCKET;
  if (sock__bind_exclusive(s, addr, addrlen, step) != 0) goto fail;
  *step = "getsockname";
  if (getsockname(s, (struct sockaddr *)bound, &len) != 0) goto fail;
  return s;
fail:
  *err = (DWORD)WSAGetLastError();
  ps_sock_close(e, &s);
  return INVALID_SOCKET;
}

/* Poll interval of the bind retry. Nothing signals "the port is free"
 * (TIME_WAIT simply expires in the stack), so the retry polls; it waits on
 * the cancel event, so a stop request ends it at once. */
#define SOCK__BIND_POLL_MS 250u

SOCKET ps_sock_open_bound(ps_engine *e, const struct sockaddr *addr, int addrlen, int type, SOCKADDR_STORAGE *bound,
                          const char **step, DWORD *err) {
  ULONGLONG started = 0;
  char where[80] = "";
  for (;;) {
    ULONGLONG now;
    DWORD wait_ms;
    SOCKET s = sock__open_bound_once(e, addr, addrlen, type, bound, step, err);
    if (s != INVALID_SOCKET) {
      if (started != 0)
        ps_log(PS_LOG_INFO, "bind %s: the port is free again after %llu ms", where,
               (unsigned long long)(GetTickCount64() - started));
      return s;
    }
    /* Only "in use" is worth waiting for: every other error fails now. */
    if (*err != WSAEADDRINUSE || strcmp(*step, "bind") != 0 || e->cfg.bind_retry_ms == 0) return INVALID_SOCKET;
    now = GetTickCount64();
    if (e->bind_deadline == 0) e->bind_deadline = now + e->cfg.bind_retry_ms;
    if (now >= e->bind_deadline) return INVALID_SOCKET;
    if (started == 0) {
      started = now;
      ps_sockaddr_format(addr, where, sizeof(where));
      /* With SO_EXCLUSIVEADDRUSE, Windows refuses the bind while connections
       * accepted on this port by a previous listener still exist, TIME_WAIT
       * included ("Using SO_REUSEADDR and SO_EXCLUSIVEADDRUSE"): after a
       * quick restart that is usually our own former instance. */
      ps_log(PS_LOG_WARN,
             "bind %s: WSAEADDRINUSE; waiting up to %llu s for the port (the bind retry window: connections "
             "of a previous instance may still hold it)",
             where, (unsigned long long)((e->bind_deadline - now + 999) / 1000));
    }
    wait_ms = (DWORD)(e->bind_deadline - now < SOCK__BIND_POLL_MS ? e->bind_deadline - now : SOCK__BIND_POLL_MS);
    if (e->cfg.bind_cancel != NULL) {
      if (WaitForSingleObject((HANDLE)e->cfg.bind_cancel, wait_ms) == WAIT_OBJECT_0) return INVALID_SOCKET;
    } else {
      Sleep(wait_ms);
    }
  }
}

unsigned short ps_sockaddr_port(const SOCKADDR_STORAGE *addr) {
  return addr->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port
                                     : ((const struct sockaddr_in *)addr)->sin_port;
}

void ps_endpoint_set(ps_endpoint *ep, const char *service, const SOCKADDR_STORAGE *addr, unsigned transport) {
  memset(ep, 0, sizeof(*ep));
  snprintf(ep->service, sizeof(ep->service), "%s", service);
  getnameinfo((const struct sockaddr *)addr, (int)sizeof(*addr), ep->address, sizeof(ep->address), NULL, 0,
              NI_NUMERICHOST);
  ep->port = ntohs(ps_sockaddr_port(addr));
  ep->family = addr->ss_family;
  ep->transport = transport;
}

void ps_sock_source_key(const ps_engine_config *cfg, const SOCKADDR_STORAGE *addr, ps_ratelimit_key *key) {
  if (addr->ss_family == AF_INET6)
    ps_ratelimit_key_v6_prefix(key, ((const SOCKADDR_IN6 *)addr)->sin6_addr.s6_addr, cfg->source_prefix_v6,
                               cfg->source_prefix_v4);
  else ps_ratelimit_key_v4_prefix(key, (const uint8_t *)&((const SOCKADDR_IN *)addr)->sin_addr, cfg->source_prefix_v4);
}
