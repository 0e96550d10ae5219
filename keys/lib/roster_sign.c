/* Roster signatures, admin-key endorsements and the admin key files (docs/roster.md). */
#include "keys/lib/roster_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

enum {
	SIG_MSG_LEN = sizeof(ROSTER_SIG_MAGIC) - 1 + 4 + crypto_hash_sha512_BYTES,
	ADMIN_B64_LEN = 88,		/* base64 of 64 bytes */
	ADMIN_FILE_MAX = 256,
};

static void be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

/* magic || be32(version) || SHA-512(body): the hash makes the signed message fixed-size. */
void roster_sig_message(uint8_t msg[SIG_MSG_LEN], unsigned version, const char *body, size_t len)
{
	size_t m = sizeof(ROSTER_SIG_MAGIC) - 1;

	memcpy(msg, ROSTER_SIG_MAGIC, m);
	be32(msg + m, version);
	crypto_hash_sha512(msg + m + 4, (const uint8_t *)body, len);
}

void roster_sign(struct roster *r, const uint8_t admin_secret[ROSTER_ADMIN_SECRET_LEN])
{
	uint8_t msg[SIG_MSG_LEN];
	size_t len;
	char *body;

	/* Ed25519 secret = seed || public: the public half is the signer's key. */
	memcpy(r->admin_key, admin_secret + 32, KEY_LEN);
	r->has_signature = false;
	body = roster_serialize(r, false, &len);
	if (!body)
		return;
	roster_sig_message(msg, r->version, body, len);
	crypto_sign_detached(r->signature, NULL, msg, sizeof(msg), admin_secret);
	r->has_signature = true;
	free(body);
}

/* magic || be32(1) || network || "\n" || new key. */
static size_t endorse_message(uint8_t *msg, const char *network, const uint8_t new_key[KEY_LEN])
{
	size_t m = sizeof(ROSTER_ENDORSE_MAGIC) - 1, nl = strlen(network);

	memcpy(msg, ROSTER_ENDORSE_MAGIC, m);
	be32(msg + m, ROSTER_ENDORSE_VERSION);
	memcpy(msg + m + 4, network, nl);
	msg[m + 4 + nl] = '\n';
	memcpy(msg + m + 5 + nl, new_key, KEY_LEN);
	return m + 5 + nl + KEY_LEN;
}

enum { ENDORSE_MSG_MAX = sizeof(ROSTER_ENDORSE_MAGIC) - 1 + 5 + ROSTER_NAME_MAX + KEY_LEN };

bool roster_endorse(struct roster *r, const uint8_t old_secret[ROSTER_ADMIN_SECRET_LEN],
    const uint8_t new_key[KEY_LEN])
{
	uint8_t msg[ENDORSE_MSG_MAX];
	struct roster_endorsement *e;
	size_t len;

	if (!roster_name_valid(r->network))
		return false;
	e = realloc(r->endorsements, (r->n_endorsements + 1) * sizeof(*e));
	if (!e)
		return false;
	r->endorsements = e;
	e = &e[r->n_endorsements];
	memcpy(e->old_key, old_secret + 32, KEY_LEN);
	memcpy(e->new_key, new_key, KEY_LEN);
	len = endorse_message(msg, r->network, new_key);
	crypto_sign_detached(e->sig, NULL, msg, len, old_secret);
	r->n_endorsements++;
	return true;
}

static bool key_eq(const uint8_t a[KEY_LEN], const uint8_t b[KEY_LEN])
{
	return sodium_memcmp(a, b, KEY_LEN) == 0;
}

