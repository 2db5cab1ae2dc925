/* What portload needs from the operating system outside the I/O backend:
 * a monotonic clock, sleeping, name resolution and process limits. One
 * implementation per platform (load_plat_win.c, load_plat_posix.c); the rest
 * of portload includes no system header beyond the C library. */
#ifndef LOAD_PLAT_H
#define LOAD_PLAT_H

#include <stddef.h>
#include <stdint.h>

/* A resolved socket address, opaque outside the platform files (large and
 * aligned enough for a struct sockaddr_storage). */
typedef struct load_addr {
  union {
    unsigned char bytes[128];
    uint64_t align;
  } u;
  int len;
  int family; /* the platform's AF_INET or AF_INET6 */
} load_addr;

/* Socket library start-up (WSAStartup) and limits (the open-files limit is
 * raised to its hard maximum, for idle mode). 0 or an error already printed. */
int load_plat_init(void);
void load_plat_cleanup(void);

/* Monotonic nanoseconds since an arbitrary start. */
uint64_t load_now_ns(void);
void load_sleep_ms(unsigned ms);

/* Resolves "host" (a name, an IPv4 or an IPv6 literal without brackets) and
 * port to the first address getaddrinfo returns. 0, or -1 with a message
 * naming the host in err. */
int load_resolve(const char *host, unsigned port, load_addr *out, char *err, size_t err_size);

/* "127.0.0.1:7007" or "[::1]:7007". */
void load_addr_format(const load_addr *a, char *out, size_t size);

/* The most file descriptors (sockets) this process may hold, or 0 if the
 * platform has no such limit. */
unsigned long load_plat_max_sockets(void);

#endif
