/* keys engineer add|remove|set: who may reach which nodes over SSH.  Its own subcommand table. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/mem.h"
#include "keys/cli.h"

/* An authorized_keys style file bigger than this is not a key file. */
enum { SSH_KEY_FILE_MAX = 64 << 10 };

static int engineer_add(int argc, char *argv[]);
static int engineer_remove(int argc, char *argv[]);

static const struct command engineer_commands[] = {
	{ "add", engineer_add, "NAME [--ssh-key FILE] --allow TARGET[:PORTS]... [--until TIME] "
	    "[--force]",
	    "Adds an engineer: SSH public keys from FILE (authorized_keys form; without one, "
	    "she logs in with certificates only); TARGET is a node, group:NAME or '*'; PORTS is N, "
	    "N-M or '*' (none: every port); --force: a name that is a system account (root)" },
	{ "remove", engineer_remove, "NAME", "Removes an engineer" },
	{ "set", cli_engineer_set, CLI_ENGINEER_SET_ARGS,
	    "Edits an engineer: adds or removes SSH keys (by fingerprint, as ssh-keygen -l "
	    "prints, or the keys of a .pub file) and allow lines" },
	{ "ca", cli_engineer_ca, "[--force]",
	    "Creates the engineer CA (DIR/engineer-ca, an OpenSSH Ed25519 key) and names it in "
	    "the roster; --force replaces an existing one (its certificates stop working once "
	    "published)" },
	{ "cert", cli_engineer_cert, "NAME --ssh-key FILE.pub [--valid DURATION] [-o FILE] "
	    "[--force]",
	    "Signs an OpenSSH user certificate for NAME's key (principal NAME, valid 8h unless "
	    "--valid, at most 30d), written to FILE-cert.pub beside the key unless -o; --force: a "
	    "key the roster lists for another engineer" },
};

static int usage_error(const struct command *c)
{
	cli_table_usage(stderr, "engineer", c);
	return EXIT_USAGE;
}

static void engineer_clear(struct roster_engineer *e)
{
	size_t i;

	for (i = 0; i < e->n_ssh_keys; i++)
		roster_ssh_key_free(&e->ssh_keys[i]);
	free(e->ssh_keys);
	free(e->allows);
	memset(e, 0, sizeof(*e));
}

/* What a private key file starts with (OpenSSH, PEM, PKCS#8, PuTTY). */
static bool private_key_text(const char *buf)
{
	return strstr(buf, "PRIVATE KEY-----") || strstr(buf, "PuTTY-User-Key-File");
}

bool cli_ssh_keys_read(const char *path, struct roster_engineer *e)
{
	struct roster_ssh_key *grown;
	char *buf = NULL, *line, *next, why[200];
	unsigned lineno = 0;
	size_t len = 0, first = e->n_ssh_keys;
	ssize_t n;
	bool ok = false;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return false;
	}
	buf = malloc(SSH_KEY_FILE_MAX + 1);
	if (!buf) {
		log_error("out of memory");
		goto out;
	}
	while (len <= SSH_KEY_FILE_MAX) {
		n = read(fd, buf + len, SSH_KEY_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SSH_KEY_FILE_MAX || memchr(buf, '\0', len)) {
		log_error("%s is not an SSH public key file", path);
		goto out;
	}
	buf[len] = '\0';
	/* Said before any line is parsed: the error for a line quotes nothing of it, but the
	 * point is to stop a secret from going into a 0644, gossiped file. */
	if (private_key_text(buf)) {
		log_error("%s is a private key: give the public one (the .pub file, or "
		    "'ssh-keygen -y -f %s')", path, path);
		goto out;
	}
	/* A key takes at least two bytes of the file: room for every key it can hold. */
	grown = realloc(e->ssh_keys, (e->n_ssh_keys + len / 2 + 1) * sizeof(*e->ssh_keys));
	if (!grown) {
		log_error("out of memory");
		goto out;
	}
	e->ssh_keys = grown;
	memset(&e->ssh_keys[e->n_ssh_keys], 0, (len / 2 + 1) * sizeof(*e->ssh_keys));
	for (line = buf; line; line = next) {
		size_t l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = strlen(line);
		lineno++;
		while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			line[--l] = '\0';
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (!roster_ssh_key_parse(&e->ssh_keys[e->n_ssh_keys], line, why, sizeof(why))) {
			log_error("%s:%u: not an SSH public key (\"type base64 "
			    "[comment]\", as in a .pub file): %s", path, lineno, why);
			goto out;
		}
		e->n_ssh_keys++;
		/* FIDO keys: the bastion (libssh 0.10) cannot require the authenticator's user
		 * presence as sshd does, and would refuse them at login: refuse them here. */
		if (strncmp(e->ssh_keys[e->n_ssh_keys - 1].type, "sk-", 3) == 0) {
			fprintf(stderr, "%s: %s:%u: %s is a FIDO security key (sk-*): the warren "
			    "bastion does not accept these; give an ssh-ed25519, ecdsa-sha2-* or rsa "
			    "key\n", cli_prog, path, lineno, e->ssh_keys[e->n_ssh_keys - 1].type);
			goto out;
		}
	}
	if (e->n_ssh_keys == first) {
		log_error("%s holds no SSH public key", path);
		goto out;
	}
	ok = true;
out:
	if (buf)
		sodium_memzero(buf, SSH_KEY_FILE_MAX + 1);	/* it may have been a secret */
	free(buf);
	close(fd);
	return ok;
}

