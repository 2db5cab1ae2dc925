/* The Windows service. Two halves: the commands an operator runs (install,
 * uninstall, start, stop, status: OpenSCManager/CreateService/StartService/
 * ControlService/QueryServiceStatusEx), and what the SCM runs (`service`:
 * StartServiceCtrlDispatcher, ServiceMain, the control handler), which
 * reports the service states while ps_run serves.
 *
 * Threads in the SCM half: the main thread runs the dispatcher and the
 * control handler; ServiceMain runs ps_run on a thread the dispatcher makes;
 * a pulse thread advances the checkpoint while a state is pending. The
 * reported status changes only under service__state.lock. */
#include "service.h"

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "config.h"
#include "logdir.h"
#include "logsink.h"
#include "ps_log.h"
#include "ps_win.h"
#include "run.h"

#define SERVICE__NAME PS_WIDE(PS_SERVICE_NAME)
#define SERVICE__DISPLAY_NAME L"portserve socket server"
#define SERVICE__DESCRIPTION \
  L"Serves the Simple TCP/IP Services (echo and others) on the ports its configuration file lists."
#define SERVICE__ACCOUNT L"NT AUTHORITY\\LocalService"
#define SERVICE__EVENTLOG_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\portserve"

/* Waits of the commands: how long start/stop/uninstall follow a pending
 * service in all, however well its checkpoints advance. */
#define SERVICE__START_LIMIT_MS 120000u
#define SERVICE__STOP_LIMIT_MS 300000u

/* What the service reports while it starts: opening listeners may resolve
 * names; the pulse thread advances the checkpoint every second meanwhile. */
#define SERVICE__START_WAIT_HINT_MS 10000u
#define SERVICE__PULSE_MS 1000u
/* Time beyond the drain deadline a stop needs (resetting, joining workers). */
#define SERVICE__STOP_SLACK_MS 10000u

/* ---------------------------------------------------------------------- */
/* Helpers shared by the commands.                                         */

/* Prints "portserve COMMAND: CALL failed: ERROR" and returns 1 (the exit code). */
static int service__fail(const char *command, const char *call, DWORD err) {
  char msg[256];
  fprintf(stderr, "portserve %s: %s failed: %s%s\n", command, call, ps_errstr(err, msg, sizeof(msg)),
          err == ERROR_ACCESS_DENIED ? "; run from an elevated (administrator) prompt" : "");
  return 1;
}

/* Opens the SCM and the service; prints the failure and returns 1, or 0. */
static int service__open(const char *command, DWORD access, SC_HANDLE *scm, SC_HANDLE *svc) {
  DWORD err;
  *svc = NULL;
  *scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  if (*scm == NULL) return service__fail(command, "OpenSCManager", GetLastError());
  *svc = OpenServiceW(*scm, SERVICE__NAME, access);
  if (*svc == NULL) {
    err = GetLastError();
    if (err == ERROR_SERVICE_DOES_NOT_EXIST)
      fprintf(stderr, "portserve %s: the service '%s' is not installed (portserve install --config FILE)\n", command,
              PS_SERVICE_NAME);
    else service__fail(command, "OpenService", err);
    CloseServiceHandle(*scm);
    *scm = NULL;
    return 1;
  }
  return 0;
}

static void service__close(SC_HANDLE scm, SC_HANDLE svc) {
  if (svc != NULL) CloseServiceHandle(svc);
  if (scm != NULL) CloseServiceHandle(scm);
}

static const char *service__state_name(DWORD state) {
  switch (state) {
    case SERVICE_STOPPED:
      return "STOPPED";
    case SERVICE_START_PENDING:
      return "START_PENDING";
    case SERVICE_STOP_PENDING:
      return "STOP_PENDING";
    case SERVICE_RUNNING:
      return "RUNNING";
    case SERVICE_CONTINUE_PENDING:
      return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING:
      return "PAUSE_PENDING";
    case SERVICE_PAUSED:
      return "PAUSED";
    default:
      return "UNKNOWN";
  }
}

/* "RUNNING (pid 1234)", "STOPPED", or "STOPPED with service-specific exit
 * code 2 (a listener could not open); see the Event Log or the log file". */
