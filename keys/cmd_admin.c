/* The admin key and publishing: init, publish, verify, rotate-admin, admin-pubkey. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/duration.h"
#include "keys/cli.h"

/* At most this many old admin keys kept (admin.key.old.1 ...): a bound, not a policy. */
enum { OLD_ADMIN_KEYS_MAX = 1000 };

static int usage_error(const char *name)
{
	cli_command_usage(stderr, name);
	return EXIT_USAGE;
}

static void admin_pub(uint8_t pub[KEY_LEN], const uint8_t secret[ROSTER_ADMIN_SECRET_LEN])
{
	crypto_sign_ed25519_sk_to_pk(pub, secret);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 || errno != ENOENT;
}

int cmd_init(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "network", required_argument, NULL, 'n' },
		{ "cidr", required_argument, NULL, '4' },
		{ "cidr6", required_argument, NULL, '6' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char key_path[CLI_PATH_MAX], roster_path[CLI_PATH_MAX], signed_path[CLI_PATH_MAX];
	char tmp[CLI_PATH_MAX] = "", b64[KEY_B64_LEN + 1];
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN], pub[KEY_LEN];
	const char *network = NULL, *cidr4 = NULL, *cidr6 = NULL;
	bool made_dir = false, wrote_key = false, wrote_signed = false;
	struct roster r;
	int c, ret = EXIT_FAIL, err;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'n': network = optarg; break;
		case '4': cidr4 = optarg; break;
		case '6': cidr6 = optarg; break;
		case 'h': cli_command_usage(stdout, "init"); ret = EXIT_OK; goto out;
		default: ret = usage_error("init"); goto out;
		}
	}
	if (optind != argc || !network || !cidr4) {
		ret = usage_error("init");
		goto out;
	}
	/* Every argument is checked before anything is created. */
	if (!roster_name_valid(network)) {
		log_error("invalid network name '%.100s' ([a-z0-9][a-z0-9.-]*, at most "
		    "%d characters)", network, ROSTER_NAME_MAX);
		goto out;
	}
	if (!roster_prefix_parse(&r.cidr4, cidr4) || r.cidr4.family != AF_INET) {
		log_error("--cidr '%.100s' is not an IPv4 network such as "
		    "100.64.0.0/16", cidr4);
		goto out;
	}
	if (cidr6 && (!roster_prefix_parse(&r.cidr6, cidr6) || r.cidr6.family != AF_INET6)) {
		log_error("--cidr6 '%.100s' is not an IPv6 network such as "
		    "fd00:1234::/48", cidr6);
		goto out;
	}
	if (!cli_path(key_path, CLI_ADMIN_KEY) || !cli_path(roster_path, CLI_ROSTER) ||
	    !cli_path(signed_path, CLI_ROSTER_SIGNED))
		goto out;
	if (exists(key_path) || exists(roster_path) || exists(signed_path)) {
		log_error("%s already holds a network (admin.key, roster or "
		    "roster.signed exists); refusing to overwrite it", cli_dir);
		goto out;
	}
	r.version = ROSTER_VERSION;
	snprintf(r.network, sizeof(r.network), "%s", network);
	r.has_cidr6 = cidr6 != NULL;
	r.serial = 1;
	r.issued = (int64_t)time(NULL);
	r.has_expires = cli_settings.roster_validity > 0;
	r.expires = r.has_expires ? r.issued + cli_settings.roster_validity : 0;
	err = roster_admin_key_generate(secret, pub);
	if (err < 0) {
		log_error("cannot generate the admin key: %s", strerror(-err));
		goto out;
	}
	memcpy(r.admin_key, pub, KEY_LEN);
	if (!cli_roster_check(&r))
		goto out;
	roster_sign(&r, secret);

	if (mkdir(cli_dir, 0700) == 0) {
		made_dir = true;
	} else if (errno != EEXIST) {
		log_error("cannot create %s: %s", cli_dir, strerror(errno));
		goto out;
	}
	err = roster_admin_key_write(key_path, secret);
	if (err < 0) {
		log_error("cannot write %s: %s", key_path, strerror(-err));
		goto out;
	}
	wrote_key = true;
	err = cli_roster_stage_working(&r, tmp);
	if (err == 0) {
		err = roster_save(&r, signed_path, 0644);
		wrote_signed = err == 0;
	}
	if (err == 0)
		err = cli_file_commit(tmp, roster_path);
	tmp[0] = '\0';
	if (err < 0) {
		log_error("cannot write the roster in %s: %s", cli_dir,
		    strerror(-err));
		goto out;
	}
	key_to_base64(b64, pub);
	printf("initialized network %s in %s\nadmin key %s\nserial 1\n", r.network, cli_dir, b64);
	ret = EXIT_OK;
