/* OpenSSH user certificates: parse every field of the blob, then check it against the CA. */
#include "keys/lib/ssh_cert.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "keys/lib/roster.h"

/* Certificate types warren accepts (the certified key is of a type keys engineer add takes)
 * and how many SSH strings the key itself has between the nonce and the serial. */
static const struct {
	const char *cert_type;
	const char *plain_type;
	int n_key_fields;
} cert_types[] = {
	{ "ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", 1 },		/* pk */
	{ "ssh-rsa-cert-v01@openssh.com", "ssh-rsa", 2 },			/* e, n */
	{ "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp256", 2 },	/* curve, Q */
	{ "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp384", 2 },
	{ "ecdsa-sha2-nistp521-cert-v01@openssh.com", "ecdsa-sha2-nistp521", 2 },
	/* No sk-* (FIDO) certificates: the bastion cannot require user presence (libssh 0.10),
	 * and keys engineer add and cert refuse FIDO keys for the same reason. */
};

/* A cursor over SSH wire encoding (RFC 4251): uint32, uint64, string. */
struct rd {
	const uint8_t *p, *end;
};

static bool rd_u32(struct rd *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return true;
}

static bool rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (!rd_u32(r, &hi) || !rd_u32(r, &lo))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static bool rd_str(struct rd *r, const uint8_t **s, size_t *len)
{
	uint32_t n;

	if (!rd_u32(r, &n) || (size_t)(r->end - r->p) < n)
		return false;
	*s = r->p;
	*len = n;
	r->p += n;
	return true;
}

