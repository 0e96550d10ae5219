/* libkeys audit log: a 250-event log verifies with known counts; every tamper (one byte edited
 * at every position of many lines, a line deleted, swapped, inserted, the file cut inside the
 * signed part, the chain rewritten, a checkpoint signature forged, the genesis key replaced)
 * fails at the exact line; a cut after the last checkpoint only shortens the unsigned tail;
 * reopening continues the chain and cuts a torn final line; hostile strings round-trip through
 * the parser; the line parser refuses every other spelling. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/audit.h"
#include "keys/lib/audit_int.h"

enum { EVENTS = 250, MAX_LINES = 400 };

static uint8_t pub[32], secret[64], other_pub[32], other_secret[64];
static char dir[64], path[128];

/* The file as lines (without newlines). */
struct lines {
	char *text[MAX_LINES];
	size_t len[MAX_LINES];
	size_t n;
};

static void lines_read(struct lines *l, const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	memset(l, 0, sizeof(*l));
	while ((n = getline(&buf, &cap, f)) > 0) {
		assert_true(l->n < MAX_LINES);
		assert_int_equal(buf[n - 1], '\n');
		l->text[l->n] = strndup(buf, (size_t)n - 1);
		l->len[l->n++] = (size_t)n - 1;
	}
	free(buf);
	fclose(f);
}

static void lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->text[i]);
	l->n = 0;
}

/* Writes lines; a cut >= 0 keeps only that many bytes of the result. */
static void lines_write(const struct lines *l, const char *p, long cut)
{
	FILE *f = fopen(p, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < l->n; i++) {
		fwrite(l->text[i], 1, l->len[i], f);
		fputc('\n', f);
	}
	fclose(f);
	if (cut >= 0)
		assert_int_equal(truncate(p, cut), 0);
}

static bool verify(const char *p, struct audit_verify_result *res, char *why)
{
	return audit_verify_file(p, pub, res, why, 256);
}

/* One of each event kind, simple alphanumeric values (the byte-edit test classifies bytes
 * with a naive scanner that does not handle escapes). */
static void append_event(struct audit_log *a, unsigned i)
{
	static const char *const kinds[] = { "auth_accept", "jump_open", "jump_close",
		"jump_deny", "auth_reject", "session_deny", "config_reload", "start", "stop" };
	struct audit_event ev;
	char session[17];

	audit_event_init(&ev);
	snprintf(session, sizeof(session), "%016x", i * 2654435761u);
	ev.session = session;
	ev.engineer = i % 3 ? "alice" : "bob";
	ev.fingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
	ev.src = "203.0.113.7";
	ev.src_port = 40000 + (int)i;
	ev.target = "web1";
	ev.target_addr = i % 4 ? "100.64.0.4" : NULL;
	ev.target_port = 22;
	ev.reason = "ok";
	ev.bytes_in = 1000 * i;
	ev.bytes_out = 7 * i + 1;
	ev.duration_ms = i;
	ev.serial = i + 1;
	assert_int_equal(audit_log_append(a, kinds[i % 9], &ev, i % 10 == 0), 0);
}

/* Genesis + 250 events + checkpoints at seq 100 and 201 + the closing one at 253. */
static void make_log(const char *p)
{
	struct audit_log *a;
	char err[256];
	unsigned i;

	unlink(p);
	assert_int_equal(audit_log_open(&a, p, secret, false, err, sizeof(err)), 0);
	for (i = 0; i < EVENTS; i++)
		append_event(a, i);
	audit_log_close(a);
}

