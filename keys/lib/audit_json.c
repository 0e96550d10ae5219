/* The audit line format (docs/audit.md): one JSON object per line, fixed key order, no spaces,
 * written and parsed here.  The parser accepts exactly what the writer produces. */
#include "keys/lib/audit_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/json.h"
#include "common/utf8.h"

enum { B64_PUB_LEN = 44, B64_SIG_LEN = 88 };

static const struct {
	const char *name;
	unsigned fields;
} kinds[] = {
	{ AUDIT_EVENT_GENESIS, AF_AUDIT_KEY },
	{ AUDIT_EVENT_CHECKPOINT, AF_COUNT | AF_SIG },
	{ AUDIT_EVENT_RECOVERED, AF_COUNT },
	{ AUDIT_EVENT_LOST, AF_COUNT },
	{ "start", AF_SERIAL },
	{ "stop", AF_REASON },
	{ "config_reload", AF_SERIAL },
	{ "auth_accept", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT },
	{ "cert_accept", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT |
	    AF_SERIAL },
	{ "auth_reject", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT |
	    AF_REASON },
	{ "session_deny", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT |
	    AF_REASON },
	{ "jump_open", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT |
	    AF_TARGET | AF_TARGET_ADDR | AF_TARGET_PORT },
	{ "jump_deny", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT |
	    AF_TARGET | AF_TARGET_ADDR | AF_TARGET_PORT | AF_REASON },
	{ "jump_close", AF_SESSION | AF_ENGINEER | AF_FINGERPRINT | AF_SRC | AF_SRC_PORT |
	    AF_TARGET | AF_TARGET_ADDR | AF_TARGET_PORT | AF_REASON | AF_BYTES_IN | AF_BYTES_OUT |
	    AF_DURATION_MS },
};

static const char *const field_names[AF_COUNT_ALL] = {
	"session", "engineer", "fingerprint", "src", "src_port", "target", "target_addr",
	"target_port", "reason", "bytes_in", "bytes_out", "duration_ms", "serial", "audit_key",
	"count", "sig",
};

unsigned audit_event_fields(const char *event)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(event, kinds[i].name))
			return kinds[i].fields;
	return 0;
}

void audit_event_init(struct audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->src_port = ev->target_port = -1;
	ev->bytes_in = ev->bytes_out = ev->duration_ms = ev->serial = -1;
}

/* Where field bit b lives in an event: a string, an int or an int64. */
static const char **str_slot(struct audit_event *ev, unsigned b)
{
	switch (b) {
	case AF_SESSION: return &ev->session;
	case AF_ENGINEER: return &ev->engineer;
	case AF_FINGERPRINT: return &ev->fingerprint;
	case AF_SRC: return &ev->src;
	case AF_TARGET: return &ev->target;
	case AF_TARGET_ADDR: return &ev->target_addr;
	case AF_REASON: return &ev->reason;
	default: return NULL;
	}
}

static int *port_slot(struct audit_event *ev, unsigned b)
{
	return b == AF_SRC_PORT ? &ev->src_port : b == AF_TARGET_PORT ? &ev->target_port : NULL;
}

static int64_t *num_slot(struct audit_event *ev, unsigned b)
{
	switch (b) {
	case AF_BYTES_IN: return &ev->bytes_in;
	case AF_BYTES_OUT: return &ev->bytes_out;
	case AF_DURATION_MS: return &ev->duration_ms;
	case AF_SERIAL: return &ev->serial;
	default: return NULL;
	}
}

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), 0 if there is none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp;

	return utf8_seq_decode(p, n, &cp);
}

