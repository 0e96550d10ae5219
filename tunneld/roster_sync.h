/* Roster mode: tunneld's peers, addresses and identity come from the signed roster.
 *
 * A candidate roster (the persisted file at start, Roster + ".new" dropped by `keys push`,
 * SIGHUP, or a gossip POST/pull) is accepted only if it parses completely and canonically,
 * the network is the running one, the signature verifies against the pinned admin key (or an
 * endorsement chain from it) and the serial is strictly higher.  Otherwise it is rejected with
 * the reason logged and nothing changes.  An accepted roster is persisted atomically by a
 * persister thread (the event loop never waits for the disk) and, once on disk, applied as a
 * diff through device_apply_file_config; only a fully applied roster is served and announced
 * (an apply that failed in part is retried with backoff).
 *
 * Trust: the pinned key starts as the configured AdminKey and follows only endorsement chains
 * verified from it (at start, the persisted roster's); no file is trusted on its own. */
#ifndef TUNNELD_ROSTER_SYNC_H
#define TUNNELD_ROSTER_SYNC_H

#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/roster.h"
#include "config.h"

struct device;
struct event;
struct roster_sync;

enum {
	/* Seconds the previous key keeps answering peers that have not used the new one yet
	 * (they run an older roster); the rotation ends earlier once every peer has. */
	ROSTER_ROTATION_GRACE = 300,
	/* Seconds between retries of a rotation step that failed (an unusable
	 * PrivateKeyFile.next, a failed rename) and checks of the grace period. */
	ROSTER_ROTATION_TICK = 1,
};

/* Where a roster's time went, from the moment tunneld began to take it (claiming Roster.new,
 * or a gossip body in hand) until it ran; CLOCK_MONOTONIC nanoseconds.  Logged when it runs. */
struct roster_timing {
	uint64_t start_ns;
	uint64_t read_ns;	/* claiming and reading the file (0: it came by gossip) */
	uint64_t check_ns;	/* header, signature, parse */
	uint64_t persist_ns;	/* written and synced to disk by the persister thread */
	uint64_t apply_ns;	/* diffed and applied to the device */
};

/* Called after a roster was accepted, persisted and fully applied (gossip announces it). */
typedef void roster_sync_accepted_fn(void *ctx, struct roster_sync *rs);

enum roster_offer_result {
	ROSTER_OFFER_ACCEPTED,
	ROSTER_OFFER_NOT_NEWER,		/* valid but serial <= running: harmless, nothing to do */
	ROSTER_OFFER_INVALID,		/* unparsable, bad signature, other network, ... */
	ROSTER_OFFER_FAILED,		/* valid and newer but could not be queued */
};

enum {
	ROSTER_RETRY_MAX = 60,		/* seconds: longest wait between apply attempts */
	ROSTER_EXPIRY_TICK = 10,	/* seconds: how late an expiry or a warning may be logged */
};

struct roster_sync {
	struct device *dev;
	char path[PATH_MAX];		/* Roster: the persisted, running roster */
	char new_path[PATH_MAX];	/* Roster + ".new": candidates dropped here */
	char claim_path[PATH_MAX];	/* dir/.BASE.new.claim: Roster.new once claimed */
	char key_path[PATH_MAX];	/* PrivateKeyFile */
	char next_key_path[PATH_MAX];	/* PrivateKeyFile + ".next": a rotation key waiting */
	uint8_t pinned[KEY_LEN];	/* trust anchor: AdminKey, or a key endorsed from it */
	struct config base;		/* ListenPort, FwMark, MTU from the config file (no peers) */
	bool has_roster;
	struct roster running;		/* installed (applied, maybe only in part) */
	char *text;			/* the last fully applied roster's signed text: what gossip */
	size_t text_len;		/* serves and announces (shared: roster_sync_text_hold) */
	uint64_t text_serial;
	char *pending_text;		/* running's text while its apply is incomplete */
	size_t pending_text_len;
	unsigned retries;		/* failed apply attempts of running so far */
	struct event *ev_retry;
	bool has_queued;		/* accepted, handed to the persister, not yet installed */
	struct roster_timing queued_timing;
	struct roster queued;
	char *queued_text;
	size_t queued_text_len;
	bool revoked;			/* no node with our key in the running roster */
	const struct roster_node *self;	/* borrowed from running; NULL when revoked/none */
	int inotify_fd;
	struct event *ev_inotify;
	/* Expiry (docs/roster.md, "Expiry"): tunnels stay; the state is logged once per change
	 * and exported (tunneld_roster_expired).  Checked at each install and every
	 * ROSTER_EXPIRY_TICK seconds. */
	int64_t expiry_warning;		/* RosterExpiryWarning, seconds */
	struct roster_expiry_tracker expiry;
	struct event *ev_expiry;
	/* Rotation of our own key (docs/roster.md, "Rotating a node's key"). */
	struct event *ev_rotation;	/* ROSTER_ROTATION_TICK timer while anything below is on */
	bool next_waiting;		/* the roster names a key of ours we cannot load yet */
	char next_why[512];		/* why, as last logged: a retry logs only a new cause */
	bool rename_pending;		/* .next not yet renamed over PrivateKeyFile */
	uint64_t rotation_start_ns;	/* the engine still answers under the previous key */
	roster_sync_accepted_fn *on_accepted;
	void *on_accepted_ctx;
	/* The persister thread does all of the roster's disk work (persisting, claiming
	 * Roster.new), so that the event loop never waits for the disk.  Guarded by
	 * persist_lock: persist_job (owned by the mailbox until the thread takes it), the
	 * persist_done fields, claim_wanted and claimed[] (texts owned by the mailbox until the
	 * loop takes them). */
	char ifname[IFNAMSIZ];		/* for the thread's log lines */
	pthread_t persist_thread;
	bool persist_running;
	pthread_mutex_t persist_lock;
	pthread_cond_t persist_cond;
	char *persist_job;
	size_t persist_job_len;
	uint64_t persist_job_serial;
	bool persist_stop;
	bool persist_done;
	uint64_t persist_done_ns;	/* how long the write took */
	uint64_t persist_done_serial;
	int persist_done_err;
	bool claim_wanted;		/* SIGHUP or inotify asked for a claim */
	struct roster_claimed {
		char *text;		/* NULL if err */
		size_t len;
		int err;		/* 0, or why what was claimed could not be read */
		uint64_t start_ns;	/* the claim began */
		uint64_t read_ns;	/* claiming and reading took */
	} claimed[2];			/* a claim left from before, then Roster.new */
	unsigned n_claimed;
	int persist_efd;		/* eventfd: the thread wakes the loop */
	struct event *ev_persisted;
};

