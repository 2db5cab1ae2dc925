/* The service's log folder. When the folder of the service's log file is
 * missing, the service creates it (that one level) with a protected DACL
 * naming SYSTEM, Administrators and the service's own SID, the ACL the MSI
 * gives %ProgramData%\portserve\logs (installer/portserve.wxs), so that a
 * `portserve install` or a deleted folder ends up the same. A folder that
 * exists is left as it is: the MSI or an operator chose its ACL. */
#ifndef PS_LOGDIR_H
#define PS_LOGDIR_H

#include <stddef.h>
#include <wchar.h>

typedef enum ps_logdir_result {
  PS_LOGDIR_NOTHING,   /* no log file, its folder exists, or its parent is missing too */
  PS_LOGDIR_SECURED,   /* created, open to SYSTEM, Administrators and the service only */
  PS_LOGDIR_INHERITED, /* created with the ACL it inherits: the message says why */
  PS_LOGDIR_FAILED,    /* not created: the message names the call and its error */
} ps_logdir_result;

/* `log_file` is the log file's path; `service` is the service's name, whose
 * SID is NT SERVICE\<service>. For any result but NOTHING, a UTF-8 line for
 * the log goes to `msg`. Call before the log file is opened. */
ps_logdir_result ps_logdir_prepare(const wchar_t *log_file, const wchar_t *service, char *msg, size_t msgsize);

#endif