/* Whether the chain leads from pinned to the admin key, every link signed by its old key. */
static bool chain_valid(const struct roster *r, const uint8_t pinned[KEY_LEN], char *why,
    size_t whylen)
{
	const struct roster_endorsement *e;
	const uint8_t *cur = pinned;
	uint8_t msg[ENDORSE_MSG_MAX];
	size_t i, len;

	/* Start at the pinned key's own endorsement: a node enrolled after a rotation pinned a
	 * later key and need not (cannot) judge the links before it. */
	for (i = 0; i < r->n_endorsements; i++)
		if (key_eq(r->endorsements[i].old_key, pinned))
			break;
	if (i == r->n_endorsements) {
		snprintf(why, whylen, "admin key not endorsed by the pinned key");
		return false;
	}
	for (; i < r->n_endorsements; i++) {
		e = &r->endorsements[i];
		if (!key_eq(e->old_key, cur)) {
			snprintf(why, whylen, "endorsement %zu does not follow from the one before",
			    i + 1);
			return false;
		}
		len = endorse_message(msg, r->network, e->new_key);
		if (crypto_sign_verify_detached(e->sig, msg, len, e->old_key) != 0) {
			snprintf(why, whylen, "endorsement %zu has a bad signature", i + 1);
			return false;
		}
		cur = e->new_key;
		if (key_eq(cur, r->admin_key))
			return true;
	}
	snprintf(why, whylen, "admin key not endorsed by the pinned key");
	return false;
}

bool roster_verify(const struct roster *r, const uint8_t pinned[KEY_LEN], uint8_t trusted[KEY_LEN],
    char *why, size_t whylen)
{
	size_t len;
	char *body;
	bool ok;

	/* The parser accepts only canonical text, so re-serializing gives back the signed bytes. */
	body = roster_text_write(r, false, &len);
	if (!body) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	ok = roster_verify_raw(r, body, len, pinned, trusted, why, whylen);
	free(body);
	return ok;
}

int roster_admin_key_generate(uint8_t secret[ROSTER_ADMIN_SECRET_LEN], uint8_t pub[KEY_LEN])
{
	return crypto_sign_keypair(pub, secret) == 0 ? 0 : -EIO;
}

int roster_admin_key_read(const char *path, uint8_t secret[ROSTER_ADMIN_SECRET_LEN], char *err,
    size_t errlen)
{
	uint8_t sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN], sk2[ROSTER_ADMIN_SECRET_LEN];
	char buf[ADMIN_FILE_MAX + 1];
	size_t len = 0, n = 0;
	int ret;

	ret = key_secret_file_read(path, "admin key", true, buf, sizeof(buf), &len, err, errlen);
	if (ret < 0)
		goto out;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
	    buf[len - 1] == '\r'))
		len--;
	if (len != ADMIN_B64_LEN || !roster_b64_decode(sk, sizeof(sk), &n, buf, len) ||
	    n != sizeof(sk)) {
		ret = -EINVAL;
		snprintf(err, errlen, "'%.200s' does not hold a base64 Ed25519 secret key", path);
		goto out;
	}
	/* The stored public half must be the seed's: a corrupt file must not sign. */
	crypto_sign_seed_keypair(pk, sk2, sk);
	if (sodium_memcmp(sk2, sk, sizeof(sk)) != 0) {
		ret = -EINVAL;
		snprintf(err, errlen, "'%.200s': public half does not match the secret key", path);
		goto out;
	}
	memcpy(secret, sk, sizeof(sk));
	ret = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sk2, sizeof(sk2));
	return ret;
}

