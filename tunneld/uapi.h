/* WireGuard's cross-platform userspace API on /var/run/wireguard/IFACE.sock (get=1 / set=1,
 * key=value lines, errno=N), so that the stock `wg` tool and wg-quick drive tunneld. */
#ifndef TUNNELD_UAPI_H
#define TUNNELD_UAPI_H

#include "device.h"

#define UAPI_SOCKET_DIR "/var/run/wireguard"

enum {
	UAPI_MAX_REQUEST = 16 << 20,	/* bytes of one request: ~50,000 peers' worth */
	UAPI_MAX_CLIENTS = 32,
};

struct uapi_server;

/* Creates the 0600 socket (refusing if another process serves it) and starts serving dev.
 * When the socket file is removed (wg-quick down does that), on_gone is called.  Returns 0 or a
 * negative errno. */
int uapi_server_start(struct uapi_server **out, struct device *dev,
    void (*on_gone)(struct device *dev));
/* Stops serving and removes the socket file. */
void uapi_server_stop(struct uapi_server *s);

#endif
