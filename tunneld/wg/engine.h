/* The pure WireGuard protocol engine for one interface: static identity, peers, handshakes
 * (Noise_IKpsk2), cookies, keypairs, transport encryption and all protocol timers.
 *
 * The engine does no I/O and reads no clock: the I/O layer hands it packets, buffers and the
 * time, and carries out what it answers.  It allocates only when a peer is added; the packet
 * path (wg_peer_encrypt, wg_engine_receive, wg_peer_tick) never allocates.  Single-threaded.
 *
 * Times: now_ns is CLOCK_MONOTONIC in nanoseconds (drives every timer); wall_ns is
 * CLOCK_REALTIME in nanoseconds (only for TAI64N timestamps and "latest handshake").
 */
#ifndef TUNNELD_WG_ENGINE_H
#define TUNNELD_WG_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WG_KEY_LEN = 32 };

/* Room the I/O layer leaves before an IP packet (for the data message header) and after it
 * (padding to 16 plus the authentication tag) so that encryption happens in place. */
enum { WG_DATA_HEADROOM = 16, WG_DATA_TAILROOM = 15 + 16 };

/* Largest datagram the engine writes into an out/tick buffer (handshake initiation). */
enum { WG_CONTROL_MAX_LEN = 148 };

/* Default handshake messages per second above which the engine considers itself under load
 * and answers with cookie replies instead of doing Diffie-Hellman. */
enum { WG_DEFAULT_LOAD_THRESHOLD = 1000 };

union wg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct wg_engine;
struct wg_peer;

/* Randomness source (ephemeral keys, indices, cookie secrets, timer jitter).  Default is
 * libsodium's randombytes_buf; tests install a deterministic one. */
typedef void wg_rng_fn(void *ctx, void *buf, size_t len);

/* Returns NULL on allocation failure. */
struct wg_engine *wg_engine_new(void);
/* Frees every peer and wipes all key material. */
void wg_engine_free(struct wg_engine *e);
void wg_engine_set_rng(struct wg_engine *e, wg_rng_fn *fn, void *ctx);
/* Sets the interface private key (NULL removes it).  As in the kernel, every peer's sessions
 * and handshake state are dropped when the key changes; unchanged key = no-op. */
void wg_engine_set_private_key(struct wg_engine *e, const uint8_t key[WG_KEY_LEN]);
/* false when no private key is set. */
/* A planned rotation of our own key (a roster names the new one).  Unlike
 * wg_engine_set_private_key, nothing is dropped and the old key keeps answering for a while:
 * every existing peer is "rotating" until it shows that it knows the new key (it completes a
 * handshake under it, either way).  Until then it may still handshake with us under the old
 * key (mac1 is checked against the new key first, then the old), and our initiations to it
 * alternate, old key first.  A peer that used the new key once is refused under the old one.
 * wg_engine_rotation_finish ends this; a rotation while one is in progress finishes that one
 * first.  An invalid key or the unchanged key (or NULL) is a no-op. */
void wg_engine_rotate_private_key(struct wg_engine *e, const uint8_t key[WG_KEY_LEN]);
/* Peers that have not yet handshaken under the new key (0 when no rotation is running). */
size_t wg_engine_rotation_unconfirmed(const struct wg_engine *e);
bool wg_engine_rotation_in_progress(const struct wg_engine *e);
/* Forgets the previous key (wiped): from now on only the new one answers.  Established
 * keypairs are kept; handshakes in progress under the old key are dropped.  No-op when no
 * rotation is running. */
void wg_engine_rotation_finish(struct wg_engine *e);
bool wg_engine_private_key(const struct wg_engine *e, uint8_t key[WG_KEY_LEN]);
bool wg_engine_public_key(const struct wg_engine *e, uint8_t key[WG_KEY_LEN]);
void wg_engine_set_load_threshold(struct wg_engine *e, unsigned handshakes_per_second);
/* true while the engine answers handshakes with cookie replies (more than the threshold in the
 * last second, and for a second after): read only, for metrics. */
bool wg_engine_under_load(const struct wg_engine *e, uint64_t now_ns);
/* The interface MTU: transport padding (to a multiple of 16) stops at it, as in the kernel, so
 * a full-size packet does not become an oversized, fragmented datagram.  0 (the default): no
 * cap.  The I/O layer sets it at start and whenever the MTU changes. */
void wg_engine_set_mtu(struct wg_engine *e, unsigned mtu);

/* Adds a peer; ctx is the I/O layer's own object for it, returned by wg_peer_ctx().
 * Returns NULL if the key is already a peer or on allocation failure.  Borrowed pointer,
 * valid until wg_engine_peer_remove() or wg_engine_free(). */
struct wg_peer *wg_engine_peer_add(struct wg_engine *e, const uint8_t public_key[WG_KEY_LEN],
    void *ctx);
