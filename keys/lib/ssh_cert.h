/* OpenSSH user certificates (PROTOCOL.certkeys in openssh-portable): the blob a client offers
 * when it logs in with a certificate, parsed and checked against the roster's engineer CA.
 * The bastion uses this; the nodes' sshd checks certificates itself (keys authorized-keys
 * prints a cert-authority line for it). */
#ifndef KEYS_SSH_CERT_H
#define KEYS_SSH_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/key.h"

enum {
	SSH_CERT_TYPE_USER = 1,
	SSH_CERT_TYPE_HOST = 2,
	SSH_CERT_WHY_MAX = 160,		/* room for any ssh_cert_* message */
	/* The longest validity accepted: keys engineer cert's 30 days, plus the 5 minutes it
	 * backdates.  A certificate valid for longer (or forever) is not one warren made. */
	SSH_CERT_LIFETIME_MAX = 30 * 86400 + 300,
};

/* A parsed certificate.  Every pointer borrows from the blob given to ssh_cert_parse, which
 * must outlive it. */
struct ssh_cert {
	const uint8_t *blob;		/* the whole certificate */
	const char *plain_type;		/* the certified key's own type: "ssh-ed25519", ... */
	const uint8_t *key;		/* the certified key's fields (after the nonce), */
	size_t key_len;			/* as in the plain key's blob after its type */
	uint64_t serial;
	uint32_t type;			/* SSH_CERT_TYPE_USER or _HOST */
	const uint8_t *key_id;		/* not NUL-terminated */
	size_t key_id_len;
	const uint8_t *principals;	/* the packed list of strings */
	size_t principals_len;
	uint64_t valid_after;		/* Unix seconds */
	uint64_t valid_before;		/* Unix seconds; UINT64_MAX: forever */
	const uint8_t *critical;	/* the packed critical options */
	size_t critical_len;
	const uint8_t *extensions;	/* the packed extensions */
	size_t extensions_len;
	const uint8_t *ca_key;		/* the signature key's blob */
	size_t ca_key_len;
	const uint8_t *signature;	/* the signature's blob */
	size_t signature_len;
	size_t signed_len;		/* the blob's bytes the signature covers */
};

/* Whether blob's type name (its first SSH string) is a certificate type. */
bool ssh_cert_is_cert(const uint8_t *blob, size_t len);
/* Parses a certificate blob completely (every field, nothing after the signature).  false with
 * why ("certificate: ..." at most SSH_CERT_WHY_MAX) if it is not a well-formed certificate of
 * a type warren accepts (those of roster ssh-key lines). */
bool ssh_cert_parse(struct ssh_cert *c, const uint8_t *blob, size_t len, char *why,
    size_t whylen);
/* Checks what the bastion requires before it lets principal in at now (Unix seconds): signed
 * by the Ed25519 key ca (its signature verified), a user certificate, valid at now for at most
 * SSH_CERT_LIFETIME_MAX in all, principal among its principals, no critical option (warren
 * issues none, and an unknown one must be refused), and the extension permit-port-forwarding
 * (a jump is a forwarding: the nodes' sshd refuses one without it).  false with why. */
bool ssh_cert_check(const struct ssh_cert *c, const uint8_t ca[KEY_LEN], const char *principal,
    int64_t now, char *why, size_t whylen);
/* SHA256:... of the certified key, as ssh-keygen -l prints it for the certificate (OpenSSH
 * fingerprints a certificate by its plain key). */
void ssh_cert_key_fingerprint(const struct ssh_cert *c, char out[51]);

/* The OpenSSH public key line of an Ed25519 key: "ssh-ed25519 BASE64" (out holds at least
 * SSH_ED25519_LINE_MAX bytes), and back: false if line is not exactly that form. */
enum { SSH_ED25519_LINE_MAX = 12 + 68 + 1 };
void ssh_ed25519_line(char *out, const uint8_t key[KEY_LEN]);
bool ssh_ed25519_line_parse(uint8_t key[KEY_LEN], const char *line);

#endif
