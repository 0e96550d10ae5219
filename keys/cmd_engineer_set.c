/* keys engineer set: edits an engineer in place -- a new laptop's key, a lost key removed, an
 * allow line more or less -- without remove + add (which would drop every key and allow line
 * at once).  Like every edit it changes the working roster only: `keys diff` shows it, `keys
 * publish` signs it. */
#include <stdlib.h>
#include <string.h>

#include "keys/cli.h"

enum op_kind { OP_ADD_KEY, OP_DEL_KEY, OP_ALLOW, OP_DISALLOW };

struct op {
	enum op_kind kind;
	const char *arg;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s engineer set " CLI_ENGINEER_SET_ARGS "\nEdits an engineer: adds or "
	    "removes SSH keys (by fingerprint, as ssh-keygen -l prints, or the keys of a .pub "
	    "file) and allow lines\n", cli_prog);
}

static int usage_error(void)
{
	usage(stderr);
	return EXIT_USAGE;
}

static void key_drop(struct roster_engineer *e, size_t i)
{
	roster_ssh_key_free(&e->ssh_keys[i]);
	memmove(&e->ssh_keys[i], &e->ssh_keys[i + 1], (e->n_ssh_keys - i - 1) *
	    sizeof(*e->ssh_keys));
	e->n_ssh_keys--;
}

/* --remove-ssh-key SHA256:FP (as ssh-keygen -l and keys show print it) or a .pub file. */
static bool key_remove(struct roster_engineer *e, const char *arg)
{
	struct roster_engineer from;
	char fp[51], want[51];
	bool ok = false;
	size_t i, k;

	memset(&from, 0, sizeof(from));
	if (strncmp(arg, "SHA256:", 7) == 0) {
		for (i = 0; i < e->n_ssh_keys; i++) {
			roster_ssh_key_fingerprint(&e->ssh_keys[i], fp);
			if (strcmp(fp, arg) == 0) {
				key_drop(e, i);
				return true;
			}
		}
		log_error("engineer %s has no SSH key %.60s ('keys show %s' lists them)",
		    e->name, arg, e->name);
		return false;
	}
	if (!cli_ssh_keys_read(arg, &from))
		goto out;
	for (k = 0; k < from.n_ssh_keys; k++) {
		for (i = 0; i < e->n_ssh_keys; i++)
			if (e->ssh_keys[i].blob_len == from.ssh_keys[k].blob_len &&
			    !memcmp(e->ssh_keys[i].blob, from.ssh_keys[k].blob,
			    from.ssh_keys[k].blob_len))
				break;
		if (i == e->n_ssh_keys) {
			roster_ssh_key_fingerprint(&from.ssh_keys[k], want);
			log_error("engineer %s has no SSH key %s (from %s)", e->name, want, arg);
			goto out;
		}
		key_drop(e, i);
	}
	ok = true;
out:
	for (k = 0; k < from.n_ssh_keys; k++)
		roster_ssh_key_free(&from.ssh_keys[k]);
	free(from.ssh_keys);
	return ok;
}

/* until: 0, or the moment the allow lines this command adds stop granting. */
static bool allow_change(struct roster_engineer *e, const struct op *o, int64_t until)
{
	struct roster_allow a, *grown;
	char s[CLI_ALLOW_TEXT_MAX];
	size_t i;

	/* The one grammar of allow lines: roster_allow_parse (keys/lib/roster_acl.c and
	 * roster_text.c), as engineer add. */
	if (!roster_allow_parse(&a, o->arg)) {
		log_error("'%.100s' is not TARGET[:PORTS] (TARGET a node, group:NAME or '*'; "
		    "PORTS N, N-M or '*')", o->arg);
		return false;
	}
	if (o->kind == OP_ALLOW && until) {
		a.has_until = true;
		a.until = until;
	}
	for (i = 0; i < e->n_allows; i++)
		if (!strcmp(e->allows[i].target, a.target) && e->allows[i].port_lo == a.port_lo &&
		    e->allows[i].port_hi == a.port_hi)
			break;
	cli_allow_format(s, &a);
	if (o->kind == OP_DISALLOW) {
		if (i == e->n_allows) {
			log_error("engineer %s has no allow %s ('keys show %s' lists them)",
			    e->name, s, e->name);
			return false;
		}
		memmove(&e->allows[i], &e->allows[i + 1], (e->n_allows - i - 1) *
		    sizeof(*e->allows));
		e->n_allows--;
		return true;
	}
	if (i < e->n_allows) {
		cli_allow_format(s, &e->allows[i]);	/* the line as it is, its until included */
		log_error("engineer %s already has allow %s (to re-date it: --disallow it, then "
		    "--allow it with --until)", e->name, s);
		return false;
	}
	grown = realloc(e->allows, (e->n_allows + 1) * sizeof(*e->allows));
	if (!grown) {
		log_error("out of memory");
		return false;
	}
	e->allows = grown;
	e->allows[e->n_allows++] = a;
	return true;
}

