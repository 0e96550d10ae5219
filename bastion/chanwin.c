/* Channel windows: libssh 0.10's receive-window accounting, replayed (see chanwin.h). */
#include <libssh/libssh_version.h>

#include "bastion/chanwin.h"

/* The rules below are libssh 0.10's (channel_rcv_data, ssh_channel_read_timeout, accept);
 * another series may differ (0.11 enforces the window itself): check before moving. */
#if LIBSSH_VERSION_MAJOR != 0 || LIBSSH_VERSION_MINOR != 10
#error "chanwin.c replays libssh 0.10's channel window rules"
#endif

void chanwin_init(struct chanwin *w)
{
	w->window = CHANWIN_INITIAL;
	w->held[0] = w->held[1] = 0;
}

bool chanwin_recv(struct chanwin *w, uint32_t buffered, int is_stderr)
{
	uint32_t *held = &w->held[is_stderr ? 1 : 0];
	uint32_t n = buffered >= *held ? buffered - *held : 0;

	*held = buffered;
	if (n > w->window) {
		w->window = 0;	/* as libssh does ("buggy remote") */
		return false;
	}
	w->window -= n;
	return true;
}

void chanwin_left(struct chanwin *w, uint32_t left, int is_stderr)
{
	uint32_t *held = &w->held[is_stderr ? 1 : 0];

	*held = left;
	/* channel_rcv_data: re-opened when window + what that stream still holds < LIMIT. */
	if ((uint64_t)w->window + *held < CHANWIN_LIMIT && w->window < CHANWIN_BASE)
		w->window = CHANWIN_BASE;
}

void chanwin_read(struct chanwin *w, uint32_t n)
{
	w->held[0] -= n < w->held[0] ? n : w->held[0];
	/* ssh_channel_read_timeout: "authorize some buffering while userapp is busy". */
	if (w->window < CHANWIN_LIMIT)
		w->window = CHANWIN_BASE;
}

bool chanwin_read_reopens(const struct chanwin *w)
{
	return w->window < CHANWIN_LIMIT;
}
