/* The audit log writer: one line per write() on an O_APPEND file, each carrying the hash of the
 * line before; checkpoints signed with the audit key; a restart continues the chain. */
#include "keys/lib/audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

enum { NS_PER_SEC = 1000000000 };

struct audit_log {
	int fd;
	bool syslog_copy;
	uint8_t secret[AUDIT_SECRET_LEN];
	uint8_t head[AUDIT_HASH_LEN];	/* SHA-256 of the last line: the next line's prev */
	uint64_t seq;			/* the next line's */
	off_t size;			/* bytes in the file: a failed write is cut back to it */
	unsigned unsigned_lines;	/* since the last checkpoint */
	uint64_t oldest_unsigned_ns;	/* CLOCK_MONOTONIC when the first of them was written */
	size_t torn;
	uint64_t recovered;		/* lines marked recovered by audit_log_open */
	bool need_cut;			/* bytes past size may be in the file: cut before writing */
	struct audit_record rec;	/* scratch: no allocation when appending */
	char line[AUDIT_LINE_MAX];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int sync_fd(int fd)
{
	return fsync(fd) == 0 ? 0 : -errno;
}

static int write_checkpoint(struct audit_log *a);

/* Makes the file end at a->size again after a failed cut (a write past it must not follow
 * bytes the chain does not know). */
static int cut_back(struct audit_log *a)
{
	if (ftruncate(a->fd, a->size) != 0) {
		a->need_cut = true;
		return -errno;
	}
	a->need_cut = false;
	return 0;
}

/* Formats rec (seq, time and prev filled in here) and writes it with one write().  A short or
 * failed write is cut back so the file never keeps a partial line. */
static int write_line(struct audit_log *a, struct audit_record *rec)
{
	size_t n;
	ssize_t w;
	int ret;

	if (a->need_cut && (ret = cut_back(a)) < 0)
		return ret;
	rec->seq = a->seq;
	audit_time_now(rec->time);
	memcpy(rec->prev, a->head, AUDIT_HASH_LEN);
	n = audit_line_format(a->line, rec);
	if (!n)
		return -EINVAL;
	do
		w = write(a->fd, a->line, n);
	while (w < 0 && errno == EINTR);
	if (w >= 0 && w != (ssize_t)n) {
		/* A short write (a full disk): the rest fails too, and says why. */
		do
			w = write(a->fd, a->line + w, n - (size_t)w);
		while (w < 0 && errno == EINTR);
		if (w >= 0)
			w = 0;
	}
	if (w != (ssize_t)n) {
		ret = w < 0 ? -errno : -EIO;
		cut_back(a);
		return ret;
	}
	a->size += (off_t)n;
	a->seq++;
	crypto_hash_sha256(a->head, (const uint8_t *)a->line, n - 1);
	if (a->syslog_copy)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(n - 1), a->line);
	return 0;
}

void audit_log_mark(const struct audit_log *a, struct audit_mark *m)
{
	m->size = a->size;
	m->seq = a->seq;
	memcpy(m->head, a->head, AUDIT_HASH_LEN);
	m->unsigned_lines = a->unsigned_lines;
	m->oldest_unsigned_ns = a->oldest_unsigned_ns;
}

int audit_log_rollback(struct audit_log *a, const struct audit_mark *m)
{
	a->size = m->size;
	a->seq = m->seq;
	memcpy(a->head, m->head, AUDIT_HASH_LEN);
	a->unsigned_lines = m->unsigned_lines;
	a->oldest_unsigned_ns = m->oldest_unsigned_ns;
	return cut_back(a);
}

int audit_log_sync(struct audit_log *a)
{
	return fsync(a->fd) == 0 ? 0 : -errno;
}

static int write_checkpoint(struct audit_log *a)
{
	uint8_t msg[AUDIT_CKPT_MSG_LEN];
	struct audit_record *rec = &a->rec;
	int ret;

	memset(rec, 0, offsetof(struct audit_record, storage));
	audit_event_init(&rec->ev);
	strcpy(rec->event, AUDIT_EVENT_CHECKPOINT);
	/* The signature covers the chain up to and including the previous line. */
	rec->count = a->seq;
	audit_checkpoint_message(msg, a->seq, a->head);
	crypto_sign_detached(rec->sig, NULL, msg, sizeof(msg), a->secret);
	ret = write_line(a, rec);
	if (ret == 0)
		ret = sync_fd(a->fd);
	if (ret == 0)
		a->unsigned_lines = 0;
	return ret;
}

