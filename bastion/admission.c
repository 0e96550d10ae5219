/* Admission of new connections: MaxStartups, PerSourceMaxStartups, PerSourcePenalties. */
#include "bastion/admission.h"

#include <arpa/inet.h>
#include <string.h>

#include <sodium.h>

#define NS_PER_S 1000000000ull

void admission_init(struct admission *a, const struct bastion_config *cfg)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	randombytes_buf(a->key, sizeof(a->key));
}

static void mask(uint8_t *addr, unsigned bits, unsigned len)
{
	unsigned i;

	for (i = 0; i < len; i++) {
		if (bits >= 8)
			bits -= 8;
		else {
			addr[i] &= (uint8_t)(0xff00u >> bits);
			bits = 0;
		}
	}
}

static bool admission_source_unmasked(const struct sockaddr *sa, struct admission_source *out)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		out->family = 4;
		memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		/* A dual-stack listener's IPv4 client: counted with its IPv4 block. */
		out->family = 4;
		memcpy(out->addr, sin6->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		out->family = 6;
		memcpy(out->addr, &sin6->sin6_addr, 16);
	} else
		return false;
	return true;
}

bool admission_source_of(const struct admission *a, const struct sockaddr *sa,
    struct admission_source *out)
{
	if (!admission_source_unmasked(sa, out))
		return false;
	if (out->family == 4)
		mask(out->addr, a->cfg->per_source_v4_bits, 4);
	else
		mask(out->addr, a->cfg->per_source_v6_bits, 16);
	return true;
}

bool admission_exempt(const struct admission *a, const struct sockaddr *sa)
{
	const struct bastion_penalties *pen = &a->cfg->penalties;
	const struct bastion_net *n;
	struct admission_source peer;
	uint8_t addr[16];
	size_t i, len;

	/* The peer's own address, not its source block: one exempt address inside an IPv6 /64
	 * must not exempt the block, nor a block hide the exempt address. */
	if (!admission_source_unmasked(sa, &peer))
		return false;
	for (i = 0; i < pen->n_exempt; i++) {
		n = &pen->exempt[i];
		if (n->family != peer.family)
			continue;
		len = n->family == 4 ? 4 : 16;
		memcpy(addr, peer.addr, len);
		mask(addr, n->bits, (unsigned)len);
		if (memcmp(addr, n->addr, len) == 0)
			return true;
	}
	return false;
}

static struct admission_penalty *bucket(struct admission *a, const struct admission_source *src)
{
	uint8_t h[crypto_shorthash_BYTES];

	crypto_shorthash(h, (const uint8_t *)src, sizeof(*src), a->key);
	return a->table[(h[0] | (unsigned)h[1] << 8) % ADMISSION_BUCKETS];
}

/* src's live entry, or NULL; expired entries are freed on the way. */
static struct admission_penalty *find(struct admission *a, const struct admission_source *src,
    uint64_t now_ns)
{
	struct admission_penalty *b = bucket(a, src);
	size_t i;

	for (i = 0; i < ADMISSION_WAYS; i++) {
		if (b[i].expiry_ns && b[i].expiry_ns <= now_ns)
			b[i].expiry_ns = 0;
		if (b[i].expiry_ns && memcmp(&b[i].src, src, sizeof(*src)) == 0)
			return &b[i];
	}
	return NULL;
}

unsigned admission_penalty_left(struct admission *a, const struct admission_source *src,
    uint64_t now_ns)
{
	struct admission_penalty *p = find(a, src, now_ns);

	if (!p || !p->active)
		return 0;
	return (unsigned)((p->expiry_ns - now_ns + NS_PER_S - 1) / NS_PER_S);
}

const char *admission_check(struct admission *a, const struct admission_source *src,
    unsigned unauth, unsigned unauth_src, uint64_t now_ns, unsigned rnd100)
{
	const struct bastion_config *c = a->cfg;
	unsigned p;

	if (c->penalties.enabled && admission_penalty_left(a, src, now_ns))
		return "PerSourcePenalties";
	if (c->per_source_max_startups && unauth_src >= c->per_source_max_startups)
		return "PerSourceMaxStartups";
	if (unauth >= c->max_startups)
		return "MaxStartups";
	if (unauth < c->max_startups_begin)
		return NULL;
	/* Random early drop, as sshd: rate% at begin, rising linearly to 100% at full. */
	p = c->max_startups_rate + (100 - c->max_startups_rate) * (unauth - c->max_startups_begin) /
	    (c->max_startups - c->max_startups_begin);
	return rnd100 < p ? "MaxStartups" : NULL;
}

void admission_done(struct admission *a, const struct admission_source *src,
    enum admission_outcome outcome, uint64_t now_ns)
{
	const struct bastion_penalties *pen = &a->cfg->penalties;
	struct admission_penalty *p, *b;
	uint64_t secs, left, max_ns = (uint64_t)pen->max * NS_PER_S;
	size_t i;

	switch (outcome) {
	case ADMISSION_AUTHFAIL: secs = pen->authfail; break;
	case ADMISSION_NOAUTH: secs = pen->noauth; break;
	case ADMISSION_GRACE_EXCEEDED: secs = pen->grace_exceeded; break;
	default: secs = 0; break;
	}
	if (!pen->enabled || secs == 0)
		return;
	p = find(a, src, now_ns);
	if (!p) {
		/* A free way, else the one that expires first (evicting only forgives). */
		b = bucket(a, src);
		p = &b[0];
		for (i = 0; i < ADMISSION_WAYS; i++) {
			if (!b[i].expiry_ns) {
				p = &b[i];
				break;
			}
			if (b[i].expiry_ns < p->expiry_ns)
				p = &b[i];
		}
		p->src = *src;
		p->expiry_ns = now_ns;
		p->active = false;
	}
	/* Each such connection adds to what is left, up to max. */
	left = p->expiry_ns - now_ns + secs * NS_PER_S;
	if (left > max_ns)
		left = max_ns;
	p->expiry_ns = now_ns + left;
	if (left >= (uint64_t)pen->min * NS_PER_S)
		p->active = true;
	if (!p->expiry_ns)
		p->expiry_ns = 1;
}

bool admission_log_due(struct admission *a, uint64_t now_ns, unsigned long *suppressed)
{
	if (now_ns < a->log_next_ns) {
		a->suppressed++;
		return false;
	}
	*suppressed = a->suppressed;
	a->suppressed = 0;
	a->log_next_ns = now_ns + ADMISSION_LOG_INTERVAL_S * NS_PER_S;
	return true;
}
