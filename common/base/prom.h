/* The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): one
 * family at a time, its HELP and TYPE lines once, then its samples. Names
 * are ours (asserted valid); label values come from the outside (addresses,
 * error names) and are escaped. Output goes to a ps_strbuf, whose overflow
 * flag reports a cut. */
#ifndef PS_PROM_H
#define PS_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PS_PROM_FAMILIES_MAX 128

typedef struct ps_prom_label {
  const char *name;
  const char *value;
} ps_prom_label;

typedef struct ps_prom {
  ps_strbuf *out;
  const char *family;                         /* the family samples now belong to */
  const char *families[PS_PROM_FAMILIES_MAX]; /* written so far: each only once */
  size_t family_count;
} ps_prom;

void ps_prom_init(ps_prom *p, ps_strbuf *out);

/* Starts a family: "# HELP name help" and "# TYPE name type" ("counter" or
 * "gauge"). A counter's name ends in _total (Prometheus naming). */
void ps_prom_family(ps_prom *p, const char *name, const char *type, const char *help);

/* One sample of the current family: name{labels} value. */
void ps_prom_sample(ps_prom *p, const ps_prom_label *labels, size_t label_count, uint64_t value);
void ps_prom_sample_double(ps_prom *p, const ps_prom_label *labels, size_t label_count, double value);

/* A family with one unlabelled sample. */
void ps_prom_single(ps_prom *p, const char *name, const char *type, const char *help, uint64_t value);

/* Appends `value` escaped as a label value: \\, \" and \n. */
void ps_prom_escape_label(ps_strbuf *out, const char *value);

#ifdef __cplusplus
}
#endif

#endif
