/* The operational logger (see log.h). */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/vis.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_dest dest = LOG_DEST_STDERR;
static const char *log_ident = "warren";
static enum log_format log_format = LOG_FORMAT_TEXT;
static bool log_timestamps;
/* Guards every struct log_ratelimit: tunneld's resolver threads log too. */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int syslog_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

/* log_mirror_syslog: errors and warnings also go to syslog with this facility; -1: off. */
static int mirror_facility = -1;

void log_mirror_syslog(int facility)
{
	mirror_facility = facility;
	openlog(log_ident, LOG_PID, facility);
}

void log_init(const char *ident, enum log_level level, enum log_dest to)
{
	log_ident = ident;
	current_level = level;
	dest = to;
	if (to == LOG_DEST_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

enum log_level log_level(void)
{
	return current_level;
}

void log_style_set(enum log_format format, bool timestamps)
{
	log_format = format;
	log_timestamps = timestamps;
}

bool log_format_parse(const char *s, enum log_format *out)
{
	if (!strcmp(s, "text"))
		*out = LOG_FORMAT_TEXT;
	else if (!strcmp(s, "json"))
		*out = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

bool log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!env || *env < '0' || *env > '9')
		return false;
	errno = 0;
	dev = strtoull(env, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno || *end || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* "2026-12-01T06:41:00.123Z": UTC, milliseconds. */
static void time_format(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Appends s[0..n) JSON-escaped to line at *k (cap bytes in all), whole pieces only. */
static void json_append(char *line, size_t cap, size_t *k, const char *s, size_t n)
{
	char piece[JSON_ESCAPE_MAX];
	size_t i = 0, len;

	while (i < n) {
		size_t used = json_escape_next(s + i, n - i, piece, &len);

		if (*k + len >= cap)
			break;
		memcpy(line + *k, piece, len);
		*k += len;
		i += used;
	}
	line[*k] = '\0';
}

static void raw_append(char *line, size_t cap, size_t *k, const char *s)
{
	size_t n = strlen(s);

	if (*k + n >= cap)
		n = cap - *k - 1;
	memcpy(line + *k, s, n);
	*k += n;
	line[*k] = '\0';
}

/* One JSON object, no newline, into line (cap bytes). */
static size_t json_line(char *line, size_t cap, enum log_level level,
    const struct log_fields *fields, const char *msg, size_t len)
{
	static const char *const names[] = { "peer", "name", "endpoint" };
	const char *values[3] = { NULL };
	char t[32];
	size_t k = 0;

	time_format(t);
	raw_append(line, cap, &k, "{\"time\": \"");
	raw_append(line, cap, &k, t);
	raw_append(line, cap, &k, "\", \"level\": \"");
	raw_append(line, cap, &k, level_names[level]);
	raw_append(line, cap, &k, "\", \"program\": \"");
	json_append(line, cap, &k, log_ident, strlen(log_ident));
	raw_append(line, cap, &k, "\", \"message\": \"");
	json_append(line, cap, &k, msg, len);
	raw_append(line, cap, &k, "\"");
	if (fields) {
		values[0] = fields->peer;
		values[1] = fields->name;
		values[2] = fields->endpoint;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!values[i])
			continue;
		raw_append(line, cap, &k, ", \"");
		raw_append(line, cap, &k, names[i]);
		raw_append(line, cap, &k, "\": \"");
		json_append(line, cap, &k, values[i], strnlen(values[i], LOG_FIELD_MAX - 1));
		raw_append(line, cap, &k, "\"");
	}
	raw_append(line, cap, &k, "}");
	return k;
}

/* The one place a line is written: msg (len bytes, formatted, untrusted) escaped whole. */
static void emit(enum log_level level, const struct log_fields *fields, const char *msg,
    size_t len)
{
	/* JSON: the fixed keys, the message and three fields, each escaped (at most
	 * JSON_ESCAPE_MAX bytes per input byte); text: the prefix and the vis-escaped message. */
	char line[256 + JSON_ESCAPE_MAX * (LOG_MSG_MAX + 3 * LOG_FIELD_MAX)];
	char t[32];
	const char *tag = "";
	size_t k;
	int n;

	if (mirror_facility >= 0 && dest != LOG_DEST_SYSLOG && level <= LOG_LEVEL_WARN) {
		vis_escape(line, sizeof(line), msg, len);
		syslog(mirror_facility | syslog_priorities[level], "%s", line);
	}
	if (log_format == LOG_FORMAT_JSON) {
		k = json_line(line, sizeof(line) - 1, level, fields, msg, len);
		if (dest == LOG_DEST_SYSLOG) {
			syslog(syslog_priorities[level], "%s", line);
			return;
		}
		line[k++] = '\n';
		fwrite(line, 1, k, stderr);
		return;
	}
	if (dest == LOG_DEST_SYSLOG) {
		vis_escape(line, sizeof(line), msg, len);
		syslog(syslog_priorities[level], "%s", line);
		return;
	}
	if (dest == LOG_DEST_STDERR || level == LOG_LEVEL_WARN)
		tag = level_names[level];
	/* The prefix is trusted (a literal ident); one fwrite per line so that lines of two
	 * threads never interleave on the unbuffered stderr. */
	t[0] = '\0';
	if (log_timestamps && dest == LOG_DEST_STDERR) {
		time_format(t);
		strcat(t, " ");
	}
	n = snprintf(line, 96, "%s%.40s: %s%s", t, log_ident, tag, *tag ? ": " : "");
	vis_escape(line + n, sizeof(line) - (size_t)n - 1, msg, len);
	n += (int)strlen(line + n);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

/* Formats, appends ": strerror(err)" if with_err, and writes (if the level is enabled). */
__attribute__((format(printf, 5, 0)))
static void vlog(enum log_level level, const struct log_fields *fields, bool with_err, int err,
    const char *fmt, va_list ap)
{
	char buf[LOG_MSG_MAX];
	int n;

	if (level > current_level)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	n = n < 0 ? 0 : n < LOG_MSG_MAX ? n : LOG_MSG_MAX - 1;
	buf[n] = '\0';
	if (with_err) {
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(err < 0 ? -err : err));
		n += (int)strlen(buf + n);
	}
	emit(level, fields, buf, (size_t)n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, false, 0, fmt, ap);
	va_end(ap);
}

void log_errno(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, true, err, fmt, ap);
	va_end(ap);
}

void log_fields_msg(enum log_level level, const struct log_fields *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fields, false, 0, fmt, ap);
	va_end(ap);
}

bool log_ratelimit_check(struct log_ratelimit *rl, uint64_t now_ns, unsigned long *suppressed)
{
	*suppressed = 0;
	if (!rl->started ||
	    now_ns - rl->window_ns >= (uint64_t)LOG_RATELIMIT_INTERVAL * 1000000000u) {
		/* A new interval: report what the last ones dropped, then start over. */
		*suppressed = rl->suppressed;
		rl->started = true;
		rl->window_ns = now_ns;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < LOG_RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	return false;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, enum log_level level, const char *file,
    int line)
{
	struct timespec ts;
	unsigned long suppressed;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	pthread_mutex_lock(&ratelimit_lock);
	ok = log_ratelimit_check(rl, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
	    &suppressed);
	pthread_mutex_unlock(&ratelimit_lock);
	if (suppressed)
		log_msg(level, "%lu similar messages suppressed (%s:%d)", suppressed, file, line);
	return ok;
}
