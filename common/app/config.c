/* INI configuration parser (see config.h). */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errtab.h"
#include "path.h"
#include "ps_compat.h"

#define PS_CONFIG_MAX_BYTES (1024 * 1024)

/* Trims spaces in place; returns the start. */
static char *cfg__trim(char *s) {
  char *end;
  while (*s == ' ' || *s == '\t') s++;
  end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = '\0';
  return s;
}

/* Cuts a trailing comment: ';' or '#' at the start or after a space. */
static void cfg__cut_comment(char *s) {
  char *p;
  for (p = s; *p != '\0'; p++)
    if ((*p == ';' || *p == '#') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
      *p = '\0';
      return;
    }
}

static void cfg__lower(char *s) {
  for (; *s != '\0'; s++) *s = (char)tolower((unsigned char)*s);
}

/* Reports one error of line `line_no` (0: of the whole file); returns
 * non-zero when the caller wants no more. */
typedef struct cfg__errors {
  ps_config_error_fn on_error;
  void *ctx;
  unsigned count;
} cfg__errors;

static int cfg__error(cfg__errors *e, const char *name, unsigned line_no, const char *fmt, ...) PS_PRINTF(4, 5);

static int cfg__error(cfg__errors *e, const char *name, unsigned line_no, const char *fmt, ...) {
  char msg[700], full[800];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (line_no != 0) snprintf(full, sizeof(full), "%s:%u: %s", name, line_no, msg);
  else snprintf(full, sizeof(full), "%s", msg);
  e->count++;
  return e->on_error(e->ctx, full);
}

unsigned ps_config_parse_each(const char *text, const char *name, ps_options *o, ps_config_error_fn on_error,
                              void *ctx) {
  /* SEC_UNKNOWN: after a bad section header; its lines are skipped, the
   * header was the error. */
  enum { SEC_NONE, SEC_SERVER, SEC_LISTENERS, SEC_UNKNOWN } section = SEC_NONE;
  const char *p = text;
  unsigned line_no = 0;
  char line[1024], msg[512];
  cfg__errors errors;
  errors.on_error = on_error;
  errors.ctx = ctx;
  errors.count = 0;

  /* A UTF-8 byte order mark, as Notepad writes it. */
  if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3;

  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char *s, *eq, *key, *value;
    int stop = 0;
    line_no++;
    if (len >= sizeof(line)) {
      p += len + (nl ? 1 : 0);
      if (cfg__error(&errors, name, line_no, "line too long")) break;
      continue;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);

    cfg__cut_comment(line);
    s = cfg__trim(line);
    if (*s == '\0') continue;

    if (*s == '[') {
      char *close = strchr(s, ']');
      section = SEC_UNKNOWN;
      if (close == NULL || close[1] != '\0') {
        if (cfg__error(&errors, name, line_no, "bad section header '%s'", s)) break;
        continue;
      }
      *close = '\0';
      s = cfg__trim(s + 1);
      cfg__lower(s);
      if (strcmp(s, "server") == 0) section = SEC_SERVER;
      else if (strcmp(s, "listeners") == 0) section = SEC_LISTENERS;
      else if (cfg__error(&errors, name, line_no, "unknown section [%s] (known: [server], [listeners])", s)) break;
      continue;
    }

    eq = strchr(s, '=');
    if (eq == NULL) {
      if (cfg__error(&errors, name, line_no, "expected 'key = value', got '%s'", s)) break;
      continue;
    }
    *eq = '\0';
    key = cfg__trim(s);
    value = cfg__trim(eq + 1);
    cfg__lower(key);
    if (*key == '\0') stop = cfg__error(&errors, name, line_no, "missing key before '='");
    else if (section == SEC_NONE)
      stop =
        cfg__error(&errors, name, line_no, "'%s' is outside a section (put it under [server] or [listeners])", key);
    else if (section == SEC_UNKNOWN) continue;
    else if (section == SEC_LISTENERS) {
      char spec[600];
      snprintf(spec, sizeof(spec), "%s=%s", key, value);
      if (ps_options_add_listen(o, spec, msg, sizeof(msg)) != 0)
        stop = cfg__error(&errors, name, line_no, "listener %s", msg);
    } else {
      switch (ps_options_set_ini(o, key, value, msg, sizeof(msg))) {
        case 0:
          break;
        case 1:
          stop = cfg__error(&errors, name, line_no, "unknown key '%s' in [server]", key);
          break;
        default:
          stop = cfg__error(&errors, name, line_no, "%s", msg);
          break;
      }
    }
    if (stop) break;
  }
  return errors.count;
}

unsigned ps_config_load_each(const char *path, ps_options *o, ps_config_error_fn on_error, void *ctx) {
  char msg[PS_PATH_MAX + 100];
  char *text = ps_read_text_file(path, PS_CONFIG_MAX_BYTES, "", msg, sizeof(msg));
  unsigned count;
  cfg__errors errors;
  errors.on_error = on_error;
  errors.ctx = ctx;
  errors.count = 0;
  if (text == NULL) {
    cfg__error(&errors, path, 0, "--config: %s", msg);
    return errors.count;
  }
  count = ps_config_parse_each(text, path, o, on_error, ctx);
  free(text);
  return count;
}

int ps_config_keep_first(void *ctx, const char *message) {
  ps_config_first *first = (ps_config_first *)ctx;
  snprintf(first->err, first->errsize, "%s", message);
  return 1;
}

int ps_config_parse(const char *text, const char *name, ps_options *o, char *err, size_t errsize) {
  ps_config_first first;
  first.err = err;
  first.errsize = errsize;
  return ps_config_parse_each(text, name, o, ps_config_keep_first, &first) == 0 ? 0 : -1;
}

int ps_config_load(const char *path, ps_options *o, char *err, size_t errsize) {
  ps_config_first first;
  first.err = err;
  first.errsize = errsize;
  return ps_config_load_each(path, o, ps_config_keep_first, &first) == 0 ? 0 : -1;
}
