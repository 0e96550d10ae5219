/* Engineers' SSH public keys in OpenSSH authorized_keys form, and their fingerprints. */
#include "keys/lib/roster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Key types warren accepts, and the name the blob itself carries. */
static const struct {
	const char *type;
	const char *blob_type;
} ssh_types[] = {
	{ "ssh-ed25519", "ssh-ed25519" },
	{ "ssh-rsa", "ssh-rsa" },
	{ "rsa-sha2-256", "ssh-rsa" },
	{ "rsa-sha2-512", "ssh-rsa" },
	{ "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256" },
	{ "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384" },
	{ "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521" },
	{ "sk-ssh-ed25519@openssh.com", "sk-ssh-ed25519@openssh.com" },
	{ "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com" },
};

void roster_ssh_key_free(struct roster_ssh_key *k)
{
	free(k->type);
	free(k->blob);
	free(k->comment);
	k->type = k->comment = NULL;
	k->blob = NULL;
	k->blob_len = 0;
}

static bool comment_valid(const char *c)
{
	const unsigned char *p;

	/* Printable, single spaces inside, none at the ends: the line stays canonical. */
	if (c[0] == ' ' || (c[0] && c[strlen(c) - 1] == ' ') || strstr(c, "  "))
		return false;
	for (p = (const unsigned char *)c; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

bool roster_ssh_key_parse(struct roster_ssh_key *k, const char *line, char *why, size_t whylen)
{
	const char *sp1 = strchr(line, ' '), *b64, *sp2, *blob_type = NULL;
	uint8_t *blob = NULL, *shrunk;
	size_t tl, bl, n = 0, i;
	uint32_t sl;

	memset(k, 0, sizeof(*k));
	if (!sp1) {
		snprintf(why, whylen, "expected 'type base64 [comment]'");
		return false;
	}
	tl = (size_t)(sp1 - line);
	for (i = 0; i < sizeof(ssh_types) / sizeof(ssh_types[0]); i++)
		if (strlen(ssh_types[i].type) == tl && memcmp(ssh_types[i].type, line, tl) == 0)
			blob_type = ssh_types[i].blob_type;
	if (!blob_type) {
		snprintf(why, whylen, "unknown SSH key type '%.*s'", (int)(tl > 40 ? 40 : tl), line);
		return false;
	}
	b64 = sp1 + 1;
	sp2 = strchr(b64, ' ');
	bl = sp2 ? (size_t)(sp2 - b64) : strlen(b64);
	blob = malloc(ROSTER_SSH_BLOB_MAX);
	if (!blob) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	if (bl > (ROSTER_SSH_BLOB_MAX / 3) * 4 || !roster_b64_decode(blob, ROSTER_SSH_BLOB_MAX, &n,
	    b64, bl)) {
		snprintf(why, whylen, "SSH key is not valid base64");
		goto fail;
	}
	/* The blob starts with string(type): be32 length, then the name. */
	sl = n >= 4 ? (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3] : 0;
	if (n < 4 || sl != strlen(blob_type) || n - 4 <= sl ||
	    memcmp(blob + 4, blob_type, sl) != 0) {
		snprintf(why, whylen, "SSH key blob is not a %s key", blob_type);
		goto fail;
	}
	if (sp2 && !comment_valid(sp2 + 1)) {
		snprintf(why, whylen, "SSH key comment has control characters or extra spaces");
		goto fail;
	}
	shrunk = realloc(blob, n);
	k->blob = shrunk ? shrunk : blob;
	k->type = strndup(line, tl);
	k->comment = strdup(sp2 ? sp2 + 1 : "");
	if (!k->type || !k->comment) {
		roster_ssh_key_free(k);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	k->blob_len = n;
	return true;
fail:
	free(blob);
	return false;
}

bool roster_cert_principal_valid(const char *name, const char *p)
{
	size_t n = strlen(name), t;

	if (strncmp(p, name, n) != 0 || p[n] != '#')
		return false;
	p += n + 1;
	t = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789");
	return p[t] == '\0' && t >= ROSTER_CERT_TOKEN_MIN && t <= ROSTER_CERT_TOKEN_MAX;
}

void roster_cert_principal_new(struct roster_engineer *e)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char token[13];
	size_t i;

	for (i = 0; i < sizeof(token) - 1; i++)
		token[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	token[sizeof(token) - 1] = '\0';
	snprintf(e->cert_principal, sizeof(e->cert_principal), "%s#%s", e->name, token);
}

void roster_ssh_key_fingerprint(const struct roster_ssh_key *k, char out[51])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

	crypto_hash_sha256(h, k->blob, k->blob_len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, 51, "SHA256:%s", b64);
}
