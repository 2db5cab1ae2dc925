/* The one way server/ includes the Windows headers (order matters:
 * winsock2.h before windows.h, mswsock.h for the AcceptEx types). */
#ifndef PS_WIN_H
#define PS_WIN_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include "ps_compat.h"

/* Completion keys. Sockets are associated with PS_KEY_IO; the op kind in the
 * OVERLAPPED's enclosing ps_op says what completed. */
#define PS_KEY_IO ((ULONG_PTR)0)
#define PS_KEY_DEFERRED ((ULONG_PTR)1) /* an inline result handed to the port (fairness) */
#define PS_KEY_QUIT ((ULONG_PTR)2)   /* a worker should exit */

typedef enum ps_op_kind {
  PS_OP_ACCEPT = 1,
  PS_OP_RECV,
  PS_OP_SEND,
  PS_OP_UDP_RECV,
  PS_OP_UDP_SEND
} ps_op_kind;

/* Every overlapped operation starts with this; the OVERLAPPED comes first so
 * the pointer GetQueuedCompletionStatusEx returns is the op's address. */
typedef struct ps_op {
  OVERLAPPED ov;
  ps_op_kind kind;
} ps_op;

#endif
