/* Engineers' SSH access from the roster: authorized-keys (sshd's AuthorizedKeysCommand on a
 * node: who may log in here) and ssh-config (the snippet an engineer pastes to jump through the
 * bastion).  The rule is one: roster_engineer_allows on port 22, login name = engineer name. */
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli.h"
#include "keys/lib/ssh_cert.h"

enum { SSH_PORT = 22, BASTION_HOST_MAX = 255 };

/* The admin key to verify against: --admin-key (the node's AdminKey), the trust anchor.  A
 * later admin key is trusted only through the roster's endorsement chain from it
 * (roster_verify); a key file beside the roster is not trusted: anyone who can write the
 * roster directory could drop one. */
static bool pinned_key(const char *arg, uint8_t key[KEY_LEN])
{
	if (arg)
		return cli_key_arg("--admin-key", arg, key);
	log_error("no trust anchor: pass --admin-key (the node's AdminKey, base64 or a "
	    "file)");
	return false;
}

/* Loads and verifies the node's roster; prints why not. */
static bool roster_load_verified(struct roster *r, const char *path, const char *admin_arg)
{
	struct roster_errors errs = { 0 };
	uint8_t pinned[KEY_LEN], trusted[KEY_LEN];
	char why[256];
	bool ok = false;
	size_t i;

	if (!pinned_key(admin_arg, pinned))
		return false;
	if (!roster_load(path, r, &errs)) {
		for (i = 0; i < errs.count; i++)
			log_error("%s", errs.msgs[i]);
		if (!errs.count)
			log_error("cannot read %s", path);
		goto out;
	}
	if (!r->has_signature) {
		log_error("%s: not signed", path);
		goto out;
	}
	if (!roster_verify(r, pinned, trusted, why, sizeof(why))) {
		log_error("%s: %s", path, why);
		goto out;
	}
	ok = true;
out:
	roster_errors_free(&errs);
	return ok;
}

/* This node: --node NAME, else the node whose WireGuard key is the public half of key_file. */
static const struct roster_node *self_find(const struct roster *r, const char *name,
    const char *key_file)
{
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	const struct roster_node *n = NULL;
	char err[256];

	if (name) {
		n = roster_node_find(r, name);
		if (!n)
			log_error("no node '%.100s' in the roster", name);
		return n;
	}
	if (key_file_read(key_file, true, priv, err, sizeof(err)) != 0) {
		log_error("%s (or pass --node NAME)", err);
		goto out;
	}
	if (!key_public_from_private(pub, priv)) {
		log_error("%s: invalid private key", key_file);
		goto out;
	}
	n = roster_node_find_key(r, pub);
	if (!n)
		log_error("this node's key is not in the roster (revoked?)");
out:
	sodium_memzero(priv, sizeof(priv));
	return n;
}

