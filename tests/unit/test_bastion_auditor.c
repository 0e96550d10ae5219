/* The auditor's wire (bastion/auditor_proto.h) and the auditor process (bastion/auditor.c):
 * every message from the network process is hostile input.  Decoding refuses every malformed
 * field; mutated messages never make the decoder read out of bounds (run under ASan); the
 * auditor process acknowledges a durable event only once written, and a protocol violation
 * makes it record the fact, sign, and exit. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "bastion/auditor.h"
#include "bastion/auditor_proto.h"
#include "bastion/config.h"
#include "keys/lib/audit.h"
#include "keys/lib/audit_int.h"
#include "keys/lib/roster.h"

static struct audit_event jump(void)
{
	struct audit_event ev;

	audit_event_init(&ev);
	ev.session = "9f2c41d07a1be355";
	ev.engineer = "alice";
	ev.fingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
	ev.src = "203.0.113.7";
	ev.src_port = 40522;
	ev.target = "web-1";
	ev.target_addr = "100.64.0.4";
	ev.target_port = 22;
	return ev;
}

static void test_roundtrip(void **state)
{
	static struct auditor_event_msg m;
	struct audit_event ev = jump();
	uint8_t buf[AUDITOR_MSG_MAX];
	char why[128];
	size_t n;

	(void)state;
	n = auditor_event_encode(buf, 42, AUDITOR_EV_JUMP_OPEN, AUDITOR_F_ACK, &ev);
	assert_int_equal(auditor_msg_len(buf), n);
	assert_true(auditor_event_decode(buf, n, &m, why, sizeof(why)));
	assert_int_equal(m.id, 42);
	assert_int_equal(m.event, AUDITOR_EV_JUMP_OPEN);
	assert_int_equal(m.flags, AUDITOR_F_ACK | AUDITOR_F_DURABLE);
	assert_string_equal(m.ev.engineer, "alice");
	assert_string_equal(m.ev.target_addr, "100.64.0.4");
	assert_null(m.ev.reason);
	assert_int_equal(m.ev.src_port, 40522);
	assert_int_equal(m.ev.target_port, 22);
	assert_int_equal(m.ev.bytes_in, -1);
	assert_string_equal(auditor_event_name(m.event), "jump_open");
}

/* refused MUTATE: the message with one change is refused, naming why. */
static void refused(const uint8_t *msg, size_t n, const char *want)
{
	static struct auditor_event_msg m;
	char why[128] = "";

	assert_false(auditor_event_decode(msg, n, &m, why, sizeof(why)));
	if (!strstr(why, want))
		fail_msg("refused with '%s', expected '%s'", why, want);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void test_hostile(void **state)
{
	struct audit_event ev = jump();
	uint8_t good[AUDITOR_MSG_MAX], b[AUDITOR_MSG_MAX + 16];
	char longs[AUDIT_FIELD_MAX + 1];
	size_t n, str0 = AUDITOR_HDR_LEN + 8;

	(void)state;
	n = auditor_event_encode(good, 1, AUDITOR_EV_JUMP_OPEN, 0, &ev);
#define MUT(stmt, len, why) do { memcpy(b, good, n); stmt; refused(b, len, why); } while (0)
	MUT((void)0, n - 1, "length");				/* shorter than declared */
	MUT(put32(b, (uint32_t)n + 1); b[n] = 0, n + 1, "length");	/* a byte more */
	MUT(put32(b, 4), 4, "length");
	MUT(put32(b, AUDITOR_MSG_MAX + 1), AUDITOR_MSG_MAX + 1, "length");
	MUT(b[4] = AUDITOR_MSG_ACK, n, "not an event");
	MUT(b[7] = 1, n, "not an event");
	MUT(b[5] = AUDITOR_EV_COUNT, n, "unknown event");
	MUT(b[5] = 0xff, n, "unknown event");
	MUT(b[6] = 4, n, "flags");
	/* session: length 0xfffe (too long), NUL inside */
	MUT(b[str0] = 0xff; b[str0 + 1] = 0xfe, n, "string");
	MUT(b[str0 + 2 + 3] = 0, n, "NUL");
	/* "start" carries only serial: a session is refused */
	MUT(b[5] = AUDITOR_EV_START, n, "does not carry");
	/* ports and numbers: the last 40 bytes */
	MUT(put32(b + n - 40, 65536), n, "port");
	MUT(put32(b + n - 36, (uint32_t)-2), n, "port");
	MUT(memset(b + n - 32, 0xff, 7); b[n - 25] = 0xfe, n, "negative");	/* bytes_in = -2 */
	MUT(memset(b + n - 8, 0, 8), n, "does not carry");		/* serial 0 on a jump_open */
#undef MUT
	/* A string longer than AUDIT_FIELD_MAX is cut by the encoder, never sent. */
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	ev.engineer = longs;
	n = auditor_event_encode(good, 1, AUDITOR_EV_JUMP_OPEN, 0, &ev);
	{
		static struct auditor_event_msg m;
		char why[128];

		assert_true(auditor_event_decode(good, n, &m, why, sizeof(why)));
		assert_int_equal(strlen(m.ev.engineer), AUDIT_FIELD_MAX);
	}
}

/* Random mutations and cuts: refused or decoded, never a read out of bounds (ASan). */
static void test_mutations(void **state)
{
	static struct auditor_event_msg m;
	struct audit_event ev = jump();
	uint8_t good[AUDITOR_MSG_MAX];
	uint8_t *b;
	char why[128];
	size_t n, len, k;
	unsigned i;

	(void)state;
	ev.reason = "because";
	n = auditor_event_encode(good, 7, AUDITOR_EV_JUMP_DENY, 0, &ev);
	for (i = 0; i < 20000; i++) {
		len = randombytes_uniform((uint32_t)n + 1);
		b = malloc(len ? len : 1);	/* exact size: ASan sees any overread */
		memcpy(b, good, len);
		for (k = randombytes_uniform(4); k > 0 && len; k--)
			b[randombytes_uniform((uint32_t)len)] = (uint8_t)randombytes_uniform(256);
		if (auditor_event_decode(b, len, &m, why, sizeof(why))) {
			assert_true(m.event < AUDITOR_EV_COUNT);
			assert_true(!m.ev.engineer || strlen(m.ev.engineer) <= AUDIT_FIELD_MAX);
		}
		free(b);
	}
}

/* The auditor process, forked as the bastion does, on a fresh log in a temporary dir. */
static char dir[64];
static struct bastion_config cfg;
static pid_t child;

static int start_buf(int bufsize);

static int start(void)
{
	return start_buf(0);
}

/* bufsize: if not 0, the link's socket buffers (bytes) */
static int start_buf(int bufsize)
{
	enum auditor_msg_type type;
	uint8_t m[AUDITOR_READY_MAX];
	int sv[2], status = -1;
	uint64_t id;
	char err[256];
	bool w;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/tmp/test_bastion_auditor.XXXXXX");
	assert_non_null(mkdtemp(dir));
	bastion_config_defaults(&cfg);
	snprintf(cfg.audit_log, sizeof(cfg.audit_log), "%s/audit.jsonl", dir);
	snprintf(cfg.audit_key_file, sizeof(cfg.audit_key_file), "%s/audit.key", dir);
	cfg.audit_syslog = false;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (bufsize) {
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsize,
		    sizeof(bufsize)), 0);
		assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize,
		    sizeof(bufsize)), 0);
	}
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(sv[0]);
		auditor_main(sv[1], &cfg);
	}
	close(sv[1]);
	n = recv(sv[0], m, sizeof(m), 0);
	assert_true(n >= AUDITOR_HDR_LEN);
	assert_true(auditor_reply_decode(m, (size_t)n, &type, &id, &status, &w, err, sizeof(err)));
	assert_int_equal(type, AUDITOR_MSG_READY);
	assert_int_equal(status, 0);
	return sv[0];
}