static void service__print_state(const SERVICE_STATUS_PROCESS *st) {
  char msg[256];
  printf("%s: %s", PS_SERVICE_NAME, service__state_name(st->dwCurrentState));
  if (st->dwProcessId != 0) printf(" (pid %lu)", (unsigned long)st->dwProcessId);
  if (st->dwCurrentState == SERVICE_STOPPED && st->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
    printf(" with service-specific exit code %lu (%s); the Event Log and the log file say why",
           (unsigned long)st->dwServiceSpecificExitCode,
           ps_run_status_text((ps_run_status)st->dwServiceSpecificExitCode));
  else if (st->dwCurrentState == SERVICE_STOPPED && st->dwWin32ExitCode != NO_ERROR)
    printf(" with exit code %s", ps_errstr(st->dwWin32ExitCode, msg, sizeof(msg)));
  printf("\n");
  fflush(stdout);
}

static int service__query(SC_HANDLE svc, SERVICE_STATUS_PROCESS *st) {
  DWORD needed;
  return QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)st, sizeof(*st), &needed) ? 0 : -1;
}

/* Follows a service in `pending` state until it leaves it, the way the SCM
 * documents it: poll at a tenth of the wait hint (1 to 10 s), and give up
 * if the checkpoint does not advance within the wait hint, or after
 * `limit_ms` in all. Prints each new checkpoint. 0 with the last status in
 * *st, or a Win32 error (ERROR_TIMEOUT when it gave up). */
static DWORD service__wait(SC_HANDLE svc, DWORD pending, DWORD limit_ms, SERVICE_STATUS_PROCESS *st) {
  ULONGLONG start = GetTickCount64(), progress_at = start;
  DWORD checkpoint;
  if (service__query(svc, st) != 0) return GetLastError();
  checkpoint = st->dwCheckPoint;
  while (st->dwCurrentState == pending) {
    DWORD hint = st->dwWaitHint, sleep_ms = hint / 10;
    ULONGLONG now;
    if (sleep_ms < 1000) sleep_ms = 1000;
    if (sleep_ms > 10000) sleep_ms = 10000;
    /* Short first polls: most states change within a fraction of a second. */
    if (GetTickCount64() - start < 2000) sleep_ms = 200;
    Sleep(sleep_ms);
    if (service__query(svc, st) != 0) return GetLastError();
    now = GetTickCount64();
    if (st->dwCurrentState != pending) break;
    if (st->dwCheckPoint != checkpoint) {
      checkpoint = st->dwCheckPoint;
      progress_at = now;
      printf("  %s, checkpoint %lu, wait hint %lu ms\n", service__state_name(pending), (unsigned long)checkpoint,
             (unsigned long)st->dwWaitHint);
      fflush(stdout);
    } else if (now - progress_at > (hint > 1000 ? hint : 1000)) {
      return ERROR_TIMEOUT;
    }
    if (now - start > limit_ms) return ERROR_TIMEOUT;
  }
  return 0;
}

/* Requests a stop and waits for STOPPED. 0, or 1 after printing why. */
static int service__stop_and_wait(const char *command, SC_HANDLE svc, SERVICE_STATUS_PROCESS *st) {
  SERVICE_STATUS ss;
  DWORD err;
  if (service__query(svc, st) != 0) return service__fail(command, "QueryServiceStatusEx", GetLastError());
  if (st->dwCurrentState == SERVICE_STOPPED) return 0;
  if (st->dwCurrentState != SERVICE_STOP_PENDING) {
    if (st->dwCurrentState == SERVICE_START_PENDING) {
      /* A starting service accepts no controls yet: let it finish first. */
      err = service__wait(svc, SERVICE_START_PENDING, SERVICE__START_LIMIT_MS, st);
      if (err != 0) return service__fail(command, "waiting for the start to finish", err);
      if (st->dwCurrentState == SERVICE_STOPPED) return 0;
    }
    printf("stopping %s...\n", PS_SERVICE_NAME);
    fflush(stdout);
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss)) {
      err = GetLastError();
      if (err != ERROR_SERVICE_NOT_ACTIVE) return service__fail(command, "ControlService(STOP)", err);
    }
  }
  err = service__wait(svc, SERVICE_STOP_PENDING, SERVICE__STOP_LIMIT_MS, st);
  if (err == ERROR_TIMEOUT) {
    fprintf(stderr, "portserve %s: the service is still %s after waiting; see 'portserve status'\n", command,
            service__state_name(st->dwCurrentState));
    return 1;
  }
  if (err != 0) return service__fail(command, "QueryServiceStatusEx", err);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* install / uninstall                                                      */

/* UTF-8 (from the command line, main.c) to UTF-16; a string that is not
 * valid UTF-8 is taken in the ANSI code page, as ps_fopen does. */
static int service__widen(const char *s, wchar_t *out, size_t n) {
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, (int)n) != 0) return 0;
  return MultiByteToWideChar(CP_ACP, 0, s, -1, out, (int)n) == 0 ? -1 : 0;
}

