/* The table behind errtab.h. Values are Windows' documented error numbers
 * (winerror.h / winsock2.h); keep them sorted by code. */
#include "errtab.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct ps_errinfo {
  unsigned long code;
  const char *symbol;
  const char *text;
} ps_errinfo;

static const ps_errinfo ps_errors[] = {
  {2, "ERROR_FILE_NOT_FOUND", "file not found"},
  {5, "ERROR_ACCESS_DENIED", "access denied"},
  {6, "ERROR_INVALID_HANDLE", "invalid handle"},
  {8, "ERROR_NOT_ENOUGH_MEMORY", "not enough memory"},
  {64, "ERROR_NETNAME_DELETED", "the network name is no longer available"},
  {87, "ERROR_INVALID_PARAMETER", "invalid parameter"},
  {121, "ERROR_SEM_TIMEOUT", "the operation timed out"},
  {995, "ERROR_OPERATION_ABORTED", "the I/O operation was aborted"},
  {997, "ERROR_IO_PENDING", "overlapped I/O operation is in progress"},
  {1073, "ERROR_SERVICE_EXISTS", "the service already exists"},
  {1225, "ERROR_CONNECTION_REFUSED", "connection refused"},
  {1229, "ERROR_CONNECTION_INVALID", "the connection was not established"},
  {1236, "ERROR_CONNECTION_ABORTED", "the connection was aborted by the local system"},
  {10004, "WSAEINTR", "interrupted function call"},
  {10009, "WSAEBADF", "bad file handle"},
  {10013, "WSAEACCES", "permission denied"},
  {10014, "WSAEFAULT", "bad address"},
  {10022, "WSAEINVAL", "invalid argument"},
  {10024, "WSAEMFILE", "too many open sockets"},
  {10035, "WSAEWOULDBLOCK", "resource temporarily unavailable"},
  {10036, "WSAEINPROGRESS", "operation now in progress"},
  {10037, "WSAEALREADY", "operation already in progress"},
  {10038, "WSAENOTSOCK", "not a socket"},
  {10039, "WSAEDESTADDRREQ", "destination address required"},
  {10040, "WSAEMSGSIZE", "message too long"},
  {10041, "WSAEPROTOTYPE", "protocol wrong type for socket"},
  {10042, "WSAENOPROTOOPT", "bad protocol option"},
  {10043, "WSAEPROTONOSUPPORT", "protocol not supported"},
  {10044, "WSAESOCKTNOSUPPORT", "socket type not supported"},
  {10045, "WSAEOPNOTSUPP", "operation not supported"},
  {10046, "WSAEPFNOSUPPORT", "protocol family not supported"},
  {10047, "WSAEAFNOSUPPORT", "address family not supported"},
  {10048, "WSAEADDRINUSE", "address already in use"},
  {10049, "WSAEADDRNOTAVAIL", "cannot assign requested address"},
  {10050, "WSAENETDOWN", "network is down"},
  {10051, "WSAENETUNREACH", "network is unreachable"},
  {10052, "WSAENETRESET", "network dropped connection on reset"},
  {10053, "WSAECONNABORTED", "software caused connection abort"},
  {10054, "WSAECONNRESET", "connection reset by peer"},
  {10055, "WSAENOBUFS", "no buffer space available"},
  {10056, "WSAEISCONN", "socket is already connected"},
  {10057, "WSAENOTCONN", "socket is not connected"},
  {10058, "WSAESHUTDOWN", "cannot send after socket shutdown"},
  {10060, "WSAETIMEDOUT", "connection timed out"},
  {10061, "WSAECONNREFUSED", "connection refused"},
  {10064, "WSAEHOSTDOWN", "host is down"},
  {10065, "WSAEHOSTUNREACH", "no route to host"},
  {10067, "WSAEPROCLIM", "too many processes"},
  {10091, "WSASYSNOTREADY", "network subsystem is unavailable"},
  {10092, "WSAVERNOTSUPPORTED", "Winsock version out of range"},
  {10093, "WSANOTINITIALISED", "WSAStartup not yet performed"},
  {10101, "WSAEDISCON", "graceful shutdown in progress"},
  {10109, "WSATYPE_NOT_FOUND", "class type not found"},
  {11001, "WSAHOST_NOT_FOUND", "host not found"},
  {11002, "WSATRY_AGAIN", "nonauthoritative host not found"},
  {11003, "WSANO_RECOVERY", "nonrecoverable name resolution error"},
  {11004, "WSANO_DATA", "valid name, no data record of requested type"},
};

static const ps_errinfo *ps_err_find(unsigned long code) {
  size_t lo = 0;
  size_t hi = ps_err_count();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ps_errors[mid].code == code) return &ps_errors[mid];
    if (ps_errors[mid].code < code) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

size_t ps_err_count(void) { return sizeof(ps_errors) / sizeof(ps_errors[0]); }

int ps_err_entry(size_t i, unsigned long *code, const char **symbol, const char **text) {
  if (i >= ps_err_count()) return -1;
  *code = ps_errors[i].code;
  *symbol = ps_errors[i].symbol;
  *text = ps_errors[i].text;
  return 0;
}

const char *ps_err_symbol(unsigned long code) {
  const ps_errinfo *e = ps_err_find(code);
  return e ? e->symbol : NULL;
}

const char *ps_err_text(unsigned long code) {
  const ps_errinfo *e = ps_err_find(code);
  return e ? e->text : NULL;
}

char *ps_err_format(unsigned long code, char *buf, size_t bufsize) {
  const ps_errinfo *e = ps_err_find(code);
  if (bufsize == 0) return buf;
  if (e != NULL) snprintf(buf, bufsize, "%s (%lu) %s", e->symbol, code, e->text);
  else snprintf(buf, bufsize, "error %lu", code);
  return buf;
}

int ps_fail(char *err, size_t errsize, const char *fmt, ...) {
  va_list ap;
  if (errsize == 0) return -1;
  va_start(ap, fmt);
  vsnprintf(err, errsize, fmt, ap);
  va_end(ap);
  return -1;
}