/* Output cursor: writes stop (and ok turns false) at the end of the buffer. */
struct out {
	char *p;
	size_t len, cap;
	bool ok;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (!o->ok || o->cap - o->len < n) {
		o->ok = false;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A JSON string (common/json.h's escaping: well-formed UTF-8 as is, control bytes and bytes
 * that are not well-formed UTF-8 as \u00XX); the input cut to AUDIT_FIELD_MAX bytes first. */
static void put_string(struct out *o, const char *s)
{
	size_t n = strnlen(s, AUDIT_FIELD_MAX), i = 0, len;
	char piece[JSON_ESCAPE_MAX];

	put(o, "\"", 1);
	while (i < n) {
		i += json_escape_next(s + i, n - i, piece, &len);
		put(o, piece, len);
	}
	put(o, "\"", 1);
}

static void put_num(struct out *o, int64_t v)
{
	char buf[24];

	if (v < 0) {
		puts_(o, "null");
		return;
	}
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	puts_(o, buf);
}

static void put_b64(struct out *o, const uint8_t *bin, size_t len)
{
	char buf[B64_SIG_LEN + 1];

	sodium_bin2base64(buf, sizeof(buf), bin, len, sodium_base64_VARIANT_ORIGINAL);
	put(o, "\"", 1);
	puts_(o, buf);
	put(o, "\"", 1);
}

size_t audit_line_format(char out[AUDIT_LINE_MAX], const struct audit_record *rec)
{
	struct audit_event ev = rec->ev;
	struct out o = { out, 0, AUDIT_LINE_MAX, true };
	char buf[80], hex[AUDIT_HASH_LEN * 2 + 1];
	unsigned fields = audit_event_fields(rec->event), b;
	const char **s;
	int *port;
	int64_t *num;

	if (!fields)
		return 0;
	snprintf(buf, sizeof(buf), "{\"seq\":%" PRIu64 ",\"time\":", rec->seq);
	puts_(&o, buf);
	put_string(&o, rec->time);
	puts_(&o, ",\"event\":");
	put_string(&o, rec->event);
	for (b = 1; b < (1u << AF_COUNT_ALL); b <<= 1) {
		if (!(fields & b))
			continue;
		snprintf(buf, sizeof(buf), ",\"%s\":", field_names[__builtin_ctz(b)]);
		puts_(&o, buf);
		if ((s = str_slot(&ev, b))) {
			if (*s)
				put_string(&o, *s);
			else
				puts_(&o, "null");
		} else if ((port = port_slot(&ev, b))) {
			put_num(&o, *port >= 0 && *port <= 65535 ? *port : -1);
		} else if ((num = num_slot(&ev, b))) {
			put_num(&o, *num);
		} else if (b == AF_AUDIT_KEY) {
			put_b64(&o, rec->audit_key, AUDIT_PUB_LEN);
		} else if (b == AF_COUNT) {
			put_num(&o, (int64_t)rec->count);
		} else {
			put_b64(&o, rec->sig, AUDIT_SIG_LEN);
		}
	}
	sodium_bin2hex(hex, sizeof(hex), rec->prev, AUDIT_HASH_LEN);
	puts_(&o, ",\"prev\":\"");
	puts_(&o, hex);
	puts_(&o, "\"}\n");
	return o.ok ? o.len : 0;
}

void audit_time_now(char out[AUDIT_TIME_LEN + 1])
{
	struct timespec ts;
	char buf[96];
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	/* Years 0..9999 keep the fixed width; the wide buffer only silences truncation checks. */
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000);
	memcpy(out, buf, AUDIT_TIME_LEN);
	out[AUDIT_TIME_LEN] = '\0';
}

/* --- Parsing --- */

struct in {
	const char *p;
	size_t len, pos;
	char *why;
	size_t whylen;
	char *store;		/* decoded strings go here */
	size_t stored;
};

static bool fail(struct in *in, const char *what)
{
	snprintf(in->why, in->whylen, "%s at byte %zu", what, in->pos + 1);
	return false;
}

static bool lit(struct in *in, const char *s)
{
	size_t n = strlen(s);

	if (in->len - in->pos < n || memcmp(in->p + in->pos, s, n))
		return false;
	in->pos += n;
	return true;
}

static bool expect(struct in *in, const char *s)
{
	return lit(in, s) || fail(in, "bad JSON: expected the next key or value");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decimal without sign, 1..19 digits, at most max. */
static bool number(struct in *in, uint64_t max, uint64_t *v)
{
	size_t start = in->pos;

	*v = 0;
	while (in->pos < in->len && in->p[in->pos] >= '0' && in->p[in->pos] <= '9') {
		if (in->pos - start == 19)
			return fail(in, "number too long");
		*v = *v * 10 + (uint64_t)(in->p[in->pos] - '0');
		in->pos++;
	}
	if (in->pos == start)
		return fail(in, "bad JSON: expected a number");
	if (*v > max)
		return fail(in, "number out of range");
	return true;
}

/* A string in the writer's escaping, decoded into the store (NUL-terminated); *out points at
 * it.  Decoded length at most max. */
static bool string(struct in *in, size_t max, const char **out)
{
	char *dst = in->store + in->stored;
	size_t n = 0, k;
	int hi, lo;

	if (!lit(in, "\""))
		return fail(in, "bad JSON: expected a string");
	for (;;) {
		const unsigned char *c = (const unsigned char *)in->p + in->pos;
		size_t left = in->len - in->pos;

		if (!left)
			return fail(in, "bad JSON: unterminated string");
		if (*c == '"') {
			in->pos++;
			break;
		}
		if (n == max)
			return fail(in, "string too long");
		if (*c == '\\') {
			if (left >= 2 && (c[1] == '"' || c[1] == '\\')) {
				dst[n++] = (char)c[1];
				in->pos += 2;
				continue;
			}
			if (left < 6 || c[1] != 'u' || c[2] != '0' || c[3] != '0' ||
			    (hi = hexval((char)c[4])) < 0 || (lo = hexval((char)c[5])) < 0)
				return fail(in, "bad JSON: unexpected escape");
			k = (size_t)(hi << 4 | lo);
			/* Only what the writer escapes: control bytes and bytes that are not
			 * well-formed UTF-8. */
			if (k >= 0x20 && k < 0x7f)
				return fail(in, "bad JSON: unexpected escape");
			dst[n++] = (char)k;
			in->pos += 6;
			continue;
		}
		if (*c < 0x20 || *c == 0x7f || !(k = utf8_seq(c, left)))
			return fail(in, "bad JSON: raw control byte or invalid UTF-8");
		if (max - n < k)
			return fail(in, "string too long");
		memcpy(dst + n, c, k);
		n += k;
		in->pos += k;
	}
	dst[n] = '\0';
	in->stored += n + 1;
	*out = dst;
	return true;
}

static bool null_(struct in *in)
{
	return lit(in, "null");
}

static bool b64(struct in *in, uint8_t *out, size_t outlen, size_t b64len)
{
	const char *s;
	size_t got;

	if (!string(in, b64len, &s) || strlen(s) != b64len ||
	    sodium_base642bin(out, outlen, s, b64len, NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != outlen)
		return fail(in, "bad base64");
	return true;
}

/* "DDDD-DD-DDTDD:DD:DD.DDDDDDZ" (the writer's form; no calendar check: the chain, not the
 * clock, is what is verified). */
static bool time_ok(const char *t)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	size_t i;

	if (strlen(t) != AUDIT_TIME_LEN)
		return false;
	for (i = 0; i < AUDIT_TIME_LEN; i++)
		if (pat[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != pat[i])
			return false;
	return true;
}

static bool field(struct in *in, unsigned b, struct audit_record *rec)
{
	const char **s;
	int *port;
	int64_t *num;
	uint64_t v;

	if ((s = str_slot(&rec->ev, b)))
		return null_(in) || string(in, AUDIT_FIELD_MAX, s);
	if ((port = port_slot(&rec->ev, b))) {
		if (null_(in))
			return true;
		if (!number(in, 65535, &v))
			return false;
		*port = (int)v;
		return true;
	}
	if ((num = num_slot(&rec->ev, b))) {
		if (null_(in))
			return true;
		if (!number(in, INT64_MAX, &v))
			return false;
		*num = (int64_t)v;
		return true;
	}
	if (b == AF_AUDIT_KEY)
		return b64(in, rec->audit_key, AUDIT_PUB_LEN, B64_PUB_LEN);
	if (b == AF_COUNT)
		return number(in, INT64_MAX, &rec->count);
	return b64(in, rec->sig, AUDIT_SIG_LEN, B64_SIG_LEN);
}

bool audit_line_parse(const char *line, size_t len, struct audit_record *rec, char *why,
    size_t whylen)
{
	struct in in = { line, len, 0, why, whylen, rec->storage, 0 };
	char key[40], hex[AUDIT_HASH_LEN * 2];
	const char *s;
	unsigned fields, b;
	size_t i;
	int hi, lo;

	memset(rec, 0, offsetof(struct audit_record, storage));
	audit_event_init(&rec->ev);
	if (len >= AUDIT_LINE_MAX)
		return fail(&in, "line too long");
	if (!expect(&in, "{\"seq\":") || !number(&in, INT64_MAX, &rec->seq))
		return false;
	if (!expect(&in, ",\"time\":") || !string(&in, AUDIT_TIME_LEN, &s))
		return false;
	if (!time_ok(s))
		return fail(&in, "bad time");
	memcpy(rec->time, s, AUDIT_TIME_LEN + 1);
	if (!expect(&in, ",\"event\":") || !string(&in, AUDIT_EVENT_MAX, &s))
		return false;
	if (!(fields = audit_event_fields(s)))
		return fail(&in, "unknown event");
	snprintf(rec->event, sizeof(rec->event), "%s", s);
	for (b = 1; b < (1u << AF_COUNT_ALL); b <<= 1) {
		if (!(fields & b))
			continue;
		snprintf(key, sizeof(key), ",\"%s\":", field_names[__builtin_ctz(b)]);
		if (!expect(&in, key) || !field(&in, b, rec))
			return false;
	}
	if (!expect(&in, ",\"prev\":\""))
		return false;
	if (len - in.pos < sizeof(hex))
		return fail(&in, "bad prev");
	memcpy(hex, line + in.pos, sizeof(hex));
	for (i = 0; i < AUDIT_HASH_LEN; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 || (lo = hexval(hex[2 * i + 1])) < 0)
			return fail(&in, "bad prev");
		rec->prev[i] = (uint8_t)(hi << 4 | lo);
	}
	in.pos += sizeof(hex);
	if (!expect(&in, "\"}"))
		return false;
	if (in.pos != len)
		return fail(&in, "bytes after the object");
	return true;
}