out:
	if (ret == EXIT_FAIL) {
		/* Leave nothing half made. */
		cli_file_abort(tmp);
		if (wrote_signed)
			unlink(signed_path);
		if (wrote_key)
			unlink(key_path);
		if (made_dir)
			rmdir(cli_dir);
	}
	sodium_memzero(secret, sizeof(secret));
	roster_free(&r);
	return ret;
}

int cmd_publish(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "valid", required_argument, NULL, 'v' },
		{ "renew", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char signed_path[CLI_PATH_MAX], roster_path[CLI_PATH_MAX], tmp[CLI_PATH_MAX] = "";
	char why[256], expiry[ROSTER_EXPIRY_TEXT_MAX];
	const char *valid_arg = NULL;
	int64_t validity = cli_settings.roster_validity;
	uint64_t v;
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN], pub[KEY_LEN], pinned[KEY_LEN], trusted[KEY_LEN];
	struct roster r, old, *out;
	bool force = false, pending = true, renew = false;
	int c, ret = EXIT_FAIL, err;

	roster_init(&r);
	roster_init(&old);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'f' || c == 'r') {
			force |= c == 'f';
			renew |= c == 'r';
			continue;
		}
		if (c == 'v') {
			/* A new expiry is a change of what is published: signed even if the
			 * working roster holds no other.  0 would be a roster expired as it is
			 * published: refused below. */
			force = true;
			valid_arg = optarg;
			if (!strcasecmp(optarg, "none")) {
				validity = 0;
				continue;
			}
			if (duration_parse(optarg, CLI_ROSTER_VALIDITY_MAX, &v)) {
				validity = v ? (int64_t)v : -1;
				continue;
			}
			log_error("--valid '%.100s' is not a duration (N, Ns, Nm, Nh, Nd or Nw, "
			    "at most 10 years) nor 'none'", optarg);
			ret = EXIT_USAGE;
			goto out;
		}
		if (c == 'h') {
			cli_command_usage(stdout, "publish");
			ret = EXIT_OK;
		} else {
			ret = usage_error("publish");
		}
		goto out;
	}
	if (optind != argc) {
		ret = usage_error("publish");
		goto out;
	}
	if (!cli_path(signed_path, CLI_ROSTER_SIGNED) || !cli_path(roster_path, CLI_ROSTER) ||
	    !cli_roster_load_working(&r) || !cli_admin_secret_read(secret))
		goto out;
	admin_pub(pub, secret);
	if (sodium_memcmp(pub, r.admin_key, KEY_LEN) != 0) {
		log_error("%s does not match the admin key in %s",
		    CLI_ADMIN_KEY, roster_path);
		goto out;
	}
	/* The new roster must be accepted by nodes running the last published one: same
	 * network, higher serial, and an admin key they trust (directly or by endorsement). */
	memcpy(pinned, r.admin_key, KEY_LEN);
	if (access(signed_path, F_OK) == 0) {
		if (!cli_roster_load_signed(&old))
			goto out;
		if (strcmp(old.network, r.network)) {
			log_error("%s is for network '%s', the working roster for '%s'",
			    signed_path, old.network, r.network);
			goto out;
		}
		memcpy(pinned, old.admin_key, KEY_LEN);
		if (!cli_roster_unpublished(&r, &old, &pending))
			goto out;
	} else if (renew) {
		log_error("--renew: nothing is published yet (%s); 'keys publish' signs the first "
		    "roster", signed_path);
		goto out;
	}
	/* --renew re-signs what is published, whatever the working roster holds: a cron job
	 * that renews must never publish an edit nobody meant to publish yet. */
	if (renew && sodium_memcmp(pub, old.admin_key, KEY_LEN) != 0) {
		log_error("--renew: an admin key rotation is pending in the working roster; "
		    "publish it first ('keys publish')");
		goto out;
	}
	/* Re-signing must never launder a file: roster.signed must be what this directory
	 * published last (publish leaves the working roster at its serial) and carry this
	 * admin key's valid signature.  A restored backup or an edited file is refused. */
	if (renew && r.serial != old.serial) {
		log_error("--renew: %s is serial %llu, but this directory last published serial "
		    "%llu (the working roster's): it is not the last published roster (restored "
		    "from a backup?); 'keys publish' signs the working roster instead",
		    signed_path, (unsigned long long)old.serial, (unsigned long long)r.serial);
		goto out;
	}
	if (renew && !roster_verify(&old, pub, trusted, why, sizeof(why))) {
		log_error("--renew: %s does not verify under this directory's admin key (%s): "
		    "it was changed after it was signed; 'keys publish' signs the working roster "
		    "instead", signed_path, why);
		goto out;
	}
	if (renew && pending)
		log_info("--renew: the working roster's unpublished changes stay unpublished "
		    "(keys diff)");
	/* Nothing to sign: a new serial would only make every node re-apply the same roster
	 * and hide that the intended change was never made.  Exit 0, the serial in force on
	 * stdout, so scripts that publish after every step go on working. */
	if (!pending && !force && !renew) {
		log_info("nothing to publish: the working roster is serial %llu as published "
		    "(keys diff); %s unchanged (--force signs a new serial anyway, which also "
		    "renews its expiry)",
		    (unsigned long long)old.serial, signed_path);
		printf("%llu\n", (unsigned long long)old.serial);
		ret = EXIT_OK;
		goto out;
	}
	if (validity < 0) {
		log_error("--valid %.100s: the roster would be expired as it is published, and "
		    "every bastion and node would refuse engineers at once", valid_arg);
		goto out;
	}
	/* What is signed: the working roster, or with --renew the published one's body.  The
	 * working roster takes the signed header either way, so that "unpublished" keeps
	 * meaning "a change of the body". */
	out = renew ? &old : &r;
	out->serial = (r.serial > old.serial ? r.serial : old.serial) + 1;
	out->issued = (int64_t)time(NULL);
	out->has_expires = validity > 0;
	out->expires = validity > 0 ? out->issued + validity : 0;
	roster_sign(out, secret);
	if (!roster_verify(out, pinned, trusted, why, sizeof(why))) {
		log_error("the new roster would not verify on the nodes: %s",
		    why);
		goto out;
	}
	r.serial = out->serial;
	r.issued = out->issued;
	r.has_expires = out->has_expires;
	r.expires = out->expires;
	err = cli_roster_stage_working(&r, tmp);
	if (err == 0)
		err = roster_save(out, signed_path, 0644);
	if (err == 0)
		err = cli_file_commit(tmp, roster_path);
	tmp[0] = '\0';
	if (err < 0) {
		log_error("cannot write %s: %s", signed_path, strerror(-err));
		goto out;
	}
	roster_expiry_text(expiry, out, out->issued);
	if (out->has_expires)
		log_info("serial %llu %s", (unsigned long long)out->serial, expiry);
	else
		log_warn("serial %llu never expires (%s none): a node whose roster delivery "
		    "is held back keeps its engineers' access for good",
		    (unsigned long long)out->serial, valid_arg ? "--valid" : "RosterValidity");
	printf("%llu\n", (unsigned long long)r.serial);
	ret = EXIT_OK;
