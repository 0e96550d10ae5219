/* libkeys roster format: canonical round trip (hand-written and 1,000 seeded random rosters),
 * every parse error with its exact "FILE:LINE: message", SSH keys (types, blobs, OpenSSH
 * fingerprints as `ssh-keygen -lf` prints them), and a 10,000-node parse + verify timing. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "keys/lib/roster.h"

#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define KA "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
#define SIG "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQ=="
#define SSH1 "AAAAC3NzaC1lZDI1NTE5AAAAILpI7Ou4/KWvjuOgS6dMHME3s/9goRfObjuCtwAbzzwK"
#define SSH2 "AAAAC3NzaC1lZDI1NTE5AAAAIJ/VPX7HidLedpkd1O9Al/UX2Me68elnBkPmDB2wUBeV"
#define SSH_RSA "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDGOFDyTbxVy0Ey5BzbTYoADltVURJqLgQ3Qnt6pQn11TqPz" \
	"/J5NTg4RxEMd91tro694qKfJCc5Ad45DvMjalPTbko7t6FM0KJjtol09Zc5A69LkuuIEBaXB3T1nx9ermsXT69o" \
	"JfnN8FweNJzU3Ix8+WlqsGEOYDPMZLvN48/kdw=="
#define SSH_ECDSA "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIOCUuUg4poAeOsJZZCP2hO7sI" \
	"lQNn1SNuf9rqErTzNSuU+tYcpx0ru3dKX6mnOmdtprnpH7+1VdJ3EIRWccUCg="

/* Line numbers are in the comments: the error cases below refer to them. */
static const char base[] =
	"warren-roster 1\n"				/*  1 */
	"network prod\n"				/*  2 */
	"cidr 100.64.0.0/16\n"				/*  3 */
	"cidr6 fd00:1234::/48\n"			/*  4 */
	"serial 7\n"					/*  5 */
	"issued 2026-11-21T23:00:00Z\n"			/*  6 */
	"admin " KA "\n"				/*  7 */
	"node db-1\n"					/*  8 */
	"\tkey " K1 "\n"				/*  9 */
	"\taddress 100.64.0.3\n"			/* 10 */
	"\taddress fd00:1234::3\n"			/* 11 */
	"\tsubnet 10.20.0.0/16\n"			/* 12 */
	"\tsubnet fd00:9999::/48\n"			/* 13 */
	"\tendpoint 192.0.2.3:51820\n"			/* 14 */
	"\tendpoint [2001:db8::3]:51820\n"		/* 15 */
	"\tgroup db\n"					/* 16 */
	"\tgroup prod\n"				/* 17 */
	"node web-1\n"					/* 18 */
	"\tkey " K2 "\n"				/* 19 */
	"\taddress 100.64.0.4\n"			/* 20 */
	"\tendpoint web-1.example.com:51820\n"		/* 21 */
	"\tgroup web\n"					/* 22 */
	"engineer alice\n"				/* 23 */
	"\tssh-key ssh-ed25519 " SSH1 " alice@laptop\n"	/* 24 */
	"\tallow * 1-65535\n"				/* 25 */
	"\tallow group:db 5432\n"			/* 26 */
	"\tallow web-1 22\n"				/* 27 */
	"engineer bob\n"				/* 28 */
	"\tssh-key ssh-ed25519 " SSH2 " bob\n"		/* 29 */
	"\tallow web-1 80-443\n";			/* 30 */

/* base with the first occurrence of from replaced by to (to NULL: cut after from). */
static char *edit(const char *from, const char *to, size_t *len)
{
	const char *at = strstr(base, from);
	size_t pre, flen = strlen(from), tlen = to ? strlen(to) : 0;
	char *out;

	assert_non_null(at);
	pre = (size_t)(at - base);
	out = malloc(sizeof(base) + tlen);
	assert_non_null(out);
	if (!to) {
		memcpy(out, base, pre + flen);
		*len = pre + flen;
		return out;
	}
	memcpy(out, base, pre);
	memcpy(out + pre, to, tlen);
	strcpy(out + pre + tlen, at + flen);
	*len = strlen(out);
	return out;
}

/* s with the first occurrence of from replaced by to (malloc'd). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t pre, tlen = strlen(to);
	char *out;

	assert_non_null(at);
	pre = (size_t)(at - s);
	out = malloc(strlen(s) + tlen + 1);
	assert_non_null(out);
	memcpy(out, s, pre);
	memcpy(out + pre, to, tlen);
	strcpy(out + pre + tlen, at + strlen(from));
	return out;
}

/* 1. The hand-written roster parses, and serializes back byte for byte. */
static void test_base_round_trip(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r;
	const struct roster_node *n;
	char *text;
	size_t len;

	(void)state;
	assert_true(roster_parse(base, strlen(base), "t", &r, &errs));
	assert_int_equal(errs.count, 0);
	assert_string_equal(r.network, "prod");
	assert_int_equal(r.serial, 7);
	assert_int_equal(r.issued, 1795302000);		/* date -ud 2026-11-21T23:00:00Z +%s */
	assert_int_equal(r.n_nodes, 2);
	assert_int_equal(r.n_engineers, 2);
	n = roster_node_find(&r, "db-1");
	assert_non_null(n);
	assert_int_equal(n->line, 8);
	assert_int_equal(n->n_subnets, 2);
	assert_int_equal(n->n_endpoints, 2);
	assert_string_equal(n->endpoints[1].host, "2001:db8::3");
	assert_int_equal(n->endpoints[1].port, 51820);
	assert_int_equal(n->addr4[3], 3);
	assert_string_equal(r.engineers[0].ssh_keys[0].comment, "alice@laptop");
	assert_int_equal(r.engineers[0].allows[0].port_lo, 1);
	assert_int_equal(r.engineers[0].allows[0].port_hi, 65535);
	assert_false(r.has_signature);
	text = roster_serialize(&r, true, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(base));
	assert_string_equal(text, base);
	free(text);
	roster_free(&r);
}

