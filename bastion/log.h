/* The bastion's operational log (not the audit log): the common logger (common/log.h), on
 * stderr, which systemd's journal collects.  Every message is escaped whole there, so a jump
 * target or a key comment cannot forge a line.  The blog_ names are the bastion's own for
 * the same calls. */
#ifndef BASTION_LOG_H
#define BASTION_LOG_H

#include "common/log.h"

#define BLOG_ERROR	LOG_LEVEL_ERROR
#define BLOG_WARN	LOG_LEVEL_WARN
#define BLOG_INFO	LOG_LEVEL_INFO
#define BLOG_DEBUG	LOG_LEVEL_DEBUG

#define blog_init(level)	log_init("bastion", (level), LOG_DEST_STDERR)
#define blog_level()		log_level()
#define blog_msg		log_msg
#define blog_errno		log_errno
#define blog_error		log_error
#define blog_warn		log_warn
#define blog_info		log_info
#define blog_debug		log_debug
#define blog_error_rl		log_error_rl
#define blog_warn_rl		log_warn_rl
#define blog_info_rl		log_info_rl
#define blog_debug_rl		log_debug_rl

/* Routes libssh's own messages (written to stderr unescaped otherwise) into the logger. */
void blog_libssh_route(void);

#endif
