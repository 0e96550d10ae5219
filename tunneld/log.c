/* libevent's messages into the common logger (see log.h). */
#include "log.h"

#include <event2/event.h>

static void libevent_log(int severity, const char *msg)
{
	enum log_level level = severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERROR :
	    severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN :
	    severity == EVENT_LOG_MSG ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;

	log_rl(level, "libevent: %.300s", msg);
}

void log_libevent_route(void)
{
	event_set_log_callback(libevent_log);
}