/* The blob's own type name (its first SSH string): "ssh-rsa" for rsa-sha2-* roster keys. */
static bool blob_type(const struct roster_ssh_key *k, char out[64])
{
	uint32_t n;

	if (k->blob_len < 4)
		return false;
	n = (uint32_t)k->blob[0] << 24 | (uint32_t)k->blob[1] << 16 | (uint32_t)k->blob[2] << 8 |
	    k->blob[3];
	if (n == 0 || n >= 64 || n > k->blob_len - 4)
		return false;
	memcpy(out, k->blob + 4, n);
	out[n] = '\0';
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* One authorized_keys line: "type base64 [comment]". */
static bool print_key(const struct roster_ssh_key *k)
{
	char type[64], *b64;
	size_t len = sodium_base64_encoded_len(k->blob_len, sodium_base64_VARIANT_ORIGINAL);

	if (!blob_type(k, type))
		return true;	/* the parser checked it; skip rather than print garbage */
	b64 = malloc(len);
	if (!b64)
		return false;
	sodium_bin2base64(b64, len, k->blob, k->blob_len, sodium_base64_VARIANT_ORIGINAL);
	/* A comment can never start a second line: sshd would read it as another key. */
	if (*k->comment && printable(k->comment))
		printf("%s %s %s\n", type, b64, k->comment);
	else
		printf("%s %s\n", type, b64);
	free(b64);
	return true;
}

int cmd_authorized_keys(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "roster", required_argument, NULL, 'r' },
		{ "admin-key", required_argument, NULL, 'k' },
		{ "node", required_argument, NULL, 'n' },
		{ "key-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CLI_NODE_ROSTER, *admin = NULL, *name = NULL, *key_file = CLI_NODE_KEY_FILE;
	const struct roster_engineer *e;
	const struct roster_node *n;
	struct roster r;
	int c, ret = EXIT_FAIL;
	size_t i;

	roster_init(&r);
	/* sshd discards this command's stderr: why nobody may log in must reach the log. */
	log_mirror_syslog(LOG_AUTHPRIV);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'r': path = optarg; break;
		case 'k': admin = optarg; break;
		case 'n': name = optarg; break;
		case 'f': key_file = optarg; break;
		case 'h': cli_command_usage(stdout, "authorized-keys"); ret = EXIT_OK; goto out;
		default: cli_command_usage(stderr, "authorized-keys"); ret = EXIT_USAGE; goto out;
		}
	}
	if (optind != argc - 1) {
		cli_command_usage(stderr, "authorized-keys");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!roster_load_verified(&r, path, admin))
		goto out;
	/* Humans fail closed: past its expires line nobody logs in until a newer roster arrives
	 * (a node whose roster delivery is held back cannot keep a revoked engineer's access). */
	if (roster_expiry_at(&r, (int64_t)time(NULL), 0) == ROSTER_EXPIRY_EXPIRED) {
		char expiry[ROSTER_EXPIRY_TEXT_MAX];

		roster_expiry_text(expiry, &r, (int64_t)time(NULL));
		log_error("%s: roster serial %llu %s: engineer logins are refused until a newer "
		    "roster arrives", path, (unsigned long long)r.serial, expiry);
		goto out;
	}
	n = self_find(&r, name, key_file);
	if (!n)
		goto out;
	/* v1: the login name is the engineer's name; anyone else gets no key (exit 0). */
	e = roster_engineer_find(&r, argv[optind]);
	if (e && roster_engineer_allows(&r, e, n, SSH_PORT, (int64_t)time(NULL))) {
		for (i = 0; i < e->n_ssh_keys; i++) {
			if (!print_key(&e->ssh_keys[i])) {
				log_error("out of memory");
				goto out;
			}
		}
		/* Her certificates: sshd checks the CA's signature, the validity and that her
		 * cert-principal (NAME#TOKEN, [a-z0-9.#-] only: nothing that could end the quoted
		 * option) is among the certificate's principals. */
		if (r.has_engineer_ca && e->cert_principal[0]) {
			char ca[SSH_ED25519_LINE_MAX];

			ssh_ed25519_line(ca, r.engineer_ca);
			printf("cert-authority,principals=\"%s\" %s warren engineer CA\n",
			    e->cert_principal, ca);
		}
	}
	if (fflush(stdout) != 0) {
		log_error("cannot write to stdout");
		goto out;
	}
	ret = EXIT_OK;
out:
	roster_free(&r);
	return ret;
}

/* HOST or HOST:PORT or [V6]:PORT.  Hosts go verbatim into ssh_config: letters, digits and
 * . - : only, so nothing can start another directive. */
static bool bastion_parse(const char *arg, char host[BASTION_HOST_MAX + 1], uint16_t *port)
{
	const char *end, *colon, *c;
	size_t len;

	*port = SSH_PORT;
	if (arg[0] == '[') {
		end = strchr(arg, ']');
		if (!end || (end[1] && (end[1] != ':' || !cli_port_parse(end + 2, port))))
			return false;
		arg++;
		len = (size_t)(end - arg);
	} else {
		colon = strchr(arg, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;		/* a bare IPv6 address */
		if (colon && !cli_port_parse(colon + 1, port))
			return false;
		len = colon ? (size_t)(colon - arg) : strlen(arg);
	}
	if (len == 0 || len > BASTION_HOST_MAX)
		return false;
	for (c = arg; c < arg + len; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':'))
			return false;
	memcpy(host, arg, len);
	host[len] = '\0';
	return true;
}

/* ssh-keygen's default file for a key of this type: where the engineer most likely keeps it. */
static const char *identity_default(const char *type)
{
	if (strncmp(type, "sk-ssh-ed25519", 14) == 0)
		return "~/.ssh/id_ed25519_sk";
	if (strncmp(type, "sk-ecdsa", 8) == 0)
		return "~/.ssh/id_ecdsa_sk";
	if (strncmp(type, "ecdsa", 5) == 0)
		return "~/.ssh/id_ecdsa";
	if (strcmp(type, "ssh-ed25519") == 0)
		return "~/.ssh/id_ed25519";
	return "~/.ssh/id_rsa";
}