static void finish_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void verify_log(struct audit_verify_result *res)
{
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN];
	char why[256];

	assert_int_equal(roster_admin_key_read(cfg.audit_key_file, secret, why, sizeof(why)), 0);
	if (!audit_verify_file(cfg.audit_log, secret + 32, res, why, sizeof(why)))
		fail_msg("%s:%u: %s", cfg.audit_log, res->bad_line, why);
	sodium_memzero(secret, sizeof(secret));
}

static void test_auditor_process(void **state)
{
	struct audit_event ev = jump();
	struct audit_verify_result res;
	enum auditor_msg_type type;
	uint8_t buf[AUDITOR_MSG_MAX];
	char err[8], log[8192];
	uint64_t id = 0;
	int fd, status = -1, st;
	bool w;
	size_t n;
	FILE *f;

	(void)state;
	fd = start();
	/* A durable event with an ack: acknowledged 0 (written and fsync'd). */
	n = auditor_event_encode(buf, 5, AUDITOR_EV_JUMP_OPEN, AUDITOR_F_ACK, &ev);
	assert_int_equal(send(fd, buf, n, 0), (ssize_t)n);
	assert_int_equal(recv(fd, buf, AUDITOR_ACK_LEN, MSG_WAITALL), AUDITOR_ACK_LEN);
	assert_true(auditor_reply_decode(buf, AUDITOR_ACK_LEN, &type, &id, &status, &w, err,
	    sizeof(err)));
	assert_int_equal(type, AUDITOR_MSG_ACK);
	assert_int_equal(id, 5);
	assert_int_equal(status, 0);
	/* A message asking for something else (an event code past the table: a checkpoint, a
	 * genesis...): a violation; the auditor records it, signs and exits. */
	n = auditor_event_encode(buf, 6, AUDITOR_EV_JUMP_OPEN, 0, &ev);
	buf[5] = AUDITOR_EV_COUNT;
	assert_int_equal(send(fd, buf, n, 0), (ssize_t)n);
	assert_int_equal(recv(fd, buf, 1, 0), 0);		/* it closed the link */
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	verify_log(&res);
	assert_int_equal(res.unsigned_tail, 0);
	f = fopen(cfg.audit_log, "r");
	assert_non_null(f);
	n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);
	assert_non_null(strstr(log, "\"event\":\"jump_open\""));
	assert_non_null(strstr(log, "\"event\":\"stop\",\"reason\":\"protocol violation by the "
	    "network process\""));
	finish_dir();
}