static int setup(void **state)
{
	uint8_t seed[32];

	(void)state;
	if (sodium_init() < 0)
		return -1;
	memset(seed, 7, sizeof(seed));
	crypto_sign_seed_keypair(pub, secret, seed);
	memset(seed, 8, sizeof(seed));
	crypto_sign_seed_keypair(other_pub, other_secret, seed);
	snprintf(dir, sizeof(dir), "/tmp/test_audit.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_clean_log(void **state)
{
	struct audit_verify_result res;
	struct audit_record *rec = malloc(sizeof(*rec));
	struct lines l;
	char why[256];
	struct stat st;
	size_t i;

	(void)state;
	make_log(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, 254);
	assert_int_equal(res.checkpoints, 3);
	assert_int_equal(res.unsigned_tail, 0);
	assert_int_equal(res.bad_line, 0);
	lines_read(&l, path);
	assert_int_equal(l.n, 254);
	for (i = 0; i < l.n; i++) {
		assert_true(audit_line_parse(l.text[i], l.len[i], rec, why, sizeof(why)));
		assert_int_equal(rec->seq, i);
	}
	/* Known places: genesis, the three checkpoints (count = seq = lines signed). */
	assert_true(audit_line_parse(l.text[0], l.len[0], rec, why, sizeof(why)));
	assert_string_equal(rec->event, "genesis");
	assert_memory_equal(rec->audit_key, pub, 32);
	for (i = 0; i < 3; i++) {
		static const unsigned at[] = { 100, 201, 253 };

		assert_true(audit_line_parse(l.text[at[i]], l.len[at[i]], rec, why, sizeof(why)));
		assert_string_equal(rec->event, "checkpoint");
		assert_int_equal(rec->count, at[i]);
	}
	/* The wrong key fails at the genesis line. */
	assert_false(audit_verify_file(path, other_pub, &res, why, sizeof(why)));
	assert_int_equal(res.bad_line, 1);
	lines_free(&l);
	free(rec);
}

/* Naive reference: which bytes of a line are payload (values the chain, not the parser,
 * protects): string contents and numbers of the event fields, and the digits of the time.
 * Everything else (syntax, keys, seq, event, prev, sig, audit_key, count, null) is checked on
 * the line itself. */
static void payload_map(const char *line, size_t len, bool *payload)
{
	static const char *const checked[] = { "seq", "event", "prev", "sig", "audit_key",
		"count" };
	size_t i = 1, k, ks, vs, klen;
	bool is_checked, is_time;

	memset(payload, 0, len);
	assert_int_equal(line[0], '{');
	while (i < len && line[i] == '"') {
		ks = ++i;
		while (line[i] != '"')
			i++;
		klen = i - ks;
		is_time = klen == 4 && !memcmp(line + ks, "time", 4);
		is_checked = false;
		for (k = 0; k < sizeof(checked) / sizeof(checked[0]); k++)
			if (strlen(checked[k]) == klen && !memcmp(line + ks, checked[k], klen))
				is_checked = true;
		i += 2;		/* '"' ':' */
		if (line[i] == '"') {
			vs = ++i;
			while (line[i] != '"') {
				assert_int_not_equal(line[i], '\\');
				i++;
			}
			for (k = vs; k < i && !is_checked; k++)
				payload[k] = !is_time || (line[k] >= '0' && line[k] <= '9');
			i++;
		} else {
			vs = i;
			while (line[i] != ',' && line[i] != '}')
				i++;
			if (!is_checked && memcmp(line + vs, "null", 4))
				for (k = vs; k < i; k++)
					payload[k] = true;
		}
		i++;	/* ',' or '}' */
	}
	assert_int_equal(i, len);
}

static char edit(char c)
{
	if (c >= '0' && c <= '9')
		return (char)('0' + (c - '0' + 1) % 10);
	if (c >= 'a' && c <= 'z')
		return c == 'z' ? 'a' : (char)(c + 1);
	if (c >= 'A' && c <= 'Z')
		return c == 'Z' ? 'A' : (char)(c + 1);
	return 'x';
}

static void test_byte_edits(void **state)
{
	/* 1-based: genesis, events, each checkpoint, the last event, the closing checkpoint. */
	static const unsigned edited[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 100, 101, 102, 150,
		201, 202, 203, 252, 253, 254 };
	char tampered[160], why[256];
	struct audit_verify_result res;
	bool *payload;
	struct lines l;
	size_t i, p, tried = 0, caught_here = 0;
	unsigned line;
	char orig;

	(void)state;
	make_log(path);
	lines_read(&l, path);
	snprintf(tampered, sizeof(tampered), "%s/tampered.jsonl", dir);
	for (i = 0; i < sizeof(edited) / sizeof(edited[0]); i++) {
		line = edited[i];
		payload = calloc(l.len[line - 1], 1);
		payload_map(l.text[line - 1], l.len[line - 1], payload);
		for (p = 0; p < l.len[line - 1]; p++) {
			/* The last line has no successor: its payload (the closing checkpoint's
			 * time) is the one thing no signature or hash covers. */
			if (payload[p] && line == l.n)
				continue;
			orig = l.text[line - 1][p];
			l.text[line - 1][p] = edit(orig);
			lines_write(&l, tampered, -1);
			l.text[line - 1][p] = orig;
			if (verify(tampered, &res, why))
				fail_msg("line %u byte %zu edited: still verifies", line, p + 1);
			if (res.bad_line != (payload[p] ? line + 1 : line))
				fail_msg("line %u byte %zu ('%c', %s): bad_line %u (%s)", line, p + 1,
				    orig, payload[p] ? "payload" : "checked", res.bad_line, why);
			caught_here += !payload[p];
			tried++;
		}
		free(payload);
	}
	assert_true(tried > 3000);
	assert_true(caught_here > 1000);
	lines_free(&l);
}

static void expect_bad(const struct lines *l, unsigned bad, const char *what)
{
	char tampered[160], why[256];
	struct audit_verify_result res;

	snprintf(tampered, sizeof(tampered), "%s/tampered.jsonl", dir);
	lines_write(l, tampered, -1);
	assert_false(verify(tampered, &res, why));
	assert_int_equal(res.bad_line, bad);
	if (what)
		assert_non_null(strstr(why, what));
}

static void test_delete_swap_insert(void **state)
{
	static const unsigned at[] = { 1, 2, 50, 100, 101, 102, 200, 201, 202, 203, 253 };
	struct lines l;
	char *t;
	size_t i, k, n;

	(void)state;
	make_log(path);
	lines_read(&l, path);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		k = at[i] - 1;
		/* Deleted: the line now at k has the wrong seq. */
		t = l.text[k];
		n = l.len[k];
		memmove(&l.text[k], &l.text[k + 1], (l.n - k - 1) * sizeof(l.text[0]));
		memmove(&l.len[k], &l.len[k + 1], (l.n - k - 1) * sizeof(l.len[0]));
		l.n--;
		expect_bad(&l, at[i], at[i] == 1 ? "genesis" : "seq");
		l.n++;
		memmove(&l.text[k + 1], &l.text[k], (l.n - k - 1) * sizeof(l.text[0]));
		memmove(&l.len[k + 1], &l.len[k], (l.n - k - 1) * sizeof(l.len[0]));
		l.text[k] = t;
		l.len[k] = n;
		/* Swapped with the next line. */
		t = l.text[k], l.text[k] = l.text[k + 1], l.text[k + 1] = t;
		n = l.len[k], l.len[k] = l.len[k + 1], l.len[k + 1] = n;
		expect_bad(&l, at[i], NULL);
		t = l.text[k], l.text[k] = l.text[k + 1], l.text[k + 1] = t;
		n = l.len[k], l.len[k] = l.len[k + 1], l.len[k + 1] = n;
		/* Inserted: a copy of line k after it. */
		memmove(&l.text[k + 1], &l.text[k], (l.n - k) * sizeof(l.text[0]));
		memmove(&l.len[k + 1], &l.len[k], (l.n - k) * sizeof(l.len[0]));
		l.n++;
		expect_bad(&l, at[i] + 1, at[i] == 1 ? "second genesis" : "seq");
		l.n--;
		memmove(&l.text[k], &l.text[k + 1], (l.n - k) * sizeof(l.text[0]));
		memmove(&l.len[k], &l.len[k + 1], (l.n - k) * sizeof(l.len[0]));
	}
	/* Put back, it is the original again. */
	lines_write(&l, path, -1);
	{
		struct audit_verify_result res;
		char why[256];

		assert_true(verify(path, &res, why));
		assert_int_equal(res.lines, 254);
	}
	lines_free(&l);
}

static void test_truncation(void **state)
{
	char cut[160], why[256];
	struct audit_verify_result res;
	struct lines l;
	long off = 0;
	size_t i;

	(void)state;
	make_log(path);
	lines_read(&l, path);
	snprintf(cut, sizeof(cut), "%s/cut.jsonl", dir);
	/* Inside a line of the signed part: that line is incomplete. */
	for (i = 0; i < 253; i++) {
		lines_write(&l, cut, off + (long)(i % 7 == 0 ? 1 : l.len[i] / 2));
		assert_false(verify(cut, &res, why));
		assert_int_equal(res.bad_line, i + 1);
		assert_int_equal(res.lines, i);
		assert_non_null(strstr(why, "incomplete"));
		/* The newline alone missing is a cut too. */
		lines_write(&l, cut, off + (long)l.len[i]);
		assert_false(verify(cut, &res, why));
		assert_int_equal(res.bad_line, i + 1);
		off += (long)l.len[i] + 1;
	}
	/* Empty. */
	lines_write(&l, cut, 0);
	assert_false(verify(cut, &res, why));
	assert_int_equal(res.bad_line, 1);
	/* After the last checkpoint (closing one removed): fewer unsigned lines, no error. */
	l.n = 253;
	for (i = 253; i >= 202; i--) {
		l.n = i;
		lines_write(&l, cut, -1);
		assert_true(verify(cut, &res, why));
		assert_int_equal(res.lines, i);
		assert_int_equal(res.checkpoints, 2);
		assert_int_equal(res.unsigned_tail, i - 202);
	}
	l.n = 254;
	lines_free(&l);
}

/* Rewrites line k (0-based) through the parser and formatter and re-links every later line,
 * as an attacker without the audit key could.  Checkpoints keep their signatures unless
 * resign_with is given. */
static void rechain(struct lines *l, size_t from, const uint8_t *resign_with)
{
	struct audit_record *rec = malloc(sizeof(*rec));
	uint8_t head[32], msg[AUDIT_CKPT_MSG_LEN];
	char out[AUDIT_LINE_MAX], why[256];
	size_t i, n;

	crypto_hash_sha256(head, (const uint8_t *)l->text[from - 1], l->len[from - 1]);
	for (i = from; i < l->n; i++) {
		assert_true(audit_line_parse(l->text[i], l->len[i], rec, why, sizeof(why)));
		memcpy(rec->prev, head, 32);
		if (resign_with && !strcmp(rec->event, "checkpoint")) {
			audit_checkpoint_message(msg, rec->seq, rec->prev);
			crypto_sign_detached(rec->sig, NULL, msg, sizeof(msg), resign_with);
		}
		n = audit_line_format(out, rec);
		assert_true(n > 0);
		free(l->text[i]);
		l->text[i] = strndup(out, n - 1);
		l->len[i] = n - 1;
		crypto_hash_sha256(head, (const uint8_t *)l->text[i], l->len[i]);
	}
	free(rec);
}

static void test_forgeries(void **state)
{
	struct audit_record *rec = malloc(sizeof(*rec));
	uint8_t msg[AUDIT_CKPT_MSG_LEN];
	char out[AUDIT_LINE_MAX], why[256];
	struct lines l;
	size_t n;

	(void)state;
	make_log(path);

	/* 1. An event edited and the whole chain after it re-linked: caught at the first
	 * checkpoint after the edit (line 101), whose signature no longer matches. */
	lines_read(&l, path);
	assert_true(audit_line_parse(l.text[49], l.len[49], rec, why, sizeof(why)));
	rec->ev.engineer = "mallory";
	n = audit_line_format(out, rec);
	free(l.text[49]);
	l.text[49] = strndup(out, n - 1);
	l.len[49] = n - 1;
	rechain(&l, 50, NULL);
	expect_bad(&l, 101, "bad checkpoint signature");
	lines_free(&l);

	/* 2. A checkpoint signature replaced by a valid signature of another key over the same
	 * message; and by this key over another seq. */
	lines_read(&l, path);
	assert_true(audit_line_parse(l.text[201], l.len[201], rec, why, sizeof(why)));
	audit_checkpoint_message(msg, rec->seq, rec->prev);
	crypto_sign_detached(rec->sig, NULL, msg, sizeof(msg), other_secret);
	n = audit_line_format(out, rec);
	free(l.text[201]);
	l.text[201] = strndup(out, n - 1);
	l.len[201] = n - 1;
	rechain(&l, 202, NULL);
	expect_bad(&l, 202, "bad checkpoint signature");
	lines_free(&l);
	lines_read(&l, path);
	assert_true(audit_line_parse(l.text[100], l.len[100], rec, why, sizeof(why)));
	audit_checkpoint_message(msg, rec->seq + 1, rec->prev);
	crypto_sign_detached(rec->sig, NULL, msg, sizeof(msg), secret);
	n = audit_line_format(out, rec);
	free(l.text[100]);
	l.text[100] = strndup(out, n - 1);
	l.len[100] = n - 1;
	rechain(&l, 101, NULL);
	expect_bad(&l, 101, "bad checkpoint signature");
	lines_free(&l);

	/* 3. The genesis key replaced and everything re-signed with the attacker's key: only
	 * the expected key tells, at line 1. */
	lines_read(&l, path);
	assert_true(audit_line_parse(l.text[0], l.len[0], rec, why, sizeof(why)));
	memcpy(rec->audit_key, other_pub, 32);
	n = audit_line_format(out, rec);
	free(l.text[0]);
	l.text[0] = strndup(out, n - 1);
	l.len[0] = n - 1;
	rechain(&l, 1, other_secret);
	expect_bad(&l, 1, "genesis audit key differs");
	lines_free(&l);
	free(rec);
}

static void test_reopen(void **state)
{
	struct audit_record *rec = malloc(sizeof(*rec));
	struct audit_verify_result res;
	struct audit_log *a;
	uint8_t head[32];
	char err[256], why[256];
	struct lines l;
	unsigned i;

	(void)state;
	make_log(path);		/* 254 lines, the last a checkpoint */
	lines_read(&l, path);
	crypto_hash_sha256(head, (const uint8_t *)l.text[253], l.len[253]);
	lines_free(&l);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	assert_int_equal(audit_log_next_seq(a), 254);
	assert_int_equal(audit_log_torn_bytes(a), 0);
	for (i = 0; i < 30; i++)
		append_event(a, i);
	audit_log_close(a);
	lines_read(&l, path);
	assert_int_equal(l.n, 254 + 30 + 1);
	assert_true(audit_line_parse(l.text[254], l.len[254], rec, why, sizeof(why)));
	assert_int_equal(rec->seq, 254);
	assert_memory_equal(rec->prev, head, 32);
	lines_free(&l);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, 285);
	assert_int_equal(res.checkpoints, 4);

	/* A crash before the closing checkpoint (its line gone): the restart did not write the
	 * 30 unsigned lines, so it marks them recovered (seq 284), then signs (285). */
	lines_read(&l, path);
	l.n--;
	lines_write(&l, path, -1);
	l.n++;
	lines_free(&l);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.unsigned_tail, 30);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	assert_int_equal(audit_log_next_seq(a), 286);
	audit_log_close(a);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, 286);
	assert_int_equal(res.unsigned_tail, 0);
	assert_int_equal(res.recovered_lines, 30);

	/* Another key: refused, file untouched. */
	assert_int_equal(audit_log_open(&a, path, other_secret, false, err, sizeof(err)),
	    -EKEYREJECTED);
	assert_null(a);
	assert_non_null(strstr(err, "another audit key"));
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, 286);
	free(rec);
}

