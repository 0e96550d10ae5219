/* Config parsers: numbered tables of bad files with their exact "FILE:LINE: message", good files
 * parsed field by field, private key file permissions, and UAPI set requests. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys/lib/key.h"
#include "tunneld/config.h"

/* RFC 7748 Alice: our private key and its public key; B, C, D are other 32-byte values. */
#define PRIV_A "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define PUB_A "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define KEY_B "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define KEY_C "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KEY_D "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define HEX_A "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define HEX_B "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
/* A fragment of PRIV_A that must never appear in any message. */
#define PRIV_A_FRAGMENT "dwdtCnMYpX08"

#define IFACE "[Interface]\nPrivateKey = " PRIV_A "\n"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(char path[128], const char *name, const char *content, mode_t mode)
{
	FILE *f;

	snprintf(path, 128, "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static bool has_msg(const struct config_errors *e, const char *want)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		if (!strncmp(e->msgs[i], want, strlen(want)))
			return true;
	return false;
}

static void dump(const struct config_errors *e)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		print_message("    got: %s\n", e->msgs[i]);
}

static void assert_no_secret(const struct config_errors *e)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		if (strstr(e->msgs[i], PRIV_A_FRAGMENT))
			fail_msg("private key leaked into '%s'", e->msgs[i]);
}

static void assert_empty(const struct config *c)
{
	assert_false(c->has_private_key);
	assert_int_equal(c->n_peers, 0);
	assert_int_equal(c->n_addresses, 0);
	assert_null(c->peers);
}