/* The network side closing the link (a crash): a stop line, a final checkpoint, exit 0. */
static void test_auditor_peer_gone(void **state)
{
	struct audit_event ev = jump();
	struct audit_verify_result res;
	uint8_t buf[AUDITOR_MSG_MAX];
	int fd, st;
	size_t n;

	(void)state;
	fd = start();
	n = auditor_event_encode(buf, 0, AUDITOR_EV_JUMP_OPEN, 0, &ev);
	assert_int_equal(send(fd, buf, n, 0), (ssize_t)n);
	close(fd);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	verify_log(&res);
	assert_int_equal(res.unsigned_tail, 0);
	assert_int_equal(res.lines, 4);	/* genesis, jump_open, stop, checkpoint */
	finish_dir();
}

/* Reads one answer (ACK or STATUS) from the auditor. */
static enum auditor_msg_type answer(int fd, uint64_t *id, int *status, bool *writable)
{
	enum auditor_msg_type type;
	uint8_t m[AUDITOR_ACK_LEN];
	char err[8];

	assert_int_equal(recv(fd, m, AUDITOR_HDR_LEN, MSG_WAITALL), AUDITOR_HDR_LEN);
	assert_true(auditor_msg_len(m) <= sizeof(m));
	if (auditor_msg_len(m) > AUDITOR_HDR_LEN)
		assert_int_equal(recv(fd, m + AUDITOR_HDR_LEN, auditor_msg_len(m) - AUDITOR_HDR_LEN,
		    MSG_WAITALL), (ssize_t)(auditor_msg_len(m) - AUDITOR_HDR_LEN));
	assert_true(auditor_reply_decode(m, auditor_msg_len(m), &type, id, status, writable, err,
	    sizeof(err)));
	return type;
}

/* The disk fills (RLIMIT_FSIZE on the auditor, EFBIG): a durable event is answered "failed"
 * and the log reported unwritable once; later events are not attempted but counted; when
 * there is room again the auditor recovers by itself (a lost line), says so, and acks again. */
