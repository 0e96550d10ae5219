/* Verifying an audit log from its genesis line: every line parses, seq counts up by one, prev
 * is the hash of the line before, every checkpoint's signature holds under the expected key. */
#include "keys/lib/audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

enum { READ_CHUNK = 65536 };

void audit_checkpoint_message(uint8_t msg[AUDIT_CKPT_MSG_LEN], uint64_t seq,
    const uint8_t prev[AUDIT_HASH_LEN])
{
	size_t m = sizeof(AUDIT_CHECKPOINT_MAGIC) - 1;
	int i;

	memcpy(msg, AUDIT_CHECKPOINT_MAGIC, m);
	for (i = 0; i < 4; i++)
		msg[m + i] = (uint8_t)((uint32_t)AUDIT_VERSION >> (24 - 8 * i));
	for (i = 0; i < 8; i++)
		msg[m + 4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	memcpy(msg + m + 12, prev, AUDIT_HASH_LEN);
}

struct verifier {
	const uint8_t *pub;
	struct audit_verify_result *res;
	uint8_t head[AUDIT_HASH_LEN];
	uint64_t last_ckpt_line;	/* 0: none yet */
	char *why;
	size_t whylen;
	struct audit_record rec;
};

static bool bad(struct verifier *v, const char *what)
{
	snprintf(v->why, v->whylen, "%s", what);
	return false;
}

/* Line number n (1-based), without its newline. */
static bool check_line(struct verifier *v, const char *line, size_t len, uint64_t n)
{
	uint8_t msg[AUDIT_CKPT_MSG_LEN];
	struct audit_record *rec = &v->rec;
	char why[128];

	if (!audit_line_parse(line, len, rec, why, sizeof(why)))
		return bad(v, why);
	if (n == 1) {
		if (strcmp(rec->event, AUDIT_EVENT_GENESIS) || rec->seq != 0)
			return bad(v, "not a genesis line");
		if (!sodium_is_zero(rec->prev, AUDIT_HASH_LEN))
			return bad(v, "genesis prev is not zero");
		if (sodium_memcmp(rec->audit_key, v->pub, AUDIT_PUB_LEN) != 0)
			return bad(v, "genesis audit key differs from the expected key");
		goto ok;
	}
	if (!strcmp(rec->event, AUDIT_EVENT_GENESIS))
		return bad(v, "a second genesis line");
	if (rec->seq != n - 1) {
		snprintf(v->why, v->whylen, "seq %llu where %llu was expected (a line removed, "
		    "inserted or reordered)", (unsigned long long)rec->seq,
		    (unsigned long long)(n - 1));
		return false;
	}
	if (sodium_memcmp(rec->prev, v->head, AUDIT_HASH_LEN) != 0) {
		snprintf(v->why, v->whylen, "prev is not the hash of line %llu (a line before was "
		    "edited, removed or reordered)", (unsigned long long)(n - 1));
		return false;
	}
	if (!strcmp(rec->event, AUDIT_EVENT_RECOVERED)) {
		/* It marks exactly the unsigned lines before it (since the last checkpoint). */
		if (rec->count == 0 || rec->count != n - 1 - v->last_ckpt_line)
			return bad(v, "recovered count is not the number of unsigned lines before it");
		if (!v->res->first_recovered_line)
			v->res->first_recovered_line = n - rec->count;
		v->res->recovered_lines += rec->count;
	}
	if (!strcmp(rec->event, AUDIT_EVENT_LOST))
		v->res->lost += rec->count;
	if (!strcmp(rec->event, AUDIT_EVENT_CHECKPOINT)) {
		if (rec->count != rec->seq)
			return bad(v, "checkpoint count is not its seq");
		audit_checkpoint_message(msg, rec->seq, rec->prev);
		if (crypto_sign_verify_detached(rec->sig, msg, sizeof(msg), v->pub) != 0)
			return bad(v, "bad checkpoint signature");
		v->res->checkpoints++;
		v->last_ckpt_line = n;
	}
ok:
	crypto_hash_sha256(v->head, (const uint8_t *)line, len);
	return true;
}

bool audit_verify_file(const char *path, const uint8_t pub[AUDIT_PUB_LEN],
    struct audit_verify_result *res, char *why, size_t whylen)
{
	struct verifier *v = NULL;
	char *chunk = NULL, *line = NULL;
	size_t llen = 0, i;
	bool ok = false, too_long = false;
	ssize_t r;
	int fd;

	memset(res, 0, sizeof(*res));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return false;
	}
	v = calloc(1, sizeof(*v));
	chunk = malloc(READ_CHUNK);
	line = malloc(AUDIT_LINE_MAX);
	if (!v || !chunk || !line) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	v->pub = pub;
	v->res = res;
	v->why = why;
	v->whylen = whylen;
	for (;;) {
		r = read(fd, chunk, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		for (i = 0; i < (size_t)r; i++) {
			if (chunk[i] != '\n') {
				/* Bounded: a longer line is refused, never buffered. */
				if (llen == AUDIT_LINE_MAX - 1)
					too_long = true;
				else
					line[llen++] = chunk[i];
				continue;
			}
			res->bad_line = (unsigned)(res->lines + 1);
			if (too_long) {
				snprintf(why, whylen, "line longer than %d bytes", AUDIT_LINE_MAX);
				goto out;
			}
			if (!check_line(v, line, llen, res->lines + 1))
				goto out;
			res->lines++;
			llen = 0;
		}
	}
	res->bad_line = (unsigned)(res->lines + 1);
	if (llen || too_long) {
		snprintf(why, whylen, "incomplete final line (cut short or torn write)");
		goto out;
	}
	if (!res->lines) {
		snprintf(why, whylen, "empty file: no genesis line");
		goto out;
	}
	res->bad_line = 0;
	res->unsigned_tail = res->lines - v->last_ckpt_line;
	ok = true;
out:
	close(fd);
	free(v);
	free(chunk);
	free(line);
	return ok;
}
