// A ps_metrics with every kind of row and awkward label values, shared by the
// unit tests and by metrics_sample (whose output promtool checks).
#ifndef PS_METRICS_SAMPLE_H
#define PS_METRICS_SAMPLE_H

#include <cstring>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/socket.h>
#endif

extern "C" {
#include "listen_spec.h"
#include "metrics.h"
}

inline void FillSampleMetrics(ps_metrics *m) {
  std::memset(m, 0, sizeof(*m));
  m->stats.conns_open = 3;
  m->stats.conns_total = 120;
  m->stats.closed_reset = 2;
  m->stats.refused_source = 4;
  m->stats.closed_orderly = 100;
  m->stats.process_cpu_us = 2500000;
  m->stats.timeouts_idle = 5;
  m->stats.timeouts_linger = 6;
  m->stats.timeouts_send = 7;
  m->stats.closed_resources = 8;
  m->stats.bytes_in = 1234567;
  m->stats.bytes_out = 7654321;
  m->stats.msgs_in = 999;
  m->stats.dgrams_in = 50;
  m->stats.dgrams_out = 40;
  m->stats.dgrams_dropped = 1;
  m->stats.dgrams_dropped_port0 = 2;
  m->stats.dgrams_dropped_lowport = 3;
  m->stats.dgrams_dropped_loop = 4;
  m->stats.dgrams_dropped_rate = 5;
  m->stats.dgrams_dropped_rate_total = 6;
  m->stats.accepts_posted = 16;
  m->stats.udp_receives_posted = 8;
  m->stats.buffers_in_use = 9;
  m->stats.buffers_live = 64;
  m->stats.sockets_live = 12;
  m->stats.accept_errors = 3;
  m->stats.udp_recv_errors = 1;
  m->stats.sweep_us_max = 1500;
  m->worker_threads = 2;
  std::strcpy(m->version, "0.1.0");
  m->state = PS_METRICS_SERVING;
  m->start_time_unix = 1795840000;
  m->reload_ok = 1;
  m->reload_success_unix = 1795840100;
  std::strcpy(m->config_hash, "0123456789abcdef");
  ps_listener_stats *l = &m->listeners[m->listener_count++];
  std::strcpy(l->ep.service, "echo");
  std::strcpy(l->ep.address, "127.0.0.1");
  l->ep.port = 7007;
  l->ep.family = AF_INET;
  l->ep.transport = PS_TRANSPORT_TCP;
  l->open = 1;
  l->conns_accepted = 100;
  l->bytes_in = 1000;
  l->bytes_out = 1000;
  l->msgs_in = 10;
  l->msgs_out = 10;
  l = &m->listeners[m->listener_count++];
  std::strcpy(l->ep.service, "echo");
  std::strcpy(l->ep.address, "::1");
  l->ep.port = 7007;
  l->ep.family = AF_INET6;
  l->ep.transport = PS_TRANSPORT_UDP;
  l->bytes_in = 50;
  l->dgrams_in = 5;
  l->dgrams_out = 5;
  l = &m->listeners[m->listener_count++];
  std::strcpy(l->ep.service, "qotd");
  std::strcpy(l->ep.address, "we\"ird\\name\nx");  // escaping: quote, backslash, newline
  l->ep.port = 17;
  l->ep.family = AF_INET;
  l->ep.transport = PS_TRANSPORT_TCP;
  l->conns_accepted = 1;
  ps_metrics_add_error(m, "accept", "WSAENOBUFS", 2);
  ps_metrics_add_error(m, "udp_recv", "WSAEMSGSIZE", 1);
  ps_metrics_add_error(m, "accept", "WSAENOBUFS", 1);
}

#endif