/* 1. Bad files: each must fail with a message starting "FILE:" + want. */
static const struct {
	const char *content;
	const char *want;
} bad_files[] = {
	/*  1 */ { "[Peer]\nPublicKey = " KEY_B "\n", "2: no [Interface] section" },
	/*  2 */ { IFACE "ListenPort = 1\n[Interface]\n", "4: duplicate [Interface] section "
		   "(first at line 1)" },
	/*  3 */ { "[Interface]\nListenPort = 1\n",
		   "1: [Interface] has neither PrivateKey nor PrivateKeyFile" },
	/*  4 */ { IFACE "PrivateKeyFile = /nonexistent\n",
		   "3: PrivateKey and PrivateKeyFile are mutually exclusive" },
	/*  5 */ { "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=\n",
		   "2: invalid PrivateKey (not base64 of 32 bytes; value not shown)" },
	/*  6 */ { IFACE "\n[Peer]\nPublicKey = xyz=\n", "5: invalid PublicKey 'xyz='" },
	/*  7 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\n[Peer]\nPublicKey = " KEY_B "\n",
		   "5: duplicate peer '" KEY_B "' (same PublicKey as [Peer] at line 3)" },
	/*  8 */ { IFACE "[Peer]\nPublicKey = " PUB_A "\n",
		   "3: peer '" PUB_A "' is this interface's own public key" },
	/*  9 */ { IFACE "ListenPort = 65536\n",
		   "3: ListenPort '65536' is not a port number 0..65535" },
	/* 10 */ { IFACE "ListenPort = -1\n", "3: ListenPort '-1' is not a port number" },
	/* 11 */ { IFACE "ListenPort = 12abc\n", "3: ListenPort '12abc' is not a port number" },
	/* 12 */ { IFACE "MTU = 575\n", "3: MTU '575' is not a number 576..65535" },
	/* 13 */ { IFACE "Address = 10.0.0.1/24\nMTU = 1000\nAddress = fd00::1/64\n",
		   "4: MTU 1000 is below 1280, the minimum for IPv6" },
	/* 14 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nPersistentKeepalive = 70000\n",
		   "5: PersistentKeepalive '70000' is not 'off' or 0..65535 seconds" },
	/* 15 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nAllowedIPs = 10.0.0.0/8, 10.0.0.0/33\n",
		   "5: invalid AllowedIPs prefix '10.0.0.0/33'" },
	/* 16 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nAllowedIPs = 10.0.0.1/24, , fd00::/8\n",
		   "5: empty item in AllowedIPs list" },
	/* 17 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nEndpoint = fd00::1:51820\n",
		   "5: invalid Endpoint 'fd00::1:51820': IPv6 endpoints need brackets" },
	/* 18 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nEndpoint = bad!host:51820\n",
		   "5: invalid Endpoint host 'bad!host': neither an IP address nor a host name" },
	/* 19 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nEndpoint = 192.0.2.1\n",
		   "5: invalid Endpoint '192.0.2.1': missing :port" },
	/* 20 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nEndpoint = 192.0.2.1:70000\n",
		   "5: invalid Endpoint '192.0.2.1:70000': port must be 1..65535" },
	/* 21 */ { "ListenPort = 1\n" IFACE, "1: 'ListenPort' outside of a section" },
	/* 22 */ { IFACE "[Peers]\nPublicKey = " KEY_B "\n", "3: unknown section '[Peers]'" },
	/* 23 */ { IFACE "Foo = bar\n", "3: unknown key 'Foo' in [Interface]" },
	/* 24 */ { IFACE "ListenPort 51820\n", "3: expected 'Key = Value', got 'ListenPort 51820'" },
	/* 25 */ { IFACE "ListenPort =\n", "3: empty value for 'ListenPort'" },
	/* 26 */ { IFACE "ListenPort = 1\nlistenport = 2\n",
		   "4: duplicate 'ListenPort' (first at line 3)" },
	/* 27 */ { IFACE "\n[Peer]\nAllowedIPs = 10.0.0.0/8\n", "4: [Peer] has no PublicKey" },
	/* 28 */ { IFACE "Address = 10.0.0.300/24\n", "3: invalid Address '10.0.0.300/24'" },
	/* 29 */ { IFACE "FwMark = 0xzz\n", "3: FwMark '0xzz' is not 'off' or a 32-bit number" },
	/* 30 */ { "[Interface]\nPrivateKey: " PRIV_A "\n",
		   "2: unknown key 'PrivateKey: (key hidden)' in [Interface]" },
	/* 31 */ { "[Interface]\n" PRIV_A "\n", "2: unknown key '(key hidden)' in [Interface]" },
	/* 32 */ { "[Interface]\nPrivateKey dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo\n",
		   "2: expected 'Key = Value', got 'PrivateKey (key hidden)'" },
	/* 33 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nPresharedKey = short=\n",
		   "5: invalid PresharedKey (not base64 of 32 bytes; value not shown)" },
	/* 34 */ { "[Interface\n" IFACE, "1: malformed section header '[Interface'" },
	/* 35 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nPublicKey = " KEY_C "\n",
		   "5: duplicate 'PublicKey' (first at line 4)" },
	/* 36 */ { IFACE "= 5\n", "3: missing key before '='" },
	/* 37 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nEndpoint = [fd00::1:51820\n",
		   "5: invalid Endpoint '[fd00::1:51820': expected [address]:port" },
	/* 38 */ { IFACE "PrivateKey = " PRIV_A "\n", "3: duplicate 'PrivateKey' (first at line 2)" },
	/* 39 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nAllowedIPs = 10.0.0.0/8/8\n",
		   "5: invalid AllowedIPs prefix '10.0.0.0/8/8'" },
	/* 40 */ { IFACE "[Peer]\nPublicKey = " KEY_B "\nAllowedIPs = 10.0.0.0/+8\n",
		   "5: invalid AllowedIPs prefix '10.0.0.0/+8'" },
	/* 41 */ { "[Interface]\nPrivateKey " PRIV_A "\n",
		   "2: unknown key 'PrivateKey (key hidden)' in [Interface]" },
	/* 42 */ { "[Interface]\nPrivateKey = \x01\x7f\n",
		   "2: invalid PrivateKey (not base64 of 32 bytes; value not shown)" },
	/* 43 */ { IFACE "Foo\x01\x1b = 1\n", "3: unknown key 'Foo?" "?' in [Interface]" },
	/* 44 */ { "", "1: no [Interface] section" },
	/* 45 */ { IFACE "User = -root\n", "3: User '-root' is not a user name" },
	/* 46 */ { IFACE "User = a b\n", "3: User 'a b' is not a user name" },
	/* 47 */ { IFACE "User = tunneld\nUser = nobody\n", "4: duplicate 'User' (first at line 3)" },
	/* 48 */ { IFACE "OverlayFirewall = maybe\n",
		   "3: OverlayFirewall 'maybe' is not 'on' or 'off'" },
	/* 49 */ { IFACE "OverlayFirewall = off\nOverlayFirewall = on\n",
		   "4: duplicate 'OverlayFirewall' (first at line 3)" },
	/* 50 */ { IFACE "MetricsListen = localhost:9586\n",
		   "3: MetricsListen 'localhost:9586': not a numeric address (want PORT or a numeric "
		   "ADDRESS:PORT, e.g. 127.0.0.1:9586)" },
	/* 51 */ { IFACE "MetricsListen = 127.0.0.1:0\n",
		   "3: MetricsListen '127.0.0.1:0': port must be 1..65535" },
	/* 52 */ { IFACE "MetricsListen = 0\n", "3: MetricsListen '0': missing :port" },
	/* 53 */ { IFACE "MetricsListen = ::1:9586\n",
		   "3: MetricsListen '::1:9586': IPv6 endpoints need brackets" },
	/* 54 */ { IFACE "MetricsListen = 9586\nMetricsListen = 9587\n",
		   "4: duplicate 'MetricsListen' (first at line 3)" },
	/* 55 */ { IFACE "Offload = on\n", "3: Offload 'on' is not 'auto' or 'off'" },
	/* 56 */ { IFACE "Offload = off\nOffload = auto\n", "4: duplicate 'Offload' (first at line 3)" },
};

