/* Winsock start-up and extension function pointers (see wsx.h). */
#include "wsx.h"

static INIT_ONCE wsx__once = INIT_ONCE_STATIC_INIT;
static int wsx__startup_error;

static BOOL CALLBACK wsx__startup(PINIT_ONCE once, PVOID param, PVOID *context) {
  WSADATA data;
  PS_UNUSED(once);
  PS_UNUSED(param);
  PS_UNUSED(context);
  wsx__startup_error = WSAStartup(MAKEWORD(2, 2), &data);
  return TRUE;
}

int ps_wsx_startup(void) {
  InitOnceExecuteOnce(&wsx__once, wsx__startup, NULL, NULL);
  return wsx__startup_error;
}

static int wsx__get(SOCKET s, GUID guid, void *fn, DWORD fn_size) {
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, (DWORD)sizeof(guid), fn, fn_size, &bytes, NULL, NULL) != 0)
    return WSAGetLastError();
  return 0;
}

int ps_wsx_load(SOCKET s, ps_wsx *out) {
  GUID accept_ex = WSAID_ACCEPTEX;
  GUID sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
  int err = wsx__get(s, accept_ex, &out->accept_ex, (DWORD)sizeof(out->accept_ex));
  if (err == 0)
    err = wsx__get(s, sockaddrs, &out->get_accept_ex_sockaddrs, (DWORD)sizeof(out->get_accept_ex_sockaddrs));
  return err;
}
