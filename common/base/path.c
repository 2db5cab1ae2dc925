/* UTF-8 file names (see path.h). No <windows.h>: the decoder is portable and
 * unit-tested natively; only the _wfopen call is Windows-specific. */
#include "path.h"

#include <stdlib.h>
#include <string.h>

#include "errtab.h"
#include "ps_compat.h"

int ps_utf8_to_utf16(const char *utf8, uint16_t *out, size_t cap) {
  const unsigned char *p = (const unsigned char *)utf8;
  size_t n = 0;
  while (*p != 0) {
    uint32_t cp;
    int more, i;
    if (p[0] < 0x80) {
      cp = p[0];
      more = 0;
    } else if (p[0] >= 0xC2 && p[0] <= 0xDF) {
      cp = p[0] & 0x1Fu;
      more = 1;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
      cp = p[0] & 0x0Fu;
      more = 2;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
      cp = p[0] & 0x07u;
      more = 3;
    } else {
      return -1; /* continuation byte first, C0/C1 (overlong), F5..FF */
    }
    for (i = 1; i <= more; i++) {
      if ((p[i] & 0xC0u) != 0x80u) return -1; /* also stops at the NUL */
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return -1;
    p += more + 1;
    if (cp >= 0x10000) {
      if (n + 2 >= cap) return -1;
      cp -= 0x10000;
      out[n++] = (uint16_t)(0xD800u + (cp >> 10));
      out[n++] = (uint16_t)(0xDC00u + (cp & 0x3FFu));
    } else {
      if (n + 1 >= cap) return -1;
      out[n++] = (uint16_t)cp;
    }
  }
  if (n >= cap) return -1;
  out[n] = 0;
  return (int)n;
}

FILE *ps_fopen(const char *path, const char *mode) {
#ifdef _WIN32
  uint16_t units[PS_PATH_MAX];
  wchar_t wpath[PS_PATH_MAX], wmode[8];
  size_t i;
  int n = ps_utf8_to_utf16(path, units, PS_COUNTOF(units));
  if (n < 0 || strlen(mode) >= PS_COUNTOF(wmode)) return fopen(path, mode);
  /* wchar_t is UTF-16 on Windows. */
  for (i = 0; i <= (size_t)n; i++) wpath[i] = (wchar_t)units[i];
  for (i = 0; i <= strlen(mode); i++) wmode[i] = (wchar_t)(unsigned char)mode[i];
  return _wfopen(wpath, wmode);
#else
  return fopen(path, mode);
#endif
}

char *ps_read_text_file(const char *path, size_t max, const char *what, char *err, size_t errsize) {
  FILE *f = ps_fopen(path, "rb");
  char *text;
  size_t n;
  if (f == NULL) {
    ps_fail(err, errsize, "cannot open %s'%s'", what, path);
    return NULL;
  }
  text = (char *)malloc(max + 1);
  if (text == NULL) {
    fclose(f);
    ps_fail(err, errsize, "out of memory reading '%s'", path);
    return NULL;
  }
  /* One byte more than allowed tells a file at the limit from a longer one. */
  n = fread(text, 1, max + 1, f);
  fclose(f);
  if (n > max) {
    free(text);
    ps_fail(err, errsize, "%s: larger than %u bytes", path, (unsigned)max);
    return NULL;
  }
  if (memchr(text, '\0', n) != NULL) {
    free(text);
    ps_fail(err, errsize, "%s: not a text file (UTF-16? save it as UTF-8 or ANSI)", path);
    return NULL;
  }
  text[n] = '\0';
  return text;
}