static void test_bad_files(void **state)
{
	struct config_errors errs = { 0 }, warn = { 0 };
	struct config c;
	char path[128], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		write_file(path, "bad.conf", bad_files[i].content, 0600);
		snprintf(want, sizeof(want), "%s:%s", path, bad_files[i].want);
		if (config_parse_file(path, &c, &errs, &warn))
			fail_msg("bad file %zu parsed", i + 1);
		if (!has_msg(&errs, want)) {
			dump(&errs);
			fail_msg("bad file %zu: no message '%s'", i + 1, want);
		}
		assert_no_secret(&errs);
		assert_no_secret(&warn);
		assert_empty(&c);
		config_errors_free(&errs);
		config_errors_free(&warn);
	}
}

/* 2. Several errors in one file: all reported, in order, and nothing else. */
static void test_many_errors(void **state)
{
	static const char content[] =
	    "[Interface]\n"				/* 1 */
	    "PrivateKey = " PRIV_A "\n"			/* 2 */
	    "ListenPort = 99999\n"			/* 3 */
	    "Bogus = 1\n"				/* 4 */
	    "[Peer]\n"					/* 5 */
	    "PublicKey = " KEY_B "\n"			/* 6 */
	    "AllowedIPs = 10.0.0.0/99\n"		/* 7 */
	    "Endpoint = [::1:1\n"			/* 8 */
	    "what is this\n";				/* 9 */
	static const char *const want[] = {
		"3: ListenPort '99999'",
		"4: unknown key 'Bogus'",
		"7: invalid AllowedIPs prefix '10.0.0.0/99'",
		"8: invalid Endpoint",
		"9: expected 'Key = Value', got 'what is this'",
	};
	struct config_errors errs = { 0 };
	struct config c;
	char path[128], w[256];
	size_t i;

	(void)state;
	write_file(path, "many.conf", content, 0600);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	if (errs.count != sizeof(want) / sizeof(want[0]))
		dump(&errs);
	assert_int_equal(errs.count, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < errs.count; i++) {
		snprintf(w, sizeof(w), "%s:%s", path, want[i]);
		if (strncmp(errs.msgs[i], w, strlen(w)))
			fail_msg("error %zu is '%s', want '%s'", i + 1, errs.msgs[i], w);
	}
	config_errors_free(&errs);
}

/* 2b. An over-long line is one error, and parsing goes on after it. */
static void test_long_line(void **state)
{
	struct config_errors errs = { 0 };
	char path[128], want[256], *content;
	struct config c;
	size_t n = 6000;

	(void)state;
	content = malloc(n + 256);
	assert_non_null(content);
	strcpy(content, IFACE "DNS = ");
	memset(content + strlen(content), 'x', n);
	strcpy(content + strlen(IFACE "DNS = ") + n, "\nBogus = 1\n");
	write_file(path, "long.conf", content, 0600);
	free(content);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	assert_int_equal(errs.count, 2);
	snprintf(want, sizeof(want), "%s:3: line longer than 4096 bytes", path);
	assert_string_equal(errs.msgs[0], want);
	snprintf(want, sizeof(want), "%s:4: unknown key 'Bogus'", path);
	assert_true(has_msg(&errs, want));
	config_errors_free(&errs);
}