static void test_torn_tail(void **state)
{
	static const char *const torn[] = { "{", "{\"seq\":285,\"ti", "{\"seq\":285,\"time\":\"2026",
		"garbage without newline" };
	struct audit_verify_result res;
	struct audit_log *a;
	char err[256], why[256];
	struct stat st;
	size_t i;
	FILE *f;

	(void)state;
	for (i = 0; i < sizeof(torn) / sizeof(torn[0]); i++) {
		make_log(path);
		assert_int_equal(stat(path, &st), 0);
		f = fopen(path, "a");
		fputs(torn[i], f);
		fclose(f);
		assert_false(verify(path, &res, why));
		assert_int_equal(res.bad_line, 255);
		assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
		assert_int_equal(audit_log_torn_bytes(a), strlen(torn[i]));
		assert_int_equal(audit_log_next_seq(a), 254);
		append_event(a, (unsigned)i);
		audit_log_close(a);
		assert_true(verify(path, &res, why));
		assert_int_equal(res.lines, 256);
		assert_int_equal(res.unsigned_tail, 0);
	}
	/* Only a torn genesis: started over. */
	f = fopen(path, "w");
	fputs("{\"seq\":0,\"time\"", f);
	fclose(f);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	audit_log_close(a);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, 2);
	assert_int_equal(res.checkpoints, 1);
	/* A damaged last complete line is not "torn": refused, not truncated. */
	make_log(path);
	f = fopen(path, "a");
	fputs("{\"seq\":254}\n", f);
	fclose(f);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), -EBADMSG);
	assert_int_equal(stat(path, &st), 0);
	assert_false(verify(path, &res, why));
	assert_int_equal(res.bad_line, 255);
}