/* UTF-16 to UTF-8 for the portable code and for printing. */
static int service__narrow(const wchar_t *s, char *out, size_t n) {
  return WideCharToMultiByte(CP_UTF8, 0, s, -1, out, (int)n, NULL, NULL) == 0 ? -1 : 0;
}

/* The configuration the service will run with, as an absolute path: --config
 * as given, else portserve.ini next to the exe (checked here, since the
 * parser only loaded a file named on the command line). Wide all the way,
 * so a folder name outside the ANSI code page reaches the service intact.
 * Also what install takes from that file: drain_timeout and log_level. */
static int service__config_path(const ps_options *o, wchar_t *out, size_t n, unsigned *drain_timeout_ms,
                                unsigned *log_level) {
  wchar_t given[PS_PATH_MAX], *slash;
  char path[3 * PS_PATH_MAX], err[512];
  ps_options file;
  DWORD len;
  *drain_timeout_ms = o->drain_timeout_ms;
  *log_level = o->log_level;
  if (o->config_path[0] != '\0') {
    if (service__widen(o->config_path, given, PS_COUNTOF(given)) != 0)
      return service__fail("install", "MultiByteToWideChar", GetLastError());
    len = GetFullPathNameW(given, (DWORD)n, out, NULL);
    if (len == 0 || len >= n)
      return service__fail("install", "GetFullPathName", len == 0 ? GetLastError() : ERROR_FILENAME_EXCED_RANGE);
    return 0;
  }
  len = GetModuleFileNameW(NULL, out, (DWORD)n);
  if (len == 0 || len >= n) return service__fail("install", "GetModuleFileName", GetLastError());
  slash = wcsrchr(out, L'\\');
  if (slash != NULL) slash[1] = L'\0';
  if (wcslen(out) + wcslen(L"portserve.ini") >= n)
    return service__fail("install", "GetModuleFileName", ERROR_FILENAME_EXCED_RANGE);
  wcscat(out, L"portserve.ini");
  if (service__narrow(out, path, sizeof(path)) != 0)
    return service__fail("install", "WideCharToMultiByte", GetLastError());
  ps_options_defaults(&file);
  if (ps_config_load(path, &file, err, sizeof(err)) != 0) {
    ps_console_printf(stderr,
                      "portserve install: no usable configuration: %s\n"
                      "  (pass --config FILE, or put portserve.ini next to portserve.exe)\n",
                      err);
    return 1;
  }
  *drain_timeout_ms = file.drain_timeout_ms;
  *log_level = file.log_level;
  return 0;
}

/* HKLM\...\EventLog\Application\portserve: Event Viewer reads the message
 * text for our event IDs from the exe's message table (portserve.rc). */
static DWORD service__register_event_source(const wchar_t *exe) {
  HKEY key;
  DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  LSTATUS r = RegCreateKeyExW(HKEY_LOCAL_MACHINE, SERVICE__EVENTLOG_KEY, 0, NULL, 0, KEY_SET_VALUE, NULL, &key, NULL);
  if (r != ERROR_SUCCESS) return (DWORD)r;
  r = RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                     (DWORD)((wcslen(exe) + 1) * sizeof(wchar_t)));
  if (r == ERROR_SUCCESS) r = RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof(types));
  RegCloseKey(key);
  return (DWORD)r;
}

static DWORD service__remove_event_source(void) {
  LSTATUS r = RegDeleteKeyW(HKEY_LOCAL_MACHINE, SERVICE__EVENTLOG_KEY);
  return r == ERROR_FILE_NOT_FOUND ? 0 : (DWORD)r;
}

/* One of the settings the service works without, only less hardened or
 * less handy: a failure is a warning saying what it costs, and install goes
 * on. ERROR_INVALID_LEVEL means this Service Control Manager does not know
 * the setting at all (Windows before Vista; Wine's, for all of them but the
 * pre-shutdown time: docs/wine-notes.md): a debug line then, as there is
 * nothing an operator could do about it. */
static void service__configure_optional(SC_HANDLE svc, DWORD level, void *info, const char *name, const char *without) {
  char msg[256];
  DWORD err;
  if (ChangeServiceConfig2W(svc, level, info)) return;
  err = GetLastError();
  if (err == ERROR_INVALID_LEVEL)
    ps_log(PS_LOG_DEBUG,
           "install: ChangeServiceConfig2(%s) failed: %s; this Service Control Manager does not know the "
           "setting: %s",
           name, ps_errstr(err, msg, sizeof(msg)), without);
  else
    fprintf(stderr, "portserve install: warning: ChangeServiceConfig2(%s) failed: %s; %s\n", name,
            ps_errstr(err, msg, sizeof(msg)), without);
}