static void test_auditor_full_disk(void **state)
{
	struct audit_event ev = jump();
	struct audit_verify_result res;
	uint8_t buf[AUDITOR_MSG_MAX];
	struct rlimit rl;
	uint64_t id = 0;
	int fd, st, status = 0, i, acks[4] = { 1, 1, 1, 1 };
	bool w = true, down;
	size_t n;
	struct stat sb;

	(void)state;
	fd = start();
	assert_int_equal(stat(cfg.audit_log, &sb), 0);
	/* Room for about one more line. */
	rl.rlim_cur = (rlim_t)sb.st_size + 500;
	rl.rlim_max = RLIM_INFINITY;
	assert_int_equal(prlimit(child, RLIMIT_FSIZE, &rl, NULL), 0);
	for (i = 1; i <= 3; i++) {
		n = auditor_event_encode(buf, (uint64_t)i, AUDITOR_EV_JUMP_OPEN, AUDITOR_F_ACK, &ev);
		assert_int_equal(send(fd, buf, n, 0), (ssize_t)n);
	}
	/* jump 1 fits; jump 2 fails and the log is reported unwritable (the state may come
	 * before the acks of its batch); jump 3 is not tried. */
	down = false;
	for (i = 0; i < 4; i++) {
		if (answer(fd, &id, &status, &w) == AUDITOR_MSG_STATUS) {
			assert_false(w);
			assert_false(down);
			down = true;
			continue;
		}
		assert_true(id >= 1 && id <= 3);
		acks[id] = status;
	}
	assert_true(down);
	assert_int_equal(acks[1], 0);
	assert_int_equal(acks[2], -EFBIG);
	assert_true(acks[3] < 0);
	/* Room again: within a few ticks the auditor writes its lost line and says so. */
	rl.rlim_cur = RLIM_INFINITY;
	assert_int_equal(prlimit(child, RLIMIT_FSIZE, &rl, NULL), 0);
	assert_int_equal(answer(fd, &id, &status, &w), AUDITOR_MSG_STATUS);
	assert_true(w);
	n = auditor_event_encode(buf, 4, AUDITOR_EV_JUMP_OPEN, AUDITOR_F_ACK, &ev);
	assert_int_equal(send(fd, buf, n, 0), (ssize_t)n);
	assert_int_equal(answer(fd, &id, &status, &w), AUDITOR_MSG_ACK);
	assert_int_equal(id, 4);
	assert_int_equal(status, 0);
	close(fd);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	verify_log(&res);
	assert_int_equal(res.lost, 2);
	assert_int_equal(res.unsigned_tail, 0);
	finish_dir();
}

/* A network process that asks for acks and never reads them cannot stall the auditor (and
 * its checkpoints) for ever: after ANSWER_TIMEOUT_MS it is treated as a violation. */
static void test_auditor_unread_answers(void **state)
{
	struct audit_event ev = jump();
	struct audit_verify_result res;
	uint8_t buf[AUDITOR_MSG_MAX];
	char log[1024];
	int fd, st, i;
	ssize_t w = 0;
	size_t n;
	FILE *f;

	(void)state;
	fd = start_buf(4096);
	n = auditor_event_encode(buf, 1, AUDITOR_EV_JUMP_OPEN, AUDITOR_F_ACK, &ev);
	/* Blocks once both directions are full, until the auditor gives up and closes. */
	for (i = 0; i < 100000 && w >= 0; i++)
		w = send(fd, buf, n, MSG_NOSIGNAL);
	assert_true(w < 0);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	verify_log(&res);
	assert_int_equal(res.unsigned_tail, 0);
	f = fopen(cfg.audit_log, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, -400, SEEK_END), 0);
	n = fread(log, 1, sizeof(log) - 1, f);
	log[n] = '\0';
	fclose(f);
	assert_non_null(strstr(log, "\"event\":\"stop\",\"reason\":\"protocol violation"));
	finish_dir();
}

/* Every event the network process may ask for is one the log writes and the verifier reads:
 * a name longer than AUDIT_EVENT_MAX was refused by the writer (EINVAL) at run time only, and
 * refused every login with it ("audit log unavailable"). */
static void test_event_names(void **state)
{
	enum auditor_event e;

	(void)state;
	for (e = 0; e < AUDITOR_EV_COUNT; e++) {
		const char *name = auditor_event_name(e);

		assert_non_null(name);
		assert_true(strlen(name) <= AUDIT_EVENT_MAX);
		assert_true(audit_event_fields(name) != 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_auditor_process),
		cmocka_unit_test(test_auditor_peer_gone),
		cmocka_unit_test(test_auditor_full_disk),
		cmocka_unit_test(test_auditor_unread_answers),
	};

	if (sodium_init() < 0)
		return 1;
	signal(SIGXFSZ, SIG_IGN);	/* inherited by the auditor: EFBIG instead of a kill */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
