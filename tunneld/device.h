/* One tunnel interface: the TUN device, the UDP sockets, the protocol engine, the cryptokey
 * routing table and the peers, driven by a libevent loop. */
#ifndef TUNNELD_DEVICE_H
#define TUNNELD_DEVICE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/allowedips.h"
#include "config.h"
#include "firewall.h"
#include "wg/engine.h"
#include "udp.h"

struct crypt_stage;
struct event;
struct event_base;
struct firewall;
struct gro_batch;
struct netlink;
struct resolver;

enum {
	DEFAULT_MTU = 1420,
	/* Packets read from TUN or the sockets per event before yielding to other events. */
	DEVICE_BATCH = UDP_BATCH,
	/* Packets waiting for a handshake, per peer and in all (the kernel's MAX_STAGED_PACKETS). */
	MAX_STAGED_PACKETS = 128,
	MAX_STAGED_TOTAL = 4096,
};

struct staged_packet {
	struct staged_packet *next;
	size_t len;
	uint8_t *data;		/* WG_DATA_HEADROOM + mtu + WG_DATA_TAILROOM bytes */
};

struct peer {
	struct device *dev;
	struct wg_peer *wg;
	struct peer *next;
	struct peer *prev;
	/* Where the peer is (addr.sa.sa_family AF_UNSPEC: not known yet) and the local address
	 * it last reached us at, which our datagrams to it leave from. */
	struct udp_endpoint endpoint;
	union wg_sockaddr configured_endpoint;	/* as last configured, to tell roaming from a change */
	char endpoint_host[256];	/* a name from the config, re-resolved when silent; "" if none */
	char endpoint_port[8];
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_packets;		/* authenticated datagrams from the peer */
	uint64_t tx_packets;		/* datagrams sent to it */
	struct staged_packet *staged_head;
	struct staged_packet *staged_tail;
	unsigned staged_count;
	struct event *timer;
	uint64_t armed_deadline;	/* UINT64_MAX: not armed */
	uint64_t last_resolve_ns;
	uint64_t last_rx_ns;		/* latest authenticated packet from the peer; 0 = never */
	uint64_t last_session_ns;	/* latest session made (monotonic); 0 = never */
	char name[64];			/* the roster's name, "" if none (peer_log.h) */
	/* Tag of the lookup of endpoint_host whose answer the peer still wants; 0: none.  An
	 * answer with another tag is stale (the name changed, or a newer lookup was asked for)
	 * and is dropped. */
	uint64_t resolve_tag;
	/* This peer's prefixes in the allowed-IPs trie, kept here so that listing, routing and
	 * removal cost O(own prefixes), not a walk of the whole trie. */
	struct config_prefix *allowed_ips;
	size_t n_allowed_ips;
	size_t cap_allowed_ips;
	unsigned config_gen;		/* last file configuration that listed it */
	bool dirty;			/* on the device's touched list this batch */
	struct peer *dirty_next;
};

/* Counted where the decision is made, plain increments: the device is driven by one thread
 * (its event loop), which also serves the metrics (tunneld/metrics.c). */
struct device_stats {
	uint64_t tun_no_route;		/* no peer's allowed IPs hold the destination */
	uint64_t tun_no_endpoint;
	uint64_t staged_overflow;	/* a peer's or the device's staging queue was full */
	uint64_t staged_dropped;	/* staged packets discarded (handshake gave up, peer gone) */
	uint64_t rx_dropped[WG_DROP_REASONS];	/* engine drops, by reason */
	uint64_t rx_bad_source;		/* inner source outside the sender's allowed IPs */
	uint64_t tx_dropped;
	uint64_t handshake_initiations_sent;
	uint64_t handshake_initiations_answered;	/* valid initiations we responded to */
	uint64_t handshakes_completed;	/* sessions confirmed, as initiator or responder */
	uint64_t cookie_replies_sent;	/* under load: cookie replies instead of responses */
	/* TUN offloads (docs/tunneld.md). */
	uint64_t tun_gso_read;		/* super-packets read from TUN and segmented */
	uint64_t tun_gso_segments;	/* packets they were cut into */
	uint64_t tun_bad_vnet;		/* reads dropped: hostile or unusable virtio-net header */
	uint64_t tun_gro_written;	/* coalesced super-packets written to TUN */
	uint64_t tun_gro_segments;	/* packets they carried */
	uint64_t tun_write_failed;	/* writes to TUN the kernel refused */
};