out:
	cli_file_abort(tmp);
	sodium_memzero(secret, sizeof(secret));
	roster_free(&r);
	roster_free(&old);
	return ret;
}

static void verify_report(bool json, const char *file, const struct roster *r, const char *why)
{
	char b64[KEY_B64_LEN + 1], issued[32], expires[32] = "never";

	if (why)
		log_error("%s: %s", file, why);
	if (r->has_expires)
		cli_time_format(expires, r->expires);
	if (!json) {
		if (!why) {
			key_to_base64(b64, r->admin_key);
			cli_time_format(issued, r->issued);
			printf("OK serial %llu network %s issued %s admin %s expires %s\n",
			    (unsigned long long)r->serial, r->network, issued, b64, expires);
		}
		return;
	}
	fputs("{\"ok\": ", stdout);
	fputs(why ? "false" : "true", stdout);
	fputs(", \"file\": ", stdout);
	json_string_write(stdout, file);
	if (why) {
		fputs(", \"error\": ", stdout);
		json_string_write(stdout, why);
	} else {
		key_to_base64(b64, r->admin_key);
		cli_time_format(issued, r->issued);
		fputs(", \"network\": ", stdout);
		json_string_write(stdout, r->network);
		printf(", \"serial\": %llu, \"issued\": \"%s\", "
		    "\"admin_key\": \"%s\", \"endorsements\": %zu, \"nodes\": %zu, "
		    "\"engineers\": %zu", (unsigned long long)r->serial, issued, b64,
		    r->n_endorsements, r->n_nodes, r->n_engineers);
		if (r->has_expires)
			printf(", \"expires\": \"%s\", \"expired\": %s", expires,
			    r->expires <= (int64_t)time(NULL) ? "true" : "false");
		else
			fputs(", \"expires\": null, \"expired\": false", stdout);
	}
	fputs("}\n", stdout);
}