/* 2. Every rejection, with its exact first message (file "t"). */
static const struct {
	const char *from, *to;	/* edit of base; to NULL = file cut after from */
	const char *want;	/* prefix of the first error message */
} bad[] = {
	/*  1 */ { "warren-roster 1\n", "warren-roster 2\n", "t:1: unsupported roster version 2" },
	/*  2 */ { "warren-roster 1\n", "\x7f" "ELF\x02\x01\n", "t:1: not a warren roster" },
	/*  3 */ { "network prod\n", "network prod\nnetwork prod\n",
		   "t:3: duplicate 'network' (first at line 2)" },
	/*  4 */ { "serial 7\n", "serial 7\nfoo 1\n", "t:6: unknown field 'foo'" },
	/*  5 */ { "\tgroup web\n", "\tgroup web\n\tcolor blue\n", "t:23: unknown node field 'color'" },
	/*  6 */ { "node web-1\n", "node db-1\n", "t:18: duplicate node name 'db-1' (first at line 8)" },
	/*  7 */ { "node web-1\n", "node a-1\n", "t:18: nodes not sorted: 'a-1' after 'db-1'" },
	/*  8 */ { "\tkey " K2, "\tkey " K1, "t:19: WireGuard key already used by node 'db-1' (line 9)" },
	/*  9 */ { "engineer bob\n", "engineer alice\n",
		   "t:28: duplicate engineer name 'alice' (first at line 23)" },
	/* 10 */ { "alice@laptop\n", "alice@laptop\n\tssh-key ssh-ed25519 " SSH1 " again\n",
		   "t:25: duplicate SSH key (first at line 24)" },
	/* 11 */ { "address 100.64.0.4", "address 100.65.0.4",
		   "t:20: address 100.65.0.4 is outside the network's cidr 100.64.0.0/16" },
	/* 12 */ { "address 100.64.0.4", "address 100.64.0.3",
		   "t:20: address 100.64.0.3 already used by node 'db-1' (line 10)" },
	/* 13 */ { "address 100.64.0.4", "address 100.64.0.0",
		   "t:20: address 100.64.0.0 is the network address of the network" },
	/* 14 */ { "address 100.64.0.4", "address 100.64.255.255",
		   "t:20: address 100.64.255.255 is the broadcast address of the network" },
	/* 15 */ { "address 100.64.0.4\n", "address 100.64.0.4\n\tsubnet 10.20.5.0/24\n",
		   "t:21: subnet 10.20.5.0/24 overlaps 10.20.0.0/16 of node 'db-1' (line 12)" },
	/* 16 */ { "subnet 10.20.0.0/16", "subnet 100.64.128.0/17",
		   "t:12: subnet 100.64.128.0/17 overlaps the overlay cidr 100.64.0.0/16" },
	/* 17 */ { "subnet 10.20.0.0/16", "subnet 10.20.0.1/16", "t:12: bad subnet '10.20.0.1/16'" },
	/* 18 */ { "allow web-1 22", "allow web-2 22",
		   "t:27: allow names node 'web-2' that is not in the roster" },
	/* 19 */ { "group:db 5432", "group:dba 5432",
		   "t:26: allow names group 'dba' that no node is in" },
	/* 20 */ { "\tkey " K2 "\n", "", "t:18: node 'web-1' has no key" },
	/* 21 */ { "\taddress 100.64.0.4\n", "", "t:18: node 'web-1' has no address" },
	/* 22 */ { "serial 7\n", "serial 7 \n", "t:5: trailing space" },
	/* 23 */ { "\tkey " K2, "  key " K2, "t:19: expected tab indentation" },
	/* 24 */ { "allow web-1 22", "allow web-1  22", "t:27: more than one space between tokens" },
	/* 25 */ { "serial 7\n", "serial 7\r\n", "t:5: CR before LF (expected LF line ends)" },
	/* 26 */ { "node web-1\n", "\nnode web-1\n", "t:18: blank line" },
	/* 27 */ { "node web-1\n", "# web\nnode web-1\n", "t:18: comments are not allowed" },
	/* 28 */ { "cidr6 fd00:1234::/48\nserial 7\n", "serial 7\ncidr6 fd00:1234::/48\n",
		   "t:5: 'cidr6' out of order" },
	/* 29 */ { "admin " KA "\n", "", "t:7: missing 'admin' line in the header" },
	/* 30 */ { "\taddress 100.64.0.4\n\tendpoint web-1.example.com:51820\n",
		   "\tendpoint web-1.example.com:51820\n\taddress 100.64.0.4\n",
		   "t:21: 'address' out of order in node" },
	/* 31 */ { "\tgroup db\n\tgroup prod\n", "\tgroup prod\n\tgroup db\n", "t:17: groups not sorted" },
	/* 32 */ { "\tsubnet 10.20.0.0/16\n\tsubnet fd00:9999::/48\n",
		   "\tsubnet fd00:9999::/48\n\tsubnet 10.20.0.0/16\n", "t:13: subnets not sorted" },
	/* 33 */ { "\tallow group:db 5432\n\tallow web-1 22\n",
		   "\tallow web-1 22\n\tallow group:db 5432\n", "t:27: allows not sorted" },
	/* 34 */ { "\taddress 100.64.0.3\n\taddress fd00:1234::3\n",
		   "\taddress fd00:1234::3\n\taddress 100.64.0.3\n",
		   "t:11: IPv4 address after the IPv6 one" },
	/* 35 */ { "fd00:1234::3", "fd00:1234:0::3", "t:11: bad address 'fd00:1234:0::3'" },
	/* 36 */ { "allow web-1 80-443", "allow web-1 *", "t:30: non-canonical ports '*' (write 1-65535)" },
	/* 37 */ { "allow web-1 80-443", "allow web-1 80-80", "t:30: bad ports '80-80'" },
	/* 38 */ { "allow web-1 22", "allow web-1 65536", "t:27: bad ports '65536'" },
	/* 39 */ { "serial 7", "serial 07", "t:5: bad serial '07'" },
	/* 40 */ { "2026-11-21T", "2026-02-30T", "t:6: bad issued time '2026-02-30T23:00:00Z'" },
	/* 41 */ { "80-443\n", "80-443", "t:30: truncated file (no newline at the end)" },
	/* 42 */ { "issued 2026-11-21T23:00:00Z\n", NULL, "t:6: missing 'admin' line in the header" },
	/* 43 */ { "network prod", "network pr\x01od", "t:2: control character 0x01 at column 11" },
	/* 44 */ { "ssh-ed25519 " SSH2, "ssh-foo " SSH2,
		   "t:29: bad SSH key: unknown SSH key type 'ssh-foo'" },
	/* 45 */ { "ssh-ed25519 " SSH2, "ssh-rsa " SSH2,
		   "t:29: bad SSH key: SSH key blob is not a ssh-rsa key" },
	/* 46 */ { "80-443\n", "80-443\nsignature " SIG "\nengineer zed\n",
		   "t:32: line after the signature (the signature line is last)" },
	/* 47 */ { "\tssh-key ssh-ed25519 " SSH2 " bob\n", "", "t:28: engineer 'bob' has no ssh-key" },
	/* 48 */ { "cidr6 fd00:1234::/48\n", "",
		   "t:10: IPv6 address fd00:1234::3 but the network has no cidr6" },
	/* 49 */ { "\tkey " K2, "\tkey notakey", "t:19: bad WireGuard key 'notakey'" },
	/* 50 */ { "admin " KA "\n", "admin " KA "\nendorse " K1 " " K2 " " SIG "\nendorse " K3 " "
		   KA " " SIG "\n", "t:9: endorsement chain broken" },
	/* 51 */ { "admin " KA "\n", "admin " KA "\nendorse " K1 " " K2 " " SIG "\n",
		   "t:8: the last endorsement does not endorse the admin key" },
	/* 52 */ { "node web-1\n", "node Web-1\n", "t:18: bad node name 'Web-1'" },
	/* 53 */ { "engineer alice\n", "node zz\n\tkey " K3 "\n\taddress 100.64.0.9\nengineer alice\n",
		   "t:23: node 'zz' has no key" /* placeholder: replaced below */ },
	/* 54 */ { "endpoint 192.0.2.3:51820", "endpoint 192.0.2.3:0", "t:14: bad endpoint '192.0.2.3:0'" },
	/* 55 */ { "endpoint web-1.example.com", "endpoint Web-1.example.com",
		   "t:21: bad endpoint 'Web-1.example.com:51820'" },
	/* 56 */ { "\tkey " K1 "\n", "\tkey " K1 "\n\tkey " K1 "\n", "t:10: duplicate 'key' (first at line 9)" },
	/* 57 */ { "engineer alice\n", "engineer alice\n\tkey " K3 "\n",
		   "t:24: unknown engineer field 'key'" },
	/* 58 */ { "\tkey " K2, "\t\tkey " K2, "t:19: expected exactly one tab before a field" },
	/* 59 */ { "network prod\n", "\tnetwork prod\n", "t:2: indented line outside a node or engineer" },
	/* 60 */ { "serial 7\n", "serial 7 8\n", "t:5: 'serial' takes 1 value, not 2" },
	/* 61 */ { "endpoint web-1.example.com:51820", "endpoint 10.20.0.7:51820",
		   "t:12: subnet 10.20.0.0/16 of node 'db-1' contains endpoint 10.20.0.7 of node "
		   "'web-1' (line 21): the nodes would route that endpoint's tunnel packets into "
		   "the tunnel" },
	/* 62 */ { "[2001:db8::3]:51820", "[fd00:9999::3]:51820",
		   "t:13: subnet fd00:9999::/48 of node 'db-1' contains endpoint fd00:9999::3 of "
		   "node 'db-1' (line 15)" },
	/* 63 */ { "endpoint 192.0.2.3:51820", "endpoint 100.64.7.7:51820",
		   "t:14: endpoint 100.64.7.7:51820 is inside the overlay cidr" },
	/* 64 */ { "[2001:db8::3]:51820", "[fd00:1234::77]:51820",
		   "t:15: endpoint [fd00:1234::77]:51820 is inside the overlay cidr" },
	/* 65 */ { "allow web-1 80-443", "allow 10.21.0.0/24 22",
		   "t:30: allow names prefix 10.21.0.0/24 that is inside no node's subnet nor the "
		   "overlay cidr" },
	/* 66 */ { "allow web-1 80-443", "allow 10.0.0.0/8 22",	/* straddles db-1's /16 */
		   "t:30: allow names prefix 10.0.0.0/8 that is inside no node's subnet nor the "
		   "overlay cidr" },
	/* 67 */ { "allow web-1 80-443", "allow 10.20.1.1/24 22",
		   "t:30: bad allow target '10.20.1.1/24' (a node, group:NAME, * or a prefix)" },
	/* 68 */ { "allow web-1 80-443", "allow 10.20.1.0/24:22 22",
		   "t:30: bad allow target '10.20.1.0/24:22' (a node, group:NAME, * or a prefix)" },
	/* 69 */ { "allow web-1 80-443", "allow fd00:9999:0::/64 22",
		   "t:30: bad allow target 'fd00:9999:0::/64' (a node, group:NAME, * or a prefix)" },
	/* 70 */ { "\tallow web-1 80-443\n", "\tallow web-1 80-443\n\tallow 10.20.1.0/24 22\n",
		   "t:31: allows not sorted" },
	/* 71 */ { "issued 2026-11-21T23:00:00Z\n",
		   "issued 2026-11-21T23:00:00Z\nexpires 2026-11-21T23:00:00Z\n",
		   "t:7: expires 2026-11-21T23:00:00Z is not after issued 2026-11-21T23:00:00Z" },
	/* 72 */ { "issued 2026-11-21T23:00:00Z\n",
		   "expires 2026-12-21T23:00:00Z\nissued 2026-11-21T23:00:00Z\n",
		   "t:6: missing 'issued' line in the header" },
	/* 73 */ { "issued 2026-11-21T23:00:00Z\n",
		   "issued 2026-11-21T23:00:00Z\nexpires 2026-12-21 23:00\n",
		   "t:7: 'expires' takes 1 value, not 2" },
	/* 74 */ { "issued 2026-11-21T23:00:00Z\n",
		   "issued 2026-11-21T23:00:00Z\nexpires 2026-12-21T23:00:00\n",
		   "t:7: bad expires time '2026-12-21T23:00:00'" },
	/* 75 */ { "issued 2026-11-21T23:00:00Z\n",
		   "issued 2026-11-21T23:00:00Z\nexpires 2026-12-21T23:00:00Z\n"
		   "expires 2026-12-22T23:00:00Z\n", "t:8: duplicate 'expires' (first at line 7)" },
	/* 76 */ { "allow web-1 22\n", "allow web-1 22 after 2026-12-01T18:00:00Z\n",
		   "t:27: expected 'until TIME' after the ports, not 'after'" },
	/* 77 */ { "allow web-1 22\n", "allow web-1 22 until 2026-12-01\n",
		   "t:27: bad until time '2026-12-01'" },
	/* 78 */ { "allow web-1 22\n", "allow web-1 22 until\n",
		   "t:27: 'allow' takes 2 or 4 values, not 3" },
	/* 79 */ { "allow web-1 22\n", "allow web-1 22\n\tallow web-1 22 until 2026-12-01T18:00:00Z\n",
		   "t:28: duplicate allow web-1 22" },
};