struct device {
	char ifname[IFNAMSIZ];
	int ifindex;
	bool manage_network;		/* -c mode: addresses, MTU, link and routes are ours */
	struct event_base *base;
	struct wg_engine *engine;
	struct allowedips table;
	struct peer *peers_head;
	struct peer *peers_tail;
	size_t n_peers;
	struct peer *dirty_head;
	unsigned config_gen;
	int tun_fd;
	unsigned tun_offloads;		/* TUN_OFFLOAD_* (tun.h); 0: plain reads and writes */
	struct udp udp;
	bool offload;			/* segmentation offloads where the kernel has them (UDP GSO/GRO) */
	bool has_listen_port;
	uint16_t listen_port;		/* as configured (0: random) */
	uint32_t fwmark;		/* on the UDP sockets; managing routes, never 0 */
	uint32_t route_table;		/* manage_network: our routing table (device_route_table) */
	uint32_t rule_mark;		/* mark in our installed policy rules; 0: none yet */
	unsigned mtu;
	struct netlink *nl;
	struct firewall *fw;		/* overlay firewall (manage_network, unless turned off
					 * with no policy to enforce) */
	struct firewall_policy policy;	/* the roster's, for this node (device_set_policy) */
	bool policy_applied;		/* policy is what the kernel enforces */
	struct addr_watch *addr_watch;	/* forgets sticky sources the host no longer has */
	struct resolver *resolver;
	uint64_t resolve_seq;		/* last lookup tag handed out, device-wide */
	struct config_prefix *addresses;	/* applied (manage_network) */
	size_t n_addresses;
	struct config_prefix *routes;		/* applied (manage_network) */
	size_t n_routes;
	struct event *ev_tun;
	struct event *ev_udp4;
	struct event *ev_udp6;
	struct event *ev_mtu;		/* UAPI mode: wg-quick sets the MTU behind our back */
	/* Preallocated packet buffers. */
	size_t buf_size;
	uint8_t *rx_bufs;			/* DEVICE_BATCH x buf_size */
	uint8_t *tx_bufs;			/* DEVICE_BATCH x buf_size */
	uint8_t *tun_read_buf;		/* offloads: a virtio-net header and a super-packet */
	struct gro_batch *gro;		/* offloads: packets for TUN gathered in a batch */
	struct staged_packet *staged_pool;	/* free list */
	struct staged_packet *staged_pool_base;	/* the array behind it */
	uint8_t *staged_mem;
	unsigned staged_in_use;
	struct udp_send_batch send4;
	struct udp_send_batch send6;
	struct udp_recv_batch recv;
	struct crypt_stage *crypt;	/* crypto workers (crypt_stage.h); NULL: inline */
	struct device_stats stats;
	bool closing;
	void (*on_fatal)(struct device *dev, const char *why);
};

/* Creates the interface (TUN, netlink handle, engine, buffers).  manage_network: tunneld owns
 * addresses/MTU/link/routes (config file mode).  offload: use TUN segmentation offloads if the
 * kernel has them (the choice is logged once).  Returns 0 or a negative errno; every failure
 * is logged here, once, with the call or path and the cause. */
int device_create(struct device *dev, struct event_base *base, const char *ifname,
    bool manage_network, bool offload);
/* (Re)binds the UDP sockets to port (0: random).  Returns 0 or a negative errno. */
int device_bind(struct device *dev, uint16_t port);
/* The routing table a config-file interface routes into, and its default UDP mark: one
 * number per interface name (so a restart finds what a crashed run left), 0x77xxxxxx: two
 * names share one with odds of 1 in 2^24. */
uint32_t device_route_table(const char *ifname);
/* Reads the interface MTU and hands it to the engine (padding stops at the MTU). */
void device_sync_mtu(struct device *dev);
/* Removes peers, routes and addresses we added, closes everything, wipes keys. */
void device_destroy(struct device *dev);
/* Packet buffer memory: len bytes, zeroed, mapped (pages are used only when touched); unmapped
 * with the pages in use wiped first (they held plaintext). */
void *device_buffers_map(size_t len);
void device_buffers_unmap(uint8_t *mem, size_t len);

/* Applies a whole configuration (file mode): only differences are applied; unchanged peers
 * keep their sessions.  Returns 0 only if every part applied (port, fwmark, peers, allowed
 * IPs, MTU, addresses, link, routes); otherwise the first failure's negative errno, each
 * failure logged.  A failed bind changes nothing; other failures leave the rest applied and
 * the failed part recorded as missing, so calling again retries it. */
int device_apply_file_config(struct device *dev, const struct config *c);
/* Enforces p (the roster's policy for this node; copied) on what arrives through the tunnel,
 * in the overlay firewall's table (opened for it even under OverlayFirewall = off), without
 * touching a session.  An equal policy changes nothing.  On failure the previous one stays in
 * force (policy_applied false) and the error is logged.  Returns 0 or a negative errno. */
int device_set_policy(struct device *dev, const struct firewall_policy *p);
/* device_apply_file_config for a change of a few peers: c holds every setting but lists only
 * the peers that are new or changed (each applied in full, as the file path does); the peers
 * whose public keys are in gone[] (n_gone of them; keys that are no peer are skipped) are
 * removed, every other peer is left untouched.  Costs O(changed peers) in the peer table
 * (the routes still follow every peer's allowed IPs).  Returns as device_apply_file_config. */
int device_apply_file_config_delta(struct device *dev, const struct config *c,
    const uint8_t (*gone)[WG_KEY_LEN], size_t n_gone);
/* Applies a UAPI set request.  Returns 0 or a positive errno for "errno=N". */
int device_apply_uapi_set(struct device *dev, const struct config *c);
/* Writes the UAPI get response body (without the final errno line) through emit. */
typedef void device_emit_fn(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void device_uapi_get(struct device *dev, device_emit_fn *emit, void *ctx);

#endif
