/* Listening sockets out of descriptors: shed, pause, resume (see accept_guard.h). */
#include "bastion/accept_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bastion/bastion.h"
#include "bastion/log.h"

unsigned accept_guard_failed(struct bastion *b, struct accept_guard *g, int err)
{
	unsigned shed = 0;
	int fd;

	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
		return 0;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		blog_info_rl("%s listener: accept failed: %s", g->who, strerror(err));
		return 0;
	}
	if (b->reserve_fd >= 0) {
		close(b->reserve_fd);
		b->reserve_fd = -1;
	}
	while (shed < ACCEPT_GUARD_SHED_MAX &&
	    (fd = accept4(g->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		close(fd);
		shed++;
	}
	b->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g->pause = true;
	g->resume_ns = bastion_now_ns() + ACCEPT_GUARD_PAUSE_NS;
	b->dirty = true;
	blog_warn_rl("%s listener: cannot accept connections (%s): %u closed unread; pausing "
	    "for 1 s (raise LimitNOFILE?)", g->who, strerror(err), shed);
	return shed;
}

void accept_guard_sync(struct bastion *b, struct accept_guard *g, uint64_t now_ns)
{
	if (g->pause && now_ns >= g->resume_ns)
		g->pause = false;
	if (g->pause && g->polled) {
		ssh_event_remove_fd(b->ev, g->fd);
		g->polled = false;
	} else if (!g->pause && !g->polled &&
	    ssh_event_add_fd(b->ev, g->fd, POLLIN, g->cb, g->ud) == SSH_OK) {
		g->polled = true;
	}
}
