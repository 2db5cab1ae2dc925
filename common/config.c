/* INI configuration parser (see config.h). */
#include "config.h"

#include <ctype.h>
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

int ps_config_parse(const char *text, const char *name, ps_options *o, char *err, size_t errsize) {
  enum { SEC_NONE, SEC_SERVER, SEC_LISTENERS } section = SEC_NONE;
  const char *p = text;
  unsigned line_no = 0;
  char line[1024], msg[512];

  /* A UTF-8 byte order mark, as Notepad writes it. */
  if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) p += 3;

  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char *s, *eq, *key, *value;
    line_no++;
    if (len >= sizeof(line)) return ps_fail(err, errsize, "%s:%u: line too long", name, line_no);
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);

    cfg__cut_comment(line);
    s = cfg__trim(line);
    if (*s == '\0') continue;

    if (*s == '[') {
      char *close = strchr(s, ']');
      if (close == NULL || close[1] != '\0')
        return ps_fail(err, errsize, "%s:%u: bad section header '%s'", name, line_no, s);
      *close = '\0';
      s = cfg__trim(s + 1);
      cfg__lower(s);
      if (strcmp(s, "server") == 0) section = SEC_SERVER;
      else if (strcmp(s, "listeners") == 0) section = SEC_LISTENERS;
      else
        return ps_fail(err, errsize, "%s:%u: unknown section [%s] (known: [server], [listeners])", name,
                         line_no, s);
      continue;
    }

    eq = strchr(s, '=');
    if (eq == NULL) return ps_fail(err, errsize, "%s:%u: expected 'key = value', got '%s'", name, line_no, s);
    *eq = '\0';
    key = cfg__trim(s);
    value = cfg__trim(eq + 1);
    cfg__lower(key);
    if (*key == '\0') return ps_fail(err, errsize, "%s:%u: missing key before '='", name, line_no);

    if (section == SEC_NONE)
      return ps_fail(err, errsize, "%s:%u: '%s' is outside a section (put it under [server] or [listeners])",
                       name, line_no, key);
    if (section == SEC_LISTENERS) {
      char spec[600];
      snprintf(spec, sizeof(spec), "%s=%s", key, value);
      if (ps_options_add_listen(o, spec, msg, sizeof(msg)) != 0)
        return ps_fail(err, errsize, "%s:%u: listener %s", name, line_no, msg);
      continue;
    }
    if (strcmp(key, "listen") == 0 || strcmp(key, "config") == 0 || strncmp(key, "--", 2) == 0)
      return ps_fail(err, errsize, "%s:%u: unknown key '%s' in [server]", name, line_no, key);
    switch (ps_options_set(o, key, value, msg, sizeof(msg))) {
      case 0:
        break;
      case 1:
        return ps_fail(err, errsize, "%s:%u: unknown key '%s' in [server]", name, line_no, key);
      default:
        return ps_fail(err, errsize, "%s:%u: %s", name, line_no, msg);
    }
  }
  return 0;
}

int ps_config_load(const char *path, ps_options *o, char *err, size_t errsize) {
  FILE *f = ps_fopen(path, "rb");
  char *text;
  size_t n;
  int rc;
  if (f == NULL) return ps_fail(err, errsize, "--config: cannot open '%s'", path);
  text = (char *)malloc(PS_CONFIG_MAX_BYTES + 1);
  if (text == NULL) {
    fclose(f);
    return ps_fail(err, errsize, "--config: out of memory");
  }
  n = fread(text, 1, PS_CONFIG_MAX_BYTES + 1, f);
  fclose(f);
  if (n > PS_CONFIG_MAX_BYTES) {
    free(text);
    return ps_fail(err, errsize, "%s: larger than %d bytes", path, PS_CONFIG_MAX_BYTES);
  }
  text[n] = '\0';
  if (memchr(text, '\0', n) != NULL) {
    free(text);
    return ps_fail(err, errsize, "%s: not a text file (UTF-16? save it as UTF-8 or ANSI)", path);
  }
  rc = ps_config_parse(text, path, o, err, errsize);
  free(text);
  return rc;
}
