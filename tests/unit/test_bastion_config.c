/* The bastion's config parser: a numbered table of bad configs, each with the exact
 * "FILE:LINE: message" it must give; several errors in one file all reported, in order; the
 * error list capped but counted; a good config parsed to the expected struct, defaults for
 * every key not given; loading from a file, and a missing file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bastion/config.h"

/* bytes 1..32 */
#define ADMIN_B64 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define ADMIN "AdminKey = " ADMIN_B64 "\n"

static bool parse(struct bastion_config *c, const char *text, struct bastion_config_errors *e)
{
	bastion_config_defaults(c);
	memset(e, 0, sizeof(*e));
	return bastion_config_parse(c, text, strlen(text), "b.conf", e);
}

/* One bad config each: exactly this error (and a second one where given). */
static const struct {
	const char *text;
	const char *msg[2];		/* the second may be NULL */
} bad[] = {
	/*  0 */ { ADMIN "Colour = blue\n", { "b.conf:2: unknown key \"Colour\"" } },
	/*  1 */ { ADMIN "just words\n", { "b.conf:2: expected \"Key = value\", got \"just words\"" } },
	/*  2 */ { ADMIN "LoginGraceTime = ten\n",
		   { "b.conf:2: expected a number from 1 to 3600, got \"ten\"" } },
	/*  3 */ { ADMIN "LoginGraceTime = 0\n",
		   { "b.conf:2: expected a number from 1 to 3600, got \"0\"" } },
	/*  4 */ { ADMIN "LoginGraceTime = 3601\n",
		   { "b.conf:2: expected a number from 1 to 3600, got \"3601\"" } },
	/*  5 */ { ADMIN "MaxStartups = -1\n",
		   { "b.conf:2: expected a number from 1 to 10000, got \"-1\"" } },
	/*  6 */ { ADMIN "MaxStartups = 10001\n",
		   { "b.conf:2: expected a number from 1 to 10000, got \"10001\"" } },
	/*  7 */ { ADMIN "MaxAuthTries = 5x\n",
		   { "b.conf:2: expected a number from 1 to 100, got \"5x\"" } },
	/*  8 */ { ADMIN "ConnectTimeout = 301\n",
		   { "b.conf:2: expected a number from 1 to 300, got \"301\"" } },
	/*  9 */ { ADMIN "ConnectTimeout = +5\n",
		   { "b.conf:2: expected a number from 1 to 300, got \"+5\"" } },
	/* 10 */ { ADMIN "MaxStartups = 99999999999999999999999\n",
		   { "b.conf:2: expected a number from 1 to 10000, got \"99999999999999999999999\"" } },
	/* 11 */ { "# no admin key\nRoster = /r\n",
		   { "b.conf:0: AdminKey is required (the roster's admin public key)" } },
	/* 12 */ { "AdminKey = AQID\n",	/* a bad key is no key: both reported */
		   { "b.conf:1: AdminKey: expected a base64 Ed25519 public key, got \"AQID\"",
		   "b.conf:0: AdminKey is required (the roster's admin public key)" } },
	/* 13 */ { ADMIN "AdminKey = " ADMIN_B64 "\n",
		   { "b.conf:2: AdminKey given twice (first on line 1)" } },
	/* 14 */ { ADMIN "\nMaxStartups = 3\nmaxstartups = 4\n",
		   { "b.conf:4: MaxStartups given twice (first on line 3)" } },
	/* 15 */ { ADMIN "ListenAddress = 203.0.113.1\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"203.0.113.1\"" } },
	/* 16 */ { ADMIN "ListenAddress = bastion.example:22\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"bastion.example:22\"" } },
	/* 17 */ { ADMIN "ListenAddress = 203.0.113.1:0\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"203.0.113.1:0\"" } },
	/* 18 */ { ADMIN "ListenAddress = 203.0.113.1:65536\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"203.0.113.1:65536\"" } },
	/* 19 */ { ADMIN "ListenAddress = 2001:db8::1:22\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"2001:db8::1:22\"" } },
	/* 20 */ { ADMIN "ListenAddress = [203.0.113.1]:22\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"[203.0.113.1]:22\"" } },
	/* 21 */ { ADMIN "ListenAddress = [2001:db8::1]22\n",
		   { "b.conf:2: expected ADDRESS:PORT or [IPV6]:PORT, got \"[2001:db8::1]22\"" } },
	/* 22 */ { ADMIN "HostKeyFile = relative/key\n",
		   { "b.conf:2: expected an absolute path, got \"relative/key\"" } },
	/* 23 */ { ADMIN "AuditSyslog = true\n", { "b.conf:2: expected yes or no, got \"true\"" } },
	/* 24 */ { ADMIN "Roster =\n", { "b.conf:2: Roster: missing value" } },
	/* 25 */ { ADMIN "Roster = # all comment\n", { "b.conf:2: Roster: missing value" } },
	/* 26 */ { ADMIN "Colour\x01 = x\n", { "b.conf:2: unknown key \"Colour?\"" } },
	/* 27 */ { ADMIN "\r\nBogus = 1\r\n", { "b.conf:3: unknown key \"Bogus\"" } },
	/* 28 */ { ADMIN "MaxStartups = 20:30:10\n", { "b.conf:2: MaxStartups: expected N or "
		   "BEGIN:RATE:FULL (1 <= BEGIN <= FULL <= 10000, RATE 1 to 100), got \"20:30:10\"" } },
	/* 29 */ { ADMIN "MaxStartups = 10:0:100\n", { "b.conf:2: MaxStartups: expected N or "
		   "BEGIN:RATE:FULL (1 <= BEGIN <= FULL <= 10000, RATE 1 to 100), got \"10:0:100\"" } },
	/* 30 */ { ADMIN "MaxStartups = 10:30\n", { "b.conf:2: MaxStartups: expected N or "
		   "BEGIN:RATE:FULL (1 <= BEGIN <= FULL <= 10000, RATE 1 to 100), got \"10:30\"" } },
	/* 31 */ { ADMIN "MaxStartups = 10:30:100:5\n", { "b.conf:2: MaxStartups: expected N or "
		   "BEGIN:RATE:FULL (1 <= BEGIN <= FULL <= 10000, RATE 1 to 100), got \"10:30:100:5\"" } },
	/* 32 */ { ADMIN "PerSourceMaxStartups = 0\n",
		   { "b.conf:2: expected none or a number from 1 to 10000, got \"0\"" } },
	/* 33 */ { ADMIN "PerSourceNetBlockSize = 32:129\n", { "b.conf:2: PerSourceNetBlockSize: "
		   "expected V4[:V6] (1 to 32, 1 to 128), got \"32:129\"" } },
	/* 34 */ { ADMIN "PerSourcePenalties = crash:90\n", { "b.conf:2: PerSourcePenalties: "
		   "expected yes, no or items authfail:, noauth:, grace-exceeded:, min:, max: with a "
		   "duration (N[smh]), got \"crash:90\"" } },
	/* 35 */ { ADMIN "PerSourcePenalties = authfail:5x\n", { "b.conf:2: PerSourcePenalties: "
		   "expected yes, no or items authfail:, noauth:, grace-exceeded:, min:, max: with a "
		   "duration (N[smh]), got \"authfail:5x\"" } },
	/* 36 */ { ADMIN "PerSourcePenalties = min:20m max:10m\n",
		   { "b.conf:2: PerSourcePenalties: min (1200 s) above max (600 s)" } },
	/* 37 */ { ADMIN "PerSourcePenaltyExemptList = 192.0.2.0/33\n", { "b.conf:2: "
		   "PerSourcePenaltyExemptList: expected ADDR[/BITS], got \"192.0.2.0/33\"" } },
	/* 38 */ { ADMIN "PerSourcePenaltyExemptList = 192.0.2.0/24,,10.0.0.1\n", { "b.conf:2: "
		   "PerSourcePenaltyExemptList: expected ADDR[/BITS], got \"\"" } },
	/* 39 */ { ADMIN "User = bas tion\n", { "b.conf:2: User: expected a user name (letters, "
		   "digits, '_', '-', '.', at most 32), got \"bas tion\"" } },
	/* 40 */ { ADMIN "User = -bastion\n", { "b.conf:2: User: expected a user name (letters, "
		   "digits, '_', '-', '.', at most 32), got \"-bastion\"" } },
	/* 41 */ { ADMIN "User = a23456789012345678901234567890123\n", { "b.conf:2: User: expected "
		   "a user name (letters, digits, '_', '-', '.', at most 32), got "
		   "\"a23456789012345678901234567890123\"" } },
	/* 42 */ { ADMIN "User = ../etc\n", { "b.conf:2: User: expected a user name (letters, "
		   "digits, '_', '-', '.', at most 32), got \"../etc\"" } },
	/* 43 */ { ADMIN "PerSourcePenaltyExemptList = 192.0.2.7/24\n", { "b.conf:2: "
		   "PerSourcePenaltyExemptList: \"192.0.2.7/24\" has bits set past /24 (the "
		   "network is 192.0.2.0/24)" } },
	/* 44 */ { ADMIN "PerSourcePenaltyExemptList = ::ffff:192.0.2.7\n", { "b.conf:2: "
		   "PerSourcePenaltyExemptList: \"::ffff:192.0.2.7\" is an IPv4-mapped address: "
		   "write the IPv4 address (192.0.2.7) as clients are matched by it" } },
	/* 45 */ { ADMIN "MetricsListen = localhost:9587\n", { "b.conf:2: MetricsListen: expected "
		   "PORT, ADDRESS:PORT or [IPV6]:PORT, got \"localhost:9587\"" } },
	/* 46 */ { ADMIN "MetricsListen = 0\n", { "b.conf:2: MetricsListen: expected "
		   "PORT, ADDRESS:PORT or [IPV6]:PORT, got \"0\"" } },
	/* 47 */ { ADMIN "MetricsListen = 9587\nMetricsListen = 9588\n",
		   { "b.conf:3: MetricsListen given twice (first on line 2)" } },
	/* 48 */ { ADMIN "RosterExpiryWarning = 1h30m\n", { "b.conf:2: RosterExpiryWarning: expected "
		   "a duration (N, Ns, Nm, Nh, Nd or Nw, at most a year; 0: never), got \"1h30m\"" } },
	/* 49 */ { ADMIN "RosterExpiryWarning = 53w\n", { "b.conf:2: RosterExpiryWarning: expected "
		   "a duration (N, Ns, Nm, Nh, Nd or Nw, at most a year; 0: never), got \"53w\"" } },
};