/* Description, restart on failure, the pre-shutdown time and the service's
 * hardening: what the CreateServiceW call cannot say. The MSI sets the same
 * (installer/portserve.wxs; tests/e2e/test_msi.py compares the two). */
static int service__configure(SC_HANDLE svc, unsigned drain_timeout_ms) {
  SERVICE_DESCRIPTIONW desc;
  SERVICE_FAILURE_ACTIONSW failure;
  SERVICE_FAILURE_ACTIONS_FLAG failure_flag;
  SERVICE_PRESHUTDOWN_INFO preshutdown;
  SERVICE_SID_INFO sid;
  SERVICE_REQUIRED_PRIVILEGES_INFOW privileges;
  SERVICE_DELAYED_AUTO_START_INFO delayed;
  /* Restart after 5 s, then 30 s, then every minute; forget the failures
   * after a day without one. */
  SC_ACTION actions[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}, {SC_ACTION_RESTART, 60000}};
  /* The one privilege it uses (a REG_MULTI_SZ: each name, then an empty
   * one). Sockets on any port, the Event Log, its log files and the ACL of a
   * log folder it creates need none; SeChangeNotifyPrivilege (bypass
   * traverse checking) lets it reach its files through folders it may not
   * list. LocalService's others (SeImpersonatePrivilege,
   * SeCreateGlobalPrivilege, SeAssignPrimaryTokenPrivilege, ...) leave its
   * token, so a compromised service cannot use them. */
  wchar_t required[] = L"SeChangeNotifyPrivilege\0";

  desc.lpDescription = (LPWSTR)SERVICE__DESCRIPTION;
  if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc))
    return service__fail("install", "ChangeServiceConfig2(SERVICE_CONFIG_DESCRIPTION)", GetLastError());

  memset(&failure, 0, sizeof(failure));
  failure.dwResetPeriod = 24 * 60 * 60;
  failure.cActions = (DWORD)PS_COUNTOF(actions);
  failure.lpsaActions = actions;
  if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &failure))
    return service__fail("install", "ChangeServiceConfig2(SERVICE_CONFIG_FAILURE_ACTIONS)", GetLastError());

  /* The actions above for a stop with an error too (a service-specific exit
   * code), not only for a crash: a port another program held at boot may be
   * free at the next try, and an edited file is read again at every start. */
  failure_flag.fFailureActionsOnNonCrashFailures = TRUE;
  service__configure_optional(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &failure_flag,
                              "SERVICE_CONFIG_FAILURE_ACTIONS_FLAG",
                              "only a crash restarts the service, not a stop with an error");

  /* At shutdown, the time the SCM waits for the drain before moving on. */
  preshutdown.dwPreshutdownTimeout = drain_timeout_ms + SERVICE__STOP_SLACK_MS;
  service__configure_optional(svc, SERVICE_CONFIG_PRESHUTDOWN_INFO, &preshutdown, "SERVICE_CONFIG_PRESHUTDOWN_INFO",
                              "the system's default pre-shutdown time applies");

  /* Its own SID in its token (NT SERVICE\portserve), so that an ACL can
   * name this service rather than every LocalService process, as its log
   * folder's does (logdir.c, the MSI). */
  sid.dwServiceSidType = SERVICE_SID_TYPE_UNRESTRICTED;
  service__configure_optional(svc, SERVICE_CONFIG_SERVICE_SID_INFO, &sid, "SERVICE_CONFIG_SERVICE_SID_INFO",
                              "the service has no SID of its own, and a log folder it creates keeps the "
                              "permissions it inherits");

  privileges.pmszRequiredPrivileges = required;
  service__configure_optional(svc, SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO, &privileges,
                              "SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO",
                              "the service keeps every privilege of LocalService");

  /* After the other automatic services: the network is up by then, and
   * nothing in the boot waits for a socket server. */
  delayed.fDelayedAutostart = TRUE;
  service__configure_optional(svc, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed,
                              "SERVICE_CONFIG_DELAYED_AUTO_START_INFO",
                              "the service starts with the other automatic services");
  return 0;
}

static int service__install(const wchar_t *wconfig, unsigned drain_timeout_ms);

int ps_service_install(const ps_options *o) {
  wchar_t wconfig[PS_PATH_MAX];
  unsigned drain_timeout_ms, log_level;
  ps_logsink_config log;
  int rc;

  if (service__config_path(o, wconfig, PS_COUNTOF(wconfig), &drain_timeout_ms, &log_level) != 0) return 1;
  /* install's own log lines go to stderr at the configuration's log_level:
   * with debug, they show the settings this SCM does not know. */
  memset(&log, 0, sizeof(log));
  log.level = (ps_log_level)log_level;
  log.sinks = PS_LOG_TO_STDERR;
  ps_logsink_open(&log);
  rc = service__install(wconfig, drain_timeout_ms);
  ps_logsink_close();
  return rc;
}