/* An --identity path is written into ssh_config unquoted: no whitespace, quotes, '#' or
 * control bytes (a newline would add directives of the caller's choosing). */
static bool identity_valid(const char *path)
{
	const unsigned char *c;

	if (!*path || strlen(path) > PATH_MAX)
		return false;
	for (c = (const unsigned char *)path; *c; c++)
		if (*c <= 0x20 || *c == 0x7f || *c == '"' || *c == '\'' || *c == '#')
			return false;
	return true;
}

/* An ssh_config Host pattern matching exactly the addresses of p (patterns know '*' and '?',
 * not prefixes): the address of a /32 or /128, "a.b.c.*" for /24, /16 and /8.  false when no
 * pattern is exact. */
static bool prefix_pattern(char out[64], const struct roster_prefix *p)
{
	char a[48], *cut;
	unsigned keep;

	roster_address_format(a, sizeof(a), p->family, p->addr);
	if (p->cidr == (p->family == AF_INET ? 32 : 128)) {
		snprintf(out, 64, "%s", a);
		return true;
	}
	if (p->family != AF_INET || p->cidr % 8 || p->cidr == 0)
		return false;
	/* Keep cidr / 8 octets, then "*" (which also matches the dots after). */
	cut = a;
	for (keep = p->cidr / 8; keep; keep--)
		cut = strchr(cut, '.') + 1;
	*cut = '\0';
	snprintf(out, 64, "%s*", a);
	return true;
}

/* The hosts inside routed subnets that e may reach on port 22 (prefix allow lines): their
 * own accounts, not the engineer's, so only ProxyJump.  Prefixes no pattern matches exactly
 * are named in a comment, to be reached with ssh -J. */
static void subnet_hosts_print(const struct roster *r, const struct roster_engineer *e,
    const char *alias)
{
	char pat[64], cidr[64];
	size_t i, n = 0;
	bool any = false;

	for (i = 0; i < e->n_allows; i++) {
		const struct roster_allow *a = &e->allows[i];

		if (!a->is_prefix || a->port_lo > SSH_PORT || a->port_hi < SSH_PORT ||
		    !roster_subnet_router(r, a->prefix.family, a->prefix.addr))
			continue;
		if (!any)
			printf("\n# Hosts inside routed subnets: their own accounts, through the "
			    "bastion.\n");
		any = true;
		roster_prefix_format(cidr, sizeof(cidr), &a->prefix);
		if (!prefix_pattern(pat, &a->prefix))
			printf("# %s: no ssh_config pattern matches it exactly: ssh -J %s ADDRESS\n",
			    cidr, alias);
	}
	for (i = 0; i < e->n_allows; i++) {
		const struct roster_allow *a = &e->allows[i];

		if (!a->is_prefix || a->port_lo > SSH_PORT || a->port_hi < SSH_PORT ||
		    !roster_subnet_router(r, a->prefix.family, a->prefix.addr) ||
		    !prefix_pattern(pat, &a->prefix))
			continue;
		printf("%s %s", n++ ? "" : "Host", pat);
	}
	if (n)
		printf("\n\tProxyJump %s\n", alias);
}

