/* NTSTATUS -> Winsock error for completions (ntstatus.c). */
#ifndef PS_NTSTATUS_H
#define PS_NTSTATUS_H

#include "ps_win.h"

/* Converts an op's final NTSTATUS (OVERLAPPED.Internal) to a Winsock error. */
DWORD ps_ntstatus_to_error(ULONG_PTR status);

/* The Winsock error an overlapped socket op completed with, as the port
 * returned it. IFS providers (the kernel's, and every IFS LSP) complete
 * through the I/O manager: the NTSTATUS in Internal. A non-IFS layered
 * provider completes through WPUCompleteOverlappedRequest, which documents
 * the error in OffsetHigh ("the WinSock 2 error code"), and Internal need
 * not hold a failure then: for such a socket (`non_ifs`, known from
 * SO_PROTOCOL_INFOW when it was opened) OffsetHigh decides. */
DWORD ps_op_error(const OVERLAPPED *ov, int non_ifs);

#endif
