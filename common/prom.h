/* The one Prometheus text exposition writer (format 0.0.4), used by tunneld's and the
 * bastion's metrics endpoints.
 *
 * Output is built in memory, bounded by PROM_MAX_BYTES: a family's "# HELP" and "# TYPE" lines
 * and then its samples, "name{label="value",...} value\n".  Label values are escaped as the
 * format defines: backslash as \\, double quote as \", newline as \n; a byte that is not
 * part of well-formed UTF-8 (the format requires UTF-8) is written as '?'.  HELP text escapes
 * backslash and newline.  Metric and label names are trusted (literals of the caller).
 *
 * Once the bound is hit or an allocation fails, the writer is failed: every later call is a
 * no-op and prom_writer_failed() says so; callers then answer an error, never a cut page. */
#ifndef COMMON_PROM_H
#define COMMON_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PROM_MAX_BYTES = 8 << 20,	/* one exposition: ~40 000 peer lines of 200 bytes */
	PROM_LABEL_VALUE_MAX = 256,	/* bytes of one label value kept; the rest is cut */
};

/* "Content-Type" of the output. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct prom_writer {
	char *buf;		/* malloc'd, NUL-terminated while not failed; owned */
	size_t len;
	size_t cap;
	bool failed;
};

struct prom_label {
	const char *name;	/* trusted: [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value;	/* untrusted: escaped */
};

void prom_writer_init(struct prom_writer *w);
/* Frees the buffer; w may be reused after prom_writer_init. */
void prom_writer_free(struct prom_writer *w);
bool prom_writer_failed(const struct prom_writer *w);
/* Marks the page failed (a part of it could not be built): later calls are no-ops. */
void prom_writer_fail(struct prom_writer *w);

/* "# HELP name help" and "# TYPE name type"; type is "counter", "gauge" or "untyped". */
void prom_family(struct prom_writer *w, const char *name, const char *type, const char *help);
/* One sample; n labels (0: none). */
void prom_sample_u64(struct prom_writer *w, const char *name, const struct prom_label *labels,
    size_t n, uint64_t value);
/* The value as Prometheus reads it back exactly ("%.17g"; NaN and the infinities by name). */
void prom_sample_double(struct prom_writer *w, const char *name,
    const struct prom_label *labels, size_t n, double value);

/* Appends v escaped as a label value, for tests and callers that build lines themselves. */
void prom_label_value_write(struct prom_writer *w, const char *v);

#endif
