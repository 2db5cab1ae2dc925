/* upper.exe: a console server for the "upper" protocol, built on the
 * portserve engine library (psengine) through its public headers only.
 *
 *   upper.exe [SPEC]      default "127.0.0.1:7070"; SPEC as portserve's
 *                         --listen takes it after the '=' (":7070" for
 *                         every address, "[::1]:0/tcp", ...)
 *
 * It serves until its standard input ends (Ctrl+Z Enter in a console, or
 * the parent closing the pipe), then stops gracefully. A Windows service
 * would call the same functions from its ServiceMain (see portserve's
 * server/service.c). */
#include <stdio.h>
#include <string.h>

#include "listen_spec.h"
#include "ps_engine.h"
#include "upper.h"

int main(int argc, char **argv) {
  char text[300], err[300];
  ps_listen_spec spec;
  ps_engine_config cfg;
  ps_engine *engine;
  ps_endpoint eps[16];
  upper_options options;
  size_t i, n;
  int rc;

  snprintf(text, sizeof(text), "upper=%s", argc > 1 ? argv[1] : "127.0.0.1:7070");
  if (argc > 2 || ps_listen_spec_parse(text, &spec, err, sizeof(err)) != 0) {
    fprintf(stderr, "usage: upper [HOST:PORT[/tcp|/udp]]\n%s\n", argc > 2 ? "too many arguments" : err);
    return 2;
  }
  ps_engine_config_default(&cfg);
  if (ps_engine_new(&cfg, &engine) != 0) return 1; /* the engine logged why */
  options.greeting = "upper:";
  if (ps_engine_serve(engine, &spec, &upper_handler, &options) != 0) {
    ps_engine_delete(engine);
    return 1;
  }
  n = ps_engine_endpoints(engine, eps, sizeof(eps) / sizeof(eps[0]));
  for (i = 0; i < n && i < sizeof(eps) / sizeof(eps[0]); i++)
    fprintf(stderr, "upper: serving %s %s port %u\n", eps[i].transport == PS_TRANSPORT_TCP ? "tcp" : "udp",
            eps[i].address, eps[i].port);
  fprintf(stderr, "upper: ready: end standard input to stop\n");

  while (fgets(text, sizeof(text), stdin) != NULL) {
  }
  rc = ps_engine_stop(engine) == 0 ? 0 : 1; /* connections still open at the deadline were reset */
  ps_engine_delete(engine);
  fprintf(stderr, "upper: stopped\n");
  return rc;
}