static void counted(struct audit_log *a)
{
	if (a->unsigned_lines++ == 0)
		a->oldest_unsigned_ns = mono_ns();
}

int audit_log_append(struct audit_log *a, const char *event, const struct audit_event *ev,
    bool durable)
{
	struct audit_record *rec = &a->rec;
	struct audit_mark m;
	int ret;

	if (strlen(event) > AUDIT_EVENT_MAX || !audit_event_fields(event) ||
	    !strcmp(event, AUDIT_EVENT_GENESIS) || !strcmp(event, AUDIT_EVENT_CHECKPOINT) ||
	    !strcmp(event, AUDIT_EVENT_RECOVERED) || !strcmp(event, AUDIT_EVENT_LOST))
		return -EINVAL;
	audit_log_mark(a, &m);
	memset(rec, 0, offsetof(struct audit_record, storage));
	strcpy(rec->event, event);
	rec->ev = *ev;
	ret = write_line(a, rec);
	if (ret)
		return ret;
	counted(a);
	if (a->unsigned_lines >= AUDIT_CHECKPOINT_LINES)
		ret = write_checkpoint(a);	/* fsyncs the event too */
	else if (durable)
		ret = sync_fd(a->fd);
	/* The caller hears "failed": then the line must not stay (a jump_open followed by the
	 * caller's jump_deny would record one jump as both). */
	if (ret)
		audit_log_rollback(a, &m);
	return ret;
}

int audit_log_lost(struct audit_log *a, uint64_t count)
{
	struct audit_record *rec = &a->rec;
	struct audit_mark m;
	int ret;

	audit_log_mark(a, &m);
	memset(rec, 0, offsetof(struct audit_record, storage));
	audit_event_init(&rec->ev);
	strcpy(rec->event, AUDIT_EVENT_LOST);
	rec->count = count;
	ret = write_line(a, rec);
	if (ret)
		return ret;
	counted(a);
	ret = write_checkpoint(a);
	if (ret)
		audit_log_rollback(a, &m);
	return ret;
}

int audit_log_checkpoint(struct audit_log *a, uint64_t now_mono_ns, bool force)
{
	struct audit_mark m;
	int ret;

	if (!a->unsigned_lines)
		return 0;
	if (!force && now_mono_ns - a->oldest_unsigned_ns <
	    (uint64_t)AUDIT_CHECKPOINT_SECONDS * NS_PER_SEC)
		return 0;
	audit_log_mark(a, &m);
	ret = write_checkpoint(a);
	if (ret)
		audit_log_rollback(a, &m);
	return ret;
}

uint64_t audit_log_next_seq(const struct audit_log *a)
{
	return a->seq;
}

size_t audit_log_torn_bytes(const struct audit_log *a)
{
	return a->torn;
}

uint64_t audit_log_recovered_lines(const struct audit_log *a)
{
	return a->recovered;
}

void audit_log_close(struct audit_log *a)
{
	if (!a)
		return;
	audit_log_checkpoint(a, 0, true);
	fsync(a->fd);
	close(a->fd);
	sodium_memzero(a->secret, sizeof(a->secret));
	free(a);
}

/* --- Opening: a new file gets its genesis line; an old one is continued. --- */

static int write_genesis(struct audit_log *a)
{
	struct audit_record *rec = &a->rec;
	int ret;

	memset(rec, 0, offsetof(struct audit_record, storage));
	audit_event_init(&rec->ev);
	strcpy(rec->event, AUDIT_EVENT_GENESIS);
	memcpy(rec->audit_key, a->secret + 32, AUDIT_PUB_LEN);
	memset(a->head, 0, sizeof(a->head));
	a->seq = 0;
	ret = write_line(a, rec);
	if (ret == 0)
		counted(a);
	return ret == 0 ? sync_fd(a->fd) : ret;
}