static void test_bad_table(void **state)
{
	struct bastion_config c;
	struct bastion_config_errors e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = parse(&c, bad[i].text, &e);
		size_t want = bad[i].msg[1] ? 2 : 1;

		if (ok || e.count != want || strcmp(e.msgs[0], bad[i].msg[0]) != 0 ||
		    (bad[i].msg[1] && strcmp(e.msgs[1], bad[i].msg[1]) != 0)) {
			print_error("case %zu: ok %d, %zu errors, first \"%s\", want \"%s\"\n", i,
			    ok, e.count, e.count ? e.msgs[0] : "", bad[i].msg[0]);
			fail();
		}
	}
}

/* A line longer than the parser's 4096 bytes, and a NUL inside a line. */
static void test_bad_bytes(void **state)
{
	static char big[6000];
	static const char nul[] = ADMIN "Roster = /a\0b\n";
	struct bastion_config c;
	struct bastion_config_errors e;
	size_t n;

	(void)state;
	n = (size_t)snprintf(big, sizeof(big), "%s# ", ADMIN);
	memset(big + n, 'x', 4200);
	big[n + 4200] = '\n';
	bastion_config_defaults(&c);
	assert_false(bastion_config_parse(&c, big, n + 4201, "b.conf", &e));
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0], "b.conf:2: line longer than 4096 bytes");

	bastion_config_defaults(&c);
	assert_false(bastion_config_parse(&c, nul, sizeof(nul) - 1, "b.conf", &e));
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0], "b.conf:2: NUL byte in line");
	assert_string_equal(c.roster, "/var/lib/warren/roster");
}

