/* What a listening socket does when accept() fails for want of a descriptor (EMFILE, ENFILE)
 * or of memory: the connection stays queued and the socket readable, so polled again at once
 * it would spin the one poll loop at full CPU, saying nothing.  Instead the listener gives up
 * the bastion's reserve descriptor to accept and close what waits (those clients see the
 * connection closed, not a hang), leaves the poll set for ACCEPT_GUARD_PAUSE_NS, and says
 * so, rate-limited.  Every listener of the network process (SSH, metrics) has one. */
#ifndef BASTION_ACCEPT_GUARD_H
#define BASTION_ACCEPT_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>

struct bastion;

#define ACCEPT_GUARD_PAUSE_NS 1000000000ull
enum { ACCEPT_GUARD_SHED_MAX = 64 };

struct accept_guard {
	int fd;				/* the listening socket (non-blocking) */
	ssh_event_callback cb;		/* its poll callback, and userdata, to put it back */
	void *ud;
	const char *who;		/* for the log line: "SSH", "metrics" */
	bool pause;			/* wanted off the poll set until resume_ns */
	bool polled;			/* on the poll set now */
	uint64_t resume_ns;		/* bastion_now_ns() time */
};

/* accept() on g->fd failed with err.  Transient errors (EAGAIN, EINTR, ECONNABORTED) are
 * ignored, others logged; out of descriptors or memory: shed and pause as above.  Returns how
 * many waiting connections were closed unread. */
unsigned accept_guard_failed(struct bastion *b, struct accept_guard *g, int err);
/* After each poll round (never inside a poll callback: libssh's loop must not see its set
 * change under it): takes g off the poll set when it was paused, puts it back once the pause
 * is over.  polled says where it is; the caller adds it first (polled = true). */
void accept_guard_sync(struct bastion *b, struct accept_guard *g, uint64_t now_ns);

#endif
