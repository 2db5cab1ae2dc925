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

#endif
