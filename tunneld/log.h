/* The one logging API of tunneld: levels, an errno variant, stderr (foreground) or syslog
 * (daemonized).  Untrusted strings must be bounded by the caller ("%.100s"). */
#ifndef TUNNELD_LOG_H
#define TUNNELD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *ident, enum log_level level, bool use_syslog);
enum log_level log_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": strerror(err)" (err is a positive or negative errno). */
void log_errno(enum log_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_level() >= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

#endif