/* Removes the peer, tearing its sessions down and wiping its key material at once. */
void wg_engine_peer_remove(struct wg_engine *e, struct wg_peer *p);
struct wg_peer *wg_engine_peer_lookup(const struct wg_engine *e,
    const uint8_t public_key[WG_KEY_LEN]);

void *wg_peer_ctx(const struct wg_peer *p);
const uint8_t *wg_peer_public_key(const struct wg_peer *p);
/* NULL clears it (all zeros, as WireGuard defines "no preshared key"). */
void wg_peer_set_preshared_key(struct wg_peer *p, const uint8_t psk[WG_KEY_LEN]);
/* false when none is set. */
bool wg_peer_preshared_key(const struct wg_peer *p, uint8_t psk[WG_KEY_LEN]);
/* 0 turns it off.  Turning it on schedules a keepalive at once (deadline = now). */
void wg_peer_set_persistent_keepalive(struct wg_peer *p, uint16_t seconds, uint64_t now_ns);
uint16_t wg_peer_persistent_keepalive(const struct wg_peer *p);
/* Drops every keypair and any handshake in progress, wiping them. */
void wg_peer_clear_sessions(struct wg_peer *p);
/* Re-keys a peer in place (a roster rotation): the peer table, the precomputed static-static
 * and the cookie keys follow the new key, a handshake in progress is dropped, established
 * keypairs are KEPT so that traffic continues until the next handshake (under the new key).
 * false, changing nothing, if the key is ours or another peer's. */
bool wg_peer_set_public_key(struct wg_peer *p, const uint8_t key[WG_KEY_LEN]);
/* Asks for a fresh handshake now (rate limited to one per REKEY_TIMEOUT, as always). */
void wg_peer_request_handshake(struct wg_peer *p, uint64_t now_ns);
/* Wall-clock time of the latest completed handshake, 0 if none. */
uint64_t wg_peer_last_handshake_wall_ns(const struct wg_peer *p);
/* true if a current keypair can send now. */
bool wg_peer_has_session(const struct wg_peer *p);

/* Outbound data.  pkt points at an IP packet of len bytes, with WG_DATA_HEADROOM writable bytes
 * before it and WG_DATA_TAILROOM after it.  len == 0 builds a keepalive. */
enum wg_send_result {
	/* pkt - WG_DATA_HEADROOM now holds a data message of *msg_len bytes for the endpoint. */
	WG_SEND_OK,
	/* No usable session.  Keep (stage) the packet; the engine has asked for a handshake
	 * (wg_peer_next_deadline() is now) and will report WG_RX_SESSION_READY when the staged
	 * packets can go. */
	WG_SEND_NO_SESSION,
};
enum wg_send_result wg_peer_encrypt(struct wg_peer *p, uint8_t *pkt, size_t len,
    uint64_t now_ns, size_t *msg_len);

/* Transport data in three steps, so that the AEAD can run on another thread (tunneld's crypto
 * workers): "prepare" on the engine's thread does all that needs protocol state (keypair,
 * counter, header, padding; on receipt the checks before decryption) and copies into a job
 * what the AEAD needs, the key by value; the job is sealed or opened anywhere; "finish" on the
 * engine's thread applies the result.  wg_peer_encrypt and wg_engine_receive are the same
 * steps run at once and give the same bytes and answers. */
struct wg_data_job {
	uint8_t key[WG_KEY_LEN];	/* a copy: the keypair may be gone when the job runs */
	uint64_t counter;
	uint8_t *data;		/* in the caller's buffer, after the 16-byte data header */
	size_t len;		/* seal: padded plaintext; open: ciphertext and tag */
	bool ok;		/* sealed; authenticated */
};
/* Any thread.  In place; key wiped.  A message that does not authenticate is wiped. */
void wg_data_job_seal(struct wg_data_job *j);
void wg_data_job_open(struct wg_data_job *j);

/* As wg_peer_encrypt (same arguments, results, counter, timers and rekeying), except that the
 * message is sealed by wg_data_job_seal(job) later; until then pkt - WG_DATA_HEADROOM holds its
 * header and the padded plaintext.  Nothing to finish: the message is ready once sealed.  A
 * job whose seal fails is dropped (wg_peer_encrypt drops the session then; OpenSSL does not
 * fail here). */
enum wg_send_result wg_peer_encrypt_prepare(struct wg_peer *p, uint8_t *pkt, size_t len,
    uint64_t now_ns, size_t *msg_len, struct wg_data_job *job);

/* Inbound datagrams. */
enum wg_rx_kind {
	WG_RX_DROP,		/* invalid, unauthenticated, replayed or unwanted; rx->why says */
	WG_RX_DATA,		/* buf + rx->inner_off holds a decrypted IP packet of rx->inner_len;
				 * the I/O layer checks its source against rx->peer's allowed IPs */
	WG_RX_KEEPALIVE,	/* authenticated keepalive */
	WG_RX_HANDSHAKE,	/* a handshake message was consumed (maybe rx->out_len to send) */
	WG_RX_COOKIE,		/* a cookie reply was consumed */
	WG_RX_UNDER_LOAD,	/* a cookie reply for src is in out (rx->out_len bytes) */
	WG_RX_PENDING,		/* wg_engine_receive_prepare only: a data message waits for its
				 * job to be opened and for wg_engine_receive_finish */
};

