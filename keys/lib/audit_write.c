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

/* Formats rec (seq, time and prev filled in here) and writes it with one write().  A short or
 * failed write is cut back so the file never keeps a partial line. */
static int write_line(struct audit_log *a, struct audit_record *rec)
{
	size_t n;
	ssize_t w;
	int ret;

	rec->seq = a->seq;
	audit_time_now(rec->time);
	memcpy(rec->prev, a->head, AUDIT_HASH_LEN);
	n = audit_line_format(a->line, rec);
	if (!n)
		return -EINVAL;
	do
		w = write(a->fd, a->line, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)n) {
		ret = w < 0 ? -errno : -EIO;
		if (ftruncate(a->fd, a->size) != 0)
			ret = -errno;
		return ret;
	}
	a->size += (off_t)n;
	a->seq++;
	crypto_hash_sha256(a->head, (const uint8_t *)a->line, n - 1);
	if (a->syslog_copy)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", (int)(n - 1), a->line);
	return 0;
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
	int ret;

	if (strlen(event) > AUDIT_EVENT_MAX || !audit_event_fields(event) ||
	    !strcmp(event, AUDIT_EVENT_GENESIS) || !strcmp(event, AUDIT_EVENT_CHECKPOINT))
		return -EINVAL;
	memset(rec, 0, offsetof(struct audit_record, storage));
	strcpy(rec->event, event);
	rec->ev = *ev;
	ret = write_line(a, rec);
	if (ret)
		return ret;
	counted(a);
	if (a->unsigned_lines >= AUDIT_CHECKPOINT_LINES)
		return write_checkpoint(a);	/* fsyncs the event too */
	return durable ? sync_fd(a->fd) : 0;
}

int audit_log_checkpoint(struct audit_log *a, uint64_t now_mono_ns, bool force)
{
	if (!a->unsigned_lines)
		return 0;
	if (!force && now_mono_ns - a->oldest_unsigned_ns <
	    (uint64_t)AUDIT_CHECKPOINT_SECONDS * NS_PER_SEC)
		return 0;
	return write_checkpoint(a);
}

uint64_t audit_log_next_seq(const struct audit_log *a)
{
	return a->seq;
}

size_t audit_log_torn_bytes(const struct audit_log *a)
{
	return a->torn;
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

/* Reads the tail: checks the last line and that it links to the one before, and takes the
 * chain head from it. */
static int continue_chain(struct audit_log *a, char *buf, char *err, size_t errlen,
    const char *path)
{
	size_t win = 2 * AUDIT_LINE_MAX, start, end, pstart;
	uint8_t hash[AUDIT_HASH_LEN];
	uint64_t last_seq;
	bool last_ckpt;
	char why[128];
	ssize_t n;
	off_t off;

	if ((off_t)win > a->size)
		win = (size_t)a->size;
	off = a->size - (off_t)win;
	n = pread_all(a->fd, buf, win, off);
	if (n != (ssize_t)win)
		return n < 0 ? (int)n : -EIO;
	end = win;
	/* buf[start, end - 1) is the last line; buf[pstart, start - 1) the one before. */
	for (start = end - 1; start > 0 && buf[start - 1] != '\n'; start--)
		;
	if (start == 0 && off > 0) {
		snprintf(err, errlen, "%s: last line longer than %d bytes", path, AUDIT_LINE_MAX);
		return -EBADMSG;
	}
	if (!audit_line_parse(buf + start, end - 1 - start, &a->rec, why, sizeof(why))) {
		snprintf(err, errlen, "%s: last line: %s", path, why);
		return -EBADMSG;
	}
	last_seq = a->rec.seq;
	last_ckpt = !strcmp(a->rec.event, AUDIT_EVENT_CHECKPOINT);
	if (start > 0) {
		for (pstart = start - 1; pstart > 0 && buf[pstart - 1] != '\n'; pstart--)
			;
		crypto_hash_sha256(hash, (const uint8_t *)buf + pstart, start - 1 - pstart);
		if (sodium_memcmp(hash, a->rec.prev, AUDIT_HASH_LEN) != 0 ||
		    !audit_line_parse(buf + pstart, start - 1 - pstart, &a->rec, why,
		    sizeof(why)) || a->rec.seq + 1 != last_seq) {
			snprintf(err, errlen, "%s: the last two lines do not chain (tail edited?); "
			    "run 'keys audit verify'", path);
			return -EBADMSG;
		}
	} else if (last_seq != 0) {
		snprintf(err, errlen, "%s: the only line is not the genesis line", path);
		return -EBADMSG;
	}
	crypto_hash_sha256(a->head, (const uint8_t *)buf + start, end - 1 - start);
	a->seq = last_seq + 1;
	a->unsigned_lines = 0;
	if (!last_ckpt) {
		/* Sign what the previous run left unsigned: the restart is a checkpoint. */
		counted(a);
		return write_checkpoint(a);
	}
	return 0;
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
