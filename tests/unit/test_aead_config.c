/* The OpenSSL backend of the transport AEAD does not depend on the system's OpenSSL
 * configuration: with OPENSSL_CONF naming a file that activates only the "base" provider
 * (which has no ciphers), a process that read it could not fetch ChaCha20-Poly1305 and would
 * fall back to libsodium.  This program's first OpenSSL call is aead_init, as in tunneld. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "tunneld/wg/aead.h"

static const char base_only_cnf[] =
	"openssl_conf = openssl_init\n"
	"[openssl_init]\n"
	"providers = provider_sect\n"
	"[provider_sect]\n"
	"base = base_sect\n"
	"[base_sect]\n"
	"activate = 1\n";

static void
test_openssl_conf_ignored(void **state)
{
	char path[] = "/tmp/test_aead_config.XXXXXX";
	uint8_t key[32], nonce[AEAD_NONCE_LEN], pt[1420], ct[1420 + AEAD_TAG_LEN], ref[1420 + AEAD_TAG_LEN];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, base_only_cnf, sizeof(base_only_cnf) - 1),
	    (ssize_t)sizeof(base_only_cnf) - 1);
	close(fd);
	assert_int_equal(setenv("OPENSSL_CONF", path, 1), 0);

	assert_true(aead_init());
	assert_int_equal(aead_transport_backend_get(), AEAD_BACKEND_OPENSSL);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(pt, sizeof(pt));
	randombytes_buf(nonce, sizeof(nonce));
	assert_true(aead_chacha20poly1305_encrypt_with(AEAD_BACKEND_OPENSSL, ct, pt, sizeof(pt),
	    NULL, 0, nonce, key));
	assert_true(aead_chacha20poly1305_encrypt_with(AEAD_BACKEND_SODIUM, ref, pt, sizeof(pt),
	    NULL, 0, nonce, key));
	assert_memory_equal(ct, ref, sizeof(ct));
	unlink(path);
	aead_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_conf_ignored),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
