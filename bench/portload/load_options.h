/* portload's command line: parsing, validation and the usage text. Portable. */
#ifndef LOAD_OPTIONS_H
#define LOAD_OPTIONS_H

#include <stddef.h>

typedef enum load_mode {
  LOAD_MODE_ECHO = 0, /* send, wait for the echo, verify it: round-trip latency */
  LOAD_MODE_DISCARD,  /* send only (anything that comes back is read and dropped) */
  LOAD_MODE_CHARGEN,  /* receive only, verified as an RFC 864 character stream */
  LOAD_MODE_STORM,    /* connect, one verified round trip, close, again */
  LOAD_MODE_IDLE,     /* open the connections (after idle_messages round trips each) and hold them */
  LOAD_MODE_UDP       /* datagrams: each socket keeps `pipeline` in flight, echoes verified */
} load_mode;

typedef struct load_options {
  char host[256]; /* as given, without brackets */
  unsigned port;
  unsigned connections;
  unsigned size;     /* bytes per message */
  unsigned pipeline; /* messages in flight per connection */
  double duration_s;
  double warmup_s;
  double stall_timeout_s; /* a request unanswered this long stalls its connection */
  double loss_timeout_s;  /* udp: a datagram not echoed this long is counted lost */
  unsigned idle_messages; /* idle: round trips each connection makes before it goes quiet */
  unsigned threads;
  load_mode mode;
  int json;
  int help;
} load_options;

#define LOAD_MAX_CONNECTIONS 100000u
#define LOAD_MAX_SIZE (1u << 20)
#define LOAD_MAX_PIPELINE 1024u
#define LOAD_MAX_THREADS 64u
#define LOAD_MAX_IDLE_MESSAGES 1000000u
/* udp: a datagram carries an 8-byte header (sequence number, slot), and
 * 65,507 bytes is the largest UDP payload over IPv4. */
#define LOAD_UDP_HEADER 8u
#define LOAD_MAX_UDP_SIZE 65507u
/* Bytes one connection may have in flight (size x pipeline). */
#define LOAD_MAX_WINDOW (64u << 20)

/* Parses argv. 0 on success; -1 with a message naming the bad flag or value
 * in err. */
int load_options_parse(int argc, char **argv, load_options *o, char *err, size_t err_size);

const char *load_options_usage(void);
const char *load_mode_name(load_mode m);

#endif
