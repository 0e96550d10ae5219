/* The local tunneld's view of its peers over its UAPI socket, as `wg show` reads it (see
 * fleet.h; the protocol: https://www.wireguard.com/xplatform/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/fleet.h"

#define UAPI_DIR "/var/run/wireguard"

static struct fleet_node *node_by_key(struct fleet_node *nodes, size_t n,
    const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(nodes[i].rn->key, key, KEY_LEN) == 0)
			return &nodes[i];
	return NULL;
}

static bool hex_key(const char *v, uint8_t key[KEY_LEN])
{
	size_t len;

	return strlen(v) == 2 * KEY_LEN &&
	    sodium_hex2bin(key, KEY_LEN, v, 2 * KEY_LEN, NULL, &len, NULL) == 0 && len == KEY_LEN;
}

static bool uint_value(const char *v, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !*end && !errno;
}

/* One "key=value" line; cur is the node of the last public_key= line (NULL: not ours). */
static void line_apply(char *line, struct fleet_node *nodes, size_t n, struct fleet_node **cur)
{
	uint8_t key[KEY_LEN], pub[KEY_LEN];
	char *v = strchr(line, '=');
	struct fleet_node *f;

	if (!v)
		return;
	*v++ = '\0';
	if (!strcmp(line, "private_key")) {
		if (hex_key(v, key) && crypto_scalarmult_base(pub, key) == 0 &&
		    (f = node_by_key(nodes, n, pub)))
			f->self = true;
		sodium_memzero(key, sizeof(key));
		sodium_memzero(v, strlen(v));
		return;
	}
	if (!strcmp(line, "public_key")) {
		*cur = hex_key(v, key) ? node_by_key(nodes, n, key) : NULL;
		if (*cur)
			(*cur)->has_local = true;
		return;
	}
	if (!*cur)
		return;
	if (!strcmp(line, "preshared_key"))
		sodium_memzero(v, strlen(v));
	else if (!strcmp(line, "endpoint"))
		snprintf((*cur)->endpoint, sizeof((*cur)->endpoint), "%s", v);
	else if (!strcmp(line, "last_handshake_time_sec"))
		uint_value(v, &(*cur)->last_handshake);
	else if (!strcmp(line, "rx_bytes"))
		uint_value(v, &(*cur)->rx_bytes);
	else if (!strcmp(line, "tx_bytes"))
		uint_value(v, &(*cur)->tx_bytes);
}

int fleet_uapi_read(const char *ifname, struct fleet_node *nodes, size_t n, char *why,
    size_t whylen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct fleet_node *cur = NULL;
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	ssize_t r;
	int fd = -1, ret;

	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), UAPI_DIR "/%s.sock", ifname) >=
	    sizeof(sun.sun_path) || strchr(ifname, '/')) {
		snprintf(why, whylen, "interface name '%.40s' is not valid", ifname);
		ret = -EINVAL;
		goto out;
	}
	buf = malloc(FLEET_UAPI_MAX + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || fd < 0) {
		ret = !buf ? -ENOMEM : -errno;
		snprintf(why, whylen, "%s", strerror(-ret));
		goto out;
	}
	/* A bounded wait: a wedged daemon must not hang the status table. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 5 },
	    sizeof(struct timeval));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    write(fd, "get=1\n\n", 7) != 7) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", sun.sun_path, strerror(errno));
		goto out;
	}
	/* The answer ends with "errno=N\n\n"; tunneld then waits for the next request. */
	while (len < 2 || memcmp(buf + len - 2, "\n\n", 2) != 0) {
		r = read(fd, buf + len, FLEET_UAPI_MAX - len);
		if (r <= 0 || len + (size_t)r >= FLEET_UAPI_MAX) {
			ret = r < 0 ? -errno : -EPROTO;
			snprintf(why, whylen, "%s: %s", sun.sun_path,
			    r < 0 ? strerror(errno) : r == 0 ? "closed before the end of the answer" :
			    "answer too large");
			goto out;
		}
		len += (size_t)r;
	}
	buf[len] = '\0';
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		if (!strncmp(line, "errno=", 6) && strcmp(line, "errno=0") != 0) {
			snprintf(why, whylen, "%s: tunneld answered %.40s", sun.sun_path, line);
			ret = -EPROTO;
			goto out;
		}
		line_apply(line, nodes, n, &cur);
	}
	ret = 0;
out:
	if (buf) {
		sodium_memzero(buf, len);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}