/* Every error in the file, in line order; the good lines around them still apply. */
static void test_many_errors(void **state)
{
	static const char text[] =
	    "# three mistakes and a missing AdminKey\n"	/* 1 */
	    "LoginGraceTime = 7\n"			/* 2 */
	    "Colour = blue\n"				/* 3 */
	    "MaxStartups = 0\n"				/* 4 */
	    "\n"					/* 5 */
	    "ListenAddress = [::1]:2222\n"		/* 6 */
	    "ListenAddress = nowhere\n"			/* 7 */
	    "LoginGraceTime = 8\n";			/* 8 */
	static const char *const want[] = {
		"b.conf:3: unknown key \"Colour\"",
		"b.conf:4: expected a number from 1 to 10000, got \"0\"",
		"b.conf:7: expected ADDRESS:PORT or [IPV6]:PORT, got \"nowhere\"",
		"b.conf:8: LoginGraceTime given twice (first on line 2)",
		"b.conf:0: AdminKey is required (the roster's admin public key)",
	};
	struct bastion_config c;
	struct bastion_config_errors e;
	size_t i;

	(void)state;
	assert_false(parse(&c, text, &e));
	assert_int_equal(e.count, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < e.count; i++)
		assert_string_equal(e.msgs[i], want[i]);
	assert_int_equal(c.login_grace_time, 7);
	assert_int_equal(c.max_startups, 256);
	assert_int_equal(c.n_listen, 1);
	assert_string_equal(c.listen[0].host, "::1");
	assert_int_equal(c.listen[0].port, 2222);
}

