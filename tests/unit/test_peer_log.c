/* How log lines name a peer (tunneld/peer_log.h): roster mode "peer NAME (KEY8)", config mode
 * "peer KEY8", the JSON fields pointing at the whole key, the name and the endpoint (absent
 * when unknown), and a name at its bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunneld/peer_log.h"

static const uint8_t key[KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static void test_peer_log_roster_name(void **state)
{
	struct peer_log l;
	char b64[KEY_B64_LEN + 1];

	(void)state;
	key_to_base64(b64, key);
	peer_log_init(&l, key, "db-1", NULL);
	assert_string_equal(l.text, "peer db-1 (AQIDBAUG)");
	assert_string_equal(l.fields.peer, b64);
	assert_string_equal(l.fields.name, "db-1");
	assert_null(l.fields.endpoint);
}

static void test_peer_log_config_mode(void **state)
{
	struct peer_log l;

	(void)state;
	peer_log_init(&l, key, "", NULL);
	assert_string_equal(l.text, "peer AQIDBAUG");
	assert_null(l.fields.name);
	peer_log_init(&l, key, NULL, NULL);
	assert_string_equal(l.text, "peer AQIDBAUG");
}

static void test_peer_log_long_name(void **state)
{
	char name[PEER_NAME_SIZE];
	struct peer_log l;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	peer_log_init(&l, key, name, NULL);
	assert_int_equal(strlen(l.text), strlen("peer  (AQIDBAUG)") + PEER_NAME_SIZE - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_log_roster_name),
		cmocka_unit_test(test_peer_log_config_mode),
		cmocka_unit_test(test_peer_log_long_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
