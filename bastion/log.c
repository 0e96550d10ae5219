/* libssh's own messages into the logger (see log.h). */
#include "bastion/log.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

/* libssh logs only when the bastion runs with -v (the binds' LOG_VERBOSITY), and then
 * protocol detail: debug lines.  Its messages quote what clients send (banners, disconnect
 * reasons), so they go through the logger's escaping like every other line. */
static void libssh_log(int priority, const char *function, const char *buffer, void *userdata)
{
	(void)priority;
	(void)function;	/* libssh puts it at the start of buffer already */
	(void)userdata;
	log_debug("libssh: %.500s", buffer);
}

void blog_libssh_route(void)
{
	ssh_set_log_callback(libssh_log);
}