/* More errors than kept: all counted, the first BASTION_CONFIG_ERRORS_MAX kept. */
static void test_error_cap(void **state)
{
	static char text[4096];
	struct bastion_config c;
	struct bastion_config_errors e;
	size_t n = 0;
	int i;

	(void)state;
	for (i = 1; i <= 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "Bogus%d = 1\n", i);
	assert_false(parse(&c, text, &e));
	assert_int_equal(e.count, 41);			/* 40 keys and the missing AdminKey */
	assert_string_equal(e.msgs[0], "b.conf:1: unknown key \"Bogus1\"");
	assert_string_equal(e.msgs[BASTION_CONFIG_ERRORS_MAX - 1], "b.conf:32: unknown key \"Bogus32\"");
}

/* At most BASTION_LISTEN_MAX ListenAddress lines. */
static void test_listen_max(void **state)
{
	static char text[2048];
	struct bastion_config c;
	struct bastion_config_errors e;
	size_t n;
	int i;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), "%s", ADMIN);
	for (i = 0; i <= BASTION_LISTEN_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "ListenAddress = 192.0.2.%d:22\n", i);
	assert_false(parse(&c, text, &e));
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0], "b.conf:10: too many ListenAddress lines (at most 8)");
	assert_int_equal(c.n_listen, BASTION_LISTEN_MAX);
	assert_string_equal(c.listen[7].host, "192.0.2.7");
}

