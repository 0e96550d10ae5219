/* libFuzzer target: ssh_cert_parse and ssh_cert_check on arbitrary blobs (what an SSH client
 * offers the bastion before it has authenticated).  Whatever parses must lie inside the input
 * (every borrowed field within it, the signed part a prefix), and the check must not accept
 * anything but a certificate the fixed CA below signed (the seeds are ssh-keygen's, from
 * tests/unit/test_ssh_cert.c: their CA is not this one, so nothing may pass). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/lib/ssh_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void within(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
	if (len && (p < data || p > data + size || len > (size_t)(data + size - p))) {
		fprintf(stderr, "fuzz_ssh_cert: a field outside the input\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ca[KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char why[SSH_CERT_WHY_MAX], fp[51];
	struct ssh_cert c;

	(void)ssh_cert_is_cert(data, size);
	if (!ssh_cert_parse(&c, data, size, why, sizeof(why)))
		return 0;
	within(data, size, c.key, c.key_len);
	within(data, size, c.key_id, c.key_id_len);
	within(data, size, c.principals, c.principals_len);
	within(data, size, c.critical, c.critical_len);
	within(data, size, c.ca_key, c.ca_key_len);
	within(data, size, c.signature, c.signature_len);
	if (c.signed_len > size)
		abort();
	ssh_cert_key_fingerprint(&c, fp);
	if (ssh_cert_check(&c, ca, "alice", 1796083200, why, sizeof(why))) {
		fprintf(stderr, "fuzz_ssh_cert: accepted a certificate of a CA with no secret\n");
		abort();
	}
	return 0;
}