static int service__install(const wchar_t *wconfig, unsigned drain_timeout_ms) {
  wchar_t exe[PS_PATH_MAX], command[3 * PS_PATH_MAX];
  char shown[9 * PS_PATH_MAX];
  SC_HANDLE scm, svc;
  DWORD len, err;

  len = GetModuleFileNameW(NULL, exe, (DWORD)PS_COUNTOF(exe));
  if (len == 0 || len >= PS_COUNTOF(exe)) return service__fail("install", "GetModuleFileName", GetLastError());
  /* Quoted: both paths may hold spaces ("C:\Program Files\..."). */
  if (swprintf(command, PS_COUNTOF(command), L"\"%ls\" service --config \"%ls\"", exe, wconfig) < 0)
    return service__fail("install", "building the service command line", ERROR_FILENAME_EXCED_RANGE);

  scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  if (scm == NULL) return service__fail("install", "OpenSCManager", GetLastError());
  svc = CreateServiceW(scm, SERVICE__NAME, SERVICE__DISPLAY_NAME, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                       SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, command, NULL, NULL, NULL, SERVICE__ACCOUNT, NULL);
  if (svc == NULL) {
    err = GetLastError();
    CloseServiceHandle(scm);
    if (err == ERROR_SERVICE_EXISTS) {
      fprintf(stderr,
              "portserve install: the service '%s' is already installed; "
              "'portserve uninstall' removes it (an MSI install is upgraded with a newer MSI)\n",
              PS_SERVICE_NAME);
      return 1;
    }
    return service__fail("install", "CreateService", err);
  }

  /* All or nothing: a half-registered service is worse than none. */
  if (service__configure(svc, drain_timeout_ms) != 0) goto undo;
  err = service__register_event_source(exe);
  if (err != 0) {
    service__fail("install", "registering the Event Log source (RegCreateKeyEx/RegSetValueEx)", err);
    goto undo;
  }
  service__close(scm, svc);
  if (service__narrow(command, shown, sizeof(shown)) != 0) shown[0] = '\0';
  ps_console_printf(stdout,
                    "installed the service '%s' (automatic start, delayed; %ls)\n"
                    "  command: %s\n"
                    "  Event Log source: Application/%s\n"
                    "  start it with 'portserve start' or 'net start %s'\n",
                    PS_SERVICE_NAME, SERVICE__ACCOUNT, shown, PS_SERVICE_NAME, PS_SERVICE_NAME);
  return 0;

undo:
  if (!DeleteService(svc)) service__fail("install", "undoing it: DeleteService", GetLastError());
  service__close(scm, svc);
  return 1;
}