int cli_engineer_set(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "add-ssh-key", required_argument, NULL, OP_ADD_KEY + 'A' },
		{ "remove-ssh-key", required_argument, NULL, OP_DEL_KEY + 'A' },
		{ "allow", required_argument, NULL, OP_ALLOW + 'A' },
		{ "disallow", required_argument, NULL, OP_DISALLOW + 'A' },
		{ "until", required_argument, NULL, 'u' },
		{ "revoke-certs", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct roster_engineer *e;
	struct op *ops = NULL;
	size_t n_ops = 0, i;
	struct roster r;
	const char *until_arg = NULL;
	int64_t until = 0;
	int c, ret = EXIT_FAIL;
	bool ok, revoke_certs = false, key_removed = false;

	roster_init(&r);
	ops = calloc((size_t)argc, sizeof(*ops));	/* argc bounds the options */
	if (!ops) {
		log_error("out of memory");
		goto out;
	}
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c >= 'A' && c <= OP_DISALLOW + 'A') {
			ops[n_ops].kind = (enum op_kind)(c - 'A');
			ops[n_ops++].arg = optarg;
		} else if (c == 'u') {
			until_arg = optarg;
		} else if (c == 'r') {
			revoke_certs = true;
		} else if (c == 'h') {
			usage(stdout);
			ret = EXIT_OK;
			goto out;
		} else {
			ret = usage_error();
			goto out;
		}
	}
	if (optind != argc - 1 || (n_ops == 0 && !revoke_certs)) {
		ret = usage_error();
		goto out;
	}
	/* --until dates the allow lines this command adds (to re-date one: --disallow it and
	 * --allow it again with the new --until). */
	if (until_arg && !cli_until_check(until_arg, &until))
		goto out;
	for (i = 0; until_arg && i < n_ops && ops[i].kind != OP_ALLOW; i++)
		;
	if (until_arg && i == n_ops) {
		log_error("--until dates the lines --allow adds, and there is no --allow");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!cli_roster_load_working(&r))
		goto out;
	e = roster_engineer_find(&r, argv[optind]);
	if (!e) {
		log_error("no engineer '%.100s'", argv[optind]);
		goto out;
	}
	for (i = 0; i < n_ops; i++) {
		switch (ops[i].kind) {
		case OP_ADD_KEY:
			ok = cli_ssh_keys_read(ops[i].arg, e);
			break;
		case OP_DEL_KEY:
			ok = key_remove(e, ops[i].arg);
			key_removed = true;
			break;
		default:
			ok = allow_change(e, &ops[i], until);
			break;
		}
		if (!ok)
			goto out;
	}
	if (!e->n_ssh_keys && !r.has_engineer_ca) {
		log_error("engineer %s would have no SSH key left; 'keys engineer remove %s' "
		    "removes the engineer", e->name, e->name);
		goto out;
	}
	/* A key removed may be a stolen one, and the certificates made for it would outlive
	 * it: every certificate of hers is revoked with it (a new principal, published). */
	if ((revoke_certs || (key_removed && e->cert_principal[0])) && r.has_engineer_ca) {
		roster_cert_principal_new(e);
		log_info("every certificate of %s is revoked once this is published (new principal "
		    "%s: 'keys engineer cert' signs new ones)", e->name, e->cert_principal);
	} else if (revoke_certs) {
		log_error("the roster has no engineer CA: %s has no certificates to revoke", e->name);
		goto out;
	}
	if (!cli_ssh_keys_unique(&r, e) || !cli_roster_check(&r) || !cli_roster_save_working(&r))
		goto out;
	printf("changed engineer %s; 'keys diff' shows it, 'keys publish' signs it\n",
	    argv[optind]);
	ret = EXIT_OK;
out:
	free(ops);
	roster_free(&r);
	return ret;
}
