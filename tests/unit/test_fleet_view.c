/* keys status's reading of a node's GET /v1/status answer (keys/fleet_view.c): a valid view is
 * counted; a repeated member (top object or a peer), more peers than the roster has nodes, or
 * any other malformed answer is "invalid status answer" and counts nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys/fleet.h"

enum { NODES = 4 };	/* the roster's node count: the most peers an answer may list */

static bool parse(struct fleet_node *f, const char *body)
{
	static struct roster_node rn = { .name = "b" };

	memset(f, 0, sizeof(*f));
	f->rn = &rn;
	return fleet_view_parse(f, body, strlen(body), NODES);
}

static void test_fleet_view_valid(void **state)
{
	struct fleet_node f;

	(void)state;
	assert_true(parse(&f, "{\"name\": \"b\", \"network\": \"n\", \"serial\": 7, \"time\": 1000,"
	    " \"peers\": [{\"name\": \"a\", \"last_handshake\": 990}, {\"name\": null,"
	    " \"last_handshake\": 0}]}"));
	assert_int_equal(f.serial, 7);
	assert_int_equal(f.peers, 2);
	assert_int_equal(f.peers_live, 1);
	assert_true(parse(&f, "{\"name\": \"b\", \"serial\": 1, \"peers\": []}"));
	assert_int_equal(f.peers, 0);
}

static void test_fleet_view_refused(void **state)
{
	static const char *const bad[] = {
		/* the reviewer's answer: taken as node b with 3 peers */
		"{\"name\":\"x\",\"name\":\"b\",\"serial\":7,\"peers\":[{}],\"peers\":[{}, {}]}",
		"{\"name\":\"b\",\"serial\":7,\"serial\":8,\"peers\":[]}",
		"{\"name\":\"b\",\"serial\":7,\"time\":1,\"time\":2,\"peers\":[]}",
		"{\"name\":\"b\",\"serial\":7,\"peers\":[],\"peers\":[]}",
		"{\"name\":\"b\",\"serial\":7,\"network\":\"n\",\"network\":\"m\",\"peers\":[]}",
		/* in a peer: the handshake read twice, or another member twice */
		"{\"name\":\"b\",\"serial\":7,\"time\":100,\"peers\":[{\"last_handshake\":0,"
		    "\"last_handshake\":99}]}",
		"{\"name\":\"b\",\"serial\":7,\"peers\":[{\"key\":\"k\",\"key\":\"l\"}]}",
		/* more peers than the roster has nodes */
		"{\"name\":\"b\",\"serial\":7,\"peers\":[{},{},{},{},{}]}",
	};
	struct fleet_node f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = parse(&f, bad[i]);

		if (ok || strcmp(f.error, "invalid status answer") != 0)
			fail_msg("case %zu accepted (%u peers) or wrong error '%s'", i + 1, f.peers,
			    f.error);
	}
	/* As many peers as nodes is still a view. */
	assert_true(parse(&f, "{\"name\":\"b\",\"serial\":7,\"peers\":[{},{},{},{}]}"));
	assert_int_equal(f.peers, NODES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fleet_view_valid),
		cmocka_unit_test(test_fleet_view_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