int ps_service_uninstall(const ps_options *o) {
  SC_HANDLE scm, svc;
  SERVICE_STATUS_PROCESS st;
  DWORD err;
  PS_UNUSED(o);

  if (service__open("uninstall", SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &scm, &svc) != 0) {
    /* Leave nothing behind from a half-done earlier removal. */
    service__remove_event_source();
    return 1;
  }
  if (service__stop_and_wait("uninstall", svc, &st) != 0) {
    service__close(scm, svc);
    return 1;
  }
  if (!DeleteService(svc)) {
    err = GetLastError();
    service__close(scm, svc);
    if (err == ERROR_SERVICE_MARKED_FOR_DELETE) {
      fprintf(stderr, "portserve uninstall: the service is already marked for deletion; it goes when the "
                      "last program holding it open (services.msc, another 'sc') closes it\n");
      return 1;
    }
    return service__fail("uninstall", "DeleteService", err);
  }
  service__close(scm, svc);
  err = service__remove_event_source();
  if (err != 0) return service__fail("uninstall", "removing the Event Log source (RegDeleteKey)", err);
  printf("removed the service '%s' and its Event Log source\n", PS_SERVICE_NAME);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* start / stop / status                                                    */

int ps_service_start(const ps_options *o) {
  SC_HANDLE scm, svc;
  SERVICE_STATUS_PROCESS st;
  DWORD err;
  PS_UNUSED(o);

  if (service__open("start", SERVICE_START | SERVICE_QUERY_STATUS, &scm, &svc) != 0) return 1;
  if (!StartServiceW(svc, 0, NULL)) {
    err = GetLastError();
    if (err != ERROR_SERVICE_ALREADY_RUNNING) {
      service__close(scm, svc);
      return service__fail("start", "StartService", err);
    }
    printf("%s is already running\n", PS_SERVICE_NAME);
  } else {
    printf("starting %s...\n", PS_SERVICE_NAME);
    fflush(stdout);
  }
  err = service__wait(svc, SERVICE_START_PENDING, SERVICE__START_LIMIT_MS, &st);
  service__close(scm, svc);
  if (err == ERROR_TIMEOUT) {
    fprintf(stderr, "portserve start: the service is still START_PENDING after waiting; see 'portserve status'\n");
    return 1;
  }
  if (err != 0) return service__fail("start", "QueryServiceStatusEx", err);
  service__print_state(&st);
  return st.dwCurrentState == SERVICE_RUNNING ? 0 : 1;
}

int ps_service_stop(const ps_options *o) {
  SC_HANDLE scm, svc;
  SERVICE_STATUS_PROCESS st;
  int rc;
  PS_UNUSED(o);

  if (service__open("stop", SERVICE_STOP | SERVICE_QUERY_STATUS, &scm, &svc) != 0) return 1;
  rc = service__stop_and_wait("stop", svc, &st);
  service__close(scm, svc);
  if (rc != 0) return rc;
  service__print_state(&st);
  return st.dwWin32ExitCode == NO_ERROR ? 0 : 1;
}

int ps_service_reload(const ps_options *o) {
  SC_HANDLE scm, svc;
  SERVICE_STATUS ss;
  PS_UNUSED(o);
  /* SERVICE_CONTROL_PARAMCHANGE needs SERVICE_PAUSE_CONTINUE access (ControlService). */
  if (service__open("reload", SERVICE_PAUSE_CONTINUE, &scm, &svc) != 0) return 1;
  if (!ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &ss)) {
    DWORD err = GetLastError();
    service__close(scm, svc);
    return service__fail("reload", "ControlService(SERVICE_CONTROL_PARAMCHANGE)", err);
  }
  service__close(scm, svc);
  ps_console_printf(stdout, "asked the service '%s' to re-read its configuration; its log says how it went\n",
                    PS_SERVICE_NAME);
  return 0;
}

int ps_service_status(const ps_options *o) {
  SC_HANDLE scm, svc;
  SERVICE_STATUS_PROCESS st;
  union {
    QUERY_SERVICE_CONFIGW config;
    BYTE bytes[8192];
  } qc;
  DWORD needed;
  PS_UNUSED(o);

  if (service__open("status", SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, &scm, &svc) != 0) return 1;
  if (service__query(svc, &st) != 0) {
    DWORD err = GetLastError();
    service__close(scm, svc);
    return service__fail("status", "QueryServiceStatusEx", err);
  }
  service__print_state(&st);
  if (st.dwCurrentState == SERVICE_START_PENDING || st.dwCurrentState == SERVICE_STOP_PENDING)
    printf("  checkpoint %lu, wait hint %lu ms\n", (unsigned long)st.dwCheckPoint, (unsigned long)st.dwWaitHint);
  /* The command line says which configuration file it serves. */
  if (QueryServiceConfigW(svc, &qc.config, sizeof(qc), &needed)) {
    char shown[9 * PS_PATH_MAX];
    if (service__narrow(qc.config.lpBinaryPathName, shown, sizeof(shown)) != 0) shown[0] = '\0';
    fflush(stdout);
    ps_console_printf(stdout, "  command: %s\n  account: %ls\n  start: %s\n", shown,
                      qc.config.lpServiceStartName ? qc.config.lpServiceStartName : L"LocalSystem",
                      qc.config.dwStartType == SERVICE_AUTO_START     ? "automatic"
                      : qc.config.dwStartType == SERVICE_DEMAND_START ? "manual"
                      : qc.config.dwStartType == SERVICE_DISABLED     ? "disabled"
                                                                      : "other");
  }
  service__close(scm, svc);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Under the SCM                                                            */

typedef struct service__state {
  const ps_options *options;
  const char *startup_error; /* the command line could not be parsed */
  SERVICE_STATUS_HANDLE handle;
  SRWLOCK lock; /* guards status and the SetServiceStatus calls */
  SERVICE_STATUS status;
  HANDLE stop_event;   /* set by the control handler; ps_run waits on it */
  HANDLE reload_event; /* set by SERVICE_CONTROL_PARAMCHANGE (auto-reset) */
  ps_reload_fn reload; /* parses the command line again (main.c) */
  void *reload_ctx;
  HANDLE pulse_quit;          /* ends the pulse thread */
  volatile LONG stop_control; /* the control that asked for the stop; 0 before */
  ps_run_status result;
} service__state;

/* ServiceMain gets the start parameters but no context pointer: the state
 * reaches it through this, set once by ps_service_dispatch before the
 * dispatcher starts any thread, and read-only afterwards. */
static service__state *service__the;

static void service__report(service__state *s, DWORD state, DWORD exit_code, DWORD specific, DWORD wait_hint) {
  AcquireSRWLockExclusive(&s->lock);
  s->status.dwCurrentState = state;
  s->status.dwWin32ExitCode = exit_code;
  s->status.dwServiceSpecificExitCode = specific;
  s->status.dwWaitHint = wait_hint;
  /* No controls while pending; the SCM queues nothing for us then. */
  s->status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                                              SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                                                          : 0;
  if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING) s->status.dwCheckPoint++;
  else s->status.dwCheckPoint = 0;
  SetServiceStatus(s->handle, &s->status);
  ReleaseSRWLockExclusive(&s->lock);
}