static void test_errors(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r;
	char *text;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *want = bad[i].want;

		if (i + 1 == 53)	/* a node among the engineers: the section order rule */
			want = "t:23: node after engineers";
		text = edit(bad[i].from, bad[i].to, &len);
		if (i + 1 == 53) {
			free(text);
			text = edit("\tallow web-1 80-443\n", "\tallow web-1 80-443\nnode zz\n", &len);
			want = "t:31: node after engineers (nodes come first)";
		}
		if (roster_parse(text, len, "t", &r, &errs)) {
			print_error("case %zu parsed but should fail\n", i + 1);
			fail();
		}
		assert_true(errs.count > 0);
		if (strncmp(errs.msgs[0], want, strlen(want)) != 0) {
			print_error("case %zu: got '%s'\n  want '%s'\n", i + 1, errs.msgs[0], want);
			fail();
		}
		/* out is left empty */
		assert_int_equal(r.n_nodes, 0);
		assert_null(r.nodes);
		roster_errors_free(&errs);
		free(text);
	}
}

/* 3. All errors are collected, in line order; untrusted tokens are quoted bounded. */
static void test_errors_collected(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r;
	char *text, *t2, long_name[300];
	size_t len, len2;

	(void)state;
	text = edit("serial 7\n", "serial 7 \n", &len);
	t2 = replace(text, "address 100.64.0.4", "address 100.64.0.04");
	free(text);
	text = t2;
	t2 = replace(text, "allow web-1 22", "allow web-1 99999");
	free(text);
	len2 = strlen(t2);
	assert_false(roster_parse(t2, len2, "t", &r, &errs));
	assert_int_equal(errs.count, 3);
	assert_string_equal(errs.msgs[0], "t:5: trailing space");
	assert_string_equal(errs.msgs[1],
	    "t:20: bad address '100.64.0.04' (an IPv4 or canonical IPv6 address)");
	assert_true(strncmp(errs.msgs[2], "t:27: bad ports '99999'", 23) == 0);
	roster_errors_free(&errs);
	free(t2);

	memset(long_name, 'X', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	len = strlen("network prod") + sizeof(long_name);
	t2 = malloc(len + 8);
	assert_non_null(t2);
	snprintf(t2, len + 8, "network %s", long_name);
	text = edit("network prod", t2, &len);
	assert_false(roster_parse(text, len, "t", &r, &errs));
	assert_true(strstr(errs.msgs[0], "'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX...'"));
	assert_true(strlen(errs.msgs[0]) < 200);
	roster_errors_free(&errs);
	free(text);
	free(t2);
}

/* 4. Empty, oversized and binary input. */
static void test_limits(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r;
	char *big;

	(void)state;
	assert_false(roster_parse("", 0, "t", &r, &errs));
	assert_string_equal(errs.msgs[0], "t:1: empty file");
	roster_errors_free(&errs);

	/* Refused by size before a byte is read (the contents are never touched). */
	big = malloc((size_t)ROSTER_MAX_BYTES + 1);
	assert_non_null(big);
	assert_false(roster_parse(big, (size_t)ROSTER_MAX_BYTES + 1, "t", &r, &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "t:1: roster larger than 8388608 bytes");
	roster_errors_free(&errs);
	free(big);

	assert_false(roster_parse("warren-roster 1\0\n", 17, "t", &r, &errs));
	assert_string_equal(errs.msgs[0], "t:1: unsupported roster version 1");
	roster_errors_free(&errs);
	assert_false(roster_parse("warren-roster 1\nnet\0work prod\n", 30, "t", &r, &errs));
	assert_string_equal(errs.msgs[0], "t:2: control character 0x00 at column 4");
	roster_errors_free(&errs);
}

/* ---- seeded random rosters ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed, independent of libc. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	assert_non_null(p);
	return p;
}

static const char *const group_names[] = { "cache", "db", "edge", "web" };

static void random_roster(struct roster *r, size_t n_nodes, size_t n_eng)
{
	size_t i, j, k;
	int fam;

	roster_init(r);
	snprintf(r->network, sizeof(r->network), "net-%u", (unsigned)(rnd() % 1000));
	assert_true(roster_prefix_parse(&r->cidr4, "100.64.0.0/16"));
	r->has_cidr6 = rnd() % 2;
	if (r->has_cidr6)
		assert_true(roster_prefix_parse(&r->cidr6, "fd00:1234::/48"));
	r->serial = rnd() % 100000;
	r->issued = (int64_t)(rnd() % 4000000000ULL);
	rnd_bytes(r->admin_key, KEY_LEN);
	/* The nodes array at its full size at once: roster_node_add grows it by one node and
	 * looks each name up, which for 10,000 nodes took 40 s under ASan (its realloc always
	 * moves).  The names are unique by construction (7919 is prime). */
	r->nodes = xcalloc(n_nodes, sizeof(*r->nodes));
	for (i = 0; i < n_nodes; i++) {
		struct roster_node *n = &r->nodes[r->n_nodes++];

		snprintf(n->name, sizeof(n->name), "n%06zu-%u", (i * 7919) % n_nodes,
		    (unsigned)(rnd() % 10));
		rnd_bytes(n->key, KEY_LEN);
		/* Unique addresses: node index + 1 (never the network or broadcast). */
		n->has_addr4 = !r->has_cidr6 || rnd() % 3;
		if (n->has_addr4) {
			n->addr4[0] = 100;
			n->addr4[1] = 64;
			n->addr4[2] = (uint8_t)((i + 1) >> 8);
			n->addr4[3] = (uint8_t)(i + 1);
		}
		n->has_addr6 = r->has_cidr6 && (!n->has_addr4 || rnd() % 2);
		if (n->has_addr6) {
			assert_true(roster_address_parse(&fam, n->addr6, "fd00:1234::"));
			n->addr6[14] = (uint8_t)((i + 1) >> 8);
			n->addr6[15] = (uint8_t)(i + 1);
		}
		n->n_subnets = rnd() % 3;
		n->subnets = xcalloc(n->n_subnets, sizeof(*n->subnets));
		for (j = 0; j < n->n_subnets; j++) {
			char s[64];

			if (j == 0)
				snprintf(s, sizeof(s), "10.%zu.%zu.0/24", i >> 8, i & 255);
			else
				snprintf(s, sizeof(s), "fd01:%zx::/32", i + 1);
			assert_true(roster_prefix_parse(&n->subnets[j], s));
		}
		n->n_endpoints = rnd() % 3;
		n->endpoints = xcalloc(n->n_endpoints, sizeof(*n->endpoints));
		for (j = 0; j < n->n_endpoints; j++) {
			char s[128];

			switch (rnd() % 3) {
			case 0:
				snprintf(s, sizeof(s), "192.0.2.%u:%u", (unsigned)(rnd() % 256),
				    (unsigned)(rnd() % 65535 + 1));
				break;
			case 1:
				snprintf(s, sizeof(s), "[2001:db8::%x]:%u", (unsigned)(rnd() % 65535 + 1),
				    (unsigned)(rnd() % 65535 + 1));
				break;
			default:
				snprintf(s, sizeof(s), "h%zu.dc%u.example.net:51820", i,
				    (unsigned)(rnd() % 3));
				break;
			}
			assert_true(roster_endpoint_parse(&n->endpoints[j], s));
		}
		n->groups = xcalloc(4, sizeof(*n->groups));
		for (j = 0; j < 4; j++)
			if (rnd() % 2)
				strcpy(n->groups[n->n_groups++], group_names[(j + i) % 4]);
	}
	for (i = 0; i < n_eng; i++) {
		char name[32];
		struct roster_engineer *e;

		snprintf(name, sizeof(name), "eng%zu", (i * 31) % (n_eng + 1));
		e = roster_engineer_add(r, name);
		assert_non_null(e);
		e->n_ssh_keys = 1 + rnd() % 2;
		e->ssh_keys = xcalloc(e->n_ssh_keys, sizeof(*e->ssh_keys));
		for (j = 0; j < e->n_ssh_keys; j++) {
			struct roster_ssh_key *sk = &e->ssh_keys[j];
			static const uint8_t hdr[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5',
				'5', '1', '9', 0, 0, 0, 32 };

			sk->type = strdup("ssh-ed25519");
			sk->comment = strdup(rnd() % 2 ? "" : "someone@some host");
			sk->blob_len = sizeof(hdr) + 32;
			sk->blob = malloc(sk->blob_len);
			assert_true(sk->type && sk->comment && sk->blob);
			memcpy(sk->blob, hdr, sizeof(hdr));
			rnd_bytes(sk->blob + sizeof(hdr), 32);
		}
		/* Distinct targets: *, then distinct nodes, then a group some node has. */
		e->allows = xcalloc(2 + n_nodes, sizeof(*e->allows));
		if (rnd() % 2) {
			strcpy(e->allows[e->n_allows].target, "*");
			e->allows[e->n_allows].port_lo = 1;
			e->allows[e->n_allows++].port_hi = 65535;
		}
		for (k = 0; k < n_nodes && k < 3; k++) {
			struct roster_allow *a = &e->allows[e->n_allows++];

			strcpy(a->target, r->nodes[(k * 5 + i) % n_nodes].name);
			a->port_lo = (uint16_t)(rnd() % 60000 + 1);
			a->port_hi = (uint16_t)(a->port_lo + (rnd() % 2 ? 0 : rnd() % 1000 + 1));
			if (k > 0 && strcmp(a->target, e->allows[e->n_allows - 2].target) == 0)
				e->n_allows--;
		}
		if (n_nodes && r->nodes[0].n_groups) {
			struct roster_allow *a = &e->allows[e->n_allows++];

			snprintf(a->target, sizeof(a->target), "group:%s", r->nodes[0].groups[0]);
			a->port_lo = 22;
			a->port_hi = 22;
		}
	}
}

/* 5. 1,000 seeded random rosters: serialize, parse, serialize again: identical bytes. */
static void test_random_round_trip(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r, back;
	char *a, *b;
	size_t i, la, lb;

	(void)state;
	rng_state = 0x5eed1234abcdULL;
	for (i = 0; i < 1000; i++) {
		random_roster(&r, rnd() % 40, rnd() % 5);
		if (rnd() % 2) {
			r.has_signature = true;
			rnd_bytes(r.signature, ROSTER_SIG_LEN);
		}
		a = roster_serialize(&r, true, &la);
		assert_non_null(a);
		if (!roster_parse(a, la, "rand", &back, &errs)) {
			print_error("roster %zu: %s\n%s", i, errs.msgs[0], a);
			fail();
		}
		b = roster_serialize(&back, true, &lb);
		assert_non_null(b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		assert_int_equal(back.n_nodes, r.n_nodes);
		assert_int_equal(back.has_signature, r.has_signature);
		free(a);
		free(b);
		roster_free(&r);
		roster_free(&back);
	}
}

/* 5b. The endpoint rule against a naive reference: 300 seeded rosters whose nodes route random
 * disjoint subnets and list random literal endpoints, some inside a subnet or the overlay.  The
 * parser (a binary search per endpoint) must report exactly one error per endpoint that the
 * reference (every endpoint against every prefix) finds inside something. */
/* Bit by bit, deliberately naive. */
static bool naive_contains(const struct roster_prefix *p, const struct roster_prefix *ep)
{
	if (p->family != ep->family)
		return false;
	for (unsigned b = 0; b < p->cidr; b++)
		if (((p->addr[b / 8] >> (7 - b % 8)) & 1) != ((ep->addr[b / 8] >> (7 - b % 8)) & 1))
			return false;
	return true;
}

static bool naive_inside(const struct roster *r, const struct roster_prefix *ep)
{
	if (naive_contains(&r->cidr4, ep) || (r->has_cidr6 && naive_contains(&r->cidr6, ep)))
		return true;
	for (size_t i = 0; i < r->n_nodes; i++)
		for (size_t j = 0; j < r->nodes[i].n_subnets; j++)
			if (naive_contains(&r->nodes[i].subnets[j], ep))
				return true;
	return false;
}

static void test_endpoint_rule_differential(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r, back;
	size_t i, j, k, want, n_bad = 0;
	char *text, s[96];

	(void)state;
	rng_state = 0xe9d901c7ULL;
	for (i = 0; i < 300; i++) {
		random_roster(&r, 1 + rnd() % 8, 0);
		want = 0;
		for (j = 0; j < r.n_nodes; j++) {
			struct roster_node *n = &r.nodes[j];

			/* One IPv4 subnet 10.j.0.0/L (L 16..24), one IPv6 fd01:j+1::/L (L 32..64):
			 * disjoint across nodes. */
			free(n->subnets);
			n->subnets = xcalloc(2, sizeof(*n->subnets));
			snprintf(s, sizeof(s), "10.%zu.0.0/%u", j, (unsigned)(16 + rnd() % 9));
			assert_true(roster_prefix_parse(&n->subnets[0], s));
			snprintf(s, sizeof(s), "fd01:%zx::/%u", j + 1, (unsigned)(32 + rnd() % 33));
			assert_true(roster_prefix_parse(&n->subnets[1], s));
			n->n_subnets = 2;
			free(n->endpoints);
			n->n_endpoints = rnd() % 3;
			n->endpoints = xcalloc(n->n_endpoints, sizeof(*n->endpoints));
			for (k = 0; k < n->n_endpoints; k++) {
				switch (rnd() % 8) {
				case 0:
					snprintf(s, sizeof(s), "10.%u.%u.%u:51820",
					    (unsigned)(rnd() % (r.n_nodes + 2)),
					    (unsigned)(rnd() % 256), (unsigned)(rnd() % 256));
					break;
				case 1: {
					/* fd01:a::x, written as inet_ntop does (canonical). */
					uint8_t a6[16] = { 0xfd, 0x01 };
					char t[INET6_ADDRSTRLEN];
					unsigned a = (unsigned)(rnd() % (r.n_nodes + 2));
					unsigned x = (unsigned)(rnd() % 65535 + 1);

					a6[2] = (uint8_t)(a >> 8), a6[3] = (uint8_t)a;
					a6[14] = (uint8_t)(x >> 8), a6[15] = (uint8_t)x;
					assert_non_null(inet_ntop(AF_INET6, a6, t, sizeof(t)));
					snprintf(s, sizeof(s), "[%s]:51820", t);
					break;
				}
				case 2:
					snprintf(s, sizeof(s), "100.%u.0.%u:51820",
					    (unsigned)(63 + rnd() % 3), (unsigned)(rnd() % 250 + 1));
					break;
				case 3:
					snprintf(s, sizeof(s), "h%zu.example.net:51820", k);
					break;
				default:
					snprintf(s, sizeof(s), "192.0.2.%u:51820",
					    (unsigned)(rnd() % 256));
					break;
				}
				assert_true(roster_endpoint_parse(&n->endpoints[k], s));
			}
		}
		/* The reference, once every node has its subnets. */
		for (j = 0; j < r.n_nodes; j++) {
			for (k = 0; k < r.nodes[j].n_endpoints; k++) {
				const char *host = r.nodes[j].endpoints[k].host;
				struct roster_prefix ep = { 0 };

				if (inet_pton(AF_INET, host, ep.addr) == 1)
					ep.family = AF_INET, ep.cidr = 32;
				else if (inet_pton(AF_INET6, host, ep.addr) == 1)
					ep.family = AF_INET6, ep.cidr = 128;
				else
					continue;
				want += naive_inside(&r, &ep);
			}
		}
		text = roster_serialize(&r, false, &j);
		assert_non_null(text);
		if (roster_parse(text, j, "rand", &back, &errs) != (want == 0) ||
		    errs.count != want) {
			print_error("roster %zu: %zu endpoints inside, parser reported %zu errors%s%s\n%s",
			    i, want, errs.count, errs.count ? ", first: " : "",
			    errs.count ? errs.msgs[0] : "", text);
			fail();
		}
		n_bad += want != 0;
		roster_errors_free(&errs);
		free(text);
		roster_free(&r);
		roster_free(&back);
	}
	/* Both verdicts were exercised. */
	print_message("# endpoint rule: %zu of 300 rosters refused, as the reference says\n", n_bad);
	assert_true(n_bad >= 30 && n_bad <= 270);
}

/* 6. SSH keys: accepted types and blob checks; fingerprints equal `ssh-keygen -lf`. */
static const struct {
	const char *line;
	bool ok;
	const char *fingerprint;
} ssh_cases[] = {
	/* 1 */ { "ssh-ed25519 " SSH1 " alice@laptop", true,
		  "SHA256:oFlBNlSnBTdxYSqFKJ88sYvf/Avd62cxU+6JDzee6pU" },
	/* 2 */ { "ssh-rsa " SSH_RSA " r", true, "SHA256:bw82lQ0uv021TTmAGxPOaH1fWMXhbOfWd2KEEYihLoY" },
	/* 3 */ { "rsa-sha2-512 " SSH_RSA, true, "SHA256:bw82lQ0uv021TTmAGxPOaH1fWMXhbOfWd2KEEYihLoY" },
	/* 4 */ { "ecdsa-sha2-nistp256 " SSH_ECDSA " e", true,
		  "SHA256:Mr7oXj+9Yv7wm+f7GdXONMPjYbFlDvbAk0w7OmT4bLo" },
	/* 5 */ { "ssh-dss " SSH1, false, NULL },			/* unknown type */
	/* 6 */ { "ssh-rsa " SSH1, false, NULL },			/* blob says ed25519 */
	/* 7 */ { "ecdsa-sha2-nistp384 " SSH_ECDSA, false, NULL },	/* curve mismatch */
	/* 8 */ { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", false, NULL },	/* type only, no key */
	/* 9 */ { "ssh-ed25519 " SSH1 "=", false, NULL },		/* bad padding */
	/* 10 */ { "ssh-ed25519", false, NULL },
	/* 11 */ { "ssh-ed25519 " SSH1 " two  spaces", false, NULL },
};

static void test_ssh_keys(void **state)
{
	struct roster_ssh_key k;
	char why[128], fp[51];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ssh_cases) / sizeof(ssh_cases[0]); i++) {
		bool ok = roster_ssh_key_parse(&k, ssh_cases[i].line, why, sizeof(why));

		if (ok != ssh_cases[i].ok) {
			print_error("ssh case %zu: got %d (%s)\n", i + 1, ok, ok ? "" : why);
			fail();
		}
		if (!ok)
			continue;
		roster_ssh_key_fingerprint(&k, fp);
		assert_string_equal(fp, ssh_cases[i].fingerprint);
		roster_ssh_key_free(&k);
	}
}

/* 7. Token parsers used by the CLI. */
static const struct {
	const char *spec;
	bool ok;
	const char *target;
	uint16_t lo, hi;
} allow_cases[] = {
	/* 1 */ { "web-1", true, "web-1", 1, 65535 },
	/* 2 */ { "web-1:22", true, "web-1", 22, 22 },
	/* 3 */ { "group:db:5432", true, "group:db", 5432, 5432 },
	/* 4 */ { "group:db", true, "group:db", 1, 65535 },
	/* 5 */ { "*:1000-2000", true, "*", 1000, 2000 },
	/* 6 */ { "*:*", true, "*", 1, 65535 },
	/* 7 */ { "web-1:0", false, NULL, 0, 0 },
	/* 8 */ { "web-1:2000-1000", false, NULL, 0, 0 },
	/* 9 */ { "Web", false, NULL, 0, 0 },
	/* 10 */ { "group:", false, NULL, 0, 0 },
	/* 11 */ { "web-1:22x", false, NULL, 0, 0 },
	/* 12 */ { "web-1:022", false, NULL, 0, 0 },
	/* 13 */ { "100.100.1.0/24:22", true, "100.100.1.0/24", 22, 22 },
	/* 14 */ { "100.100.1.5/32", true, "100.100.1.5/32", 1, 65535 },
	/* 15 */ { "fd00:1::/64:22-23", true, "fd00:1::/64", 22, 23 },
	/* 16 */ { "fd00:1::/64", true, "fd00:1::/64", 1, 65535 },
	/* 17 */ { "100.100.1.1/24:22", false, NULL, 0, 0 },	/* host bits set */
	/* 18 */ { "100.100.001.0/24:22", false, NULL, 0, 0 },
	/* 19 */ { "FD00:1::/64:22", false, NULL, 0, 0 },
	/* 20 */ { "100.100.1.0/33", false, NULL, 0, 0 },
	/* 21 */ { "100.100.1.0/24:", false, NULL, 0, 0 },
	/* 22 */ { "100.100.1.0/:22", false, NULL, 0, 0 },
};

static void test_token_parsers(void **state)
{
	struct roster_allow a;
	struct roster_endpoint e;
	struct roster_prefix p;
	char s[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++) {
		bool ok = roster_allow_parse(&a, allow_cases[i].spec);

		if (ok != allow_cases[i].ok) {
			print_error("allow case %zu\n", i + 1);
			fail();
		}
		if (!ok)
			continue;
		assert_string_equal(a.target, allow_cases[i].target);
		assert_int_equal(a.port_lo, allow_cases[i].lo);
		assert_int_equal(a.port_hi, allow_cases[i].hi);
	}
	assert_true(roster_prefix_parse(&p, "fd00:1234::/48"));
	roster_prefix_format(s, sizeof(s), &p);
	assert_string_equal(s, "fd00:1234::/48");
	assert_false(roster_prefix_parse(&p, "100.64.0.0/33"));
	assert_false(roster_prefix_parse(&p, "100.64.0.0/016"));
	assert_false(roster_prefix_parse(&p, "100.064.0.0/16"));
	assert_true(roster_endpoint_parse(&e, "[::1]:1"));
	assert_string_equal(e.host, "::1");
	assert_false(roster_endpoint_parse(&e, "::1:51820"));
	assert_false(roster_endpoint_parse(&e, "1.2.3:51820"));
	assert_false(roster_endpoint_parse(&e, "host-.example:51820"));
	assert_false(roster_endpoint_parse(&e, "host:65536"));
	assert_true(roster_name_valid("a"));
	assert_false(roster_name_valid("-a"));
	assert_false(roster_name_valid("a_b"));
	assert_true(roster_name_valid("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123"));
	assert_false(roster_name_valid("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234"));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 8. 10,000 nodes: parse + verify timed (printed, not asserted: machines differ). */
static void test_large(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r, back;
	uint8_t sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN], trusted[KEY_LEN];
	char *text, why[128];
	double t0, t1, t2;
	size_t len;

	(void)state;
	rng_state = 42;
	random_roster(&r, 10000, 50);
	assert_int_equal(roster_admin_key_generate(sk, pk), 0);
	roster_sign(&r, sk);
	text = roster_serialize(&r, true, &len);
	assert_non_null(text);
	t0 = now_ms();
	assert_true(roster_parse(text, len, "big", &back, &errs));
	t1 = now_ms();
	assert_true(roster_verify(&back, pk, trusted, why, sizeof(why)));
	t2 = now_ms();
	printf("# 10,000 nodes (%zu bytes): parse %.1f ms + verify %.1f ms = %.1f ms\n", len,
	    t1 - t0, t2 - t1, t2 - t0);
	free(text);
	roster_free(&r);
	roster_free(&back);
	sodium_memzero(sk, sizeof(sk));
}

/* The optional expires line: parsed, written back in its place, recognised by the header
 * scan a node runs before any parse, and judged by roster_expiry_at / _text / _track. */
static void test_expires(void **state)
{
	const int64_t issued = 1795302000, expires = 1797894000;	/* + 30 days */
	struct roster_errors errs = { 0 };
	struct roster_expiry_tracker tr = { 0 };
	struct roster r, hdr;
	enum roster_expiry st;
	uint8_t sk[ROSTER_ADMIN_SECRET_LEN], pk[KEY_LEN], trusted[KEY_LEN];
	char *text, *back, why[256], t[ROSTER_EXPIRY_TEXT_MAX];
	size_t len, blen, body_len;

	(void)state;
	text = edit("issued 2026-11-21T23:00:00Z\n",
	    "issued 2026-11-21T23:00:00Z\nexpires 2026-12-21T23:00:00Z\n", &len);
	assert_true(roster_parse(text, len, "t", &r, &errs));
	assert_true(r.has_expires);
	assert_int_equal(r.issued, issued);
	assert_int_equal(r.expires, expires);
	back = roster_serialize(&r, false, &blen);
	assert_non_null(back);
	assert_int_equal(blen, len);
	assert_memory_equal(back, text, len);
	free(back);

	/* Signed, it passes the cheap scan and the raw signature check. */
	assert_int_equal(roster_admin_key_generate(sk, pk), 0);
	roster_sign(&r, sk);
	back = roster_serialize(&r, true, &blen);
	assert_non_null(back);
	assert_true(roster_header_scan(back, blen, "t", &hdr, &body_len, why, sizeof(why)));
	assert_true(roster_verify_raw(&hdr, back, body_len, pk, trusted, why, sizeof(why)));
	roster_free(&hdr);
	free(back);
	sodium_memzero(sk, sizeof(sk));

	/* The state at a moment, with a one-day warning margin. */
	assert_int_equal(roster_expiry_at(&r, issued, 86400), ROSTER_EXPIRY_VALID);
	assert_int_equal(roster_expiry_at(&r, expires - 86400 - 1, 86400), ROSTER_EXPIRY_VALID);
	assert_int_equal(roster_expiry_at(&r, expires - 86400, 86400), ROSTER_EXPIRY_SOON);
	assert_int_equal(roster_expiry_at(&r, expires - 1, 86400), ROSTER_EXPIRY_SOON);
	assert_int_equal(roster_expiry_at(&r, expires - 1, 0), ROSTER_EXPIRY_VALID);
	assert_int_equal(roster_expiry_at(&r, expires, 86400), ROSTER_EXPIRY_EXPIRED);
	assert_int_equal(roster_expiry_at(&r, expires, 0), ROSTER_EXPIRY_EXPIRED);
	roster_expiry_text(t, &r, expires - 3 * 86400 - 7200);
	assert_string_equal(t, "expires at 2026-12-21T23:00:00Z (in 3d2h)");
	roster_expiry_text(t, &r, expires - 3 * 3600 - 120);
	assert_string_equal(t, "expires at 2026-12-21T23:00:00Z (in 3h2m)");
	roster_expiry_text(t, &r, expires - 61);
	assert_string_equal(t, "expires at 2026-12-21T23:00:00Z (in 1m1s)");
	roster_expiry_text(t, &r, expires);
	assert_string_equal(t, "expired at 2026-12-21T23:00:00Z");

	/* The margin is at most a quarter of the validity: a roster valid for 8 h warns in its
	 * last 2 h even with a 7-day margin, not from the moment it is signed. */
	{
		struct roster s = r;

		s.expires = s.issued + 8 * 3600;
		assert_int_equal(roster_expiry_at(&s, s.issued + 1, 7 * 86400), ROSTER_EXPIRY_VALID);
		assert_int_equal(roster_expiry_at(&s, s.expires - 2 * 3600 - 1, 7 * 86400),
		    ROSTER_EXPIRY_VALID);
		assert_int_equal(roster_expiry_at(&s, s.expires - 2 * 3600, 7 * 86400),
		    ROSTER_EXPIRY_SOON);
	}

	/* The tracker reports each change once: first sight, the margin, expiry, a clock set
	 * back, a new serial. */
	assert_true(roster_expiry_track(&tr, &r, issued, 86400, &st));
	assert_int_equal(st, ROSTER_EXPIRY_VALID);
	assert_false(roster_expiry_track(&tr, &r, issued + 60, 86400, &st));
	assert_true(roster_expiry_track(&tr, &r, expires - 60, 86400, &st));
	assert_int_equal(st, ROSTER_EXPIRY_SOON);
	assert_false(roster_expiry_track(&tr, &r, expires - 30, 86400, &st));
	assert_true(roster_expiry_track(&tr, &r, expires, 86400, &st));
	assert_int_equal(st, ROSTER_EXPIRY_EXPIRED);
	assert_false(roster_expiry_track(&tr, &r, expires + 3600, 86400, &st));
	assert_true(roster_expiry_track(&tr, &r, issued, 86400, &st));
	assert_int_equal(st, ROSTER_EXPIRY_VALID);
	r.serial++;
	assert_true(roster_expiry_track(&tr, &r, issued, 86400, &st));

	/* An allow line's until: parsed, written back in its place. */
	free(text);
	roster_free(&r);
	text = edit("allow web-1 22\n", "allow web-1 22 until 2026-12-01T18:00:00Z\n", &len);
	assert_true(roster_parse(text, len, "t", &r, &errs));
	assert_true(r.engineers[0].allows[2].has_until);
	assert_int_equal(r.engineers[0].allows[2].until, 1796148000);	/* date -ud ... +%s */
	assert_false(r.engineers[0].allows[1].has_until);
	back = roster_serialize(&r, false, &blen);
	assert_non_null(back);
	assert_int_equal(blen, len);
	assert_memory_equal(back, text, len);
	free(back);

	/* Without the line: never expires, and the text says nothing. */
	r.has_expires = false;
	assert_int_equal(roster_expiry_at(&r, INT64_MAX, 86400), ROSTER_EXPIRY_NONE);
	roster_expiry_text(t, &r, 0);
	assert_string_equal(t, "");
	roster_free(&r);
	free(text);
}

/* IPv4 addresses are read by a one-pass parser: it must take exactly what the reference
 * (inet_pton, then inet_ntop writes the input back unchanged) takes, with the same bytes. */
static bool address_reference(int *family, uint8_t addr[16], const char *s)
{
	char back[INET6_ADDRSTRLEN];
	uint8_t a[16] = { 0 };
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, s, a) != 1 || !inet_ntop(fam, a, back, sizeof(back)) ||
	    strcmp(back, s) != 0)
		return false;
	*family = fam;
	memcpy(addr, a, 16);
	return true;
}