static void test_defaults(void **state)
{
	static const uint8_t zero[KEY_LEN];
	struct bastion_config c;
	struct bastion_config_errors e;

	(void)state;
	assert_true(parse(&c, ADMIN, &e));
	assert_int_equal(e.count, 0);
	assert_int_equal(c.n_listen, 1);
	assert_string_equal(c.listen[0].host, "0.0.0.0");
	assert_int_equal(c.listen[0].port, 22);
	assert_string_equal(c.host_key_file, "/var/lib/warren/bastion/ssh_host_ed25519_key");
	assert_string_equal(c.roster, "/var/lib/warren/roster");
	assert_string_equal(c.audit_log, "/var/log/warren/audit.jsonl");
	assert_string_equal(c.audit_key_file, "/var/lib/warren/bastion/audit.key");
	assert_string_equal(c.user, "bastion");
	assert_false(c.audit_syslog);
	assert_int_equal(c.connect_timeout, 5);
	assert_int_equal(c.login_grace_time, 30);
	assert_int_equal(c.roster_expiry_warning, 7 * 86400);
	assert_int_equal(c.max_startups_begin, 64);
	assert_int_equal(c.max_startups_rate, 30);
	assert_int_equal(c.max_startups, 256);
	assert_int_equal(c.per_source_max_startups, 16);
	assert_int_equal(c.per_source_v4_bits, 32);
	assert_int_equal(c.per_source_v6_bits, 64);
	assert_true(c.penalties.enabled);
	assert_int_equal(c.penalties.authfail, 5);
	assert_int_equal(c.penalties.noauth, 1);
	assert_int_equal(c.penalties.grace_exceeded, 10);
	assert_int_equal(c.penalties.min, 15);
	assert_int_equal(c.penalties.max, 600);
	assert_int_equal(c.penalties.n_exempt, 0);
	assert_int_equal(c.max_auth_tries, 6);
	assert_false(c.has_metrics_listen);	/* off unless given */
	assert_true(c.has_admin_key);
	assert_memory_not_equal(c.admin_key, zero, KEY_LEN);

	/* No AdminKey: refused, but the default listener is still filled in. */
	assert_false(parse(&c, "", &e));
	assert_int_equal(e.count, 1);
	assert_false(c.has_admin_key);
	assert_int_equal(c.n_listen, 1);
}

static const char good[] =
    "# the bastion\n"
    "  ListenAddress = 203.0.113.1:22   # public\n"
    "ListenAddress=[2001:db8::1]:2200\n"
    "\tlistenaddress = 10.0.0.1:65535\n"
    "HostKeyFile = /etc/warren/host key\n"
    "Roster = /srv/roster\n"
    ADMIN
    "AuditLog = /srv/audit.jsonl\n"
    "AuditKeyFile = /srv/audit.key\n"
    "AuditSyslog = yes\r\n"
    "User = _warren-bastion.1\n"
    "ConnectTimeout = 300\n"
    "LoginGraceTime = 1\n"
    "RosterExpiryWarning = 2w\n"
    "MaxStartups = 10000\n"
    "MetricsListen = 9587\n"			/* a bare port: loopback */
    "MaxAuthTries = 1";				/* no final newline */

static void check_good(const struct bastion_config *c)
{
	uint8_t want[KEY_LEN];
	size_t i;

	for (i = 0; i < KEY_LEN; i++)
		want[i] = (uint8_t)(i + 1);
	assert_int_equal(c->n_listen, 3);
	assert_string_equal(c->listen[0].host, "203.0.113.1");
	assert_int_equal(c->listen[0].port, 22);
	assert_string_equal(c->listen[1].host, "2001:db8::1");
	assert_int_equal(c->listen[1].port, 2200);
	assert_string_equal(c->listen[2].host, "10.0.0.1");
	assert_int_equal(c->listen[2].port, 65535);
	assert_string_equal(c->host_key_file, "/etc/warren/host key");
	assert_string_equal(c->roster, "/srv/roster");
	assert_true(c->has_admin_key);
	assert_memory_equal(c->admin_key, want, KEY_LEN);
	assert_string_equal(c->audit_log, "/srv/audit.jsonl");
	assert_string_equal(c->audit_key_file, "/srv/audit.key");
	assert_true(c->audit_syslog);
	assert_string_equal(c->user, "_warren-bastion.1");
	assert_int_equal(c->connect_timeout, 300);
	assert_int_equal(c->login_grace_time, 1);
	assert_int_equal(c->roster_expiry_warning, 14 * 86400);
	assert_int_equal(c->max_startups, 10000);
	assert_int_equal(c->max_auth_tries, 1);
	assert_true(c->has_metrics_listen);
	assert_string_equal(c->metrics_listen.host, "127.0.0.1");
	assert_int_equal(c->metrics_listen.port, 9587);
}