/* rx->flags */
enum {
	/* A session became usable: send this peer's staged packets now.  If none are staged, send
	 * a keepalive (wg_peer_encrypt with len 0) so that the responder can confirm the session. */
	WG_RX_SESSION_READY = 1 << 0,
	/* The authenticated sender's endpoint is src: update it (roaming). */
	WG_RX_ENDPOINT = 1 << 1,
};

/* Why a datagram was dropped (rx->reason): a small fixed set, counted per reason by the I/O
 * layer (docs/tunneld.md, "Metrics": tunneld_packets_dropped_total). */
enum wg_drop_reason {
	WG_DROP_MALFORMED,		/* wrong length or type, unusable source, bad inner packet */
	WG_DROP_BAD_MAC,		/* handshake message with a wrong mac1 (or mac2 under load) */
	WG_DROP_RATE_LIMITED,		/* handshake over its source's rate while under load */
	WG_DROP_HANDSHAKE_REJECTED,	/* unknown peer, replayed or flooding initiation, bad response
					 * or cookie reply */
	WG_DROP_NO_SESSION,		/* for an unknown index or an expired keypair */
	WG_DROP_BAD_AUTH,		/* data that does not authenticate */
	WG_DROP_REPLAY,			/* data whose counter the replay window refuses */
	WG_DROP_INTERNAL,		/* our own limits: no room, no free index, derivation failed */
	WG_DROP_REASONS,
};

struct wg_rx {
	struct wg_peer *peer;	/* authenticated sender, or NULL */
	size_t out_len;		/* > 0: a datagram in out to send back to src */
	size_t inner_off;
	size_t inner_len;
	unsigned flags;
	const char *why;	/* static string for WG_RX_DROP, for debug logs */
	enum wg_drop_reason reason;	/* for WG_RX_DROP, for counters */
};

/* Consumes one UDP payload received from src.  buf is decrypted in place.  out (out_cap >=
 * WG_CONTROL_MAX_LEN) receives a reply datagram if one is due. */
enum wg_rx_kind wg_engine_receive(struct wg_engine *e, const union wg_sockaddr *src,
    uint8_t *buf, size_t len, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *out, size_t out_cap, struct wg_rx *rx);

/* The engine's part of a data message between wg_engine_receive_prepare and
 * wg_engine_receive_finish: which keypair (by index and birth, so that one replaced meanwhile
 * is not mistaken for it), and the counter. */
struct wg_rx_pending {
	uint32_t local_index;
	uint64_t birthdate_ns;
	uint64_t counter;
};
/* As wg_engine_receive, except for a data message that passes every check before decryption:
 * WG_RX_PENDING, with job ready for wg_data_job_open and pending filled, and nothing else
 * done (rx is as for a drop, without a reason).  Other messages are handled completely. */
enum wg_rx_kind wg_engine_receive_prepare(struct wg_engine *e, const union wg_sockaddr *src,
    uint8_t *buf, size_t len, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *out, size_t out_cap, struct wg_rx *rx, struct wg_data_job *job,
    struct wg_rx_pending *pending);
/* The rest of wg_engine_receive for a prepared data message of len bytes at buf, opened in
 * place (authentic: the job's ok): the keypair looked up again (dropped, WG_DROP_NO_SESSION,
 * if it went away or expired meanwhile), then the replay window, the session and the timers
 * exactly as wg_engine_receive.  Call in the order the messages were received, per peer, for
 * the same answers (a replay window accepts some disorder, as on the wire). */
enum wg_rx_kind wg_engine_receive_finish(struct wg_engine *e, uint8_t *buf, size_t len,
    const struct wg_rx_pending *pending, bool authentic, uint64_t now_ns, uint64_t wall_ns,
    struct wg_rx *rx);

/* Timers.  The I/O layer arms one timer per peer at wg_peer_next_deadline() (UINT64_MAX: none),
 * re-reads it after every call on that peer, and when it expires calls wg_peer_tick() until it
 * answers WG_TICK_NONE.  Firing early is harmless. */
enum wg_tick_action {
	WG_TICK_NONE,		/* nothing more to do now */
	WG_TICK_SEND,		/* buf holds a datagram (initiation or keepalive) of *len bytes */
	WG_TICK_GAVE_UP,	/* handshake attempts exhausted: drop this peer's staged packets */
};
/* buf must hold at least WG_CONTROL_MAX_LEN bytes. */
enum wg_tick_action wg_peer_tick(struct wg_peer *p, uint64_t now_ns, uint64_t wall_ns,
    uint8_t *buf, size_t cap, size_t *len);
uint64_t wg_peer_next_deadline(const struct wg_peer *p);

#endif