static void check_prefix(const struct config_prefix *x, int family, const char *addr,
    unsigned cidr)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(x->family, family);
	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_memory_equal(x->addr, want, family == AF_INET ? 4 : 16);
	assert_int_equal(x->cidr, cidr);
}

static void check_key(const uint8_t key[WG_KEY_LEN], const char *b64)
{
	uint8_t want[KEY_LEN];

	assert_true(key_from_base64(want, b64));
	assert_memory_equal(key, want, KEY_LEN);
}

/* 3. A good file with everything, parsed field by field. */
/* The on/off switches.  OverlayFirewall: on by default, "off" (any case) opts out, "on" is the
 * default spelled out.  Offload: auto by default (TUN offloads where the kernel has them),
 * "off" (any case) turns them off. */
static void test_switch_keys(void **state)
{
	static const struct {
		const char *line;
		bool no_overlay_firewall, no_offload;
	} cases[] = {
		{ "", false, false }, { "OverlayFirewall = on\n", false, false },
		{ "OverlayFirewall = off\n", true, false }, { "overlayfirewall = OFF\n", true, false },
		{ "Offload = auto\n", false, false }, { "Offload = off\n", false, true },
		{ "offload = OFF\nOverlayFirewall = off\n", true, true },
	};
	struct config_errors errs = { 0 }, warn = { 0 };
	struct config c;
	char path[128], content[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(content, sizeof(content), IFACE "%s", cases[i].line);
		write_file(path, "sw.conf", content, 0600);
		if (!config_parse_file(path, &c, &errs, &warn))
			dump(&errs);
		assert_int_equal(errs.count, 0);
		assert_int_equal(c.no_overlay_firewall, cases[i].no_overlay_firewall);
		assert_int_equal(c.no_offload, cases[i].no_offload);
		config_free(&c);
		config_errors_free(&errs);
		config_errors_free(&warn);
	}
}

/* MetricsListen: a numeric address and port, or a bare port meaning loopback; none: off. */
static void test_metrics_listen_key(void **state)
{
	static const struct {
		const char *line;
		int family;		/* AF_UNSPEC: off */
		const char *addr;
		unsigned port;
	} cases[] = {
		{ "", AF_UNSPEC, NULL, 0 },
		{ "MetricsListen = 127.0.0.1:9586\n", AF_INET, "127.0.0.1", 9586 },
		{ "MetricsListen = 9586\n", AF_INET, "127.0.0.1", 9586 },
		{ "MetricsListen = [::1]:9100\n", AF_INET6, "::1", 9100 },
		{ "metricslisten = 100.64.0.1:9586\n", AF_INET, "100.64.0.1", 9586 },
	};
	struct config_errors errs = { 0 }, warn = { 0 };
	struct config c;
	char path[128], content[256], a[INET6_ADDRSTRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(content, sizeof(content), IFACE "%s", cases[i].line);
		write_file(path, "metrics.conf", content, 0600);
		if (!config_parse_file(path, &c, &errs, &warn))
			dump(&errs);
		assert_int_equal(errs.count, 0);
		assert_int_equal(c.has_metrics_listen, cases[i].family != AF_UNSPEC);
		if (cases[i].family == AF_INET) {
			assert_int_equal(c.metrics_listen.sa.sa_family, AF_INET);
			inet_ntop(AF_INET, &c.metrics_listen.in4.sin_addr, a, sizeof(a));
			assert_int_equal(ntohs(c.metrics_listen.in4.sin_port), cases[i].port);
			assert_string_equal(a, cases[i].addr);
		} else if (cases[i].family == AF_INET6) {
			assert_int_equal(c.metrics_listen.sa.sa_family, AF_INET6);
			inet_ntop(AF_INET6, &c.metrics_listen.in6.sin6_addr, a, sizeof(a));
			assert_int_equal(ntohs(c.metrics_listen.in6.sin6_port), cases[i].port);
			assert_string_equal(a, cases[i].addr);
		}
		config_free(&c);
		config_errors_free(&errs);
		config_errors_free(&warn);
	}
}