/* Advances the checkpoint once a second while a state is pending, so that
 * the SCM (and `portserve start|stop`) see progress during a long listener
 * set-up or drain without the run loop having to report it. */
static DWORD WINAPI service__pulse(void *arg) {
  service__state *s = (service__state *)arg;
  while (WaitForSingleObject(s->pulse_quit, SERVICE__PULSE_MS) == WAIT_TIMEOUT) {
    AcquireSRWLockExclusive(&s->lock);
    if (s->status.dwCurrentState == SERVICE_START_PENDING || s->status.dwCurrentState == SERVICE_STOP_PENDING) {
      s->status.dwCheckPoint++;
      SetServiceStatus(s->handle, &s->status);
    }
    ReleaseSRWLockExclusive(&s->lock);
  }
  return 0;
}

static DWORD WINAPI service__on_control(DWORD control, DWORD event_type, void *event_data, void *ctx) {
  service__state *s = (service__state *)ctx;
  PS_UNUSED(event_type);
  PS_UNUSED(event_data);
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
      /* Report STOP_PENDING before returning, as the SCM expects; the drain
       * runs on the ServiceMain thread while the pulse shows progress. */
      if (InterlockedCompareExchange(&s->stop_control, (LONG)control, 0) == 0) {
        service__report(s, SERVICE_STOP_PENDING, NO_ERROR, 0,
                        s->options->shutdown_grace_s * 1000u + s->options->drain_timeout_ms + SERVICE__STOP_SLACK_MS);
        SetEvent(s->stop_event);
      }
      return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
      /* "Notifies a service that its startup parameters have changed"
       * (HandlerEx): re-read the configuration on the run loop's thread. */
      if (s->reload_event != NULL) SetEvent(s->reload_event);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

static const char *service__stop_reason(void *ctx) {
  service__state *s = (service__state *)ctx;
  switch (s->stop_control) {
    case SERVICE_CONTROL_STOP:
      return "service stop request";
    case SERVICE_CONTROL_SHUTDOWN:
      return "system shutdown";
    case SERVICE_CONTROL_PRESHUTDOWN:
      return "system pre-shutdown";
    default:
      return "stop request";
  }
}

static void service__on_ready(void *ctx) {
  service__state *s = (service__state *)ctx;
  service__report(s, SERVICE_RUNNING, NO_ERROR, 0, 0);
  ps_log_event(PS_LOG_INFO, PS_EVENT_STARTED, "service '%s' started (configuration %s)", PS_SERVICE_NAME,
               s->options->config_path[0] ? s->options->config_path : "none: defaults");
}

static void service__serve(service__state *s) {
  ps_run_hooks hooks;
  HANDLE pulse;
  char msg[200];

  s->stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  s->reload_event = CreateEventW(NULL, FALSE, FALSE, NULL);
  s->pulse_quit = CreateEventW(NULL, TRUE, FALSE, NULL);
  pulse = s->stop_event && s->pulse_quit ? CreateThread(NULL, 0, service__pulse, s, 0, NULL) : NULL;
  if (pulse == NULL) {
    ps_log(PS_LOG_ERROR, "service: CreateEvent/CreateThread failed: %s", ps_errstr(GetLastError(), msg, sizeof(msg)));
    s->result = PS_RUN_ENGINE_FAILED;
  } else {
    memset(&hooks, 0, sizeof(hooks));
    hooks.stop_event = s->stop_event;
    hooks.stop_hint = "running as the service '" PS_SERVICE_NAME "'";
    hooks.stop_reason = service__stop_reason;
    hooks.on_ready = service__on_ready;
    hooks.ctx = s;
    hooks.reload_event = s->reload_event;
    hooks.reload = s->reload;
    hooks.reload_ctx = s->reload_ctx;
    s->result = ps_run(s->options, &hooks);
    SetEvent(s->pulse_quit);
    WaitForSingleObject(pulse, INFINITE);
    CloseHandle(pulse);
  }
  if (s->stop_event != NULL) CloseHandle(s->stop_event);
  if (s->reload_event != NULL) CloseHandle(s->reload_event);
  if (s->pulse_quit != NULL) CloseHandle(s->pulse_quit);
}

static void WINAPI service__main(DWORD argc, LPWSTR *argv) {
  service__state *s = service__the;
  char msg[200];
  PS_UNUSED(argc);
  PS_UNUSED(argv);

  s->handle = RegisterServiceCtrlHandlerExW(SERVICE__NAME, service__on_control, s);
  if (s->handle == 0) {
    ps_log(PS_LOG_ERROR, "service: RegisterServiceCtrlHandlerEx failed: %s",
           ps_errstr(GetLastError(), msg, sizeof(msg)));
    s->result = PS_RUN_ENGINE_FAILED;
    return;
  }
  s->status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  service__report(s, SERVICE_START_PENDING, NO_ERROR, 0, SERVICE__START_WAIT_HINT_MS);

  if (s->startup_error != NULL) {
    ps_log(PS_LOG_ERROR, "service: %s", s->startup_error);
    s->result = PS_RUN_CONFIG_ERROR;
  } else {
    service__serve(s);
  }

  /* Log before STOPPED: after it the SCM may end the process at any time. */
  if (s->result == PS_RUN_OK) {
    ps_log_event(PS_LOG_INFO, PS_EVENT_STOPPED, "service '%s' stopped", PS_SERVICE_NAME);
    service__report(s, SERVICE_STOPPED, NO_ERROR, 0, 0);
  } else {
    ps_log_event(PS_LOG_ERROR, PS_EVENT_START_FAILED,
                 "service '%s' %s: %s (service-specific exit code %d); the error before this one names the cause",
                 PS_SERVICE_NAME, s->result == PS_RUN_UNCLEAN_STOP ? "stopped with an error" : "could not start",
                 ps_run_status_text(s->result), (int)s->result);
    service__report(s, SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, (DWORD)s->result, 0);
  }
}

int ps_service_dispatch(const ps_options *o, const char *startup_error, ps_reload_fn reload, void *reload_ctx) {
  SERVICE_TABLE_ENTRYW table[2];
  service__state s;
  ps_logsink_config log;
  ps_logdir_result logdir;
  wchar_t wlog_file[PS_PATH_MAX];
  char msg[200], logdir_msg[3 * PS_PATH_MAX + 400];
  int err;

  memset(&s, 0, sizeof(s));
  s.options = o;
  s.startup_error = startup_error;
  s.reload = reload;
  s.reload_ctx = reload_ctx;
  InitializeSRWLock(&s.lock);
  service__the = &s;

  /* No console under the SCM: the Event Log, and the log file if set, in
   * a folder made for it if it is missing (logdir.h). */
  logdir = PS_LOGDIR_NOTHING;
  if (o->log_file[0] != '\0' && service__widen(o->log_file, wlog_file, PS_COUNTOF(wlog_file)) == 0)
    logdir = ps_logdir_prepare(wlog_file, SERVICE__NAME, logdir_msg, sizeof(logdir_msg));
  ps_logsink_config_from_options(&log, o, PS_LOG_TO_EVENTLOG);
  err = ps_logsink_open(&log);
  if (logdir != PS_LOGDIR_NOTHING)
    ps_log(logdir == PS_LOGDIR_SECURED ? PS_LOG_INFO : PS_LOG_WARN, "service: %s", logdir_msg);
  if (err != 0)
    ps_log(PS_LOG_WARN, "cannot open the log file %s: %s; logging to the Event Log only", o->log_file,
           ps_errstr((unsigned long)err, msg, sizeof(msg)));

  table[0].lpServiceName = (LPWSTR)SERVICE__NAME;
  table[0].lpServiceProc = service__main;
  table[1].lpServiceName = NULL;
  table[1].lpServiceProc = NULL;
  if (!StartServiceCtrlDispatcherW(table)) {
    DWORD e = GetLastError();
    ps_logsink_close();
    if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      fprintf(stderr, "portserve service: this command is for the Service Control Manager; "
                      "to serve in this console use 'portserve run --config FILE'\n");
      return 1;
    }
    return service__fail("service", "StartServiceCtrlDispatcher", e);
  }
  ps_logsink_close();
  return s.result == PS_RUN_OK ? 0 : 1;
}
