/* tunneld's Prometheus page (see metrics_page.h). */
#include "metrics_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "keys/lib/key.h"
#include "roster_sync.h"

static const char *const drop_reasons[WG_DROP_REASONS] = {
	[WG_DROP_MALFORMED] = "malformed",
	[WG_DROP_BAD_MAC] = "bad_mac",
	[WG_DROP_RATE_LIMITED] = "rate_limited",
	[WG_DROP_HANDSHAKE_REJECTED] = "handshake_rejected",
	[WG_DROP_NO_SESSION] = "no_session",
	[WG_DROP_BAD_AUTH] = "bad_auth",
	[WG_DROP_REPLAY] = "replay",
	[WG_DROP_INTERNAL] = "internal",
};

const char *metrics_drop_reason_name(unsigned reason)
{
	return reason < WG_DROP_REASONS ? drop_reasons[reason] : "internal";
}

/* Per-peer values, one family at a time (the format wants a family's samples together). */
enum peer_value { RX_BYTES, TX_BYTES, RX_PACKETS, TX_PACKETS, LAST_HANDSHAKE };

/* A roster node's key and name, sorted by key: a scrape looks every peer's name up once, in
 * O(log nodes), rather than walking the roster per peer and family on the event loop. */
struct key_name {
	const uint8_t *key;
	const char *name;
};

static int key_name_cmp(const void *a, const void *b)
{
	return memcmp(((const struct key_name *)a)->key, ((const struct key_name *)b)->key,
	    KEY_LEN);
}

/* names[i]: the roster name of the i-th peer of dev, "" if none.  NULL if out of memory (the
 * page then fails: a page without names would be misleading). */
static const char **peer_names(const struct device *dev, const struct roster_sync *rs)
{
	const struct roster *r = rs && rs->has_roster ? &rs->running : NULL;
	struct key_name *idx = NULL, probe, *hit;
	const char **names;
	size_t i = 0;

	names = calloc(dev->n_peers ? dev->n_peers : 1, sizeof(*names));
	if (!names)
		return NULL;
	if (r && r->n_nodes) {
		idx = calloc(r->n_nodes, sizeof(*idx));
		if (!idx) {
			free(names);
			return NULL;
		}
		for (size_t k = 0; k < r->n_nodes; k++)
			idx[k] = (struct key_name){ r->nodes[k].key, r->nodes[k].name };
		qsort(idx, r->n_nodes, sizeof(*idx), key_name_cmp);
	}
	for (const struct peer *p = dev->peers_head; p && i < dev->n_peers; p = p->next, i++) {
		probe.key = wg_peer_public_key(p->wg);
		hit = idx ? bsearch(&probe, idx, r->n_nodes, sizeof(*idx), key_name_cmp) : NULL;
		names[i] = hit ? hit->name : "";
	}
	free(idx);
	return names;
}

static void peer_family(struct prom_writer *w, const struct device *dev, const char **names,
    bool roster_mode, const char *name, const char *type, const char *help,
    enum peer_value what)
{
	char b64[KEY_B64_LEN + 1];
	struct prom_label l[2] = { { "public_key", b64 }, { "name", "" } };
	size_t n_labels = roster_mode ? 2 : 1, i = 0;
	uint64_t hs, v = 0;

	prom_family(w, name, type, help);
	for (const struct peer *p = dev->peers_head; p && i < dev->n_peers; p = p->next, i++) {
		key_to_base64(b64, wg_peer_public_key(p->wg));
		l[1].value = names[i];
		switch (what) {
		case RX_BYTES: v = p->rx_bytes; break;
		case TX_BYTES: v = p->tx_bytes; break;
		case RX_PACKETS: v = p->rx_packets; break;
		case TX_PACKETS: v = p->tx_packets; break;
		case LAST_HANDSHAKE:
			/* Seconds since the epoch, as the WireGuard exporters give it (0: never);
			 * its age is time() - value. */
			hs = wg_peer_last_handshake_wall_ns(p->wg);
			prom_sample_double(w, name, l, n_labels, (double)(hs / 1000000000ULL) +
			    (double)(hs % 1000000000ULL) / 1e9);
			continue;
		}
		prom_sample_u64(w, name, l, n_labels, v);
	}
}

static void counter(struct prom_writer *w, const char *name, const char *help, uint64_t v)
{
	prom_family(w, name, "counter", help);
	prom_sample_u64(w, name, NULL, 0, v);
}

static void gauge(struct prom_writer *w, const char *name, const char *help, double v)
{
	prom_family(w, name, "gauge", help);
	prom_sample_double(w, name, NULL, 0, v);
}

