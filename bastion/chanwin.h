/* Channel windows: the bastion's own copy of the receive window libssh advertises on a channel
 * it accepted, so that data sent past it is caught.  libssh 0.10 only logs such data ("Data
 * packet too big for our window") and keeps it, without bound; it does not let us see the
 * window either, so we follow its rules step by step (libssh 0.10 channels.c: 32,000 bytes at
 * accept; after each data message, and after each read, the window is re-opened to 1,280,000
 * once it falls below 640,000).  Every byte of the channel's data must pass through
 * chanwin_recv/chanwin_left (in the data callback) and chanwin_read (after
 * ssh_channel_read_nonblocking) for the copy to stay exact. */
#ifndef BASTION_CHANWIN_H
#define BASTION_CHANWIN_H

#include <stdbool.h>
#include <stdint.h>

enum {
	CHANWIN_INITIAL = 32000,	/* libssh 0.10: window of a channel the server accepts */
	CHANWIN_BASE = 1280000,		/* libssh 0.10 WINDOWBASE: what the window re-opens to */
	CHANWIN_LIMIT = CHANWIN_BASE / 2,	/* WINDOWLIMIT: re-opened when it falls below */
	/* The most libssh can hold for one channel of a peer that keeps to the window: re-opened
	 * (to BASE) while up to LIMIT bytes are still buffered. */
	CHANWIN_HELD_MAX = CHANWIN_BASE + CHANWIN_LIMIT,
};

struct chanwin {
	uint32_t window;	/* bytes the peer may still send */
	uint32_t held[2];	/* bytes libssh holds for us: [0] data, [1] extended (stderr) data */
};

void chanwin_init(struct chanwin *w);
/* A data message arrived: buffered is the length libssh passes to the data callback (what it
 * holds for that stream, the new message included).  False if the message went past the
 * window (the peer ignores flow control): the caller closes the connection. */
bool chanwin_recv(struct chanwin *w, uint32_t buffered, int is_stderr);
/* The data callback returns, leaving left bytes of that stream with libssh. */
void chanwin_left(struct chanwin *w, uint32_t left, int is_stderr);
/* n bytes of data were taken with ssh_channel_read*(). */
void chanwin_read(struct chanwin *w, uint32_t n);
/* Whether a read now makes libssh re-open the window (it does after any read below LIMIT). */
bool chanwin_read_reopens(const struct chanwin *w);

#endif