static void address_agrees(const char *s)
{
	uint8_t a[16], b[16];
	int fa = 0, fb = 0;
	bool got = roster_address_parse(&fa, a, s), want = address_reference(&fb, b, s);

	if (got != want)
		fail_msg("'%s': parsed %d, reference %d", s, got, want);
	if (got) {
		assert_int_equal(fa, fb);
		assert_memory_equal(a, b, 16);
	}
}

static void test_address_parse_differential(void **state)
{
	static const char *const edges[] = {
		"0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4",
		"1.02.3.4", "1.2.3.00", "1.2.3.0", "1..3.4", ".1.2.3", "1.2.3.", "1.2.3.4 ",
		" 1.2.3.4", "1.2.3.4\n", "1.2.3.-4", "1.2.3.+4", "0x1.2.3.4", "1.2.3.4a", "",
		".", "...", "1000.1.1.1", "100.64.1.255", "199.255.255.256", "9.9.9.9999",
		"0001.1.1.1", "1.2.3.4/32", "::", "::1", "fd00::1", "FD00::1", "1.2.3.4:5",
		"::ffff:1.2.3.4", "0:0:0:0:0:0:0:1", "100.064.0.1",
	};
	static const char alphabet[] = "0123456789.";
	char s[24];
	uint32_t r;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		address_agrees(edges[i]);
	/* Random strings over digits and dots, lengths 1-18, and random canonical addresses. */
	for (int i = 0; i < 200000; i++) {
		size_t len = 1 + randombytes_uniform(18);

		for (size_t k = 0; k < len; k++)
			s[k] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
		s[len] = '\0';
		address_agrees(s);
		r = randombytes_random();
		snprintf(s, sizeof(s), "%u.%u.%u.%u", r >> 24, (r >> 16) & 255, (r >> 8) & 255,
		    r & 255);
		address_agrees(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_round_trip),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_errors_collected),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_random_round_trip),
		cmocka_unit_test(test_endpoint_rule_differential),
		cmocka_unit_test(test_ssh_keys),
		cmocka_unit_test(test_token_parsers),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_expires),
		cmocka_unit_test(test_address_parse_differential),
	};

	if (!key_lib_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
