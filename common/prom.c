/* Prometheus text exposition (see prom.h). */
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void prom_writer_init(struct prom_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void prom_writer_free(struct prom_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

bool prom_writer_failed(const struct prom_writer *w)
{
	return w->failed;
}

void prom_writer_fail(struct prom_writer *w)
{
	w->failed = true;
}

/* Room for n more bytes and a NUL; fails the writer past PROM_MAX_BYTES. */
static bool reserve(struct prom_writer *w, size_t n)
{
	size_t cap;
	char *p;

	if (w->failed)
		return false;
	if (n > PROM_MAX_BYTES - w->len) {
		w->failed = true;
		return false;
	}
	if (w->len + n + 1 <= w->cap)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap < w->len + n + 1)
		cap *= 2;
	p = realloc(w->buf, cap);
	if (!p) {
		w->failed = true;
		return false;
	}
	w->buf = p;
	w->cap = cap;
	return true;
}

static void put(struct prom_writer *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void put_str(struct prom_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* help: backslash and newline escaped; label values also escape the double quote. */
static void escaped(struct prom_writer *w, const char *s, size_t max, bool quote)
{
	size_t n = strnlen(s, max), i = 0, k;
	uint32_t cp;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			put(w, "\\\\", 2);
		} else if (c == '\n') {
			put(w, "\\n", 2);
		} else if (c == '"' && quote) {
			put(w, "\\\"", 2);
		} else if ((k = utf8_seq_decode((const unsigned char *)s + i, n - i, &cp)) > 1) {
			put(w, s + i, k);
			i += k;
			continue;
		} else {
			put(w, k == 1 ? (const char *)&s[i] : "?", 1);
		}
		i++;
	}
}

void prom_label_value_write(struct prom_writer *w, const char *v)
{
	escaped(w, v, PROM_LABEL_VALUE_MAX, true);
}

void prom_family(struct prom_writer *w, const char *name, const char *type, const char *help)
{
	put_str(w, "# HELP ");
	put_str(w, name);
	put(w, " ", 1);
	escaped(w, help, SIZE_MAX, false);
	put_str(w, "\n# TYPE ");
	put_str(w, name);
	put(w, " ", 1);
	put_str(w, type);
	put(w, "\n", 1);
}

static void sample_begin(struct prom_writer *w, const char *name, const struct prom_label *labels,
    size_t n)
{
	put_str(w, name);
	if (n == 0)
		return;
	put(w, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(w, ",", 1);
		put_str(w, labels[i].name);
		put(w, "=\"", 2);
		prom_label_value_write(w, labels[i].value ? labels[i].value : "");
		put(w, "\"", 1);
	}
	put(w, "}", 1);
}

void prom_sample_u64(struct prom_writer *w, const char *name, const struct prom_label *labels,
    size_t n, uint64_t value)
{
	char num[32];
	int k;

	sample_begin(w, name, labels, n);
	k = snprintf(num, sizeof(num), " %llu\n", (unsigned long long)value);
	put(w, num, (size_t)k);
}

void prom_sample_double(struct prom_writer *w, const char *name,
    const struct prom_label *labels, size_t n, double value)
{
	char num[48];
	int k;

	sample_begin(w, name, labels, n);
	if (isnan(value))
		k = snprintf(num, sizeof(num), " NaN\n");
	else if (isinf(value))
		k = snprintf(num, sizeof(num), " %s\n", value > 0 ? "+Inf" : "-Inf");
	else
		k = snprintf(num, sizeof(num), " %.17g\n", value);
	put(w, num, (size_t)k);
}