static void test_good(void **state)
{
	struct bastion_config c;
	struct bastion_config_errors e;

	(void)state;
	assert_true(parse(&c, good, &e));
	assert_int_equal(e.count, 0);
	check_good(&c);
}

/* The admission keys in OpenSSH's syntax. */
static void test_admission(void **state)
{
	struct bastion_config c;
	struct bastion_config_errors e;

	(void)state;
	assert_true(parse(&c, ADMIN "MaxStartups = 10:30:100\nPerSourceMaxStartups = none\n"
	    "PerSourceNetBlockSize = 24:56\nPerSourcePenalties = authfail:1m grace-exceeded:30s "
	    "max:2h\nPerSourcePenaltyExemptList = 192.0.2.0/24,2001:db8::/32,198.51.100.7\n", &e));
	assert_int_equal(c.max_startups_begin, 10);
	assert_int_equal(c.max_startups_rate, 30);
	assert_int_equal(c.max_startups, 100);
	assert_int_equal(c.per_source_max_startups, 0);
	assert_int_equal(c.per_source_v4_bits, 24);
	assert_int_equal(c.per_source_v6_bits, 56);
	assert_true(c.penalties.enabled);
	assert_int_equal(c.penalties.authfail, 60);
	assert_int_equal(c.penalties.noauth, 1);		/* default kept */
	assert_int_equal(c.penalties.grace_exceeded, 30);
	assert_int_equal(c.penalties.min, 15);
	assert_int_equal(c.penalties.max, 7200);
	assert_int_equal(c.penalties.n_exempt, 3);
	assert_int_equal(c.penalties.exempt[0].family, 4);
	assert_int_equal(c.penalties.exempt[0].bits, 24);
	assert_int_equal(c.penalties.exempt[1].family, 6);
	assert_int_equal(c.penalties.exempt[1].bits, 32);
	assert_int_equal(c.penalties.exempt[2].bits, 32);
	/* A single number: a hard limit, as OpenSSH's. */
	assert_true(parse(&c, ADMIN "MaxStartups = 7\nPerSourcePenalties = no\n"
	    "PerSourceNetBlockSize = 16\n", &e));
	assert_int_equal(c.max_startups_begin, 7);
	assert_int_equal(c.max_startups, 7);
	assert_int_equal(c.max_startups_rate, 100);
	assert_false(c.penalties.enabled);
	assert_int_equal(c.per_source_v4_bits, 16);
	assert_int_equal(c.per_source_v6_bits, 64);
}

static void test_load(void **state)
{
	char path[] = "/tmp/test_bastion_config.XXXXXX";
	struct bastion_config c;
	struct bastion_config_errors e;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, good, sizeof(good) - 1), (ssize_t)(sizeof(good) - 1));
	close(fd);
	memset(&c, 0xa5, sizeof(c));			/* load starts from the defaults */
	assert_true(bastion_config_load(&c, path, &e));
	check_good(&c);
	unlink(path);

	assert_false(bastion_config_load(&c, "/nonexistent/bastion.conf", &e));
	assert_int_equal(e.count, 1);
	assert_string_equal(e.msgs[0],
	    "/nonexistent/bastion.conf:0: cannot open: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_listen_max),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