/* The directory entry of a new file must reach the disk too. */
static int sync_dir(const char *path)
{
	char dir[4096];
	int fd, ret;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = sync_fd(fd);
	close(fd);
	return ret;
}

static ssize_t pread_all(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = pread(fd, buf + got, len - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The genesis line must name our key: another key means another log. */
static int check_genesis(struct audit_log *a, char *buf, char *err, size_t errlen,
    const char *path)
{
	char why[128];
	ssize_t n;
	char *nl;

	n = pread_all(a->fd, buf, AUDIT_LINE_MAX, 0);
	if (n < 0)
		return (int)n;
	nl = memchr(buf, '\n', (size_t)n);
	if (!nl || !audit_line_parse(buf, (size_t)(nl - buf), &a->rec, why, sizeof(why)) ||
	    strcmp(a->rec.event, AUDIT_EVENT_GENESIS) || a->rec.seq != 0) {
		snprintf(err, errlen, "%s:1: not an audit log genesis line", path);
		return -EBADMSG;
	}
	if (sodium_memcmp(a->rec.audit_key, a->secret + 32, AUDIT_PUB_LEN) != 0) {
		snprintf(err, errlen, "%s:1: the log was started with another audit key", path);
		return -EKEYREJECTED;
	}
	return 0;
}

/* A crash mid-write leaves an incomplete final line (no newline): only that goes.  Returns 1
 * if nothing is left (a torn genesis: start over). */
static int cut_torn(struct audit_log *a, char *buf, char *err, size_t errlen, const char *path)
{
	size_t win = 2 * AUDIT_LINE_MAX, end;
	ssize_t n;
	off_t off;

	if ((off_t)win > a->size)
		win = (size_t)a->size;
	off = a->size - (off_t)win;
	n = pread_all(a->fd, buf, win, off);
	if (n != (ssize_t)win)
		return n < 0 ? (int)n : -EIO;
	if (buf[win - 1] == '\n')
		return 0;
	for (end = win; end > 0 && buf[end - 1] != '\n'; end--)
		;
	if (end == 0 && off > 0) {
		snprintf(err, errlen, "%s: last line longer than %d bytes", path, AUDIT_LINE_MAX);
		return -EBADMSG;
	}
	a->torn = win - end;
	if (ftruncate(a->fd, off + (off_t)end) != 0 || fsync(a->fd) != 0)
		return -errno;
	a->size = off + (off_t)end;
	return a->size == 0;
}

/* The line that ends just before offset end (its newline at end - 1) into buf: *start is its
 * first byte's offset, *len its length without the newline. */
static int line_before(struct audit_log *a, off_t end, char *buf, off_t *start, size_t *len,
    char *err, size_t errlen, const char *path)
{
	size_t win = AUDIT_LINE_MAX, i;
	off_t off;
	ssize_t n;

	if ((off_t)win > end - 1)
		win = (size_t)(end - 1);
	off = end - 1 - (off_t)win;
	n = pread_all(a->fd, buf, win, off);
	if (n != (ssize_t)win)
		return n < 0 ? (int)n : -EIO;
	for (i = win; i > 0 && buf[i - 1] != '\n'; i--)
		;
	if (i == 0 && off > 0) {
		snprintf(err, errlen, "%s: a line longer than %d bytes", path, AUDIT_LINE_MAX);
		return -EBADMSG;
	}
	memmove(buf, buf + i, win - i);
	*start = off + (off_t)i;
	*len = win - i;
	return 0;
}

/* Reads the tail back to the last checkpoint our key signed (or the genesis line), checking
 * that every line links to the one before; takes the chain head from the last line.  The
 * lines after that checkpoint were not written by this process (a crash before the next
 * checkpoint, or lines appended while the bastion was stopped): they are not signed as ours
 * but marked "recovered" with their count, and then the chain is signed. */
static int continue_chain(struct audit_log *a, char *buf, char *err, size_t errlen,
    const char *path)
{
	uint8_t hash[AUDIT_HASH_LEN], want_prev[AUDIT_HASH_LEN], msg[AUDIT_CKPT_MSG_LEN];
	uint64_t last_seq = 0, seq = 0, unverified;
	off_t end = a->size, start = 0;
	bool last = true;
	char why[128];
	size_t len = 0;
	int ret;

	for (;;) {
		ret = line_before(a, end, buf, &start, &len, err, errlen, path);
		if (ret)
			return ret;
		if (!audit_line_parse(buf, len, &a->rec, why, sizeof(why))) {
			if (last)
				snprintf(err, errlen, "%s: last line: %s", path, why);
			else
				snprintf(err, errlen, "%s: the line before seq %llu: %s", path,
				    (unsigned long long)seq, why);
			return -EBADMSG;
		}
		crypto_hash_sha256(hash, (const uint8_t *)buf, len);
		if (last) {
			memcpy(a->head, hash, AUDIT_HASH_LEN);
			last_seq = a->rec.seq;
		} else if (sodium_memcmp(hash, want_prev, AUDIT_HASH_LEN) != 0 ||
		    a->rec.seq + 1 != seq) {
			snprintf(err, errlen, "%s: the lines before seq %llu do not chain (tail "
			    "edited?); run 'keys audit verify'", path, (unsigned long long)seq);
			return -EBADMSG;
		}
		last = false;
		seq = a->rec.seq;
		memcpy(want_prev, a->rec.prev, AUDIT_HASH_LEN);
		if (!strcmp(a->rec.event, AUDIT_EVENT_CHECKPOINT)) {
			audit_checkpoint_message(msg, a->rec.seq, a->rec.prev);
			if (a->rec.count != a->rec.seq || crypto_sign_verify_detached(a->rec.sig,
			    msg, sizeof(msg), a->secret + 32) != 0) {
				snprintf(err, errlen, "%s: the checkpoint with seq %llu: its signature "
				    "does not verify under the audit key (forged?); run 'keys audit "
				    "verify'", path, (unsigned long long)seq);
				return -EBADMSG;
			}
			unverified = last_seq - seq;
			break;
		}
		if (start == 0) {
			if (seq != 0) {
				snprintf(err, errlen, "%s: the first line is not the genesis line", path);
				return -EBADMSG;
			}
			unverified = last_seq + 1;	/* the genesis line is unsigned too */
			break;
		}
		end = start;
	}
	a->seq = last_seq + 1;
	a->unsigned_lines = 0;
	if (!unverified)
		return 0;
	a->recovered = unverified;
	memset(&a->rec, 0, offsetof(struct audit_record, storage));
	audit_event_init(&a->rec.ev);
	strcpy(a->rec.event, AUDIT_EVENT_RECOVERED);
	a->rec.count = unverified;
	ret = write_line(a, &a->rec);
	if (ret)
		return ret;
	counted(a);
	return write_checkpoint(a);
}

/* Every step of opening, in order; err is set by whichever fails. */
static int open_log(struct audit_log *a, const char *path, char *buf, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0)
		return -errno;
	/* One writer per file: a second bastion on the same log would fork the chain. */
	if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: locked by another writer", path);
		return ret;
	}
	if (fstat(a->fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	a->size = st.st_size;
	ret = a->size > 0 ? cut_torn(a, buf, err, errlen, path) : 1;
	if (ret < 0)
		return ret;
	if (ret == 1) {
		ret = write_genesis(a);
		return ret ? ret : sync_dir(path);
	}
	ret = check_genesis(a, buf, err, errlen, path);
	return ret ? ret : continue_chain(a, buf, err, errlen, path);
}

int audit_log_open(struct audit_log **out, const char *path, const uint8_t secret[AUDIT_SECRET_LEN],
    bool syslog_copy, char *err, size_t errlen)
{
	struct audit_log *a;
	char *buf;
	int ret;

	*out = NULL;
	err[0] = '\0';
	a = calloc(1, sizeof(*a));
	buf = malloc(2 * AUDIT_LINE_MAX);
	if (!a || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	a->fd = -1;
	memcpy(a->secret, secret, AUDIT_SECRET_LEN);
	a->syslog_copy = syslog_copy;
	ret = open_log(a, path, buf, err, errlen);
	if (ret)
		goto out;
	*out = a;
	a = NULL;
out:
	if (ret && !err[0])
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	if (a) {
		if (a->fd >= 0)
			close(a->fd);
		sodium_memzero(a->secret, sizeof(a->secret));
		free(a);
	}
	free(buf);
	return ret;
}
