/* tunneld's metrics page (tunneld/metrics_page.c) over a device built by hand: per-peer
 * families with the public key, and in roster mode the node's name (escaped: quote,
 * backslash, newline); every drop reason present, each from its counter; the UDP offload
 * counters, both families summed; the roster families only in roster mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys/lib/key.h"
#include "tunneld/device.h"
#include "tunneld/metrics_page.h"
#include "tunneld/roster_sync.h"

struct fixture {
	struct device dev;
	struct peer p[2];
	uint8_t key[2][WG_KEY_LEN];
	char b64[2][KEY_B64_LEN + 1];
};

static void setup_dev(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->dev.ifname, "wg7");
	f->dev.engine = wg_engine_new();
	assert_non_null(f->dev.engine);
	for (int i = 0; i < 2; i++) {
		memset(f->key[i], 0x11 * (i + 1), WG_KEY_LEN);
		key_to_base64(f->b64[i], f->key[i]);
		f->p[i].dev = &f->dev;
		f->p[i].wg = wg_engine_peer_add(f->dev.engine, f->key[i], &f->p[i]);
		assert_non_null(f->p[i].wg);
	}
	f->dev.peers_head = &f->p[0];
	f->p[0].next = &f->p[1];
	f->dev.n_peers = 2;
	f->p[0].rx_bytes = 1000;
	f->p[0].tx_packets = 7;
	f->p[1].rx_bytes = 5;
	f->dev.stats.rx_dropped[WG_DROP_REPLAY] = 3;
	f->dev.stats.rx_dropped[WG_DROP_BAD_MAC] = 4;
	f->dev.stats.rx_bad_source = 2;
	f->dev.stats.staged_overflow = 9;
	f->dev.send4.gso_messages = 2;
	f->dev.send6.gso_messages = 1;
	f->dev.send4.gso_datagrams = 80;
	f->dev.send6.gso_datagrams = 3;
	f->dev.recv.gro_messages = 5;
	f->dev.recv.gro_datagrams = 200;
	f->dev.recv.truncated = 6;
}

static void has(const char *page, const char *line)
{
	if (!strstr(page, line))
		fail_msg("missing: %s\n--- page:\n%s", line, page);
}

static void test_roster_mode(void **state)
{
	static struct fixture f;
	static struct roster_sync rs;
	struct roster_node node;
	struct prom_writer w;
	char want[512];

	(void)state;
	setup_dev(&f);
	memset(&node, 0, sizeof(node));
	/* Not a name a roster would hold: the page must stay well-formed whatever it gets. */
	strcpy(node.name, "db\"1\\x\ny");
	memcpy(node.key, f.key[0], WG_KEY_LEN);
	rs.has_roster = true;
	rs.running.nodes = &node;
	rs.running.n_nodes = 1;
	rs.running.serial = 42;
	rs.running.issued = 1764547200;
	rs.running.has_expires = true;
	rs.running.expires = 1764547201;	/* long past: expired */
	prom_writer_init(&w);
	metrics_page_write(&w, &f.dev, &rs, 0);
	assert_false(prom_writer_failed(&w));
	snprintf(want, sizeof(want), "tunneld_peer_receive_bytes_total{public_key=\"%s\","
	    "name=\"db\\\"1\\\\x\\ny\"} 1000\n", f.b64[0]);
	has(w.buf, want);
	snprintf(want, sizeof(want), "tunneld_peer_receive_bytes_total{public_key=\"%s\","
	    "name=\"\"} 5\n", f.b64[1]);
	has(w.buf, want);
	snprintf(want, sizeof(want), "tunneld_peer_transmit_packets_total{public_key=\"%s\","
	    "name=\"db\\\"1\\\\x\\ny\"} 7\n", f.b64[0]);
	has(w.buf, want);
	snprintf(want, sizeof(want), "tunneld_peer_last_handshake_timestamp_seconds{public_key="
	    "\"%s\",name=\"\"} 0\n", f.b64[1]);
	has(w.buf, want);
	has(w.buf, "tunneld_build_info{version=\"");
	has(w.buf, "interface=\"wg7\"} 1\n");
	has(w.buf, "tunneld_packets_dropped_total{reason=\"replay\"} 3\n");
	has(w.buf, "tunneld_packets_dropped_total{reason=\"bad_mac\"} 4\n");
	has(w.buf, "tunneld_packets_dropped_total{reason=\"wrong_allowed_ip\"} 2\n");
	has(w.buf, "tunneld_packets_dropped_total{reason=\"queue_full\"} 9\n");
	has(w.buf, "tunneld_packets_dropped_total{reason=\"bad_auth\"} 0\n");
	has(w.buf, "# TYPE tunneld_roster_serial gauge\ntunneld_roster_serial 42\n");
	has(w.buf, "tunneld_roster_issued_timestamp_seconds 1764547200\n");
	has(w.buf, "tunneld_roster_expiry_timestamp_seconds 1764547201\n");
	has(w.buf, "tunneld_roster_expired 1\n");
	has(w.buf, "tunneld_under_load 0\n");
	has(w.buf, "tunneld_packets_dropped_total{reason=\"truncated\"} 6\n");
	has(w.buf, "tunneld_udp_gso_messages_total 3\n");
	has(w.buf, "tunneld_udp_gso_datagrams_total 83\n");
	has(w.buf, "tunneld_udp_gro_messages_total 5\n");
	has(w.buf, "tunneld_udp_gro_datagrams_total 200\n");
	prom_writer_free(&w);
	wg_engine_free(f.dev.engine);
}

/* Without a roster: no name label, no roster families; every drop reason has a distinct name. */
static void test_plain_mode(void **state)
{
	static struct fixture f;
	struct prom_writer w;
	char want[256];

	(void)state;
	setup_dev(&f);
	prom_writer_init(&w);
	metrics_page_write(&w, &f.dev, NULL, 0);
	assert_false(prom_writer_failed(&w));
	snprintf(want, sizeof(want), "tunneld_peer_receive_bytes_total{public_key=\"%s\"} 1000\n",
	    f.b64[0]);
	has(w.buf, want);
	assert_null(strstr(w.buf, "name="));
	assert_null(strstr(w.buf, "tunneld_roster"));
	for (unsigned i = 0; i < WG_DROP_REASONS; i++) {
		snprintf(want, sizeof(want), "tunneld_packets_dropped_total{reason=\"%s\"} ",
		    metrics_drop_reason_name(i));
		has(w.buf, want);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(metrics_drop_reason_name(i),
			    metrics_drop_reason_name(j));
	}
	prom_writer_free(&w);
	wg_engine_free(f.dev.engine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roster_mode),
		cmocka_unit_test(test_plain_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