static bool str_is(const uint8_t *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

bool ssh_cert_is_cert(const uint8_t *blob, size_t len)
{
	static const char suffix[] = "-cert-v01@openssh.com";
	struct rd r = { blob, blob + len };
	const uint8_t *t;
	size_t tl;

	return rd_str(&r, &t, &tl) && tl > sizeof(suffix) - 1 &&
	    memcmp(t + tl - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0;
}

bool ssh_cert_parse(struct ssh_cert *c, const uint8_t *blob, size_t len, char *why,
    size_t whylen)
{
	struct rd r = { blob, blob + len };
	const uint8_t *t, *s, *reserved;
	size_t tl, sl, reserved_len, i;
	int k, kind = -1;

	memset(c, 0, sizeof(*c));
	c->blob = blob;
	if (!rd_str(&r, &t, &tl)) {
		snprintf(why, whylen, "certificate: no key type");
		return false;
	}
	for (i = 0; i < sizeof(cert_types) / sizeof(cert_types[0]); i++)
		if (str_is(t, tl, cert_types[i].cert_type))
			kind = (int)i;
	if (kind < 0) {
		snprintf(why, whylen, "certificate: unsupported type '%.*s'", (int)(tl > 60 ? 60 : tl),
		    (const char *)t);
		return false;
	}
	c->plain_type = cert_types[kind].plain_type;
	if (!rd_str(&r, &s, &sl))			/* nonce */
		goto short_blob;
	c->key = r.p;
	for (k = 0; k < cert_types[kind].n_key_fields; k++)
		if (!rd_str(&r, &s, &sl) || sl == 0)
			goto short_blob;
	c->key_len = (size_t)(r.p - c->key);
	if (!rd_u64(&r, &c->serial) || !rd_u32(&r, &c->type) ||
	    !rd_str(&r, &c->key_id, &c->key_id_len) ||
	    !rd_str(&r, &c->principals, &c->principals_len) ||
	    !rd_u64(&r, &c->valid_after) || !rd_u64(&r, &c->valid_before) ||
	    !rd_str(&r, &c->critical, &c->critical_len) ||
	    !rd_str(&r, &c->extensions, &c->extensions_len) ||
	    !rd_str(&r, &reserved, &reserved_len) || !rd_str(&r, &c->ca_key, &c->ca_key_len))
		goto short_blob;
	c->signed_len = (size_t)(r.p - blob);
	if (!rd_str(&r, &c->signature, &c->signature_len))
		goto short_blob;
	if (r.p != r.end) {
		snprintf(why, whylen, "certificate: %zu bytes after the signature",
		    (size_t)(r.end - r.p));
		return false;
	}
	/* The principals are a packed list of strings, the extensions of pairs of strings:
	 * each must parse whole. */
	r.p = c->principals;
	r.end = c->principals + c->principals_len;
	while (r.p < r.end)
		if (!rd_str(&r, &s, &sl))
			goto short_blob;
	r.p = c->extensions;
	r.end = c->extensions + c->extensions_len;
	while (r.p < r.end)
		if (!rd_str(&r, &s, &sl) || !rd_str(&r, &s, &sl))
			goto short_blob;
	return true;
short_blob:
	snprintf(why, whylen, "certificate: truncated or malformed");
	return false;
}

/* Whether the packed string list holds name exactly. */
static bool principal_listed(const struct ssh_cert *c, const char *name)
{
	struct rd r = { c->principals, c->principals + c->principals_len };
	const uint8_t *s;
	size_t sl;

	while (r.p < r.end && rd_str(&r, &s, &sl))
		if (str_is(s, sl, name))
			return true;
	return false;
}

/* Whether the packed extensions (pairs of strings: name, data) name ext. */
static bool extension_listed(const struct ssh_cert *c, const char *ext)
{
	struct rd r = { c->extensions, c->extensions + c->extensions_len };
	const uint8_t *s, *d;
	size_t sl, dl;

	while (r.p < r.end && rd_str(&r, &s, &sl) && rd_str(&r, &d, &dl))
		if (str_is(s, sl, ext))
			return true;
	return false;
}

static void time_text(char out[ROSTER_TIME_TEXT_LEN + 1], uint64_t t)
{
	roster_time_text(out, t > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)t);
}

bool ssh_cert_check(const struct ssh_cert *c, const uint8_t ca[KEY_LEN], const char *principal,
    int64_t now, char *why, size_t whylen)
{
	struct rd r = { c->ca_key, c->ca_key + c->ca_key_len };
	char t[ROSTER_TIME_TEXT_LEN + 1];
	const uint8_t *s, *k, *sig;
	size_t sl, kl, sigl;

	/* The signer: exactly string("ssh-ed25519") string(32-byte key), the roster's CA. */
	if (!rd_str(&r, &s, &sl) || !str_is(s, sl, "ssh-ed25519") || !rd_str(&r, &k, &kl) ||
	    kl != KEY_LEN || r.p != r.end || sodium_memcmp(k, ca, KEY_LEN) != 0) {
		snprintf(why, whylen, "certificate not signed by the roster's engineer CA");
		return false;
	}
	r.p = c->signature;
	r.end = c->signature + c->signature_len;
	if (!rd_str(&r, &s, &sl) || !str_is(s, sl, "ssh-ed25519") || !rd_str(&r, &sig, &sigl) ||
	    sigl != crypto_sign_BYTES || r.p != r.end ||
	    crypto_sign_verify_detached(sig, c->blob, c->signed_len, ca) != 0) {
		snprintf(why, whylen, "bad certificate signature");
		return false;
	}
	if (c->type != SSH_CERT_TYPE_USER) {
		snprintf(why, whylen, "not a user certificate (type %" PRIu32 ")", c->type);
		return false;
	}
	if (now < 0 || (uint64_t)now < c->valid_after) {
		time_text(t, c->valid_after);
		snprintf(why, whylen, "certificate not valid before %s", t);
		return false;
	}
	if ((uint64_t)now >= c->valid_before) {
		time_text(t, c->valid_before);
		snprintf(why, whylen, "certificate expired at %s", t);
		return false;
	}
	if (c->valid_before - c->valid_after > SSH_CERT_LIFETIME_MAX ||
	    c->valid_before < c->valid_after) {
		time_text(t, c->valid_before);
		snprintf(why, whylen, "certificate valid for more than 30 days (until %s): not one "
		    "keys engineer cert makes", t);
		return false;
	}
	if (!principal_listed(c, principal)) {
		snprintf(why, whylen, "certificate is not for principal '%s'", principal);
		return false;
	}
	if (c->critical_len) {
		r.p = c->critical;
		r.end = c->critical + c->critical_len;
		if (rd_str(&r, &s, &sl))
			snprintf(why, whylen, "certificate has critical option '%.*s' (refused: "
			    "warren issues none)", (int)(sl > 40 ? 40 : sl), (const char *)s);
		else
			snprintf(why, whylen, "certificate has malformed critical options");
		return false;
	}
	if (!extension_listed(c, "permit-port-forwarding")) {
		snprintf(why, whylen, "certificate without permit-port-forwarding: a jump is a "
		    "forwarding");
		return false;
	}
	return true;
}

void ssh_cert_key_fingerprint(const struct ssh_cert *c, char out[51])
{
	uint8_t h[crypto_hash_sha256_BYTES], len[4];
	size_t tl = strlen(c->plain_type);
	crypto_hash_sha256_state st;
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

	/* The plain key's blob: string(type) and the key's own fields. */
	len[0] = (uint8_t)(tl >> 24);
	len[1] = (uint8_t)(tl >> 16);
	len[2] = (uint8_t)(tl >> 8);
	len[3] = (uint8_t)tl;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, len, sizeof(len));
	crypto_hash_sha256_update(&st, (const uint8_t *)c->plain_type, tl);
	crypto_hash_sha256_update(&st, c->key, c->key_len);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, 51, "SHA256:%s", b64);
}

void ssh_ed25519_line(char *out, const uint8_t key[KEY_LEN])
{
	static const uint8_t head[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5',
	    '1', '9', 0, 0, 0, 32 };
	uint8_t blob[sizeof(head) + KEY_LEN];
	char b64[sodium_base64_ENCODED_LEN(sizeof(blob), sodium_base64_VARIANT_ORIGINAL)];

	memcpy(blob, head, sizeof(head));
	memcpy(blob + sizeof(head), key, KEY_LEN);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, SSH_ED25519_LINE_MAX, "ssh-ed25519 %s", b64);
}

bool ssh_ed25519_line_parse(uint8_t key[KEY_LEN], const char *line)
{
	char want[SSH_ED25519_LINE_MAX];
	uint8_t blob[64];
	size_t n = 0;

	if (strncmp(line, "ssh-ed25519 ", 12) != 0 || strlen(line) != SSH_ED25519_LINE_MAX - 1 ||
	    sodium_base642bin(blob, sizeof(blob), line + 12, strlen(line + 12), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != 19 + KEY_LEN)
		return false;
	/* Canonical: the line this key prints, byte for byte (type string and length included). */
	memcpy(key, blob + 19, KEY_LEN);
	ssh_ed25519_line(want, key);
	return strcmp(want, line) == 0;
}
