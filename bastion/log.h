/* The bastion's operational log (not the audit log): levels, an errno variant, stderr.
 * systemd's journal collects stderr.  Untrusted strings must be bounded by the caller. */
#ifndef BASTION_LOG_H
#define BASTION_LOG_H

#include <stdbool.h>

enum blog_level { BLOG_ERROR, BLOG_WARN, BLOG_INFO, BLOG_DEBUG };

void blog_init(enum blog_level level);
enum blog_level blog_level(void);
void blog_msg(enum blog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": strerror(err)" (err positive or negative). */
void blog_errno(enum blog_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define blog_error(...)	blog_msg(BLOG_ERROR, __VA_ARGS__)
#define blog_warn(...)	blog_msg(BLOG_WARN, __VA_ARGS__)
#define blog_info(...)	blog_msg(BLOG_INFO, __VA_ARGS__)
#define blog_debug(...)	do { if (blog_level() >= BLOG_DEBUG) blog_msg(BLOG_DEBUG, __VA_ARGS__); } while (0)

#endif
