/* NTSTATUS -> Winsock error for completions. GetQueuedCompletionStatusEx
 * leaves an op's final status in OVERLAPPED.Internal as an NTSTATUS; calling
 * WSAGetOverlappedResult to translate it would need the socket, which a
 * closed connection no longer has. The table follows what AFD reports. */
#include "ntstatus.h"

#include <winternl.h>

typedef struct ps_status_map {
  ULONG status;
  DWORD error;
} ps_status_map;

static const ps_status_map ps_status_table[] = {
  {0x00000102UL, WSAETIMEDOUT},            /* STATUS_TIMEOUT */
  {0x00000103UL, ERROR_IO_PENDING},        /* STATUS_PENDING */
  {0x80000005UL, WSAEMSGSIZE},             /* STATUS_BUFFER_OVERFLOW (datagram truncated) */
  {0xC0000005UL, WSAEFAULT},               /* STATUS_ACCESS_VIOLATION */
  {0xC0000008UL, WSAENOTSOCK},             /* STATUS_INVALID_HANDLE */
  {0xC0000017UL, WSAENOBUFS},              /* STATUS_NO_MEMORY */
  {0xC0000022UL, WSAEACCES},               /* STATUS_ACCESS_DENIED */
  {0xC0000023UL, WSAEFAULT},               /* STATUS_BUFFER_TOO_SMALL */
  {0xC0000024UL, WSAENOTSOCK},             /* STATUS_OBJECT_TYPE_MISMATCH */
  {0xC000009AUL, WSAENOBUFS},              /* STATUS_INSUFFICIENT_RESOURCES */
  {0xC00000A3UL, WSAEWOULDBLOCK},          /* STATUS_DEVICE_NOT_READY */
  {0xC00000B0UL, WSAESHUTDOWN},            /* STATUS_PIPE_DISCONNECTED */
  {0xC00000B5UL, WSAETIMEDOUT},            /* STATUS_IO_TIMEOUT */
  {0xC00000BBUL, WSAEOPNOTSUPP},           /* STATUS_NOT_SUPPORTED */
  {0xC00000BCUL, WSAECONNREFUSED},         /* STATUS_REMOTE_NOT_LISTENING */
  {0xC00000C4UL, WSAENETDOWN},             /* STATUS_UNEXPECTED_NETWORK_ERROR */
  {0xC0000120UL, ERROR_OPERATION_ABORTED}, /* STATUS_CANCELLED */
  {0xC000013BUL, WSAECONNABORTED},         /* STATUS_LOCAL_DISCONNECT */
  {0xC000013CUL, WSAECONNRESET},           /* STATUS_REMOTE_DISCONNECT */
  {0xC000013EUL, WSAECONNRESET},           /* STATUS_LINK_FAILED */
  {0xC000013FUL, WSAETIMEDOUT},            /* STATUS_LINK_TIMEOUT */
  {0xC0000140UL, WSAENOTCONN},             /* STATUS_INVALID_CONNECTION */
  {0xC0000141UL, WSAEADDRNOTAVAIL},        /* STATUS_INVALID_ADDRESS */
  {0xC0000206UL, WSAEMSGSIZE},             /* STATUS_INVALID_BUFFER_SIZE */
  {0xC000020AUL, WSAEADDRINUSE},           /* STATUS_ADDRESS_ALREADY_EXISTS */
  {0xC000020CUL, WSAECONNRESET},           /* STATUS_CONNECTION_DISCONNECTED */
  {0xC000020DUL, WSAECONNRESET},           /* STATUS_CONNECTION_RESET */
  {0xC000020FUL, WSAECONNABORTED},         /* STATUS_TRANSACTION_ABORTED */
  {0xC0000236UL, WSAECONNREFUSED},         /* STATUS_CONNECTION_REFUSED */
  {0xC0000237UL, WSAEDISCON},              /* STATUS_GRACEFUL_DISCONNECT */
  {0xC000023CUL, WSAENETUNREACH},          /* STATUS_NETWORK_UNREACHABLE */
  {0xC000023DUL, WSAEHOSTUNREACH},         /* STATUS_HOST_UNREACHABLE */
  {0xC000023FUL, WSAECONNRESET},           /* STATUS_PORT_UNREACHABLE */
  {0xC0000240UL, WSAEINTR},                /* STATUS_REQUEST_ABORTED */
  {0xC0000241UL, WSAECONNABORTED},         /* STATUS_CONNECTION_ABORTED */
  {0xC000A012UL, WSAECONNRESET},           /* STATUS_HOPLIMIT_EXCEEDED */
};

DWORD ps_ntstatus_to_error(ULONG_PTR status) {
  ULONG s = (ULONG)status;
  size_t i;
  if (s == 0) return 0;
  for (i = 0; i < PS_COUNTOF(ps_status_table); i++)
    if (ps_status_table[i].status == s) return ps_status_table[i].error;
  return RtlNtStatusToDosError((NTSTATUS)s);
}

DWORD ps_op_error(const OVERLAPPED *ov, int non_ifs) {
  DWORD err = ps_ntstatus_to_error(ov->Internal);
  if (non_ifs && err == 0) err = ov->OffsetHigh;
  return err;
}
