/* The service's log folder (logdir.h): created, when missing, with an ACL
 * that names the service's own SID. Every call here runs once, on the
 * service's main thread, before the log is open: results go back as text. */
#include "logdir.h"

#include <stdio.h>
#include <string.h>

#include "ps_log.h"
#include "options.h"
#include "ps_win.h"

#include <sddl.h>

/* SYSTEM and Administrators: full control; the service: modify (create,
 * append, rename and delete its files: rotation). Protected (P): nothing
 * inherited from ProgramData, where every user may read and create files.
 * The same as the MSI's MsiLockPermissionsEx row, less the owner, which is
 * whoever creates the folder. */
#define LOGDIR__SDDL L"D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;%ls)"

/* The SDDL that names the service's SID, or 0 with why not in `why`. The
 * SID is worth naming only if this process's token holds it (service SID
 * type unrestricted, which install and the MSI set): otherwise the folder
 * would shut the service out of its own log. */
static int logdir__sddl(const wchar_t *service, wchar_t *sddl, size_t n, char *why, size_t whysize) {
  wchar_t account[300], domain[256], *sid_text = NULL;
  BYTE sid[SECURITY_MAX_SID_SIZE];
  DWORD sid_size = sizeof(sid), domain_size = (DWORD)PS_COUNTOF(domain);
  SID_NAME_USE use;
  BOOL member = FALSE;
  char err[256];
  swprintf(account, PS_COUNTOF(account), L"NT SERVICE\\%ls", service);
  if (!LookupAccountNameW(NULL, account, sid, &sid_size, domain, &domain_size, &use)) {
    snprintf(why, whysize, "LookupAccountName(NT SERVICE\\%ls) failed: %s", service,
             ps_errstr(GetLastError(), err, sizeof(err)));
    return 0;
  }
  if (!CheckTokenMembership(NULL, sid, &member)) {
    snprintf(why, whysize, "CheckTokenMembership(NT SERVICE\\%ls) failed: %s", service,
             ps_errstr(GetLastError(), err, sizeof(err)));
    return 0;
  }
  if (!member) {
    snprintf(why, whysize,
             "this process does not hold the SID of NT SERVICE\\%ls (the service's SID type is not "
             "unrestricted)",
             service);
    return 0;
  }
  if (!ConvertSidToStringSidW(sid, &sid_text)) {
    snprintf(why, whysize, "ConvertSidToStringSid failed: %s", ps_errstr(GetLastError(), err, sizeof(err)));
    return 0;
  }
  swprintf(sddl, n, LOGDIR__SDDL, sid_text);
  LocalFree(sid_text);
  return 1;
}

ps_logdir_result ps_logdir_prepare(const wchar_t *log_file, const wchar_t *service, char *msg, size_t msgsize) {
  wchar_t path[PS_PATH_MAX], sddl[512], *sep;
  char folder[3 * PS_PATH_MAX], why[400], err[256];
  SECURITY_ATTRIBUTES sa;
  PSECURITY_DESCRIPTOR sd = NULL;
  BOOL created;
  DWORD e;

  msg[0] = '\0';
  if (wcslen(log_file) >= PS_COUNTOF(path)) return PS_LOGDIR_NOTHING; /* the log file's open reports it */
  wcscpy(path, log_file);
  sep = wcsrchr(path, L'\\');
  if (wcsrchr(path, L'/') > sep) sep = wcsrchr(path, L'/');
  if (sep == NULL || sep == path || sep[-1] == L':') return PS_LOGDIR_NOTHING;
  *sep = L'\0';
  /* Only a folder that is missing while its parent exists: a deeper miss
   * is a typing error the log file's open reports, not a layout to build. */
  if (GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES || GetLastError() != ERROR_FILE_NOT_FOUND)
    return PS_LOGDIR_NOTHING;
  if (WideCharToMultiByte(CP_UTF8, 0, path, -1, folder, (int)sizeof(folder), NULL, NULL) == 0) folder[0] = '\0';

  why[0] = '\0';
  if (logdir__sddl(service, sddl, PS_COUNTOF(sddl), why, sizeof(why)) &&
      !ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL)) {
    snprintf(why, sizeof(why), "ConvertStringSecurityDescriptorToSecurityDescriptor failed: %s",
             ps_errstr(GetLastError(), err, sizeof(err)));
    sd = NULL;
  }
  sa.nLength = sizeof(sa);
  sa.lpSecurityDescriptor = sd;
  sa.bInheritHandle = FALSE;
  created = CreateDirectoryW(path, sd != NULL ? &sa : NULL);
  e = GetLastError();
  if (sd != NULL) LocalFree(sd);
  if (!created) {
    if (e == ERROR_ALREADY_EXISTS) return PS_LOGDIR_NOTHING; /* made meanwhile: its maker chose the ACL */
    snprintf(msg, msgsize, "cannot create the log folder %s: CreateDirectory failed: %s", folder,
             ps_errstr(e, err, sizeof(err)));
    return PS_LOGDIR_FAILED;
  }
  if (sd != NULL) {
    snprintf(msg, msgsize, "created the log folder %s, open to SYSTEM, Administrators and NT SERVICE\\%ls only", folder,
             service);
    return PS_LOGDIR_SECURED;
  }
  snprintf(msg, msgsize, "created the log folder %s with the permissions it inherits, not the service-only ACL: %s",
           folder, why);
  return PS_LOGDIR_INHERITED;
}
