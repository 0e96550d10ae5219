/* Node-to-node policy lines of the roster (keys/lib/roster_policy.c, roster_parse.c): parsed,
 * written back byte for byte, and each rule of the format refused with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys/lib/roster.h"

static const char head[] =
    "warren-roster 1\nnetwork prod\ncidr 100.64.0.0/16\nserial 1\nissued 2026-11-21T23:00:00Z\n"
    "admin BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=\n"
    "node db-1\n\tkey AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\taddress 100.64.0.3\n"
    "\tsubnet 10.20.0.0/16\n\tgroup db\n"
    "node web-1\n\tkey AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n\taddress 100.64.0.4\n"
    "\tgroup web\n";

/* parse HEAD + TAIL: NULL if it parses (and writes back byte for byte), else the first error. */
static char *try(const char *tail)
{
	static char err[256];
	struct roster_errors errs = { 0 };
	struct roster r;
	char text[2048], *out;
	size_t len = 0;

	snprintf(text, sizeof(text), "%s%s", head, tail);
	roster_init(&r);
	if (!roster_parse(text, strlen(text), "t", &r, &errs)) {
		snprintf(err, sizeof(err), "%s", errs.msgs[0]);
		roster_errors_free(&errs);
		return err;
	}
	out = roster_serialize(&r, false, &len);
	assert_non_null(out);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(out, text, len);
	free(out);
	roster_free(&r);
	return NULL;
}

static void test_good(void **state)
{
	struct roster_errors errs = { 0 };
	struct roster r;
	char text[2048];

	(void)state;
	assert_null(try("policy default deny\n"
	    "policy deny web-1 -> db-1 tcp/22\n"
	    "policy allow * -> * icmp\n"
	    "policy allow 10.20.0.0/24 -> group:db udp/53\n"
	    "policy allow group:web -> group:db tcp/5432\n"
	    "policy allow group:web -> group:db tcp/8000-8080\n"
	    "policy allow group:web -> web-1 any\n"));
	snprintf(text, sizeof(text), "%spolicy allow group:web -> group:db tcp/5432\n", head);
	roster_init(&r);
	assert_true(roster_parse(text, strlen(text), "t", &r, &errs));
	assert_false(r.policy_default_deny);
	assert_int_equal(r.n_policy, 1);
	assert_false(r.policy[0].deny);
	assert_string_equal(r.policy[0].from.target, "group:web");
	assert_string_equal(r.policy[0].to.target, "group:db");
	assert_int_equal(r.policy[0].proto, ROSTER_POLICY_TCP);
	assert_int_equal(r.policy[0].port_lo, 5432);
	assert_int_equal(r.policy[0].port_hi, 5432);
	assert_int_equal(r.policy[0].line, 16);
	roster_free(&r);
	assert_null(try("policy allow group:web -> group:db tcp\n"));
}

static void test_refused(void **state)
{
	static const struct {
		const char *tail, *want;
	} bad[] = {
		{ "policy allow group:app -> group:db tcp/5432\n",
		  "t:16: policy FROM names group 'app' that no node is in" },
		{ "policy allow web-1 -> db-9 tcp/5432\n",
		  "t:16: policy TO names node 'db-9' that is not in the roster" },
		{ "policy allow 10.99.0.0/16 -> db-1 tcp/5432\n",
		  "t:16: policy FROM names prefix 10.99.0.0/16 that is inside no node's subnet" },
		{ "policy allow * -> * tcp/1-65535\n",
		  "t:16: non-canonical ports: write 'tcp' for every port" },
		{ "policy allow * -> * icmp/8\n", "t:16: icmp takes no ports" },
		{ "policy allow * -> * sctp\n", "t:16: bad protocol 'sctp'" },
		{ "policy allow * * tcp\n", "t:16: expected 'allow|deny FROM -> TO PROTO[/PORTS]'" },
		{ "policy permit * -> * tcp\n", "t:16: expected allow or deny, not 'permit'" },
		{ "policy default allow\n", "t:16: non-canonical 'policy default allow'" },
		{ "policy allow * -> * icmp\npolicy default deny\n",
		  "t:17: 'policy default deny' comes once, before the rules" },
		{ "policy allow * -> * icmp\npolicy deny * -> * tcp\n",
		  "t:17: policy rules not sorted" },
		{ "policy allow * -> * icmp\npolicy allow * -> * icmp\n",
		  "t:17: duplicate policy rule (first at line 16)" },
		{ "policy allow * -> * icmp\nnode zz\n", "t:17: node after policy lines" },
	};
	char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = try(bad[i].tail);
		if (!err || strncmp(err, bad[i].want, strlen(bad[i].want)) != 0) {
			print_error("case %zu: got '%s'\n  want '%s'\n", i + 1, err ? err : "(parsed)",
			    bad[i].want);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
