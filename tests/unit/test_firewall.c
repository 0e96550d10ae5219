/* The overlay firewall's nftables table against the real kernel, inside a private network
 * namespace (needs root; CI runs as root).  Every state is checked independently of the code
 * under test, by what nft(8) lists; whether the rules drop what they should is
 * tests/integration/test_overlay_firewall.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunneld/firewall.h"
#include "tunneld/tun.h"

static int tun_fd = -1;
static char ifname[IFNAMSIZ];
static char table[FIREWALL_TABLE_NAME_MAX];

/* nft's listing of our table, or "" when there is none.  The caller frees it. */
static char *listing(void)
{
	char cmd[128], *out = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nft list table inet %s 2>/dev/null", table);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (getdelim(&out, &cap, '\0', f) < 0) {
		free(out);
		out = strdup("");
	}
	pclose(f);
	assert_non_null(out);
	return out;
}

static void expect_listing(const char *const *present, const char *const *absent)
{
	char *l = listing();

	for (; present && *present; present++) {
		if (!strstr(l, *present))
			fail_msg("expected '%s' in:\n%s", *present, l);
	}
	for (; absent && *absent; absent++) {
		if (strstr(l, *absent))
			fail_msg("did not expect '%s' in:\n%s", *absent, l);
	}
	free(l);
}

static struct config_prefix prefix(const char *addr, uint8_t cidr)
{
	struct config_prefix p = { 0 };

	p.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(p.family, addr, p.addr), 1);
	p.cidr = cidr;
	return p;
}

static int nft(const char *script)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "nft -f - 2>/dev/null <<'EOF'\n%s\nEOF\n", script);
	return system(cmd);
}

static int setup(void **state)
{
	(void)state;
	tun_fd = tun_open("fwtest%d", ifname);
	assert_true(tun_fd >= 0);
	snprintf(table, sizeof(table), "warren-%s", ifname);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(tun_fd);
	return 0;
}

/* Open: the table, owned, with the chain and the two accepts and no drop. */
static void test_firewall_open_empty(void **state)
{
	struct firewall *fw;
	char iif[64];
	const char *present[] = { "flags owner",
	    "type filter hook input priority filter; policy accept;", iif,
	    "meta iiftype loopback accept", NULL };
	const char *absent[] = { "drop", NULL };

	(void)state;
	snprintf(iif, sizeof(iif), "iif \"%s\" accept", ifname);
	assert_int_equal(firewall_open(&fw, ifname, (int)if_nametoindex(ifname)), 0);
	assert_string_equal(firewall_table_name(fw), table);
	expect_listing(present, absent);
	firewall_close(fw);
	expect_listing(NULL, (const char *[]){ "table", NULL });
}

/* Addresses: one drop per address (host part only), replaced whole on every call; a failed
 * call (too many) leaves the previous table. */
static void test_firewall_addresses(void **state)
{
	struct firewall *fw;
	struct config_prefix a[2] = { prefix("100.64.3.7", 16), prefix("fd00:64::7", 64) };
	struct config_prefix b[1] = { prefix("100.64.3.8", 32) };
	struct config_prefix *many;

	(void)state;
	assert_int_equal(firewall_open(&fw, ifname, (int)if_nametoindex(ifname)), 0);
	assert_int_equal(firewall_set_addresses(fw, a, 2), 0);
	expect_listing((const char *[]){ "ip daddr 100.64.3.7 drop", "ip6 daddr fd00:64::7 drop",
	    "flags owner", NULL }, (const char *[]){ "100.64.0.0", NULL });
	assert_int_equal(firewall_set_addresses(fw, b, 1), 0);
	expect_listing((const char *[]){ "ip daddr 100.64.3.8 drop", NULL },
	    (const char *[]){ "100.64.3.7", "fd00:64::7", NULL });

	many = calloc(257, sizeof(*many));
	assert_non_null(many);
	for (size_t i = 0; i < 257; i++)
		many[i] = b[0];
	assert_int_equal(firewall_set_addresses(fw, many, 257), -E2BIG);
	free(many);
	expect_listing((const char *[]){ "ip daddr 100.64.3.8 drop", NULL }, NULL);

	assert_int_equal(firewall_set_addresses(fw, NULL, 0), 0);
	expect_listing((const char *[]){ "meta iiftype loopback accept", NULL },
	    (const char *[]){ "drop", NULL });
	firewall_close(fw);
}

