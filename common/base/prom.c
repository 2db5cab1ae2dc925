/* Prometheus text exposition writer (prom.h). */
#include "prom.h"

#include <assert.h>
#include <string.h>

void ps_prom_init(ps_prom *p, ps_strbuf *out) {
  memset(p, 0, sizeof(*p));
  p->out = out;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metrics; labels: no ':' and no leading "__". */
/* Checks of the metric names the code writes (assert only: they are
 * constants, so a bad one is a bug caught by the Debug build and the tests). */
#ifndef NDEBUG
static int prom__valid_name(const char *name, int label) {
  const char *c;
  if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9')) return 0;
  if (label && name[0] == '_' && name[1] == '_') return 0;
  for (c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          (*c == ':' && !label)))
      return 0;
  return 1;
}

static int prom__ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* HELP text: backslash and newline escaped (the format's rule for HELP). */
#endif

static void prom__escape_help(ps_strbuf *out, const char *text) {
  for (; *text; text++) {
    if (*text == '\\') ps_strbuf_append(out, "\\\\", 2);
    else if (*text == '\n') ps_strbuf_append(out, "\\n", 2);
    else ps_strbuf_append(out, text, 1);
  }
}

void ps_prom_escape_label(ps_strbuf *out, const char *value) {
  for (; *value; value++) {
    if (*value == '\\') ps_strbuf_append(out, "\\\\", 2);
    else if (*value == '"') ps_strbuf_append(out, "\\\"", 2);
    else if (*value == '\n') ps_strbuf_append(out, "\\n", 2);
    else ps_strbuf_append(out, value, 1);
  }
}

void ps_prom_family(ps_prom *p, const char *name, const char *type, const char *help) {
  size_t i;
  assert(prom__valid_name(name, 0));
  assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
  assert(strcmp(type, "counter") != 0 || prom__ends_with(name, "_total"));
  for (i = 0; i < p->family_count; i++) assert(strcmp(p->families[i], name) != 0);
  assert(p->family_count < PS_PROM_FAMILIES_MAX);
  if (p->family_count < PS_PROM_FAMILIES_MAX) p->families[p->family_count++] = name;
  p->family = name;
  ps_strbuf_printf(p->out, "# HELP %s ", name);
  prom__escape_help(p->out, help);
  ps_strbuf_printf(p->out, "\n# TYPE %s %s\n", name, type);
}

static void prom__series(ps_prom *p, const ps_prom_label *labels, size_t label_count) {
  size_t i;
  assert(p->family != NULL);
  ps_strbuf_puts(p->out, p->family);
  if (label_count == 0) return;
  ps_strbuf_append(p->out, "{", 1);
  for (i = 0; i < label_count; i++) {
    assert(prom__valid_name(labels[i].name, 1));
    ps_strbuf_printf(p->out, "%s%s=\"", i > 0 ? "," : "", labels[i].name);
    ps_prom_escape_label(p->out, labels[i].value != NULL ? labels[i].value : "");
    ps_strbuf_append(p->out, "\"", 1);
  }
  ps_strbuf_append(p->out, "}", 1);
}

void ps_prom_sample(ps_prom *p, const ps_prom_label *labels, size_t label_count, uint64_t value) {
  prom__series(p, labels, label_count);
  ps_strbuf_printf(p->out, " %llu\n", (unsigned long long)value);
}

void ps_prom_sample_double(ps_prom *p, const ps_prom_label *labels, size_t label_count, double value) {
  prom__series(p, labels, label_count);
  ps_strbuf_printf(p->out, " %.9g\n", value);
}

void ps_prom_single(ps_prom *p, const char *name, const char *type, const char *help, uint64_t value) {
  ps_prom_family(p, name, type, help);
  ps_prom_sample(p, NULL, 0, value);
}
