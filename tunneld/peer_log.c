/* Peers in log lines (see peer_log.h). */
#include "peer_log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "device.h"

void peer_log_init(struct peer_log *l, const uint8_t key[KEY_LEN], const char *name,
    const struct peer *p)
{
	char a[INET6_ADDRSTRLEN];

	key_to_base64(l->key, key);
	if (name && name[0])
		snprintf(l->text, sizeof(l->text), "peer %.*s (%.*s)", PEER_NAME_SIZE - 1, name,
		    PEER_LOG_KEY_CHARS, l->key);
	else
		snprintf(l->text, sizeof(l->text), "peer %.*s", PEER_LOG_KEY_CHARS, l->key);
	l->endpoint[0] = '\0';
	if (p && p->endpoint.addr.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &p->endpoint.addr.in4.sin_addr, a, sizeof(a));
		snprintf(l->endpoint, sizeof(l->endpoint), "%s:%u", a,
		    ntohs(p->endpoint.addr.in4.sin_port));
	} else if (p && p->endpoint.addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &p->endpoint.addr.in6.sin6_addr, a, sizeof(a));
		snprintf(l->endpoint, sizeof(l->endpoint), "[%s]:%u", a,
		    ntohs(p->endpoint.addr.in6.sin6_port));
	}
	l->fields.peer = l->key;
	l->fields.name = name && name[0] ? name : NULL;
	l->fields.endpoint = l->endpoint[0] ? l->endpoint : NULL;
}

void peer_log_of(struct peer_log *l, const struct peer *p)
{
	peer_log_init(l, wg_peer_public_key(p->wg), p->name, p);
}
