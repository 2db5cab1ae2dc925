/* NTSTATUS -> Winsock error for completions (ntstatus.c). */
#ifndef PS_NTSTATUS_H
#define PS_NTSTATUS_H

#include "ps_win.h"

/* Converts an op's final NTSTATUS (OVERLAPPED.Internal) to a Winsock error. */
DWORD ps_ntstatus_to_error(ULONG_PTR status);

#endif