void metrics_page_write(struct prom_writer *w, const struct device *dev,
    const struct roster_sync *rs, uint64_t now_ns)
{
	const struct device_stats *st = &dev->stats;
	const struct prom_label info[2] = { { "version", WARREN_VERSION },
	    { "interface", dev->ifname } };
	struct prom_label reason = { "reason", NULL };
	const char **names = peer_names(dev, rs);

	prom_family(w, "tunneld_build_info", "gauge",
	    "Always 1; the labels give the version and the interface.");
	prom_sample_u64(w, "tunneld_build_info", info, 2, 1);
	gauge(w, "tunneld_peers", "Peers configured on the interface.", (double)dev->n_peers);
	if (!names) {
		prom_writer_fail(w);
		return;
	}
	peer_family(w, dev, names, rs != NULL, "tunneld_peer_receive_bytes_total", "counter",
	    "Bytes of authenticated datagrams received from the peer.", RX_BYTES);
	peer_family(w, dev, names, rs != NULL, "tunneld_peer_transmit_bytes_total", "counter",
	    "Bytes of datagrams sent to the peer.", TX_BYTES);
	peer_family(w, dev, names, rs != NULL, "tunneld_peer_receive_packets_total", "counter",
	    "Authenticated datagrams received from the peer.", RX_PACKETS);
	peer_family(w, dev, names, rs != NULL, "tunneld_peer_transmit_packets_total", "counter",
	    "Datagrams sent to the peer.", TX_PACKETS);
	peer_family(w, dev, names, rs != NULL, "tunneld_peer_last_handshake_timestamp_seconds", "gauge",
	    "Time of the latest completed handshake, seconds since the epoch; 0: none yet.",
	    LAST_HANDSHAKE);

	prom_family(w, "tunneld_packets_dropped_total", "counter",
	    "Packets dropped, by reason (docs/tunneld.md lists them).");
	for (unsigned i = 0; i < WG_DROP_REASONS; i++) {
		reason.value = metrics_drop_reason_name(i);
		prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->rx_dropped[i]);
	}
	reason.value = "wrong_allowed_ip";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->rx_bad_source);
	reason.value = "no_route";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->tun_no_route);
	reason.value = "no_endpoint";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->tun_no_endpoint);
	reason.value = "queue_full";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->staged_overflow);
	reason.value = "handshake_timeout";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->staged_dropped);
	reason.value = "send_failed";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->tx_dropped);
	reason.value = "truncated";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, dev->recv.truncated);
	reason.value = "bad_vnet_header";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->tun_bad_vnet);
	reason.value = "tun_write_failed";
	prom_sample_u64(w, "tunneld_packets_dropped_total", &reason, 1, st->tun_write_failed);

	counter(w, "tunneld_tun_gso_reads_total",
	    "TCP/UDP super-packets read from TUN and segmented (offloads on).", st->tun_gso_read);
	counter(w, "tunneld_tun_gso_segments_total",
	    "Packets the super-packets read from TUN were cut into.", st->tun_gso_segments);
	counter(w, "tunneld_tun_gro_writes_total",
	    "Coalesced super-packets written to TUN (offloads on).", st->tun_gro_written);
	counter(w, "tunneld_tun_gro_segments_total",
	    "Packets carried by the coalesced super-packets written to TUN.",
	    st->tun_gro_segments);

	counter(w, "tunneld_handshake_initiations_sent_total",
	    "Handshake initiations sent (first attempts and retries).",
	    st->handshake_initiations_sent);
	counter(w, "tunneld_handshake_initiations_received_total",
	    "Valid handshake initiations received and answered.",
	    st->handshake_initiations_answered);
	counter(w, "tunneld_handshakes_completed_total",
	    "Sessions established, as initiator or responder.", st->handshakes_completed);
	counter(w, "tunneld_cookie_replies_sent_total",
	    "Cookie replies sent instead of handshake responses, under load.",
	    st->cookie_replies_sent);
	counter(w, "tunneld_udp_gso_messages_total",
	    "GSO trains sent (UDP_SEGMENT: several datagrams in one message).",
	    dev->send4.gso_messages + dev->send6.gso_messages);
	counter(w, "tunneld_udp_gso_datagrams_total", "Datagrams sent inside GSO trains.",
	    dev->send4.gso_datagrams + dev->send6.gso_datagrams);
	counter(w, "tunneld_udp_gro_messages_total",
	    "GRO trains received (UDP_GRO: several datagrams in one message).",
	    dev->recv.gro_messages);
	counter(w, "tunneld_udp_gro_datagrams_total", "Datagrams received inside GRO trains.",
	    dev->recv.gro_datagrams);
	gauge(w, "tunneld_under_load",
	    "1 while handshakes are answered with cookie replies (under load), else 0.",
	    wg_engine_under_load(dev->engine, now_ns) ? 1 : 0);

	free(names);
	if (!rs)
		return;
	prom_family(w, "tunneld_roster_serial", "gauge",
	    "Serial of the running roster; 0: none yet.");
	prom_sample_u64(w, "tunneld_roster_serial", NULL, 0,
	    rs->has_roster ? rs->running.serial : 0);
	gauge(w, "tunneld_roster_issued_timestamp_seconds",
	    "When the running roster was signed, seconds since the epoch; 0: none yet.",
	    rs->has_roster ? (double)rs->running.issued : 0);
	gauge(w, "tunneld_roster_expiry_timestamp_seconds",
	    "When the running roster expires, seconds since the epoch; 0: it never does, or "
	    "none yet.", rs->has_roster && rs->running.has_expires ?
	    (double)rs->running.expires : 0);
	gauge(w, "tunneld_roster_expired",
	    "1 if the running roster has expired (tunnels stay; engineer logins are refused).",
	    rs->has_roster && roster_expiry_at(&rs->running, (int64_t)time(NULL), 0) ==
	    ROSTER_EXPIRY_EXPIRED ? 1 : 0);
	gauge(w, "tunneld_roster_revoked", "1 if this node is not on the running roster.",
	    rs->has_roster && rs->revoked ? 1 : 0);
}

void metrics_policy_write(struct prom_writer *w, bool applied,
    const struct metrics_policy_drop *d, size_t n)
{
	gauge(w, "tunneld_policy_applied", "1 if the running roster's node-to-node policy is in "
	    "force (or it has none); 0 if applying it failed and the previous one still is.",
	    applied ? 1 : 0);
	if (!n)
		return;
	prom_family(w, "tunneld_policy_dropped_packets_total", "counter",
	    "Packets from the tunnel dropped by each deny rule of the policy, and by its default.");
	for (size_t i = 0; i < n; i++) {
		struct prom_label l = { "rule", d[i].rule };

		prom_sample_u64(w, "tunneld_policy_dropped_packets_total", &l, 1, d[i].packets);
	}
}