int cmd_verify(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "admin-key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct roster_errors errs = { 0 };
	uint8_t pinned[KEY_LEN], trusted[KEY_LEN];
	const char *key_arg = NULL, *file;
	char why[512];
	bool json = false;
	struct roster r;
	int c, ret = EXIT_FAIL;
	size_t i;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'k': key_arg = optarg; break;
		case 'j': json = true; break;
		case 'h': cli_command_usage(stdout, "verify"); ret = EXIT_OK; goto out;
		default: ret = usage_error("verify"); goto out;
		}
	}
	if (optind != argc - 1 || !key_arg) {
		ret = usage_error("verify");
		goto out;
	}
	file = argv[optind];
	if (!cli_key_arg("--admin-key", key_arg, pinned))
		goto out;
	if (!roster_load(file, &r, &errs)) {
		/* Every parse error on stderr; the first one is the reason. */
		for (i = 0; i < errs.count; i++)
			log_error("%s", errs.msgs[i]);
		snprintf(why, sizeof(why), "does not parse: %s",
		    errs.count ? errs.msgs[0] : "cannot read it");
		verify_report(json, file, &r, why);
		goto out;
	}
	if (!r.has_signature) {
		verify_report(json, file, &r, "not signed (no signature line)");
		goto out;
	}
	if (!roster_verify(&r, pinned, trusted, why, sizeof(why))) {
		verify_report(json, file, &r, why);
		goto out;
	}
	verify_report(json, file, &r, NULL);
	ret = EXIT_OK;
out:
	roster_errors_free(&errs);
	roster_free(&r);
	return ret;
}