/* Order only to find duplicates: roster_sort puts them in canonical order. */
static int allow_cmp(const void *x, const void *y)
{
	const struct roster_allow *a = x, *b = y;
	int c = strcmp(a->target, b->target);

	if (c)
		return c;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return a->port_hi == b->port_hi ? 0 : a->port_hi < b->port_hi ? -1 : 1;
}

static int engineer_add(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "ssh-key", required_argument, NULL, 'k' },
		{ "allow", required_argument, NULL, 'a' },
		{ "until", required_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *self = &engineer_commands[0];
	bool force = false;
	struct roster_engineer e, *grown;
	const char *key_file = NULL, *name, *until_arg = NULL;
	struct roster r;
	int c, ret = EXIT_FAIL;
	int64_t until = 0;
	size_t i;

	roster_init(&r);
	memset(&e, 0, sizeof(e));
	e.allows = calloc((size_t)argc, sizeof(*e.allows));
	if (!e.allows) {
		log_error("out of memory");
		goto out;
	}
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'k':
			if (key_file) {
				ret = usage_error(self);
				goto out;
			}
			key_file = optarg;
			break;
		case 'a':
			if (!roster_allow_parse(&e.allows[e.n_allows], optarg)) {
				log_error("--allow '%.100s' is not TARGET[:PORTS] (TARGET "
				    "a node, group:NAME, '*' or a prefix such as 100.100.1.0/24; "
				    "PORTS N, N-M or '*')",
				    optarg);
				goto out;
			}
			e.n_allows++;
			break;
		case 'u':
			until_arg = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			cli_table_usage(stdout, "engineer", self);
			ret = EXIT_OK;
			goto out;
		default:
			ret = usage_error(self);
			goto out;
		}
	}
	if (optind != argc - 1 || !e.n_allows) {
		ret = usage_error(self);
		goto out;
	}
	if (until_arg) {
		if (!cli_until_check(until_arg, &until))
			goto out;
		for (i = 0; i < e.n_allows; i++) {
			e.allows[i].has_until = true;
			e.allows[i].until = until;
		}
	}
	name = argv[optind];
	if (!roster_name_valid(name)) {
		log_error("invalid engineer name '%.100s' ([a-z0-9][a-z0-9.-]*, at most "
		    "%d characters)", name, ROSTER_NAME_MAX);
		goto out;
	}
	if (!cli_engineer_name_check(name, force))
		goto out;
	snprintf(e.name, sizeof(e.name), "%s", name);
	roster_cert_principal_new(&e);	/* dropped below if the roster has no CA */
	array_sort(e.allows, e.n_allows, sizeof(*e.allows), allow_cmp);
	for (i = 1; i < e.n_allows; i++)
		if (!allow_cmp(&e.allows[i - 1], &e.allows[i])) {
			log_error("--allow given twice");
			goto out;
		}
	if ((key_file && !cli_ssh_keys_read(key_file, &e)) || !cli_roster_load_working(&r))
		goto out;
	/* Without a key of her own she logs in with certificates only (keys engineer cert). */
	if (!key_file && !r.has_engineer_ca) {
		log_error("--ssh-key FILE is required: the roster has no engineer CA for "
		    "certificates ('keys engineer ca' creates one)");
		goto out;
	}
	if (!r.has_engineer_ca)
		e.cert_principal[0] = '\0';
	if (roster_engineer_find(&r, name)) {
		log_error("engineer '%s' already exists ('keys engineer set' changes "
		    "it)", name);
		goto out;
	}
	if (!cli_ssh_keys_unique(&r, &e))
		goto out;
	grown = realloc(r.engineers, (r.n_engineers + 1) * sizeof(*r.engineers));
	if (!grown) {
		log_error("out of memory");
		goto out;
	}
	r.engineers = grown;
	r.engineers[r.n_engineers++] = e;	/* the roster owns the arrays now */
	memset(&e, 0, sizeof(e));
	if (!cli_roster_check(&r) || !cli_roster_save_working(&r))
		goto out;
	printf("added engineer %s\n", name);
	ret = EXIT_OK;
out:
	engineer_clear(&e);
	roster_free(&r);
	return ret;
}

static int engineer_remove(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *self = &engineer_commands[1];
	struct roster_engineer *e;
	struct roster r;
	int c, ret = EXIT_FAIL;
	size_t i;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'h') {
			cli_table_usage(stdout, "engineer", self);
			ret = EXIT_OK;
		} else {
			ret = usage_error(self);
		}
		goto out;
	}
	if (optind != argc - 1) {
		ret = usage_error(self);
		goto out;
	}
	if (!cli_roster_load_working(&r))
		goto out;
	e = roster_engineer_find(&r, argv[optind]);
	if (!e) {
		log_error("no engineer '%.100s'", argv[optind]);
		goto out;
	}
	i = (size_t)(e - r.engineers);
	engineer_clear(e);
	memmove(&r.engineers[i], &r.engineers[i + 1],
	    (r.n_engineers - i - 1) * sizeof(*r.engineers));
	r.n_engineers--;
	if (!cli_roster_check(&r) || !cli_roster_save_working(&r))
		goto out;
	printf("removed engineer %s\n", argv[optind]);
	ret = EXIT_OK;
out:
	roster_free(&r);
	return ret;
}

int cmd_engineer(int argc, char *argv[])
{
	return cli_subcommand("engineer", engineer_commands, sizeof(engineer_commands) / sizeof(engineer_commands[0]), argc, argv);
}
