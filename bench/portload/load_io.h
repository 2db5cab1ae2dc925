/* The I/O backend: moves the bytes of every load connection (load_conn.h)
 * over real sockets. Two implementations, one per platform:
 *   load_io_iocp.c   Windows: ConnectEx, WSASend/WSARecv on one completion
 *                    port, worker threads in GetQueuedCompletionStatusEx;
 *   load_io_epoll.c  Linux: non-blocking sockets, one epoll set per thread.
 * The main thread calls new, start, then (when the run's time is up, after
 * setting run->stopping) stop and delete; progress reads the stats. */
#ifndef LOAD_IO_H
#define LOAD_IO_H

#include "load_conn.h"

typedef struct load_io load_io;

/* Allocates run->opt.connections connections and run->opt.threads sets of
 * stats. 0, or -1 with the reason printed. */
int load_io_new(load_run *run, load_io **out);

/* Starts the threads; they begin connecting at once (at most a bounded
 * number of connects in flight, so a large idle run does not overflow the
 * server's backlog). 0, or -1 with the reason printed. */
int load_io_start(load_io *io);

/* Closes every connection, waits for the outstanding operations (bounded)
 * and joins the threads. Call after setting run->stopping. */
void load_io_stop(load_io *io);

/* "iocp" or "epoll". */
const char *load_io_backend(void);

/* For the progress line and the summary. */
unsigned load_io_stats_count(const load_io *io);
load_stats *load_io_stats(load_io *io, unsigned index);
unsigned load_io_conn_count(const load_io *io);
const load_conn *load_io_conn(const load_io *io, unsigned index);

void load_io_delete(load_io *io);

#endif