/* A table of that name left by someone else (no owner) is replaced at open; one owned by a
 * live socket is not, and stays as it was. */
static void test_firewall_stale_and_owned(void **state)
{
	struct firewall *fw, *other;
	struct config_prefix a[1] = { prefix("100.64.3.9", 32) };
	char script[256];

	(void)state;
	snprintf(script, sizeof(script), "table inet %s {\n chain input { type filter hook input "
	    "priority filter; policy drop; }\n chain junk { }\n}", table);
	assert_int_equal(nft(script), 0);
	expect_listing((const char *[]){ "policy drop", "junk", NULL }, NULL);
	assert_int_equal(firewall_open(&fw, ifname, (int)if_nametoindex(ifname)), 0);
	expect_listing((const char *[]){ "flags owner", "policy accept", NULL },
	    (const char *[]){ "policy drop", "junk", NULL });
	assert_int_equal(firewall_set_addresses(fw, a, 1), 0);

	assert_true(firewall_open(&other, ifname, (int)if_nametoindex(ifname)) < 0);
	assert_null(other);
	expect_listing((const char *[]){ "ip daddr 100.64.3.9 drop", NULL }, NULL);
	/* nft(8) may not delete it either: only tunneld changes its table. */
	snprintf(script, sizeof(script), "delete table inet %s", table);
	assert_true(nft(script) != 0);
	expect_listing((const char *[]){ "ip daddr 100.64.3.9 drop", NULL }, NULL);
	firewall_close(fw);
	expect_listing(NULL, (const char *[]){ "table", NULL });
}

/* What one update costs (a roster apply rewrites the table twice): printed, not asserted. */
static void test_firewall_update_time(void **state)
{
	struct firewall *fw;
	struct config_prefix a[2] = { prefix("100.64.3.7", 16), prefix("fd00:64::7", 64) };
	struct timespec t0, t1;
	enum { ROUNDS = 200 };

	(void)state;
	assert_int_equal(firewall_open(&fw, ifname, (int)if_nametoindex(ifname)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < ROUNDS; i++)
		assert_int_equal(firewall_set_addresses(fw, a, 2), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# firewall_set_addresses (2 addresses, one transaction): %.1f us each\n",
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
	    ROUNDS / 1e3);
	firewall_close(fw);
}

static void test_firewall_bad_arguments(void **state)
{
	struct firewall *fw;

	(void)state;
	assert_int_equal(firewall_open(&fw, "", 1), -EINVAL);
	assert_int_equal(firewall_open(&fw, "0123456789abcdef", 1), -EINVAL);
	assert_int_equal(firewall_open(&fw, ifname, 0), -EINVAL);
	assert_null(fw);
	assert_int_equal(firewall_set_addresses(NULL, NULL, 0), -EINVAL);
	firewall_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_firewall_open_empty),
		cmocka_unit_test(test_firewall_addresses),
		cmocka_unit_test(test_firewall_stale_and_owned),
		cmocka_unit_test(test_firewall_update_time),
		cmocka_unit_test(test_firewall_bad_arguments),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_firewall: FAIL: must run as root (it creates a network "
		    "namespace and an nftables table); run it under sudo or in CI\n");
		return 1;
	}
	if (system("nft --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_firewall: FAIL: nft(8) not found (make deps installs "
		    "nftables)\n");
		return 1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_firewall: FAIL: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