int roster_admin_key_write(const char *path, const uint8_t secret[ROSTER_ADMIN_SECRET_LEN])
{
	char b64[ADMIN_B64_LEN + 2];
	size_t len;
	ssize_t w;
	int fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	sodium_bin2base64(b64, sizeof(b64), secret, ROSTER_ADMIN_SECRET_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	b64[len++] = '\n';
	w = write(fd, b64, len);
	if (w < 0)
		ret = -errno;
	else if ((size_t)w != len)
		ret = -EIO;
	else
		ret = fsync(fd) < 0 ? -errno : 0;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	/* A half-written key file is worse than none. */
	if (ret < 0)
		unlink(path);
out:
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

/* ---- verifying the raw text before the parse ---- */

enum { SIG_LINE_LEN = 10 + ADMIN_B64_LEN };	/* "signature " + base64 of 64 bytes */

struct scan {
	const char *text, *end, *file;
	const char *p;			/* next line */
	unsigned line;
	char *why;
	size_t whylen;
};

/* The next line (without its newline) in *s and *n; false at the end or for a line too long
 * for a header. */
static bool next_line(struct scan *sc, const char **s, size_t *n)
{
	size_t left = (size_t)(sc->end - sc->p);
	const char *nl = memchr(sc->p, '\n', left < ROSTER_LINE_MAX + 1 ? left :
	    ROSTER_LINE_MAX + 1);

	if (!nl)
		return false;
	*s = sc->p;
	*n = (size_t)(nl - sc->p);
	sc->p = nl + 1;
	sc->line++;
	return true;
}

/* "WORD value": the value, copied NUL-terminated into out (at most outlen - 1 bytes). */
static bool field(const char *s, size_t n, const char *word, char *out, size_t outlen)
{
	size_t w = strlen(word);

	if (n <= w + 1 || memcmp(s, word, w) != 0 || s[w] != ' ' || n - w - 1 >= outlen)
		return false;
	memcpy(out, s + w + 1, n - w - 1);
	out[n - w - 1] = '\0';
	return true;
}

static bool scan_err(struct scan *sc, const char *msg)
{
	snprintf(sc->why, sc->whylen, "%s:%u: %s", sc->file, sc->line, msg);
	return false;
}

static bool b64_exact(uint8_t *out, size_t outlen, const char *s, size_t slen)
{
	size_t n = 0;

	return roster_b64_decode(out, outlen, &n, s, slen) && n == outlen;
}

/* "endorse OLD NEW SIG" into a new link of hdr. */
static bool endorse_line(struct roster *hdr, const char *v)
{
	struct roster_endorsement *e;
	const char *sp1 = strchr(v, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

	if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
		return false;
	/* Grown by doubling (at 1, 2, 4, ...): an unverified header may hold tens of thousands
	 * of lines, and one realloc each would be quadratic. */
	if ((hdr->n_endorsements & (hdr->n_endorsements - 1)) == 0) {
		e = realloc(hdr->endorsements, (hdr->n_endorsements ? 2 * hdr->n_endorsements : 1) *
		    sizeof(*e));
		if (!e)
			return false;
		hdr->endorsements = e;
	}
	e = &hdr->endorsements[hdr->n_endorsements];
	if (!b64_exact(e->old_key, KEY_LEN, v, (size_t)(sp1 - v)) ||
	    !b64_exact(e->new_key, KEY_LEN, sp1 + 1, (size_t)(sp2 - sp1 - 1)) ||
	    !b64_exact(e->sig, ROSTER_SIG_LEN, sp2 + 1, strlen(sp2 + 1)))
		return false;
	hdr->n_endorsements++;
	return true;
}

/* The header in its fixed order (docs/roster.md, "Header"); the lines this check does not
 * need (cidr, cidr6, issued, expires) are only recognised: the full parse judges them.  An
 * expired roster is still accepted when newer (what it changes stays signed and monotonic);
 * what expiry means is the holder's business (docs/roster.md, "Expiry"). */
static bool scan_header(struct scan *sc, struct roster *hdr)
{
	char v[ROSTER_LINE_MAX + 1];
	const char *s;
	size_t n;

	if (!next_line(sc, &s, &n) || n < 14 || memcmp(s, "warren-roster ", 14) != 0) {
		sc->line = 1;
		return scan_err(sc, "not a warren roster (expected 'warren-roster 1' on the first "
		    "line)");
	}
	if (n != 15 || s[14] != '1')
		return scan_err(sc, "unsupported roster version");
	hdr->version = ROSTER_VERSION;
	if (!next_line(sc, &s, &n) || !field(s, n, "network", v, sizeof(hdr->network)) ||
	    !roster_name_valid(v))
		return scan_err(sc, "expected 'network NAME'");
	memcpy(hdr->network, v, strlen(v) + 1);
	if (!next_line(sc, &s, &n) || !field(s, n, "cidr", v, sizeof(v)))
		return scan_err(sc, "expected 'cidr PREFIX'");
	if (!next_line(sc, &s, &n))
		return scan_err(sc, "expected 'serial N'");
	if (field(s, n, "cidr6", v, sizeof(v)) && !next_line(sc, &s, &n))
		return scan_err(sc, "expected 'serial N'");
	if (!field(s, n, "serial", v, sizeof(v)) || !roster_u64_parse(&hdr->serial, v, UINT64_MAX))
		return scan_err(sc, "expected 'serial N'");
	if (!next_line(sc, &s, &n) || !field(s, n, "issued", v, sizeof(v)))
		return scan_err(sc, "expected 'issued TIME'");
	if (!next_line(sc, &s, &n))
		return scan_err(sc, "expected 'admin KEY'");
	if (field(s, n, "expires", v, sizeof(v)) && !next_line(sc, &s, &n))
		return scan_err(sc, "expected 'admin KEY'");
	if (!field(s, n, "admin", v, sizeof(v)) || !b64_exact(hdr->admin_key, KEY_LEN, v, strlen(v)))
		return scan_err(sc, "expected 'admin KEY'");
	for (;;) {
		const char *mark = sc->p;
		unsigned line = sc->line;

		if (!next_line(sc, &s, &n) || !field(s, n, "endorse", v, sizeof(v))) {
			sc->p = mark;	/* the first line after the header */
			sc->line = line;
			return true;
		}
		if (!endorse_line(hdr, v))
			return scan_err(sc, "expected 'endorse OLD NEW SIGNATURE'");
	}
}

bool roster_header_scan(const char *text, size_t len, const char *filename, struct roster *hdr,
    size_t *body_len, char *why, size_t whylen)
{
	struct scan sc = { text, text + len, filename, text, 0, why, whylen };
	const char *last;

	roster_init(hdr);
	if (len > ROSTER_MAX_BYTES) {
		snprintf(why, whylen, "%s: larger than %d bytes", filename, ROSTER_MAX_BYTES);
		goto fail;
	}
	if (!scan_header(&sc, hdr))
		goto fail;
	if (len == 0 || text[len - 1] != '\n') {
		snprintf(why, whylen, "%s: truncated file (no newline at the end)", filename);
		goto fail;
	}
	last = memrchr(text, '\n', len - 1);
	last = last ? last + 1 : text;
	if ((size_t)(text + len - last) < 11 || memcmp(last, "signature ", 10) != 0) {
		snprintf(why, whylen, "not signed (the last line is not 'signature SIG')");
		goto fail;
	}
	if ((size_t)(text + len - last) != SIG_LINE_LEN + 1 ||
	    !b64_exact(hdr->signature, ROSTER_SIG_LEN, last + 10, ADMIN_B64_LEN)) {
		snprintf(why, whylen, "%s: last line: the signature is not 88 characters of base64",
		    filename);
		goto fail;
	}
	hdr->has_signature = true;
	*body_len = (size_t)(last - text);
	return true;
fail:
	roster_free(hdr);
	return false;
}

bool roster_verify_raw(const struct roster *hdr, const char *body, size_t body_len,
    const uint8_t pinned[KEY_LEN], uint8_t trusted[KEY_LEN], char *why, size_t whylen)
{
	uint8_t msg[SIG_MSG_LEN];

	if (!hdr->has_signature) {
		snprintf(why, whylen, "roster is not signed");
		return false;
	}
	if (hdr->version != ROSTER_VERSION) {
		snprintf(why, whylen, "unsupported roster version %u", hdr->version);
		return false;
	}
	roster_sig_message(msg, hdr->version, body, body_len);
	if (crypto_sign_verify_detached(hdr->signature, msg, sizeof(msg), hdr->admin_key) != 0) {
		snprintf(why, whylen, "bad signature");
		return false;
	}
	if (!key_eq(hdr->admin_key, pinned) && !chain_valid(hdr, pinned, why, whylen))
		return false;
	if (trusted)
		memcpy(trusted, hdr->admin_key, KEY_LEN);
	return true;
}

bool roster_text_unfinished(const char *text, size_t len)
{
	static const char magic[] = "warren-roster ";
	size_t m = sizeof(magic) - 1;
	const char *last;

	if (len == 0)
		return true;
	if (memcmp(text, magic, len < m ? len : m) != 0)
		return false;
	if (text[len - 1] != '\n')
		return true;
	last = memrchr(text, '\n', len - 1);
	last = last ? last + 1 : text;
	return (size_t)(text + len - last) != SIG_LINE_LEN + 1 || memcmp(last, "signature ", 10);
}