static void test_good_file(void **state)
{
	static const char content[] =
	    "# warren node\n"					/* 1 */
	    "[Interface]\n"					/* 2 */
	    "PrivateKey = " PRIV_A "   # trailing comment\n"	/* 3 */
	    "ListenPort = 51820\n"				/* 4 */
	    "Address = 10.0.0.1/24, fd00::1/64\n"		/* 5 */
	    "Address = 10.0.1.1\n"				/* 6 */
	    "MTU = 1420\n"					/* 7 */
	    "DNS = 1.1.1.1\n"					/* 8 */
	    "FwMark = 0x10\n"					/* 9 */
	    "\n"						/* 10 */
	    "[Peer]\n"						/* 11 */
	    "PublicKey = " KEY_B "\n"				/* 12 */
	    "PresharedKey = " KEY_C "\n"			/* 13 */
	    "AllowedIPs = 10.0.0.2/32,192.168.1.77/24\n"	/* 14 */
	    "AllowedIPs = fd00::2/128\n"			/* 15 */
	    "Endpoint = 192.0.2.1:51820\n"			/* 16 */
	    "PersistentKeepalive = 25\n"			/* 17 */
	    "\t\n"						/* 18 */
	    "[peer]\n"						/* 19 */
	    "publickey=" KEY_D "\n"				/* 20 */
	    "  endpoint = [2001:db8::1]:12345\n"		/* 21 */
	    "PERSISTENTKEEPALIVE = off\n"			/* 22 */
	    "allowedips = 0.0.0.0/0, ::/0\n";			/* 23 */
	struct config_errors errs = { 0 }, warn = { 0 };
	const struct config_peer *p;
	struct config c;
	char path[128], want[256], ip[INET6_ADDRSTRLEN];

	(void)state;
	write_file(path, "good.conf", content, 0600);
	if (!config_parse_file(path, &c, &errs, &warn))
		dump(&errs);
	assert_int_equal(errs.count, 0);
	assert_true(c.has_private_key);
	check_key(c.private_key, PRIV_A);
	assert_true(c.has_listen_port);
	assert_int_equal(c.listen_port, 51820);
	assert_true(c.has_fwmark);
	assert_int_equal(c.fwmark, 16);
	assert_false(c.no_overlay_firewall);	/* on unless turned off */
	assert_true(c.has_mtu);
	assert_int_equal(c.mtu, 1420);
	assert_true(c.replace_peers);
	assert_int_equal(c.n_addresses, 3);
	check_prefix(&c.addresses[0], AF_INET, "10.0.0.1", 24);	/* host bits kept */
	check_prefix(&c.addresses[1], AF_INET6, "fd00::1", 64);
	check_prefix(&c.addresses[2], AF_INET, "10.0.1.1", 32);

	assert_int_equal(warn.count, 1);
	snprintf(want, sizeof(want), "%s:8: 'DNS' is a wg-quick setting; ignored", path);
	assert_string_equal(warn.msgs[0], want);

	assert_int_equal(c.n_peers, 2);
	p = &c.peers[0];
	assert_int_equal(p->line, 11);
	check_key(p->public_key, KEY_B);
	assert_true(p->has_preshared_key);
	check_key(p->preshared_key, KEY_C);
	assert_true(p->replace_allowed_ips);
	assert_int_equal(p->n_allowed_ips, 3);
	check_prefix(&p->allowed_ips[0], AF_INET, "10.0.0.2", 32);
	check_prefix(&p->allowed_ips[1], AF_INET, "192.168.1.0", 24);	/* host bits cleared */
	check_prefix(&p->allowed_ips[2], AF_INET6, "fd00::2", 128);
	assert_true(p->has_endpoint);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(p->endpoint.in4.sin_port), 51820);
	inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.1");
	assert_string_equal(p->endpoint_host, "192.0.2.1");
	assert_string_equal(p->endpoint_port, "51820");
	assert_true(p->has_persistent_keepalive);
	assert_int_equal(p->persistent_keepalive, 25);

	p = &c.peers[1];
	check_key(p->public_key, KEY_D);
	assert_false(p->has_preshared_key);
	assert_true(p->has_endpoint);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(p->endpoint.in6.sin6_port), 12345);
	inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, ip, sizeof(ip));
	assert_string_equal(ip, "2001:db8::1");
	assert_string_equal(p->endpoint_host, "2001:db8::1");
	assert_true(p->has_persistent_keepalive);
	assert_int_equal(p->persistent_keepalive, 0);
	assert_int_equal(p->n_allowed_ips, 2);
	check_prefix(&p->allowed_ips[0], AF_INET, "0.0.0.0", 0);
	check_prefix(&p->allowed_ips[1], AF_INET6, "::", 0);

	config_free(&c);
	assert_empty(&c);
	config_errors_free(&warn);
}

