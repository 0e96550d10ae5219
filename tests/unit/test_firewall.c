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
		if (!strstr(l, *present)) {
			/* printf: cmocka's message would cut a long listing short */
			printf("expected '%s' in:\n%s\n", *present, l);
			fail();
		}
	}
	for (; absent && *absent; absent++) {
		if (strstr(l, *absent)) {
			printf("did not expect '%s' in:\n%s\n", *absent, l);
			fail();
		}
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
	expect_listing((const char *[]){ "ip daddr 100.64.3.8 drop", NULL }, NULL);
	/* The most it takes, 256 (each a message the kernel answers: more answers than a
	 * default receive buffer holds). */
	for (size_t i = 0; i < 256; i++)
		many[i].addr[3] = (uint8_t)i;
	assert_int_equal(firewall_set_addresses(fw, many, 256), 0);
	expect_listing((const char *[]){ "ip daddr 100.64.3.255 drop", NULL }, NULL);
	assert_int_equal(firewall_set_addresses(fw, b, 1), 0);
	free(many);

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

/* An IPv4 TCP SYN from src to dst:dport written into the TUN device: the kernel takes it as
 * received on the interface, so it walks the policy chain (prerouting). */
static void inject_syn(const char *src, const char *dst, uint16_t dport)
{
	uint8_t pkt[40] = { 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, IPPROTO_TCP };
	uint32_t sum = 0;

	assert_int_equal(inet_pton(AF_INET, src, pkt + 12), 1);
	assert_int_equal(inet_pton(AF_INET, dst, pkt + 16), 1);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	pkt[10] = (uint8_t)(~sum >> 8);
	pkt[11] = (uint8_t)~sum;
	pkt[20] = 0x9c;		/* source port 40000 */
	pkt[21] = 0x40;
	pkt[22] = (uint8_t)(dport >> 8);
	pkt[23] = (uint8_t)dport;
	pkt[32] = 0x50;		/* data offset 5 */
	pkt[33] = 0x02;		/* SYN */
	pkt[34] = 0xff;
	assert_int_equal(write(tun_fd, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
}

struct drop_seen {
	char rule[FIREWALL_RULE_TEXT_MAX];
	uint64_t packets;
};

static void drop_seen_fn(const char *text, uint64_t packets, void *arg)
{
	struct drop_seen *want = arg;

	if (!strcmp(text, want->rule))
		want->packets = packets;
}

static uint64_t drops_of(struct firewall *fw, const char *rule)
{
	struct drop_seen seen = { .packets = UINT64_MAX };

	snprintf(seen.rule, sizeof(seen.rule), "%s", rule);
	assert_int_equal(firewall_policy_drops(fw, drop_seen_fn, &seen), 0);
	return seen.packets;
}

static const char deny_ssh[] = "deny group:web -> group:db tcp/22";

/* A policy of three rules and default deny, as nft(8) lists it: the fixed rules, a set for a
 * source of several addresses, a prefix match, ports, counters and comments. */
static void policy_fill(struct firewall_policy *p, struct firewall_rule r[3],
    struct config_prefix web[2], struct config_prefix self[2])
{
	memset(p, 0, sizeof(*p));
	memset(r, 0, 3 * sizeof(*r));
	web[0] = prefix("100.64.0.2", 32);
	web[1] = prefix("100.64.0.3", 32);
	self[0] = prefix("100.64.0.1", 32);
	self[1] = prefix("fd00:64::1", 128);
	snprintf(r[0].text, sizeof(r[0].text), "%s", deny_ssh);
	r[0].drop = true;
	r[0].proto = IPPROTO_TCP;
	r[0].port_lo = r[0].port_hi = 22;
	r[0].from = web;
	r[0].n_from = 2;
	r[0].to_self = true;
	snprintf(r[1].text, sizeof(r[1].text), "allow 10.9.0.0/16 -> 10.1.0.0/24 udp/1000-2000");
	r[1].proto = IPPROTO_UDP;
	r[1].port_lo = 1000;
	r[1].port_hi = 2000;
	r[1].from = &web[0];	/* replaced below by a prefix */
	r[1].n_from = 1;
	snprintf(r[2].text, sizeof(r[2].text), "allow * -> group:db icmp");
	r[2].proto = 1;
	r[2].from_any = true;
	r[2].to_self = true;
	p->default_drop = true;
	p->gossip_port = 7946;
	p->rules = r;
	p->n_rules = 3;
	p->self = self;
	p->n_self = 2;
}

static void test_firewall_policy(void **state)
{
	struct firewall *fw;
	struct firewall_policy p;
	struct firewall_rule r[3];
	struct config_prefix web[2], self[2], from9 = prefix("10.9.0.0", 16);
	char cmd[160];

	(void)state;
	policy_fill(&p, r, web, self);
	r[1].from = &from9;
	r[1].to = prefix("10.1.0.0", 24);
	r[1].to_prefix = true;
	assert_int_equal(firewall_open(&fw, ifname, (int)if_nametoindex(ifname)), 0);
	assert_int_equal(firewall_set_policy(fw, &p), 0);
	expect_listing((const char *[]){ "chain node_policy {",
	    "hook prerouting priority filter; policy accept;",
	    "ct direction reply ct mark != 0x00000000/1 accept", "ct mark & 0x7fff0000 == 0x",
	    "chain outbound {", "hook postrouting priority filter; policy accept;",
	    "ct state new tcp flags syn / fin,syn,rst,ack ct mark set ct mark | 0x80000000",
	    "ct state new meta l4proto != tcp ct mark set ct mark | 0x80000000",
	    "100.64.0.2", "100.64.0.3", "ip saddr @from0_4 fib daddr type != unicast", "dport 22",
	    "counter packets 0 bytes 0 drop comment \"deny group:web -> group:db tcp/22\"",
	    "ip saddr 10.9.0.0/16", "ip daddr 10.1.0.0/24", "dport 1000-2000",
	    "ipv6-icmp", "tcp dport 7946 ip daddr @self4 accept",
	    "tcp dport 7946 ip6 daddr @self6 accept", "comment \"default deny\"", NULL },
	    (const char *[]){ "@from1", "@from2", "related", NULL });

	/* Traffic: the deny rule counts a SYN to port 22 from a web node, not one to 80 (the
	 * default counts that one). */
	snprintf(cmd, sizeof(cmd), "ip link set %s up && ip addr add 100.64.0.1/24 dev %s && "
	    "ip addr add 10.99.0.1/32 dev lo", ifname, ifname);
	assert_int_equal(system(cmd), 0);
	inject_syn("100.64.0.2", "100.64.0.1", 22);
	inject_syn("100.64.0.3", "100.64.0.1", 22);
	inject_syn("100.64.0.2", "100.64.0.1", 80);
	assert_int_equal(drops_of(fw, deny_ssh), 2);
	/* "To this node" is every local address, not only the overlay's: a peer chooses the
	 * destination, and Linux delivers any local one whatever the interface. */
	inject_syn("100.64.0.2", "10.99.0.1", 22);
	assert_int_equal(drops_of(fw, deny_ssh), 3);
	assert_int_equal(drops_of(fw, "default deny"), 1);

	/* The same policy again changes nothing; one more rule is a new table, and the kept
	 * deny rule's count goes on from 2 (the kernel's counter starts again at 0). */
	assert_int_equal(firewall_set_policy(fw, &p), 0);
	p.n_rules = 2;
	assert_int_equal(firewall_set_policy(fw, &p), 0);
	expect_listing((const char *[]){ "ip saddr @from0_4", NULL },
	    (const char *[]){ "icmp", NULL });
	assert_int_equal(drops_of(fw, deny_ssh), 3);
	inject_syn("100.64.0.3", "100.64.0.1", 22);
	assert_int_equal(drops_of(fw, deny_ssh), 4);
	/* Addresses rewrite the table too, and keep the counts. */
	assert_int_equal(firewall_set_addresses(fw, self, 1), 0);
	assert_int_equal(drops_of(fw, deny_ssh), 4);
	assert_int_equal(drops_of(fw, "default deny"), 1);

	/* No policy: no chain. */
	assert_int_equal(firewall_set_policy(fw, NULL), 0);
	expect_listing((const char *[]){ "ip daddr 100.64.0.1 drop", NULL },
	    (const char *[]){ "prerouting", "postrouting", "@self4", NULL });
	snprintf(cmd, sizeof(cmd), "ip addr flush dev %s && ip link set %s down && "
	    "ip addr del 10.99.0.1/32 dev lo", ifname, ifname);
	assert_int_equal(system(cmd), 0);
	firewall_close(fw);
}

/* A policy of 1,000 rules is one batch of some 2,000 messages, whose answers overflow a
 * default receive buffer (ENOBUFS, outcome unknown) unless it was made room for; more nft
 * rules than FIREWALL_MAX_POLICY_RULES are refused and leave the table as it was. */
static void test_firewall_policy_large(void **state)
{
	enum { N = 1000 };
	struct firewall *fw;
	struct firewall_policy p = { 0 };
	struct firewall_rule *r = calloc(FIREWALL_MAX_POLICY_RULES + 1, sizeof(*r));
	struct config_prefix self = prefix("100.64.0.1", 32);
	char *l;
	size_t comments = 0;

	(void)state;
	assert_non_null(r);
	for (size_t i = 0; i <= FIREWALL_MAX_POLICY_RULES; i++) {
		snprintf(r[i].text, sizeof(r[i].text), "deny * -> db tcp/%zu", 1000 + i);
		r[i].drop = true;
		r[i].proto = IPPROTO_TCP;
		r[i].port_lo = r[i].port_hi = (uint16_t)(1000 + i);
		r[i].from_any = true;
		r[i].to_self = true;
	}
	p.rules = r;
	p.n_rules = N;
	p.self = &self;
	p.n_self = 1;
	assert_int_equal(firewall_open(&fw, ifname, (int)if_nametoindex(ifname)), 0);
	assert_int_equal(firewall_set_policy(fw, &p), 0);
	l = listing();
	for (const char *c = l; (c = strstr(c, "comment \"deny")); c++)
		comments++;
	free(l);
	assert_int_equal(comments, 2 * N);	/* "to this node": an IPv4 and an IPv6 rule each */
	p.n_rules = FIREWALL_MAX_POLICY_RULES + 1;
	assert_int_equal(firewall_set_policy(fw, &p), -E2BIG);
	expect_listing((const char *[]){ "deny * -> db tcp/1999\"", NULL },
	    (const char *[]){ "tcp/2000\"", NULL });
	firewall_close(fw);
	free(r);
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
		cmocka_unit_test(test_firewall_policy),
		cmocka_unit_test(test_firewall_policy_large),
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
