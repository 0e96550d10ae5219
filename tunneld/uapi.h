/* WireGuard's cross-platform userspace API on /var/run/wireguard/IFACE.sock (get=1 / set=1,
 * key=value lines, errno=N), so that the stock `wg` tool and wg-quick drive tunneld. */
#ifndef TUNNELD_UAPI_H
#define TUNNELD_UAPI_H

#include "device.h"

#define UAPI_SOCKET_DIR "/var/run/wireguard"

enum {
	/* Bytes of one request (~50,000 peers' worth); a larger one is read to its end without
	 * being kept and answered errno=-EMSGSIZE. */
	UAPI_MAX_REQUEST = 16 << 20,
	/* Connections at once; when all are taken, the oldest is closed for a newcomer. */
	UAPI_MAX_CLIENTS = 32,
	/* Seconds a client may leave its request unsent or its answer unread before it is
	 * closed; and seconds a connection may last in all (a request and its answer take
	 * milliseconds, even at the size cap). */
	UAPI_IDLE_TIMEOUT = 2,
	UAPI_DEADLINE = 10,
	/* Input bytes buffered per client before reading pauses for the lines to be taken. */
	UAPI_READ_CHUNK = 64 << 10,
};

struct evbuffer;
struct uapi_server;

/* The line framing of a control connection, apart from the socket (fuzz_uapi_set drives it).
 * The search for '\n' resumes where the last one stopped, so a request costs time in
 * proportion to its size whatever the size of the reads (the whole buffer used to be searched
 * again on each read: 10 s of loop time for 8 MiB); a line too long to be valid is reported
 * once and dropped as it arrives, never buffered. */
struct uapi_framer {
	size_t scanned;		/* input bytes already searched for '\n' */
	bool in_long_line;	/* dropping the rest of a line reported as too long */
};
enum uapi_frame {
	UAPI_FRAME_NONE,	/* no complete line in the input (yet) */
	UAPI_FRAME_LINE,	/* line[0..*len): one line without its '\n'; *len 0 is the blank line */
	UAPI_FRAME_LONG,	/* a line of CONFIG_UAPI_LINE_MAX bytes or more: line holds its first
				 * CONFIG_UAPI_LINE_MAX bytes (not terminated) */
};
/* Takes the next line from in (a zeroed framer starts a connection).  Bytes taken from in are
 * wiped there first (requests carry keys); *taken counts them, for the request size cap.
 * *len is set for UAPI_FRAME_LINE only. */
enum uapi_frame uapi_frame_next(struct uapi_framer *f, struct evbuffer *in,
    char line[static CONFIG_UAPI_LINE_MAX], size_t *len, size_t *taken);

/* Creates the 0600 socket (refusing if another process serves it) and starts serving dev.
 * When the socket file is removed (wg-quick down does that), on_gone is called.  Returns 0 or a
 * negative errno; every failure is logged here, once, with the call, the path and the cause. */
int uapi_server_start(struct uapi_server **out, struct device *dev,
    void (*on_gone)(struct device *dev));
/* Stops serving and removes the socket file. */
void uapi_server_stop(struct uapi_server *s);

#endif
