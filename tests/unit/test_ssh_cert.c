/* OpenSSH user certificates (keys/lib/ssh_cert.c): certificates ssh-keygen (OpenSSH 9.2)
 * signed, checked as the bastion checks them: the CA, the signature, the type, the validity
 * window at its edges, the principal and critical options; every truncation and every
 * single-bit change of a good certificate is refused without a crash; fingerprints as
 * ssh-keygen -l prints them; the roster's engineer-ca line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/roster.h"
#include "keys/lib/ssh_cert.h"

/* Made with ssh-keygen: ca (Ed25519); alice (Ed25519) signed -I alice@prod -n alice
 * -V 20261130000000:20261207000000 -z 7; a2: the same key, -O force-command=/bin/true, -z 8;
 * a3: the same key as a host certificate (-h), -z 9; ec (ECDSA P-256) -n alice,bob -z 10;
 * rsa (2048) -n bob -z 11, no -V (valid forever); a4: -O no-port-forwarding, -z 12; a5: valid
 * 2026-11-30 to 2027-01-01 (32 days), -z 13. */
static const char ca_pub[] =
	"AAAAC3NzaC1lZDI1NTE5AAAAIE7FtNkRra1yvJpozlvb5DjxsP4XVQEfM9OFj4BzW8fu"
;
static const char alice_cert_pub[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIPA3nD+64axEyu8jxgQKDmcCQQSnaK+Y"
	"XHY9LYSffp+zAAAAIHoJegu+t24CK1uuJ+Mn8JqN1KMyJoEMcNbxji6zl8dQAAAAAAAAAAcAAAABAAAACmFs"
	"aWNlQHByb2QAAAAJAAAABWFsaWNlAAAAAGsMvIAAAAAAaxX3AAAAAAAAAACCAAAAFXBlcm1pdC1YMTEtZm9y"
	"d2FyZGluZwAAAAAAAAAXcGVybWl0LWFnZW50LWZvcndhcmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndh"
	"cmRpbmcAAAAAAAAACnBlcm1pdC1wdHkAAAAAAAAADnBlcm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3Nz"
	"aC1lZDI1NTE5AAAAIE7FtNkRra1yvJpozlvb5DjxsP4XVQEfM9OFj4BzW8fuAAAAUwAAAAtzc2gtZWQyNTUx"
	"OQAAAEAu9yIKEp4ACuYDZS5hssr1mYPF81UniB82ghs89qFJotIfsWg9KYenKBNzEyc8PtCyl+P4+2SOvcZz"
	"oCgAi6EN"
;
static const char a2_cert_pub[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIJHLymI5Fh8iLDla96gfgjaxvYhLR4If"
	"YWzWNuXXvnziAAAAIHoJegu+t24CK1uuJ+Mn8JqN1KMyJoEMcNbxji6zl8dQAAAAAAAAAAgAAAABAAAABWZv"
	"cmNlAAAACQAAAAVhbGljZQAAAABrDLyAAAAAAGsV9wAAAAAiAAAADWZvcmNlLWNvbW1hbmQAAAANAAAACS9i"
	"aW4vdHJ1ZQAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2Fy"
	"ZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVy"
	"bWl0LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAgTsW02RGtrXK8mmjOW9vkOPGw/hdV"
	"AR8z04WPgHNbx+4AAABTAAAAC3NzaC1lZDI1NTE5AAAAQIjfFC0N/Xu2YQwhe9AhONq2+485K5+RuCrHZtiv"
	"QQtHIXL+AAiLVhGC6Xk8TNflhduxF8lLxliU+jK/7iTjsQc="
;
static const char a3_cert_pub[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAINOKAWwi3Zka8OAAhWJtFsEBgp8XDwe2"
	"8aH3V4y15sX8AAAAIHoJegu+t24CK1uuJ+Mn8JqN1KMyJoEMcNbxji6zl8dQAAAAAAAAAAkAAAACAAAABGhv"
	"c3QAAAAJAAAABWFsaWNlAAAAAGsMvIAAAAAAaxX3AAAAAAAAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkA"
	"AAAgTsW02RGtrXK8mmjOW9vkOPGw/hdVAR8z04WPgHNbx+4AAABTAAAAC3NzaC1lZDI1NTE5AAAAQP6UAP6H"
	"b+eEGOhMfCTSsDmR6qBb1xLuIdV4le6Ce671rI5lEvs7GWrWv+CLGprUt/baOAwRFDgRGwfFUaXkbgs="
;
static const char ec_cert_pub[] =
	"AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAg8AvFptJ/9DYcGNob1bCB"
	"BAjJDJEND38NaR7jJyMFmc4AAAAIbmlzdHAyNTYAAABBBPyfiQV4jV9b64Tsl5PcSi/VcuRO53zPT2nTeP/I"
	"B5Y2MyrnxPfTU1LXZRqgXkQfb22pNYGefEiUeZAFva2tjP0AAAAAAAAACgAAAAEAAAACZWMAAAAQAAAABWFs"
	"aWNlAAAAA2JvYgAAAABrDLyAAAAAAGsV9wAAAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAA"
	"AAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAA"
	"AApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAA"
	"ACBOxbTZEa2tcryaaM5b2+Q48bD+F1UBHzPThY+Ac1vH7gAAAFMAAAALc3NoLWVkMjU1MTkAAABA8a3SEgDQ"
	"8W9pSPDz18JKNEuWmoPRKdAWa6Ya8kqZYHuB2I/N8rUP5Jd6GoRQOyngyIaQnBWzb7C4QZKRaWDfCw=="
;
static const char rsa_cert_pub[] =
	"AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgbu+dIPkmOV+ECWIJactZTTAmXXCUTpzhw5mT"
	"NENgQ98AAAADAQABAAABAQC1E+cJBqfBdukCrc3cCnMsWDlSVMWSTcUN7jhB6iA1b+HF6CtnfSGFl3PTowKO"
	"sBKPOOTtm+VoSP4plYdYgGwbo1eJom/YcQU64EXLDvRdbHfvm7Aq1h77xQYWeUcXPqiiaKGFUZPBEeG2cdc3"
	"rmVBge54jFfeq0jpGPVa2o/mG8CMf6RaqtXjBABX0O7TNiUTuw0PKydAqIf7zyniShE6QmotM6hu/zHXoINW"
	"Ad6mp6wh0eG6M/vM+XHbBS2yHwkluGbp0pU2O4YVc4QHgvV9ToD3CtLH0jnKFujasj68qm0GM/W8T1CB44AW"
	"dxaQ6drqa2cLkebFRt66VVg2Yo6bAAAAAAAAAAsAAAABAAAAA3JzYQAAAAcAAAADYm9iAAAAAAAAAAD/////"
	"/////wAAAAAAAACCAAAAFXBlcm1pdC1YMTEtZm9yd2FyZGluZwAAAAAAAAAXcGVybWl0LWFnZW50LWZvcndh"
	"cmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndhcmRpbmcAAAAAAAAACnBlcm1pdC1wdHkAAAAAAAAADnBl"
	"cm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIE7FtNkRra1yvJpozlvb5DjxsP4X"
	"VQEfM9OFj4BzW8fuAAAAUwAAAAtzc2gtZWQyNTUxOQAAAEDpf6Avu6eaHQQljpZb10ZbwYGSi0TAziLH+/vj"
	"otPmBuD16sVbb1pZC2zpb0+Ca2Miqy1dsCK2bGBlyod3xIIP"
;
static const char a4_cert_pub[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIF0eHp4yHZM8VxwEKBBpJHuW40dPESwO"
	"V0e+hEVkJrPDAAAAIHoJegu+t24CK1uuJ+Mn8JqN1KMyJoEMcNbxji6zl8dQAAAAAAAAAAwAAAABAAAABW5v"
	"ZndkAAAACQAAAAVhbGljZQAAAABrDLyAAAAAAGsV9wAAAAAAAAAAZAAAABVwZXJtaXQtWDExLWZvcndhcmRp"
	"bmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJt"
	"aXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBOxbTZEa2tcryaaM5b2+Q48bD+F1UB"
	"HzPThY+Ac1vH7gAAAFMAAAALc3NoLWVkMjU1MTkAAABAqyF6vtynAhxfeqHqLs9W+nJftUhJxjELVq4GRzVg"
	"D4729fZDqSkQozxUumUHJV83SrADxXV9+dPPOX902IoPAg=="
;
static const char a5_cert_pub[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIDQI11pbujni8Qc8xalIJx56QJ/GSPIJ"
	"cd/oi35Mqo2RAAAAIHoJegu+t24CK1uuJ+Mn8JqN1KMyJoEMcNbxji6zl8dQAAAAAAAAAA0AAAABAAAABGxv"
	"bmcAAAAJAAAABWFsaWNlAAAAAGsMvIAAAAAAazbsgAAAAAAAAACCAAAAFXBlcm1pdC1YMTEtZm9yd2FyZGlu"
	"ZwAAAAAAAAAXcGVybWl0LWFnZW50LWZvcndhcmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndhcmRpbmcA"
	"AAAAAAAACnBlcm1pdC1wdHkAAAAAAAAADnBlcm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1"
	"NTE5AAAAIE7FtNkRra1yvJpozlvb5DjxsP4XVQEfM9OFj4BzW8fuAAAAUwAAAAtzc2gtZWQyNTUxOQAAAEAZ"
	"ssLBZXw3HF7Wxt4rpWWISQUSE8D1afmEsynY2Vk08mDdF3Ao6lhDsKayTBsF+xTySqsaae6bupdMwiHIieEF"
;

enum { T2026 = 1796083200 /* 2026-12-01T00:00:00Z */, TAFTER = 1795996800, TBEFORE = 1796601600 };

static uint8_t ca_key[KEY_LEN];

/* Decodes base64 into a malloc'd blob. */
static uint8_t *blob_of(const char *b64, size_t *len)
{
	uint8_t *b = malloc(strlen(b64));

	assert_non_null(b);
	assert_int_equal(sodium_base642bin(b, strlen(b64), b64, strlen(b64), NULL, len, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	return b;
}

static int setup_ca(void **state)
{
	size_t len;
	uint8_t *b = blob_of(ca_pub, &len);

	(void)state;
	assert_int_equal(len, 19 + KEY_LEN);
	memcpy(ca_key, b + 19, KEY_LEN);
	free(b);
	return 0;
}

/* check B64 PRINCIPAL NOW: ssh_cert_parse then ssh_cert_check; why gets the refusal. */
static bool check(const char *b64, const char *principal, int64_t now, char *why)
{
	struct ssh_cert c;
	size_t len;
	uint8_t *b = blob_of(b64, &len);
	bool ok;

	why[0] = '\0';
	ok = ssh_cert_is_cert(b, len) && ssh_cert_parse(&c, b, len, why, SSH_CERT_WHY_MAX) &&
	    ssh_cert_check(&c, ca_key, principal, now, why, SSH_CERT_WHY_MAX);
	free(b);
	return ok;
}

static void test_good(void **state)
{
	char why[SSH_CERT_WHY_MAX], fp[51];
	struct ssh_cert c;
	size_t len;
	uint8_t *b = blob_of(alice_cert_pub, &len);

	(void)state;
	assert_true(ssh_cert_parse(&c, b, len, why, sizeof(why)));
	assert_string_equal(c.plain_type, "ssh-ed25519");
	assert_int_equal(c.serial, 7);
	assert_int_equal(c.type, SSH_CERT_TYPE_USER);
	assert_int_equal(c.key_id_len, 10);
	assert_memory_equal(c.key_id, "alice@prod", 10);
	assert_int_equal(c.valid_after, TAFTER);
	assert_int_equal(c.valid_before, TBEFORE);
	assert_int_equal(c.critical_len, 0);
	ssh_cert_key_fingerprint(&c, fp);
	assert_string_equal(fp, "SHA256:iyG4GosIHXyCtBEZB8En0LcXJiMUSO86VaS1B5ruQUw");
	assert_true(ssh_cert_check(&c, ca_key, "alice", T2026, why, sizeof(why)));
	free(b);

	b = blob_of(ec_cert_pub, &len);
	assert_true(ssh_cert_parse(&c, b, len, why, sizeof(why)));
	assert_string_equal(c.plain_type, "ecdsa-sha2-nistp256");
	ssh_cert_key_fingerprint(&c, fp);
	assert_string_equal(fp, "SHA256:7cuFksEhlGME8UvHIrpFVFrkn4NoFWiWwVa1Ej+/Vak");
	free(b);
	/* Either of two principals. */
	assert_true(check(ec_cert_pub, "alice", T2026, why));
	assert_true(check(ec_cert_pub, "bob", T2026, why));
}

static void test_refusals(void **state)
{
	char why[SSH_CERT_WHY_MAX];
	uint8_t other[KEY_LEN];

	(void)state;
	/* The window: valid_after <= now < valid_before. */
	assert_true(check(alice_cert_pub, "alice", TAFTER, why));
	assert_false(check(alice_cert_pub, "alice", TAFTER - 1, why));
	assert_string_equal(why, "certificate not valid before 2026-11-30T00:00:00Z");
	assert_true(check(alice_cert_pub, "alice", TBEFORE - 1, why));
	assert_false(check(alice_cert_pub, "alice", TBEFORE, why));
	assert_string_equal(why, "certificate expired at 2026-12-07T00:00:00Z");
	/* What keys engineer cert never makes: valid forever, or for more than 30 days; without
	 * permit-port-forwarding (a jump is one). */
	assert_false(check(rsa_cert_pub, "bob", T2026, why));
	assert_string_equal(why, "certificate valid for more than 30 days (until never): not one "
	    "keys engineer cert makes");
	assert_false(check(a5_cert_pub, "alice", T2026, why));
	assert_string_equal(why, "certificate valid for more than 30 days (until "
	    "2027-01-01T00:00:00Z): not one keys engineer cert makes");
	assert_false(check(a4_cert_pub, "alice", T2026, why));
	assert_string_equal(why, "certificate without permit-port-forwarding: a jump is a "
	    "forwarding");
	assert_false(check(alice_cert_pub, "alice", -1, why));
	/* Principal: exactly, not a prefix. */
	assert_false(check(alice_cert_pub, "bob", T2026, why));
	assert_string_equal(why, "certificate is not for principal 'bob'");
	assert_false(check(alice_cert_pub, "alic", T2026, why));
	assert_false(check(alice_cert_pub, "alice2", T2026, why));
	/* A critical option warren does not issue; a host certificate. */
	assert_false(check(a2_cert_pub, "alice", T2026, why));
	assert_string_equal(why, "certificate has critical option 'force-command' (refused: warren "
	    "issues none)");
	assert_false(check(a3_cert_pub, "alice", T2026, why));
	assert_string_equal(why, "not a user certificate (type 2)");
	/* Another CA. */
	memcpy(other, ca_key, KEY_LEN);
	ca_key[0] ^= 1;
	assert_false(check(alice_cert_pub, "alice", T2026, why));
	assert_string_equal(why, "certificate not signed by the roster's engineer CA");
	memcpy(ca_key, other, KEY_LEN);
}

/* Every prefix is refused by the parser; every single-bit flip by parse or check (a flip in the
 * signed part breaks the signature; one in the signature too). */
static void test_mutations(void **state)
{
	char why[SSH_CERT_WHY_MAX];
	struct ssh_cert c;
	size_t len, i, bit;
	uint8_t *b = blob_of(alice_cert_pub, &len), *t;

	(void)state;
	for (i = 0; i < len; i++) {
		t = malloc(i ? i : 1);
		assert_non_null(t);
		memcpy(t, b, i);
		assert_false(ssh_cert_parse(&c, t, i, why, sizeof(why)));
		free(t);
	}
	t = malloc(len + 1);
	assert_non_null(t);
	memcpy(t, b, len);
	t[len] = 0;
	assert_false(ssh_cert_parse(&c, t, len + 1, why, sizeof(why)));
	assert_string_equal(why, "certificate: 1 bytes after the signature");
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(t, b, len);
			t[i] ^= (uint8_t)(1u << bit);
			assert_false(ssh_cert_parse(&c, t, len, why, sizeof(why)) &&
			    ssh_cert_check(&c, ca_key, "alice", T2026, why, sizeof(why)));
		}
	}
	free(t);
	free(b);
	/* Not certificates at all. */
	b = blob_of(ca_pub, &len);
	assert_false(ssh_cert_is_cert(b, len));
	assert_false(ssh_cert_parse(&c, b, len, why, sizeof(why)));
	assert_string_equal(why, "certificate: unsupported type 'ssh-ed25519'");
	free(b);
	assert_false(ssh_cert_is_cert((const uint8_t *)"", 0));
}

static void test_ed25519_line(void **state)
{
	char line[SSH_ED25519_LINE_MAX], bad[SSH_ED25519_LINE_MAX + 8];
	uint8_t k[KEY_LEN];

	(void)state;
	ssh_ed25519_line(line, ca_key);
	assert_string_equal(line + 12, ca_pub);
	assert_true(ssh_ed25519_line_parse(k, line));
	assert_memory_equal(k, ca_key, KEY_LEN);
	snprintf(bad, sizeof(bad), "ssh-ed25519  %s", ca_pub);
	assert_false(ssh_ed25519_line_parse(k, bad));
	snprintf(bad, sizeof(bad), "ssh-rsa %s", ca_pub);
	assert_false(ssh_ed25519_line_parse(k, bad));
	snprintf(bad, sizeof(bad), "%s", line);
	bad[strlen(bad) - 1] = '!';	/* not base64 */
	assert_false(ssh_ed25519_line_parse(k, bad));
	assert_false(ssh_ed25519_line_parse(k, "ssh-ed25519 AAAA"));
	assert_false(ssh_ed25519_line_parse(k, ""));
}

/* Serializes r, compares with text, frees r. */
static void written_back(struct roster *r, const char *text)
{
	size_t len = 0;
	char *out = roster_serialize(r, false, &len);

	assert_non_null(out);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(out, text, len);
	free(out);
	roster_free(r);
}

/* The roster's engineer-ca line: parsed and written back byte for byte; an engineer without a
 * key only with it; a bad one named with its line. */
static void test_roster_line(void **state)
{
	static const char head[] = "warren-roster 1\nnetwork prod\ncidr 100.64.0.0/16\nserial 1\n"
	    "issued 2026-11-21T23:00:00Z\nadmin BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=\n";
	char text[1024];
	struct roster_errors errs = { 0 };
	struct roster r;

	(void)state;
	snprintf(text, sizeof(text), "%sengineer-ca ssh-ed25519 %s\nengineer carol\n\tallow * 22\n",
	    head, ca_pub);
	roster_init(&r);
	assert_true(roster_parse(text, strlen(text), "roster", &r, &errs));
	assert_true(r.has_engineer_ca);
	assert_memory_equal(r.engineer_ca, ca_key, KEY_LEN);
	assert_int_equal(r.engineers[0].n_ssh_keys, 0);
	written_back(&r, text);

	/* Her certificates' principal: carol#TOKEN, between her keys and her allow lines. */
	snprintf(text, sizeof(text), "%sengineer-ca ssh-ed25519 %s\nengineer carol\n"
	    "\tcert-principal carol#abcd1234\n\tallow * 22\n", head, ca_pub);
	assert_true(roster_parse(text, strlen(text), "roster", &r, &errs));
	assert_string_equal(r.engineers[0].cert_principal, "carol#abcd1234");
	written_back(&r, text);
	{
		static const char *const bad[] = { "dave#abcd1234", "carol#abc", "carol#ABCD1234",
		    "carol", "carol#abcd1234#", "carol#abcdefghijklmnopqrstuvwxyz0123456789" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(text, sizeof(text), "%sengineer-ca ssh-ed25519 %s\nengineer carol\n"
			    "\tcert-principal %s\n\tallow * 22\n", head, ca_pub, bad[i]);
			assert_false(roster_parse(text, strlen(text), "roster", &r, &errs));
			assert_non_null(strstr(errs.msgs[0], "roster:9: bad cert-principal"));
			roster_errors_free(&errs);
		}
	}
	{
		struct roster_engineer e = { .name = "carol" };

		roster_cert_principal_new(&e);
		assert_true(roster_cert_principal_valid("carol", e.cert_principal));
		assert_false(roster_cert_principal_valid("caro", e.cert_principal));
	}

	snprintf(text, sizeof(text), "%sengineer carol\n\tallow * 22\n", head);
	assert_false(roster_parse(text, strlen(text), "roster", &r, &errs));
	assert_string_equal(errs.msgs[0], "roster:7: engineer 'carol' has no ssh-key (and the roster "
	    "has no engineer-ca)");
	roster_errors_free(&errs);

	snprintf(text, sizeof(text), "%sengineer-ca ssh-rsa %s\n", head, ca_pub);
	assert_false(roster_parse(text, strlen(text), "roster", &r, &errs));
	assert_string_equal(errs.msgs[0], "roster:7: bad engineer-ca (expected an OpenSSH Ed25519 "
	    "public key: 'ssh-ed25519 BASE64')");
	roster_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_ed25519_line),
		cmocka_unit_test(test_roster_line),
	};

	if (!key_lib_init())
		return 1;
	return cmocka_run_group_tests(tests, setup_ca, NULL);
}
