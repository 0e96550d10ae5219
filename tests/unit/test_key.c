/* libkeys key handling: codecs (known answers + differential against libsodium's own base64),
 * RFC 7748 public key derivation, clamping, and key file permission rules. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/key.h"

static void unhex(uint8_t out[KEY_LEN], const char *hex)
{
	size_t bin_len = 0;

	assert_int_equal(sodium_hex2bin(out, KEY_LEN, hex, strlen(hex), NULL, &bin_len, NULL), 0);
	assert_int_equal(bin_len, KEY_LEN);
}

/* 1. RFC 7748 section 6.1 known answers, and their base64 as `wg pubkey` prints it. */
static const struct {
	const char *priv_hex, *pub_hex, *priv_b64, *pub_b64;
} kat[] = {
	/* 1 */ { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
		  "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=",
		  "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" },
	/* 2 */ { "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
		  NULL, NULL },
};

static void test_known_answers(void **state)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN], want[KEY_LEN], dec[KEY_LEN];
	char b64[KEY_B64_LEN + 1], hex[KEY_HEX_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		unhex(priv, kat[i].priv_hex);
		unhex(want, kat[i].pub_hex);
		assert_true(key_public_from_private(pub, priv));
		assert_memory_equal(pub, want, KEY_LEN);
		key_to_hex(hex, pub);
		assert_string_equal(hex, kat[i].pub_hex);
		if (!kat[i].priv_b64)
			continue;
		key_to_base64(b64, priv);
		assert_string_equal(b64, kat[i].priv_b64);
		key_to_base64(b64, pub);
		assert_string_equal(b64, kat[i].pub_b64);
		assert_true(key_from_base64(dec, kat[i].pub_b64));
		assert_memory_equal(dec, want, KEY_LEN);
	}
}