int cmd_ssh_config(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "bastion", required_argument, NULL, 'b' },
		{ "user", required_argument, NULL, 'u' },
		{ "roster", required_argument, NULL, 'r' },
		{ "identity", required_argument, NULL, 'i' },
		{ "bastion-host-key", required_argument, NULL, 'K' },
		{ "known-hosts", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct roster_errors errs = { 0 };
	const char *bastion = NULL, *user = NULL, *path = NULL, *identity = NULL,
	    *host_key = NULL, *known_hosts = NULL;
	char host[BASTION_HOST_MAX + 1], alias[ROSTER_NAME_MAX + 16], fp[51];
	const struct roster_engineer *e;
	size_t i, reachable = 0;
	int64_t now = (int64_t)time(NULL);
	struct roster r;
	uint16_t port;
	int c, ret = EXIT_FAIL;

	roster_init(&r);
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'b': bastion = optarg; break;
		case 'u': user = optarg; break;
		case 'r': path = optarg; break;
		case 'i': identity = optarg; break;
		case 'K': host_key = optarg; break;
		case 'k': known_hosts = optarg; break;
		case 'h': cli_command_usage(stdout, "ssh-config"); ret = EXIT_OK; goto out;
		default: cli_command_usage(stderr, "ssh-config"); ret = EXIT_USAGE; goto out;
		}
	}
	if (optind != argc - 1 || !bastion) {
		cli_command_usage(stderr, "ssh-config");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!bastion_parse(bastion, host, &port)) {
		log_error("--bastion '%.100s' is not HOST, HOST:PORT or [V6]:PORT", bastion);
		goto out;
	}
	if (identity && !identity_valid(identity)) {
		fprintf(stderr, "%s: --identity: a path without spaces, quotes, '#' or control "
		    "characters\n", cli_prog);
		goto out;
	}
	/* Both or neither: the snippet names the file that holds the pin. */
	if (!host_key != !known_hosts) {
		log_error("--bastion-host-key FILE and --known-hosts PATH go together (the pin is "
		    "written to PATH, which the snippet names)");
		ret = EXIT_USAGE;
		goto out;
	}
	if (known_hosts && !identity_valid(known_hosts)) {
		fprintf(stderr, "%s: --known-hosts: a path without spaces, quotes, '#' or control "
		    "characters\n", cli_prog);
		goto out;
	}
	if (user && !roster_name_valid(user)) {
		log_error("--user '%.100s' is not a valid login name", user);
		goto out;
	}
	/* The published roster (what nodes and the bastion enforce), or the file given. */
	if (path) {
		if (!roster_load(path, &r, &errs)) {
			for (i = 0; i < errs.count; i++)
				log_error("%s", errs.msgs[i]);
			if (!errs.count)
				log_error("cannot read %s", path);
			goto out;
		}
	} else if (!cli_roster_load_signed(&r)) {
		goto out;
	}
	e = roster_engineer_find(&r, argv[optind]);
	if (!e) {
		log_error("no engineer '%.100s'", argv[optind]);
		goto out;
	}
	if (!e->n_ssh_keys) {
		fprintf(stderr, "%s: engineer '%s' has no SSH key in the roster\n", cli_prog, e->name);
		goto out;
	}
	/* IdentitiesOnly: only this key is offered, not every key of the engineer's agent (each
	 * refused key counts against MaxAuthTries on the bastion and on the nodes). */
	if (!identity)
		identity = identity_default(e->ssh_keys[0].type);
	roster_ssh_key_fingerprint(&e->ssh_keys[0], fp);
	snprintf(alias, sizeof(alias), "%s-bastion", r.network);
	if (host_key && cli_known_hosts_write(known_hosts, alias, host_key) < 0)
		goto out;
	printf("# warren network %s: engineer %s reaches its nodes through the bastion.\n"
	    "# Only the key the roster holds is offered (%s %s).\n"
	    "Host %s\n\tHostName %s\n\tPort %u\n\tUser %s\n\tIdentityFile %s\n"
	    "\tIdentitiesOnly yes\n", r.network, e->name, e->ssh_keys[0].type, fp, alias, host,
	    port, e->name, identity);
	/* HostKeyAlias: the pin holds whatever name or address reaches the bastion. */
	if (known_hosts)
		printf("\t# The bastion's host key is pinned in %s: the first connection is\n"
		    "\t# verified, a different key refused.\n"
		    "\tHostKeyAlias %s\n\tUserKnownHostsFile %s\n\tStrictHostKeyChecking yes\n"
		    "\tUpdateHostKeys no\n", known_hosts, alias, known_hosts);
	for (i = 0; i < r.n_nodes; i++)
		if (roster_engineer_allows(&r, e, &r.nodes[i], SSH_PORT, now))
			reachable++;
	if (!reachable) {
		printf("# no node allows %s on port 22\n", e->name);
	} else {
		/* One Host line naming every node: a block per node would repeat the options. */
		fputs("\nHost", stdout);
		for (i = 0; i < r.n_nodes; i++)
			if (roster_engineer_allows(&r, e, &r.nodes[i], SSH_PORT, now))
				printf(" %s", r.nodes[i].name);
		printf("\n\tUser %s\n\tProxyJump %s\n\tIdentityFile %s\n\tIdentitiesOnly yes\n",
		    user ? user : e->name, alias, identity);
	}
	subnet_hosts_print(&r, e, alias);
	if (fflush(stdout) != 0) {
		log_error("cannot write to stdout");
		goto out;
	}
	ret = EXIT_OK;
out:
	roster_errors_free(&errs);
	roster_free(&r);
	return ret;
}
