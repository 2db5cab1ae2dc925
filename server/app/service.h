/* portserve as a Windows service: the commands that register, remove and
 * drive it through the Service Control Manager, and the entry the SCM runs.
 * Each command prints what it did and returns the process exit code: 0, or
 * 1 with a message naming the failed call and its Win32 error. */
#ifndef PS_SERVICE_H
#define PS_SERVICE_H

#include "options.h"
#include "run.h"
#include "version.h"

/* The service's name in the SCM, for `sc` and `net start`. */
#define PS_SERVICE_NAME PS_PRODUCT_NAME

/* `portserve install [--config FILE]`: creates the service (automatic,
 * delayed start; NT AUTHORITY\LocalService with its own unrestricted SID and
 * only SeChangeNotifyPrivilege; restart on any failure) to run
 * `"<exe>" service --config "<absolute FILE>"`, and registers the Event Log
 * source. Without --config, portserve.ini next to the exe. The settings an
 * SCM does not know are skipped (a debug line at the file's log_level). */
int ps_service_install(const ps_options *o);

/* `portserve uninstall`: stops the service if it runs, deletes it and its
 * Event Log source. */
int ps_service_uninstall(const ps_options *o);

/* `portserve start|stop|status`: drive the installed service, waiting
 * (bounded, following its checkpoints) until it leaves the pending state. */
int ps_service_start(const ps_options *o);
int ps_service_stop(const ps_options *o);
int ps_service_status(const ps_options *o);

/* `portserve service ...`, run by the SCM: connects to it and serves `o`
 * until the SCM stops the service. If `startup_error` is not NULL the
 * command line could not be parsed: the service reports it (Event Log, exit
 * code PS_RUN_CONFIG_ERROR) and stops. Returns the process exit code. */
int ps_service_dispatch(const ps_options *o, const char *startup_error, ps_reload_fn reload, void *reload_ctx);

/* `portserve reload`: sends SERVICE_CONTROL_PARAMCHANGE to the service. */
int ps_service_reload(const ps_options *o);

#endif