/* 2. Strict base64: numbered cases, expected verdict. */
static const struct {
	const char *in;
	bool ok;
} b64_cases[] = {
	/*  1 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=", true },
	/*  2 */ { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true },
	/*  3 */ { "//////////////////////////////////////////8=", true },
	/*  4 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo", false },	/* no '=' */
	/*  5 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC=", false },	/* 43 */
	/*  6 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==", false },	/* 45 */
	/*  7 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= ", false },	/* trailing ws */
	/*  8 */ { "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", false },	/* non-canonical */
	/*  9 */ { "///////////////////////////////////////////=", false },	/* non-canonical */
	/* 10 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L*o=", false },	/* bad char */
	/* 11 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L-o=", false },	/* url-safe */
	/* 12 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L_o=", false },
	/* 13 */ { "dwdtCnMYpX08FsFy=bJmRd9ML4frwJkqsXf7pR25LCo=", false },	/* '=' inside */
	/* 14 */ { "", false },
	/* 15 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC\xc3=", false },
	/* 16 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo.", false },
};

static void test_base64_cases(void **state)
{
	uint8_t k[KEY_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		memset(k, 0xaa, sizeof(k));
		if (key_from_base64(k, b64_cases[i].in) != b64_cases[i].ok)
			fail_msg("base64 case %zu: expected %s", i + 1,
			    b64_cases[i].ok ? "accept" : "reject");
	}
}

/* 3. Hex: numbered cases. */
static const struct {
	const char *in;
	bool ok;
} hex_cases[] = {
	/* 1 */ { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", true },
	/* 2 */ { "8520F0098930A754748B7DDCB43EF75A0DBF3A0D26381AF4EBA4A98EAA9B4E6A", true },
	/* 3 */ { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6", false },
	/* 4 */ { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a0", false },
	/* 5 */ { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6g", false },
	/* 6 */ { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6:", false },
	/* 7 */ { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6/", false },
	/* 8 */ { " 520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", false },
	/* 9 */ { "", false },
};

static void test_hex_cases(void **state)
{
	uint8_t k[KEY_LEN], want[KEY_LEN];
	size_t i;

	(void)state;
	unhex(want, hex_cases[0].in);
	for (i = 0; i < sizeof(hex_cases) / sizeof(hex_cases[0]); i++) {
		if (key_from_hex(k, hex_cases[i].in) != hex_cases[i].ok)
			fail_msg("hex case %zu: expected %s", i + 1,
			    hex_cases[i].ok ? "accept" : "reject");
		if (hex_cases[i].ok)
			assert_memory_equal(k, want, KEY_LEN);
	}
}

/* 4. Differential: our codecs against libsodium's on random keys and on mutated strings. */
static void test_codec_differential(void **state)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ *";
	uint8_t k[KEY_LEN], a[KEY_LEN], b[KEY_LEN];
	char ours[KEY_HEX_LEN + 1], ref[KEY_HEX_LEN + 1];
	size_t bin_len, i, pos;
	const char *end;
	bool ok_ours, ok_ref;

	(void)state;
	for (i = 0; i < 5000; i++) {
		randombytes_buf(k, sizeof(k));
		key_to_base64(ours, k);
		sodium_bin2base64(ref, sizeof(ref), k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
		assert_string_equal(ours, ref);
		assert_true(key_from_base64(a, ours));
		assert_memory_equal(a, k, KEY_LEN);

		/* Mutate one character and compare verdicts. */
		pos = randombytes_uniform(KEY_B64_LEN);
		ours[pos] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
		ok_ours = key_from_base64(a, ours);
		ok_ref = sodium_base642bin(b, sizeof(b), ours, KEY_B64_LEN, NULL, &bin_len, &end,
		    sodium_base64_VARIANT_ORIGINAL) == 0 && bin_len == KEY_LEN &&
		    end == ours + KEY_B64_LEN;
		if (ok_ours != ok_ref)
			fail_msg("base64 verdict differs from libsodium on '%s'", ours);
		if (ok_ours)
			assert_memory_equal(a, b, KEY_LEN);

		key_to_hex(ours, k);
		sodium_bin2hex(ref, sizeof(ref), k, sizeof(k));
		assert_string_equal(ours, ref);
		assert_true(key_from_hex(a, ours));
		assert_memory_equal(a, k, KEY_LEN);
	}
}

/* 5. Generated keys are clamped, distinct, and have a public key. */
static void test_generate(void **state)
{
	uint8_t k[KEY_LEN], prev[KEY_LEN], pub[KEY_LEN];
	int i;

	(void)state;
	memset(prev, 0, sizeof(prev));
	for (i = 0; i < 200; i++) {
		key_generate_private(k);
		assert_int_equal(k[0] & 7, 0);
		assert_int_equal(k[31] & 128, 0);
		assert_int_equal(k[31] & 64, 64);
		assert_false(key_is_zero(k));
		assert_memory_not_equal(k, prev, KEY_LEN);
		assert_true(key_public_from_private(pub, k));
		memcpy(prev, k, KEY_LEN);
	}
	memset(k, 0, sizeof(k));
	assert_true(key_is_zero(k));
	k[31] = 1;
	assert_false(key_is_zero(k));
}

/* Key files. */
static char dir[64];

static int files_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_key.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int files_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *content, mode_t mode)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* 6. key_file_read: numbered cases with the expected errno and message fragment. */
static const struct {
	const char *content;
	mode_t mode;
	bool private;
	int ret;
	const char *msg;
} read_cases[] = {
	/* 1 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 0600, true, 0, NULL },
	/* 2 */ { "  dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\r\n\n", 0400, true, 0, NULL },
	/* 3 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 0644, true, -EACCES,
		  "permissions 0644 for '" },
	/* 4 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 0640, true, -EACCES,
		  "are too open; private key files must be 0600" },
	/* 5 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 0602, true, -EACCES,
		  "permissions 0602" },
	/* 6 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", 0644, false, 0, NULL },
	/* 7 */ { "not a key\n", 0600, true, -EINVAL, "does not hold a base64 key" },
	/* 8 */ { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nsecond line\n", 0600, true,
		  -EINVAL, "does not hold a base64 key" },
	/* 9 */ { "", 0600, true, -EINVAL, "does not hold a base64 key" },
};

static void test_file_read(void **state)
{
	uint8_t k[KEY_LEN], want[KEY_LEN];
	char path[128], err[512];
	size_t i;
	int ret;

	(void)state;
	unhex(want, kat[0].priv_hex);
	snprintf(path, sizeof(path), "%s/k", dir);
	for (i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++) {
		write_file("k", read_cases[i].content, read_cases[i].mode);
		err[0] = '\0';
		memset(k, 0, sizeof(k));
		ret = key_file_read(path, read_cases[i].private, k, err, sizeof(err));
		if (ret != read_cases[i].ret)
			fail_msg("read case %zu: ret %d, want %d (%s)", i + 1, ret,
			    read_cases[i].ret, err);
		if (ret == 0)
			assert_memory_equal(k, want, KEY_LEN);
		if (read_cases[i].msg && !strstr(err, read_cases[i].msg))
			fail_msg("read case %zu: message '%s' lacks '%s'", i + 1, err,
			    read_cases[i].msg);
		if (read_cases[i].msg && !strstr(err, path))
			fail_msg("read case %zu: message '%s' does not name the file", i + 1, err);
	}
}

/* 7. Missing files, directories, symlinks (followed, target's mode checked). */
static void test_file_read_special(void **state)
{
	char path[128], link[128], err[512];
	uint8_t k[KEY_LEN];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(key_file_read(path, true, k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(key_file_read(dir, true, k, err, sizeof(err)), -EINVAL);

	write_file("target", kat[0].priv_b64, 0600);
	snprintf(path, sizeof(path), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	unlink(link);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(key_file_read(link, true, k, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(key_file_read(link, true, k, err, sizeof(err)), -EACCES);

	/* A FIFO must be refused at once, not block the daemon waiting for a writer. */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5);
	assert_int_equal(key_file_read(path, true, k, err, sizeof(err)), -EINVAL);
	alarm(0);
}

/* 8. key_file_write: 0600 whatever the umask, O_EXCL unless overwrite, round trip. */
static void test_file_write(void **state)
{
	uint8_t k[KEY_LEN], back[KEY_LEN];
	char path[128], err[512], buf[128];
	struct stat st;
	mode_t old;
	ssize_t n;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/w", dir);
	unlink(path);
	key_generate_private(k);
	old = umask(0);
	assert_int_equal(key_file_write(path, k, false), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, KEY_B64_LEN + 1);
	assert_int_equal(buf[KEY_B64_LEN], '\n');
	assert_int_equal(key_file_read(path, true, back, err, sizeof(err)), 0);
	assert_memory_equal(back, k, KEY_LEN);

	assert_int_equal(key_file_write(path, k, false), -EEXIST);
	assert_int_equal(chmod(path, 0644), 0);
	key_generate_private(k);
	assert_int_equal(key_file_write(path, k, true), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(key_file_read(path, true, back, err, sizeof(err)), 0);
	assert_memory_equal(back, k, KEY_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_base64_cases),
		cmocka_unit_test(test_hex_cases),
		cmocka_unit_test(test_codec_differential),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_file_read_special),
		cmocka_unit_test(test_file_write),
	};

	if (!key_lib_init())
		return 1;
	return cmocka_run_group_tests(tests, files_setup, files_teardown);
}