/* 4. Host names are kept for the device's resolver, never looked up while parsing (that
 * would block the event loop on SIGHUP); a mistyped address is no name; a v6 /N boundary
 * inside a byte clears the right bits. */
static void test_good_names(void **state)
{
	static const char content[] = IFACE
	    "[Peer]\nPublicKey = " KEY_B "\nEndpoint = localhost:4000\n"
	    "AllowedIPs = fd12:3456:789a::ffff/45, 10.255.255.255/13\n";
	struct config_errors errs = { 0 };
	struct config c;
	char path[128], label[65];

	(void)state;
	write_file(path, "names.conf", content, 0600);
	if (!config_parse_file(path, &c, &errs, NULL))
		dump(&errs);
	assert_int_equal(errs.count, 0);
	assert_false(c.peers[0].has_endpoint);
	assert_true(c.peers[0].endpoint_unresolved);
	assert_string_equal(c.peers[0].endpoint_host, "localhost");
	assert_string_equal(c.peers[0].endpoint_port, "4000");
	assert_int_equal(c.peers[0].endpoint.sa.sa_family, AF_UNSPEC);
	check_prefix(&c.peers[0].allowed_ips[0], AF_INET6, "fd12:3456:7898::", 45);
	check_prefix(&c.peers[0].allowed_ips[1], AF_INET, "10.248.0.0", 13);
	config_free(&c);

	/* Names and not names. */
	assert_true(config_host_name_valid("localhost"));
	assert_true(config_host_name_valid("node-b.dc1.example.net."));
	assert_true(config_host_name_valid("_srv.example"));
	assert_true(config_host_name_valid("10.0.0.example"));
	assert_false(config_host_name_valid(""));
	assert_false(config_host_name_valid("."));
	assert_false(config_host_name_valid("10.0.0"));
	assert_false(config_host_name_valid("999.1.1.1"));
	assert_false(config_host_name_valid("a..b"));
	assert_false(config_host_name_valid("a b"));
	assert_false(config_host_name_valid("a/b"));
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_false(config_host_name_valid(label));	/* a label of 64 */
	label[63] = '\0';
	assert_true(config_host_name_valid(label));
}

/* 5. PrivateKeyFile: 0644 refused naming the file, 0600 accepted, relative to the config. */
static void test_private_key_file(void **state)
{
	struct config_errors errs = { 0 };
	struct config c;
	char path[128], keypath[128], want[512];

	(void)state;
	write_file(keypath, "node.key", PRIV_A "\n", 0644);
	write_file(path, "kf.conf", "[Interface]\nPrivateKeyFile = node.key\n", 0600);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	snprintf(want, sizeof(want), "%s:2: PrivateKeyFile: permissions 0644 for '%s' are too "
	    "open; private key files must be 0600", path, keypath);
	if (!has_msg(&errs, want)) {
		dump(&errs);
		fail_msg("no message '%s'", want);
	}
	config_errors_free(&errs);

	assert_int_equal(chmod(keypath, 0600), 0);
	assert_true(config_parse_file(path, &c, &errs, NULL));
	check_key(c.private_key, PRIV_A);
	config_free(&c);

	/* Absolute path, and a PresharedKeyFile with the same rule. */
	snprintf(want, sizeof(want), "[Interface]\nPrivateKeyFile = %s\n[Peer]\nPublicKey = "
	    KEY_B "\nPresharedKeyFile = %s\n", keypath, keypath);
	write_file(path, "kf2.conf", want, 0600);
	assert_true(config_parse_file(path, &c, &errs, NULL));
	assert_true(c.peers[0].has_preshared_key);
	check_key(c.peers[0].preshared_key, PRIV_A);
	config_free(&c);
	assert_int_equal(chmod(keypath, 0640), 0);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	assert_int_equal(errs.count, 2);
	config_errors_free(&errs);

	/* A missing file is one error naming it. */
	write_file(path, "kf3.conf", "[Interface]\nPrivateKeyFile = /nonexistent/k\n", 0600);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msgs[0], "/nonexistent/k"));
	config_errors_free(&errs);

	assert_false(config_parse_file("/nonexistent.conf", &c, &errs, NULL));
	assert_int_equal(errs.count, 1);
	config_errors_free(&errs);
}

/* 5b. A config holding a key inline is a key file: refused when group or others can read it,
 * naming the line of the first inline key; a file referring to key files may be 0644. */
