/* tunneld's logging: the common logger (common/log.h: levels, errno variant, escaping, per
 * call site rate limits), plus libevent's own messages routed into it. */
#ifndef TUNNELD_LOG_H
#define TUNNELD_LOG_H

#include "common/log.h"

/* Routes libevent's messages (accept() failures, allocation failures...) into the logger,
 * rate-limited: under fd exhaustion libevent would say the same thing millions of times. */
void log_libevent_route(void);

#endif