int cmd_rotate_admin(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char key_path[CLI_PATH_MAX], new_path[CLI_PATH_MAX], old_path[CLI_PATH_MAX];
	char roster_path[CLI_PATH_MAX], tmp[CLI_PATH_MAX] = "", name[64];
	char old_b64[KEY_B64_LEN + 1], new_b64[KEY_B64_LEN + 1];
	uint8_t old_secret[ROSTER_ADMIN_SECRET_LEN], new_secret[ROSTER_ADMIN_SECRET_LEN];
	uint8_t old_pub[KEY_LEN], new_pub[KEY_LEN];
	bool wrote_old = false, wrote_new = false;
	struct roster r;
	int c, ret = EXIT_FAIL, err, n;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'h') {
			cli_command_usage(stdout, "rotate-admin");
			ret = EXIT_OK;
		} else {
			ret = usage_error("rotate-admin");
		}
		goto out;
	}
	if (optind != argc) {
		ret = usage_error("rotate-admin");
		goto out;
	}
	if (!cli_path(key_path, CLI_ADMIN_KEY) || !cli_path(new_path, CLI_ADMIN_KEY ".new") ||
	    !cli_path(roster_path, CLI_ROSTER) || !cli_roster_load_working(&r) ||
	    !cli_admin_secret_read(old_secret))
		goto out;
	admin_pub(old_pub, old_secret);
	if (sodium_memcmp(old_pub, r.admin_key, KEY_LEN) != 0) {
		log_error("%s does not match the admin key in %s",
		    CLI_ADMIN_KEY, roster_path);
		goto out;
	}
	/* The old secret is kept under the lowest free admin.key.old.N. */
	for (n = 1; n <= OLD_ADMIN_KEYS_MAX; n++) {
		snprintf(name, sizeof(name), CLI_ADMIN_KEY ".old.%d", n);
		if (!cli_path(old_path, name))
			goto out;
		if (!exists(old_path))
			break;
	}
	if (n > OLD_ADMIN_KEYS_MAX) {
		log_error("too many old admin keys in %s", cli_dir);
		goto out;
	}
	err = roster_admin_key_generate(new_secret, new_pub);
	if (err < 0) {
		log_error("cannot generate the admin key: %s", strerror(-err));
		goto out;
	}
	if (!roster_endorse(&r, old_secret, new_pub)) {
		log_error("cannot record the endorsement");
		goto out;
	}
	memcpy(r.admin_key, new_pub, KEY_LEN);
	if (!cli_roster_check(&r))
		goto out;

	err = roster_admin_key_write(old_path, old_secret);
	if (err < 0) {
		log_error("cannot write %s: %s", old_path, strerror(-err));
		goto out;
	}
	wrote_old = true;
	unlink(new_path);	/* a leftover of an interrupted run holds nothing in use */
	err = roster_admin_key_write(new_path, new_secret);
	if (err < 0) {
		log_error("cannot write %s: %s", new_path, strerror(-err));
		goto out;
	}
	wrote_new = true;
	err = cli_roster_stage_working(&r, tmp);
	if (err == 0)
		err = cli_file_commit(new_path, key_path);
	if (err == 0) {
		wrote_new = false;
		err = cli_file_commit(tmp, roster_path);
		tmp[0] = '\0';
		/* The roster still names the old key: put the old key back. */
		if (err < 0 && roster_admin_key_write(new_path, old_secret) == 0)
			cli_file_commit(new_path, key_path);
	}
	if (err < 0) {
		log_error("cannot replace the admin key in %s: %s", cli_dir,
		    strerror(-err));
		goto out;
	}
	key_to_base64(old_b64, old_pub);
	key_to_base64(new_b64, new_pub);
	printf("admin key rotated: %s -> %s\nold secret kept in %s; run 'keys publish'\n",
	    old_b64, new_b64, old_path);
	ret = EXIT_OK;
out:
	if (ret == EXIT_FAIL) {
		cli_file_abort(tmp);
		if (wrote_new)
			unlink(new_path);
		if (wrote_old)
			unlink(old_path);
	}
	sodium_memzero(old_secret, sizeof(old_secret));
	sodium_memzero(new_secret, sizeof(new_secret));
	roster_free(&r);
	return ret;
}

int cmd_admin_pubkey(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint8_t secret[ROSTER_ADMIN_SECRET_LEN], pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1];
	int c, ret = EXIT_FAIL;

	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'h') {
			cli_command_usage(stdout, "admin-pubkey");
			return EXIT_OK;
		}
		return usage_error("admin-pubkey");
	}
	if (optind != argc)
		return usage_error("admin-pubkey");
	if (!cli_admin_secret_read(secret))
		goto out;
	admin_pub(pub, secret);
	key_to_base64(b64, pub);
	printf("%s\n", b64);
	ret = EXIT_OK;
out:
	sodium_memzero(secret, sizeof(secret));
	return ret;
}