static void test_inline_key_permissions(void **state)
{
	struct config_errors errs = { 0 };
	struct config c;
	char path[128], keypath[128], want[512];

	(void)state;
	write_file(path, "inline.conf", "# comment\n" IFACE, 0644);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	snprintf(want, sizeof(want), "%s:3: permissions 0644 for '%s' are too open", path, path);
	if (!has_msg(&errs, want)) {
		dump(&errs);
		fail_msg("no message '%s'", want);
	}
	config_errors_free(&errs);
	write_file(path, "psk.conf", "[Interface]\nListenPort = 1\n[Peer]\nPublicKey = " KEY_B
	    "\nPresharedKey = " KEY_C "\n", 0640);
	assert_false(config_parse_file(path, &c, &errs, NULL));
	snprintf(want, sizeof(want), "%s:5: permissions 0640", path);
	assert_true(has_msg(&errs, want));
	config_errors_free(&errs);

	write_file(keypath, "n.key", PRIV_A "\n", 0600);
	write_file(path, "public.conf", "[Interface]\nPrivateKeyFile = n.key\n", 0644);
	if (!config_parse_file(path, &c, &errs, NULL))
		dump(&errs);
	assert_int_equal(errs.count, 0);
	config_free(&c);
}

/* 6. UAPI set: numbered cases with the expected errno and message fragment. */
static const struct {
	const char *body;
	int ret;
	const char *msg;
} uapi_cases[] = {
	/*  1 */ { "private_key=" HEX_A "\nlisten_port=51820\n", 0, NULL },
	/*  2 */ { "private_key=" HEX_A "zz\n", EINVAL, "private_key is not 64 hex digits" },
	/*  3 */ { "private_key=7707 6d\n", EINVAL, "private_key is not 64 hex digits" },
	/*  4 */ { "foo=1\n", EINVAL, "line 1: unknown device key 'foo'" },
	/*  5 */ { "listen_port=65536\n", EINVAL, "listen_port '65536' is not a number 0..65535" },
	/*  6 */ { "public_key=" HEX_B "\nremove=yes\n", EINVAL, "line 2: remove must be 'true'" },
	/*  7 */ { "public_key=" HEX_B "\nlisten_port=1\n", EINVAL, "unknown peer key 'listen_port'" },
	/*  8 */ { "allowed_ip=10.0.0.0/8\n", EINVAL, "unknown device key 'allowed_ip'" },
	/*  9 */ { "public_key=" HEX_B "\nendpoint=example.com:51820\n", EINVAL,
		   "endpoint 'example.com:51820' is not a numeric address" },
	/* 10 */ { "public_key=" HEX_B "\nprotocol_version=2\n", EINVAL, "protocol_version '2'" },
	/* 11 */ { "noequals\n", EINVAL, "expected key=value, got 'noequals'" },
	/* 12 */ { "public_key=" HEX_B "\nallowed_ip=10.0.0.0\n", EINVAL,
		   "allowed_ip '10.0.0.0' is not address/cidr" },
	/* 13 */ { "listen_port=1\n\nfoo=bar\n", 0, NULL },	/* the blank line ends it */
	/* 14 */ { "Private_Key=" HEX_A "\n", EINVAL, "unknown device key 'Private_Key'" },
	/* 15 */ { "fwmark=4294967296\n", EINVAL, "fwmark '4294967296'" },
	/* 16 */ { "replace_peers=false\n", EINVAL, "replace_peers must be 'true'" },
	/* 17 */ { "public_key=" HEX_B "\npersistent_keepalive_interval=-1\n", EINVAL,
		   "persistent_keepalive_interval '-1'" },
	/* 18 */ { "listen_port= 1\n", EINVAL, "listen_port ' 1'" },
	/* 19 */ { "public_key=" HEX_B "\nendpoint=fd00::1:51820\n", EINVAL,
		   "IPv6 endpoints need brackets" },
	/* 20 */ { "public_key=" HEX_B "\npreshared_key=" HEX_B "0\n", EINVAL,
		   "preshared_key is not 64 hex digits" },
};