/* Pure: checks a candidate against the running roster (NULL: none yet, any network) and the
 * pinned key.  On success *out holds the parsed roster and trusted the admin key to pin from
 * now on.  Otherwise why says what is wrong (and whether it is merely not newer). */
enum roster_offer_result roster_sync_check(const struct roster *running,
    const uint8_t pinned[KEY_LEN], const char *text, size_t len, const char *source,
    struct roster *out, uint8_t trusted[KEY_LEN], char *why, size_t whylen);

/* Pure: which node is us.  our_pub is the running key's public half; next_pub (NULL: none)
 * that of PrivateKeyFile.next.  *is_next tells which matched.  NULL: we are not enrolled. */
const struct roster_node *roster_sync_find_self(const struct roster *r,
    const uint8_t our_pub[KEY_LEN], const uint8_t *next_pub, bool *is_next);

/* Pure: the interface configuration a roster means for node self (NULL: revoked, no peers
 * and no addresses).  base gives private key, ListenPort, FwMark, MTU.  Peers: every other
 * node, allowed IPs its addresses (/32, /128) and subnets, endpoint its first endpoint
 * (resolved; a name that does not resolve leaves the peer without one, logged).  Our
 * addresses: addr4 with cidr4's length, addr6 with cidr6's.  false on allocation failure. */
bool roster_sync_to_config(const struct roster *r, const struct roster_node *self,
    const struct config *base, struct config *out);

/* Sets up from the parsed config file (roster mode).  Nothing is applied yet.  0 or a
 * negative errno, logged here. */
int roster_sync_init(struct roster_sync *rs, struct device *dev, const struct config *cfg);
/* Loads the persisted roster (if any), pins the admin key its verified chain leads to, and
 * applies it; then picks up Roster.new and starts watching for it and for
 * PrivateKeyFile.next (inotify).  A missing or invalid persisted roster leaves the interface
 * without peers, waiting for one; one that exists but cannot be read is fatal.  0 or a
 * negative errno, each failure logged here once. */
int roster_sync_start(struct roster_sync *rs);
/* Offers a candidate (source names it in logs: "Roster.new", "gossip from 100.64.0.3", ...).
 * why receives the reason when not accepted.  ACCEPTED means queued: it is installed once
 * persisted.  Candidates are judged against the newest accepted roster. */
enum roster_offer_result roster_sync_offer(struct roster_sync *rs, const char *text, size_t len,
    const char *source, char *why, size_t whylen);
/* Asks the persister thread to claim Roster.new if present (renamed to claim_path first, so
 * a newer file is never deleted unread; an unfinished one is left for its writer; what was
 * claimed is removed); what it read is offered on the event loop once handed back.  SIGHUP
 * and inotify call this; it never waits for the disk. */
void roster_sync_check_new(struct roster_sync *rs);
void roster_sync_free(struct roster_sync *rs);

/* The served text (rs->text, which must be set), held for an evbuffer_add_reference until
 * libevent calls roster_sync_text_release (an evbuffer_ref_cleanup_cb, with the returned
 * pointer as its argument): an apply that replaces rs->text meanwhile does not free it.
 * Event loop only. */
const char *roster_sync_text_hold(const struct roster_sync *rs);
void roster_sync_text_release(const void *data, size_t len, void *text);

#endif
