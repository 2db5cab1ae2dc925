/* Socket creation, association with the port, and closing (see sock.h). */
#include "sock.h"

#include <stdio.h>

SOCKET ps_sock_open(ps_engine *e, int family, int type, int protocol, DWORD *err) {
  /* WSA_FLAG_NO_HANDLE_INHERIT: a service that starts child processes must not
   * leak its listening sockets into them (Windows 7 SP1 and later). */
  SOCKET s = WSASocketW(family, type, protocol, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL)
    s = WSASocketW(family, type, protocol, NULL, 0, WSA_FLAG_OVERLAPPED);
  if (s == INVALID_SOCKET) {
    *err = (DWORD)WSAGetLastError();
    return INVALID_SOCKET;
  }
  InterlockedIncrement64(&e->live_sockets);
  return s;
}

void ps_sock_close(ps_engine *e, SOCKET *s) {
  if (*s == INVALID_SOCKET) return;
  closesocket(*s);
  *s = INVALID_SOCKET;
  InterlockedDecrement64(&e->live_sockets);
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

char *ps_sockaddr_format(const struct sockaddr *sa, char *buf, size_t bufsize) {
  char host[INET6_ADDRSTRLEN];
  char port[8];
  int len = sa->sa_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
  if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(buf, bufsize, "(unknown address)");
    return buf;
  }
  if (sa->sa_family == AF_INET6) snprintf(buf, bufsize, "[%s]:%s", host, port);
  else snprintf(buf, bufsize, "%s:%s", host, port);
  return buf;
}
