/* "ADDRESS:PORT" / "[IPV6]:PORT" command-line arguments of the baseline
 * servers (epoll_echo, naive_iocp_echo). Portable. */
#ifndef BENCH_HOSTPORT_H
#define BENCH_HOSTPORT_H

#include <stddef.h>

/* Splits spec into host (brackets removed) and port strings for
 * getaddrinfo. 0, or -1 if spec has no ':' or a part does not fit. */
int bench_hostport_split(const char *spec, char *host, size_t host_size, char *port, size_t port_size);

#endif