static void test_uapi_cases(void **state)
{
	struct config_errors errs = { 0 };
	struct config c;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < sizeof(uapi_cases) / sizeof(uapi_cases[0]); i++) {
		ret = config_parse_uapi_set(uapi_cases[i].body, strlen(uapi_cases[i].body), &c,
		    &errs);
		if (ret != uapi_cases[i].ret) {
			dump(&errs);
			fail_msg("uapi case %zu: ret %d, want %d", i + 1, ret, uapi_cases[i].ret);
		}
		if (uapi_cases[i].msg && (errs.count != 1 ||
		    !strstr(errs.msgs[0], uapi_cases[i].msg))) {
			dump(&errs);
			fail_msg("uapi case %zu: no message '%s'", i + 1, uapi_cases[i].msg);
		}
		if (ret)
			assert_empty(&c);
		for (size_t j = 0; j < errs.count; j++)
			if (strstr(errs.msgs[j], "77076d0a7318"))
				fail_msg("uapi case %zu leaked the private key", i + 1);
		config_free(&c);
		config_errors_free(&errs);
	}
}

/* 7. A full UAPI body, as `wg set` sends it, parsed field by field. */
static void test_uapi_good(void **state)
{
	static const char body[] =
	    "private_key=" HEX_A "\n"
	    "listen_port=51820\n"
	    "fwmark=0\n"
	    "replace_peers=true\n"
	    "public_key=" HEX_B "\n"
	    "protocol_version=1\n"
	    "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	    "endpoint=[2001:db8::1]:51820\n"
	    "persistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=10.0.0.77/24\n"
	    "allowed_ip=fd00::2/128\n"
	    "public_key=" HEX_A "\n"
	    "update_only=true\n"
	    "endpoint=192.0.2.1:1\n"
	    "public_key=" HEX_B "\n"
	    "remove=true\n";
	struct config_errors errs = { 0 };
	const struct config_peer *p;
	uint8_t a[KEY_LEN], b[KEY_LEN];
	struct config c;

	(void)state;
	assert_true(key_from_hex(a, HEX_A));
	assert_true(key_from_hex(b, HEX_B));
	/* No trailing newline on the last line, and length-bounded (no NUL needed). */
	assert_int_equal(config_parse_uapi_set(body, sizeof(body) - 2, &c, &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_true(c.has_private_key);
	assert_memory_equal(c.private_key, a, KEY_LEN);
	assert_true(c.has_listen_port);
	assert_int_equal(c.listen_port, 51820);
	assert_true(c.has_fwmark);
	assert_int_equal(c.fwmark, 0);
	assert_true(c.replace_peers);
	assert_int_equal(c.n_addresses, 0);
	assert_int_equal(c.n_peers, 3);

	p = &c.peers[0];
	assert_memory_equal(p->public_key, b, KEY_LEN);
	assert_true(p->has_preshared_key);
	assert_true(key_is_zero(p->preshared_key));
	assert_true(p->has_endpoint);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(p->endpoint.in6.sin6_port), 51820);
	assert_string_equal(p->endpoint_host, "");
	assert_true(p->has_persistent_keepalive);
	assert_int_equal(p->persistent_keepalive, 25);
	assert_true(p->replace_allowed_ips);
	assert_int_equal(p->n_allowed_ips, 2);
	check_prefix(&p->allowed_ips[0], AF_INET, "10.0.0.0", 24);
	check_prefix(&p->allowed_ips[1], AF_INET6, "fd00::2", 128);
	assert_false(p->remove);

	p = &c.peers[1];
	assert_memory_equal(p->public_key, a, KEY_LEN);
	assert_true(p->update_only);
	assert_false(p->replace_allowed_ips);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(p->endpoint.in4.sin_port), 1);

	p = &c.peers[2];
	assert_true(p->remove);
	assert_false(p->has_endpoint);
	config_free(&c);

	/* An all-zero private key means "remove it". */
	assert_int_equal(config_parse_uapi_set("private_key="
	    "0000000000000000000000000000000000000000000000000000000000000000\n", 77, &c, &errs),
	    0);
	assert_true(c.has_private_key);
	assert_true(key_is_zero(c.private_key));
	config_free(&c);
	/* An empty body is an empty (valid) request. */
	assert_int_equal(config_parse_uapi_set("", 0, &c, &errs), 0);
	assert_empty(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_switch_keys),
		cmocka_unit_test(test_metrics_listen_key),
		cmocka_unit_test(test_good_names),
		cmocka_unit_test(test_private_key_file),
		cmocka_unit_test(test_inline_key_permissions),
		cmocka_unit_test(test_uapi_cases),
		cmocka_unit_test(test_uapi_good),
	};

	if (!key_lib_init())
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