/* Hostile strings: the exact JSON text written, and the exact bytes read back. */
static void test_json_escaping(void **state)
{
	static const struct {
		const char *in;
		const char *json;
	} cases[] = {
		/*  1 */ { "plain", "\"plain\"" },
		/*  2 */ { "a\"b\\c", "\"a\\\"b\\\\c\"" },
		/*  3 */ { "\x01\x1f\n\t\x7f", "\"\\u0001\\u001f\\u000a\\u0009\\u007f\"" },
		/*  4 */ { "\xff\xfe", "\"\\u00ff\\u00fe\"" },
		/*  5 */ { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac "
			   "\xf0\x9f\x98\x80\"" },
		/*  6 */ { "\xc0\x80", "\"\\u00c0\\u0080\"" },			/* overlong NUL */
		/*  7 */ { "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },	/* surrogate */
		/*  8 */ { "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"" },	/* > U+10FFFF */
		/*  9 */ { "\xe2\x82", "\"\\u00e2\\u0082\"" },			/* cut short */
		/* 10 */ { "\x80x", "\"\\u0080x\"" },				/* lone continuation */
		/* 11 */ { "\",\"prev\":\"00\"}\n{\"seq\":9", "\"\\\",\\\"prev\\\":\\\"00\\\"}\\u000a"
			   "{\\\"seq\\\":9\"" },
		/* 12 */ { "", "\"\"" },
	};
	struct audit_record *rec = malloc(sizeof(*rec));
	char long_in[400], needle[512], why[256];
	struct audit_verify_result res;
	struct audit_event ev;
	struct audit_log *a;
	struct lines l;
	size_t i, k;

	(void)state;
	unlink(path);
	assert_int_equal(audit_log_open(&a, path, secret, false, why, sizeof(why)), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		audit_event_init(&ev);
		ev.engineer = cases[i].in;
		ev.reason = cases[i].in;
		assert_int_equal(audit_log_append(a, "auth_reject", &ev, false), 0);
	}
	/* Cut to AUDIT_FIELD_MAX bytes: a 2-byte character straddling the cut is escaped. */
	memset(long_in, 'a', sizeof(long_in));
	long_in[AUDIT_FIELD_MAX - 1] = (char)0xc3;
	long_in[AUDIT_FIELD_MAX] = (char)0xa9;
	long_in[sizeof(long_in) - 1] = '\0';
	audit_event_init(&ev);
	ev.engineer = long_in;
	assert_int_equal(audit_log_append(a, "auth_reject", &ev, false), 0);
	assert_int_equal(audit_log_append(a, "nonsense", &ev, false), -EINVAL);
	assert_int_equal(audit_log_append(a, "checkpoint", &ev, false), -EINVAL);
	assert_int_equal(audit_log_append(a, "genesis", &ev, false), -EINVAL);
	audit_log_close(a);
	assert_true(verify(path, &res, why));

	lines_read(&l, path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(needle, sizeof(needle), ",\"engineer\":%s,", cases[i].json);
		if (!strstr(l.text[1 + i], needle))
			fail_msg("case %zu: %s not in %s", i + 1, needle, l.text[1 + i]);
		assert_true(audit_line_parse(l.text[1 + i], l.len[1 + i], rec, why, sizeof(why)));
		assert_string_equal(rec->ev.engineer, cases[i].in);
		assert_string_equal(rec->ev.reason, cases[i].in);
		assert_null(rec->ev.fingerprint);
		assert_int_equal(rec->ev.src_port, -1);
		/* No raw control byte ever reaches the file. */
		for (k = 0; k < l.len[1 + i]; k++)
			assert_true((unsigned char)l.text[1 + i][k] >= 0x20);
	}
	assert_true(audit_line_parse(l.text[13], l.len[13], rec, why, sizeof(why)));
	assert_string_equal(rec->event, "auth_reject");
	assert_null(rec->ev.reason);
	assert_int_equal(strlen(rec->ev.engineer), AUDIT_FIELD_MAX);
	assert_memory_equal(rec->ev.engineer, long_in, AUDIT_FIELD_MAX);
	assert_non_null(strstr(l.text[13], "a\\u00c3\""));
	lines_free(&l);
	free(rec);
}

/* The parser accepts one spelling: every variation of a good line is refused. */
static void test_parse_strict(void **state)
{
#define P "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"
#define T "\"time\":\"2026-11-21T23:00:00.123456Z\""
	static const struct {
		const char *line;
		bool ok;
	} cases[] = {
		/*  1 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":null," P, true },
		/*  2 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":\"x\"," P, true },
		/*  3 */ { "{\"seq\": 5," T ",\"event\":\"stop\",\"reason\":null," P, false },
		/*  4 */ { "{\"seq\":5," T ",\"event\":\"halt\",\"reason\":null," P, false },
		/*  5 */ { "{\"seq\":5," T ",\"event\":\"stop\"," P, false },
		/*  6 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":null,\"serial\":1," P, false },
		/*  7 */ { "{" T ",\"seq\":5,\"event\":\"stop\",\"reason\":null," P, false },
		/*  8 */ { "{\"seq\":5,\"time\":\"2026-11-21 23:00:00.123456Z\",\"event\":\"stop\","
			   "\"reason\":null," P, false },
		/*  9 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":null,\"prev\":\"00000000"
			   "000000000000000000000000000000000000000000000000000000A\"}", false },
		/* 10 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":null," P " ", false },
		/* 11 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":\"\\u0041\"," P, false },
		/* 12 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":\"\\n\"," P, false },
		/* 13 */ { "{\"seq\":5," T ",\"event\":\"stop\",\"reason\":\"\xff\"," P, false },
		/* 14 */ { "{\"seq\":5," T ",\"event\":\"config_reload\",\"serial\":-1," P, false },
		/* 15 */ { "{\"seq\":5," T ",\"event\":\"config_reload\",\"serial\":12," P, true },
		/* 16 */ { "{\"seq\":5," T ",\"event\":\"jump_open\",\"session\":null,\"engineer\":null,"
			   "\"fingerprint\":null,\"src\":null,\"src_port\":65536,\"target\":null,"
			   "\"target_addr\":null,\"target_port\":null," P, false },
		/* 17 */ { "{\"seq\":5," T ",\"event\":\"jump_open\",\"session\":null,\"engineer\":null,"
			   "\"fingerprint\":null,\"src\":null,\"src_port\":65535,\"target\":null,"
			   "\"target_addr\":null,\"target_port\":null," P, true },
		/* 18 */ { "{\"seq\":5," T ",\"event\":\"checkpoint\",\"count\":5,\"sig\":\"AAAA\"," P,
			   false },
		/* 19 */ { "{\"seq\":99999999999999999999," T ",\"event\":\"stop\",\"reason\":null," P,
			   false },
	};
	struct audit_record *rec = malloc(sizeof(*rec));
	char why[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (audit_line_parse(cases[i].line, strlen(cases[i].line), rec, why, sizeof(why)) !=
		    cases[i].ok)
			fail_msg("case %zu: expected %s (%s)", i + 1, cases[i].ok ? "ok" : "refused",
			    cases[i].ok ? why : "parsed");
	free(rec);
#undef P
#undef T
}

static void test_checkpoint_timer(void **state)
{
	struct audit_verify_result res;
	struct timespec ts;
	struct audit_log *a;
	char err[256];
	uint64_t now;

	(void)state;
	unlink(path);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	append_event(a, 1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	assert_int_equal(audit_log_checkpoint(a, now, false), 0);
	assert_int_equal(audit_log_next_seq(a), 2);		/* not yet 60 s old */
	assert_int_equal(audit_log_checkpoint(a, now + 61000000000ull, false), 0);
	assert_int_equal(audit_log_next_seq(a), 3);		/* checkpoint at seq 2 */
	assert_int_equal(audit_log_checkpoint(a, now + 200000000000ull, true), 0);
	assert_int_equal(audit_log_next_seq(a), 3);		/* nothing unsigned */
	append_event(a, 2);
	assert_int_equal(audit_log_checkpoint(a, now, true), 0);
	assert_int_equal(audit_log_next_seq(a), 5);
	audit_log_close(a);
	assert_true(verify(path, &res, err));
	assert_int_equal(res.lines, 5);
	assert_int_equal(res.checkpoints, 2);
}

/* A log with n unsigned lines (genesis + n - 1 events), still open. */
static struct audit_log *open_with_unsigned(unsigned n)
{
	struct audit_log *a;
	char err[256];
	unsigned i;

	unlink(path);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	for (i = 1; i < n; i++)
		append_event(a, i);
	return a;
}

static off_t file_size(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_size;
}

/* Writes past max_bytes fail with EFBIG (RLIMIT_FSIZE; SIGXFSZ ignored): a disk that fills up
 * at an exact byte. */
static void fsize_limit(rlim_t max_bytes)
{
	struct rlimit rl;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = max_bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void fsize_unlimited(void)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static struct audit_event jump_event(void)
{
	struct audit_event ev;

	audit_event_init(&ev);
	ev.session = "9f2c41d07a1be355";
	ev.engineer = "alice";
	ev.target = "web-1";
	ev.target_port = 22;
	return ev;
}

/* Item 8: the event line fits, the checkpoint due after it does not.  The caller is told the
 * append failed, so the line must not stay: the file, the chain and the seq are as before, and
 * a retry once there is room writes the line once. */
static void test_checkpoint_failure_rolls_back(void **state)
{
	struct audit_verify_result res;
	struct audit_event ev = jump_event();
	struct audit_log *a;
	struct lines l;
	char why[256];
	off_t before;
	uint64_t seq;
	size_t i, opens = 0;

	(void)state;
	a = open_with_unsigned(AUDIT_CHECKPOINT_LINES - 1);	/* the next line makes 100 */
	before = file_size(path);
	seq = audit_log_next_seq(a);
	fsize_limit((rlim_t)before + 400);	/* room for the event line, not the checkpoint */
	assert_true(audit_log_append(a, "jump_open", &ev, true) < 0);
	fsize_unlimited();
	assert_int_equal(file_size(path), before);
	assert_int_equal(audit_log_next_seq(a), seq);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, seq);
	/* The same line, now with room: written once, checkpoint after it, chain intact. */
	assert_int_equal(audit_log_append(a, "jump_open", &ev, true), 0);
	assert_int_equal(audit_log_next_seq(a), seq + 2);
	audit_log_close(a);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.unsigned_tail, 0);
	lines_read(&l, path);
	for (i = 0; i < l.n; i++)
		opens += strstr(l.text[i], "9f2c41d07a1be355") != NULL;
	lines_free(&l);
	assert_int_equal(opens, 1);
}

/* Item 5: the disk is full for the event line itself: nothing of it stays, and the log goes on
 * where it was once there is room. */
static void test_full_disk_append(void **state)
{
	struct audit_verify_result res;
	struct audit_event ev = jump_event();
	struct audit_log *a;
	char why[256];
	off_t before;
	uint64_t seq;

	(void)state;
	a = open_with_unsigned(10);
	before = file_size(path);
	seq = audit_log_next_seq(a);
	fsize_limit((rlim_t)before + 20);	/* 20 bytes of a line fit: a short write */
	assert_int_equal(audit_log_append(a, "jump_open", &ev, false), -EFBIG);
	assert_int_equal(audit_log_append(a, "jump_deny", &ev, true), -EFBIG);
	fsize_unlimited();
	assert_int_equal(file_size(path), before);
	assert_int_equal(audit_log_next_seq(a), seq);
	assert_int_equal(audit_log_append(a, "jump_open", &ev, true), 0);
	audit_log_close(a);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, seq + 2);
}

/* Group commit: lines appended without fsync, one audit_log_sync for all; when the batch
 * cannot be made durable it is rolled back to the mark as a whole. */
static void test_group_commit(void **state)
{
	struct audit_verify_result res;
	struct audit_event ev = jump_event();
	struct audit_mark m;
	struct audit_log *a;
	char why[256];
	off_t before;
	uint64_t seq;
	unsigned i;

	(void)state;
	a = open_with_unsigned(5);
	audit_log_mark(a, &m);
	for (i = 0; i < 3; i++)
		assert_int_equal(audit_log_append(a, "jump_open", &ev, false), 0);
	assert_int_equal(audit_log_sync(a), 0);
	assert_int_equal(audit_log_next_seq(a), 8);
	before = file_size(path);
	seq = audit_log_next_seq(a);
	audit_log_mark(a, &m);
	fsize_limit((rlim_t)before + 600);	/* two lines fit, the third does not */
	assert_int_equal(audit_log_append(a, "jump_open", &ev, false), 0);
	assert_int_equal(audit_log_append(a, "jump_open", &ev, false), 0);
	assert_int_equal(audit_log_append(a, "jump_open", &ev, false), -EFBIG);
	fsize_unlimited();
	assert_int_equal(audit_log_rollback(a, &m), 0);
	assert_int_equal(file_size(path), before);
	assert_int_equal(audit_log_next_seq(a), seq);
	assert_int_equal(audit_log_append(a, "jump_deny", &ev, true), 0);
	audit_log_close(a);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, seq + 2);
}

/* Appends n lines chained correctly but written by someone else (no key needed for that). */
static void forge_tail(const char *p, unsigned n)
{
	struct audit_record *rec = calloc(1, sizeof(*rec));
	char out[AUDIT_LINE_MAX];
	uint8_t head[32];
	struct lines l;
	uint64_t seq;
	size_t len;
	unsigned i;
	FILE *f;

	lines_read(&l, p);
	crypto_hash_sha256(head, (const uint8_t *)l.text[l.n - 1], l.len[l.n - 1]);
	seq = l.n;
	lines_free(&l);
	f = fopen(p, "a");
	assert_non_null(f);
	for (i = 0; i < n; i++) {
		memset(rec, 0, offsetof(struct audit_record, storage));
		*rec = (struct audit_record){ .seq = seq + i };
		audit_event_init(&rec->ev);
		strcpy(rec->event, "jump_open");
		rec->ev = jump_event();
		rec->ev.engineer = "mallory";
		audit_time_now(rec->time);
		memcpy(rec->prev, head, 32);
		len = audit_line_format(out, rec);
		assert_true(len > 0);
		fwrite(out, 1, len, f);
		crypto_hash_sha256(head, (const uint8_t *)out, len - 1);
	}
	fclose(f);
	free(rec);
}

static const char *line_event(const struct lines *l, size_t i, struct audit_record *rec)
{
	char why[128];

	assert_true(audit_line_parse(l->text[i], l->len[i], rec, why, sizeof(why)));
	return rec->event;
}

/* Item 6: lines appended (correctly chained) while the bastion was stopped are not signed by
 * the next start as if it had written them: it marks them "recovered", with their count, and
 * the verifier reports them. */
static void test_recovered_tail(void **state)
{
	struct audit_record *rec = malloc(sizeof(*rec));
	struct audit_verify_result res;
	struct audit_log *a;
	char err[256], why[256];
	struct lines l;
	size_t n0;

	(void)state;
	make_log(path);				/* 254 lines, the last a checkpoint */
	forge_tail(path, 3);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	assert_int_equal(audit_log_next_seq(a), 259);	/* recovered at 257, checkpoint 258 */
	audit_log_close(a);
	lines_read(&l, path);
	assert_int_equal(l.n, 259);
	assert_string_equal(line_event(&l, 256, rec), "jump_open");
	assert_string_equal(line_event(&l, 257, rec), "recovered");
	assert_int_equal(rec->count, 3);
	assert_string_equal(line_event(&l, 258, rec), "checkpoint");
	n0 = l.n;
	lines_free(&l);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.lines, n0);
	assert_int_equal(res.recovered_lines, 3);
	assert_int_equal(res.first_recovered_line, 255);

	/* A restart on a log that ends with our own checkpoint marks nothing. */
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), 0);
	assert_int_equal(audit_log_next_seq(a), n0);
	audit_log_close(a);
	assert_true(verify(path, &res, why));
	assert_int_equal(res.recovered_lines, 3);

	/* A recovered line whose count does not match the unsigned lines before it is refused. */
	lines_read(&l, path);
	l.text[257][strstr(l.text[257], "\"count\":3") - l.text[257] + 8] = '2';
	lines_write(&l, path, -1);
	lines_free(&l);
	assert_false(verify(path, &res, why));
	assert_int_equal(res.bad_line, 258);

	/* A checkpoint at the end that our key did not sign: the start is refused. */
	make_log(path);
	lines_read(&l, path);
	{
		char *c = strstr(l.text[253], "\"sig\":\"") + 8;

		*c = *c == 'A' ? 'B' : 'A';
	}
	lines_write(&l, path, -1);
	lines_free(&l);
	assert_int_equal(audit_log_open(&a, path, secret, false, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "signature"));
	free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_log),
		cmocka_unit_test(test_byte_edits),
		cmocka_unit_test(test_delete_swap_insert),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_forgeries),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_checkpoint_timer),
		cmocka_unit_test(test_checkpoint_failure_rolls_back),
		cmocka_unit_test(test_full_disk_append),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_recovered_tail),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
