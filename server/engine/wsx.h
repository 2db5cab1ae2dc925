/* Winsock start-up and the Microsoft extension functions. AcceptEx and
 * GetAcceptExSockaddrs are loaded per socket with
 * WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER), as Windows documents: the
 * pointer belongs to the socket's provider, not to mswsock.dll. */
#ifndef PS_WSX_H
#define PS_WSX_H

#include "ps_win.h"

typedef struct ps_wsx {
  LPFN_ACCEPTEX accept_ex;
  LPFN_GETACCEPTEXSOCKADDRS get_accept_ex_sockaddrs;
} ps_wsx;

/* WSAStartup(2.2), once per process however many engines start. 0 or a WSA error. */
int ps_wsx_startup(void);
/* Loads the extension pointers for `s`'s provider. 0 or a WSA error. */
int ps_wsx_load(SOCKET s, ps_wsx *out);

#endif
