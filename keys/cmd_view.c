/* Reading the working roster: list, show, and diff (what the next publish changes against
 * roster.signed).  Text for people, --json for scripts. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli.h"
#include "keys/lib/ssh_cert.h"

static int usage_error(const char *name)
{
	cli_command_usage(stderr, name);
	return EXIT_USAGE;
}

/* Parses the options of a command whose only option is --json: -1 to go on, else the exit
 * code (usage already printed). */
static int json_opts(int argc, char *argv[], const char *name, bool *json, int positional)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = false;
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'j') {
			*json = true;
			continue;
		}
		if (c == 'h') {
			cli_command_usage(stdout, name);
			return EXIT_OK;
		}
		return usage_error(name);
	}
	if (argc - optind != positional)
		return usage_error(name);
	return -1;
}

static void join_groups(char *out, size_t len, const struct roster_node *n)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < n->n_groups && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "",
		    n->groups[i]);
	if (!out[0])
		snprintf(out, len, "-");
}

static void list_text(const struct roster *r)
{
	char a4[64], a6[64], b64[KEY_B64_LEN + 1], groups[512], ep[300], c4[64];
	char allow[CLI_ALLOW_TEXT_MAX];
	size_t i, j;

	cli_prefix_format(c4, &r->cidr4);
	printf("network %s cidr %s", r->network, c4);
	if (r->has_cidr6) {
		cli_prefix_format(a6, &r->cidr6);
		printf(" cidr6 %s", a6);
	}
	printf(" serial %llu\n", (unsigned long long)r->serial);
	printf("%-20s %-15s %-24s %-44s %-10s %s\n", "NODE", "ADDRESS", "ADDRESS6", "KEY",
	    "GROUPS", "ENDPOINT");
	for (i = 0; i < r->n_nodes; i++) {
		const struct roster_node *n = &r->nodes[i];

		if (n->has_addr4)
			cli_addr_format(a4, AF_INET, n->addr4);
		else
			snprintf(a4, sizeof(a4), "-");
		if (n->has_addr6)
			cli_addr_format(a6, AF_INET6, n->addr6);
		else
			snprintf(a6, sizeof(a6), "-");
		key_to_base64(b64, n->key);
		join_groups(groups, sizeof(groups), n);
		if (n->n_endpoints)
			cli_endpoint_format(ep, &n->endpoints[0]);
		else
			snprintf(ep, sizeof(ep), "-");
		printf("%-20s %-15s %-24s %-44s %-10s %s\n", n->name, a4, a6, b64, groups, ep);
	}
	if (!r->n_engineers)
		return;
	printf("%-20s %-8s %s\n", "ENGINEER", "SSH-KEYS", "ALLOW");
	for (i = 0; i < r->n_engineers; i++) {
		const struct roster_engineer *e = &r->engineers[i];

		printf("%-20s %-8zu ", e->name, e->n_ssh_keys);
		for (j = 0; j < e->n_allows; j++) {
			cli_allow_format(allow, &e->allows[j]);
			printf("%s%s", j ? "," : "", allow);
		}
		printf("\n");
	}
}

static void list_json(const struct roster *r)
{
	char b64[KEY_B64_LEN + 1], buf[64];
	size_t i;

	printf("{\"network\": ");
	json_string_write(stdout, r->network);
	cli_prefix_format(buf, &r->cidr4);
	printf(", \"cidr\": \"%s\"", buf);
	if (r->has_cidr6) {
		cli_prefix_format(buf, &r->cidr6);
		printf(", \"cidr6\": \"%s\"", buf);
	}
	key_to_base64(b64, r->admin_key);
	printf(", \"serial\": %llu, \"admin_key\": \"%s\", \"nodes\": [",
	    (unsigned long long)r->serial, b64);
	for (i = 0; i < r->n_nodes; i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_node(stdout, &r->nodes[i]);
	}
	printf("], \"engineers\": [");
	for (i = 0; i < r->n_engineers; i++) {
		fputs(i ? ", " : "", stdout);
		cli_json_engineer(stdout, &r->engineers[i]);
	}
	printf("]}\n");
}

/* list shows the working roster: say when it is not what the nodes run. */
static void list_unpublished_warn(void)
{
	char path[CLI_PATH_MAX];
	struct roster pub;

	/* Nothing published (a copied working roster alone): nothing to compare, no error. */
	if (!cli_path(path, CLI_ROSTER_SIGNED) || access(path, F_OK) != 0)
		return;
	roster_init(&pub);
	if (cli_roster_load_signed(&pub)) {
		cli_unpublished_warn(&pub, "published is");
		cli_expiry_warn(&pub);
	}
	roster_free(&pub);
}

int cmd_list(int argc, char *argv[])
{
	struct roster r;
	bool json;
	int o, ret = EXIT_FAIL;

	o = json_opts(argc, argv, "list", &json, 0);
	if (o >= 0)
		return o;
	roster_init(&r);
	if (cli_roster_load_working(&r)) {
		list_unpublished_warn();
		if (json)
			list_json(&r);
		else
			list_text(&r);
		ret = EXIT_OK;
	}
	roster_free(&r);
	return ret;
}

static void show_node(const struct roster_node *n)
{
	char buf[300], b64[KEY_B64_LEN + 1];
	size_t i;

	key_to_base64(b64, n->key);
	printf("node %s\n\tkey %s\n", n->name, b64);
	if (n->has_addr4) {
		cli_addr_format(buf, AF_INET, n->addr4);
		printf("\taddress %s\n", buf);
	}
	if (n->has_addr6) {
		cli_addr_format(buf, AF_INET6, n->addr6);
		printf("\taddress %s\n", buf);
	}
	for (i = 0; i < n->n_subnets; i++) {
		cli_prefix_format(buf, &n->subnets[i]);
		printf("\tsubnet %s\n", buf);
	}
	for (i = 0; i < n->n_endpoints; i++) {
		cli_endpoint_format(buf, &n->endpoints[i]);
		printf("\tendpoint %s\n", buf);
	}
	for (i = 0; i < n->n_groups; i++)
		printf("\tgroup %s\n", n->groups[i]);
}

static void show_engineer(const struct roster_engineer *e)
{
	char fp[51], allow[CLI_ALLOW_TEXT_MAX], comment[VIS_ESCAPE_MAX * 100 + 1];
	size_t i;

	printf("engineer %s\n", e->name);
	for (i = 0; i < e->n_ssh_keys; i++) {
		const char *c = e->ssh_keys[i].comment ? e->ssh_keys[i].comment : "";

		roster_ssh_key_fingerprint(&e->ssh_keys[i], fp);
		/* The comment is untrusted text: bounded, and escaped for the terminal (a C1
		 * control is valid UTF-8 and passes the roster's checks). */
		vis_escape(comment, sizeof(comment), c, strnlen(c, 100));
		printf("\tssh-key %s %s %s\n", e->ssh_keys[i].type, fp, comment);
	}
	/* What her certificates must name (keys engineer cert signs it; --revoke-certs renews). */
	if (e->cert_principal[0])
		printf("\tcert-principal %s\n", e->cert_principal);
	for (i = 0; i < e->n_allows; i++) {
		cli_allow_format(allow, &e->allows[i]);
		printf("\tallow %s\n", allow);
	}
}

int cmd_show(int argc, char *argv[])
{
	const struct roster_engineer *e;
	const struct roster_node *n;
	struct roster r;
	bool json;
	int o, ret = EXIT_FAIL;

	o = json_opts(argc, argv, "show", &json, 1);
	if (o >= 0)
		return o;
	roster_init(&r);
	if (!cli_roster_load_working(&r))
		goto out;
	n = roster_node_find(&r, argv[optind]);
	e = n ? NULL : roster_engineer_find(&r, argv[optind]);
	if (!n && !e) {
		log_error("no node or engineer '%.100s'", argv[optind]);
		goto out;
	}
	if (json) {
		printf("{\"kind\": \"%s\", \"%s\": ", n ? "node" : "engineer",
		    n ? "node" : "engineer");
		if (n)
			cli_json_node(stdout, n);
		else
			cli_json_engineer(stdout, e);
		printf("}\n");
	} else if (n) {
		show_node(n);
	} else {
		show_engineer(e);
	}
	ret = EXIT_OK;
out:
	roster_free(&r);
	return ret;
}

/* Names borrowed from the two rosters, one list per kind of change. */
struct name_list {
	const char **names;
	size_t count;
};

enum { ADDED, REMOVED, REKEYED, CHANGED, KINDS };
static const char *const kind_names[KINDS] = { "added", "removed", "rekeyed", "changed" };
static const char kind_marks[KINDS] = { '+', '-', '~', '~' };

struct changes {
	struct name_list nodes[KINDS];
	struct name_list engineers[KINDS];
	bool failed;
};

static void add_name(struct changes *ch, struct name_list *l, const char *name)
{
	const char **grown = realloc(l->names, (l->count + 1) * sizeof(*l->names));

	if (!grown) {
		ch->failed = true;
		return;
	}
	l->names = grown;
	l->names[l->count++] = name;
}

static void on_node(void *ctx, enum roster_change what, const struct roster_node *old_node,
    const struct roster_node *new_node)
{
	struct changes *ch = ctx;

	switch (what) {
	case ROSTER_NODE_ADDED:
		add_name(ch, &ch->nodes[ADDED], new_node->name);
		break;
	case ROSTER_NODE_REMOVED:
		add_name(ch, &ch->nodes[REMOVED], old_node->name);
		break;
	case ROSTER_NODE_KEY_CHANGED:
		add_name(ch, &ch->nodes[REKEYED], new_node->name);
		break;
	case ROSTER_NODE_CHANGED:
		add_name(ch, &ch->nodes[CHANGED], new_node->name);
		break;
	}
}

static bool engineer_equal(const struct roster_engineer *a, const struct roster_engineer *b)
{
	size_t i;

	if (a->n_ssh_keys != b->n_ssh_keys || a->n_allows != b->n_allows ||
	    strcmp(a->cert_principal, b->cert_principal))	/* her certificates revoked */
		return false;
	for (i = 0; i < a->n_ssh_keys; i++) {
		const struct roster_ssh_key *x = &a->ssh_keys[i], *y = &b->ssh_keys[i];

		if (strcmp(x->type, y->type) || x->blob_len != y->blob_len ||
		    memcmp(x->blob, y->blob, x->blob_len) ||
		    strcmp(x->comment ? x->comment : "", y->comment ? y->comment : ""))
			return false;
	}
	for (i = 0; i < a->n_allows; i++)
		if (strcmp(a->allows[i].target, b->allows[i].target) ||
		    a->allows[i].port_lo != b->allows[i].port_lo ||
		    a->allows[i].port_hi != b->allows[i].port_hi ||
		    a->allows[i].has_until != b->allows[i].has_until ||
		    a->allows[i].until != b->allows[i].until)
			return false;
	return true;
}

static void diff_engineers(const struct roster *o, const struct roster *n, struct changes *ch)
{
	const struct roster_engineer *x;
	size_t i;

	for (i = 0; i < n->n_engineers; i++) {
		x = roster_engineer_find(o, n->engineers[i].name);
		if (!x)
			add_name(ch, &ch->engineers[ADDED], n->engineers[i].name);
		else if (!engineer_equal(x, &n->engineers[i]))
			add_name(ch, &ch->engineers[CHANGED], n->engineers[i].name);
	}
	for (i = 0; i < o->n_engineers; i++)
		if (!roster_engineer_find(n, o->engineers[i].name))
			add_name(ch, &ch->engineers[REMOVED], o->engineers[i].name);
}

/* Engineers have no key of their own to change: no "rekeyed" list for them. */
/* The policy rules in one roster and not in the other (both in canonical order), written as
 * "+ policy ..." / "- policy ..." lines or as two JSON arrays; how many differ. */
static size_t diff_policy(const struct roster *pub, const struct roster *work, bool json)
{
	char text[ROSTER_POLICY_TEXT_MAX];
	size_t changed = 0;

	for (int side = 0; side < 2; side++) {
		const struct roster *a = side ? pub : work, *b = side ? work : pub;
		bool first = true;

		if (json)
			printf(", \"%s\": [", side ? "policy_removed" : "policy_added");
		for (size_t i = 0, j = 0; i < a->n_policy; i++) {
			while (j < b->n_policy && roster_policy_cmp(&b->policy[j], &a->policy[i]) < 0)
				j++;
			if (j < b->n_policy && roster_policy_cmp(&b->policy[j], &a->policy[i]) == 0)
				continue;
			roster_policy_rule_format(text, &a->policy[i]);
			changed++;
			if (json) {
				printf("%s", first ? "" : ", ");
				json_string_write(stdout, text);
				first = false;
			} else {
				printf("%c policy %s\n", side ? '-' : '+', text);
			}
		}
		if (json)
			printf("]");
	}
	if (pub->policy_default_deny != work->policy_default_deny) {
		changed++;
		if (!json)
			printf("~ policy default %s (was %s)\n", work->policy_default_deny ? "deny" :
			    "allow", pub->policy_default_deny ? "deny" : "allow");
	}
	if (json)
		printf(", \"policy_default\": \"%s\", \"policy_default_changed\": %s",
		    work->policy_default_deny ? "deny" : "allow",
		    pub->policy_default_deny != work->policy_default_deny ? "true" : "false");
	return changed;
}

static void json_list(const struct name_list *l, bool rekeyed)
{
	size_t i;
	bool first = true;

	printf("{");
	for (i = 0; i < KINDS; i++) {
		size_t j;

		if (i == REKEYED && !rekeyed)
			continue;
		printf("%s\"%s\": [", first ? "" : ", ", kind_names[i]);
		first = false;
		for (j = 0; j < l[i].count; j++) {
			fputs(j ? ", " : "", stdout);
			json_string_write(stdout, l[i].names[j]);
		}
		printf("]");
	}
	printf("}");
}

static size_t text_list(const char *what, const struct name_list *l)
{
	size_t i, j, total = 0;

	for (i = 0; i < KINDS; i++)
		for (j = 0; j < l[i].count; j++, total++)
			printf("%c %s %s%s\n", kind_marks[i], what, l[i].names[j],
			    i == REKEYED ? " (key changed)" : i == CHANGED ? " (changed)" : "");
	return total;
}

int cmd_diff(int argc, char *argv[])
{
	char old_b64[KEY_B64_LEN + 1], new_b64[KEY_B64_LEN + 1];
	struct changes ch;
	struct roster pub, work;
	bool json, admin_changed, ca_changed;
	char ca_line[SSH_ED25519_LINE_MAX] = "";
	int o, ret = EXIT_FAIL;
	size_t i, total;

	o = json_opts(argc, argv, "diff", &json, 0);
	if (o >= 0)
		return o;
	memset(&ch, 0, sizeof(ch));
	roster_init(&pub);
	roster_init(&work);
	if (!cli_roster_load_signed(&pub) || !cli_roster_load_working(&work))
		goto out;
	roster_diff_nodes(&pub, &work, on_node, &ch);
	diff_engineers(&pub, &work, &ch);
	if (ch.failed) {
		log_error("out of memory");
		goto out;
	}
	admin_changed = sodium_memcmp(pub.admin_key, work.admin_key, KEY_LEN) != 0;
	/* A new engineer CA ends every certificate the old one signed: never a silent change. */
	ca_changed = pub.has_engineer_ca != work.has_engineer_ca ||
	    (work.has_engineer_ca && sodium_memcmp(pub.engineer_ca, work.engineer_ca, KEY_LEN));
	if (work.has_engineer_ca)
		ssh_ed25519_line(ca_line, work.engineer_ca);
	key_to_base64(old_b64, pub.admin_key);
	key_to_base64(new_b64, work.admin_key);
	if (json) {
		printf("{\"from_serial\": %llu, \"nodes\": ", (unsigned long long)pub.serial);
		json_list(ch.nodes, true);
		printf(", \"engineers\": ");
		json_list(ch.engineers, false);
		printf(", \"admin_key_changed\": %s", admin_changed ? "true" : "false");
		printf(", \"engineer_ca_changed\": %s", ca_changed ? "true" : "false");
		if (ca_changed)
			printf(", \"engineer_ca\": %s%s%s", work.has_engineer_ca ? "\"" : "",
			    work.has_engineer_ca ? ca_line : "null", work.has_engineer_ca ? "\"" : "");
		if (admin_changed)
			printf(", \"admin_key_old\": \"%s\", \"admin_key_new\": \"%s\"", old_b64,
			    new_b64);
		diff_policy(&pub, &work, true);
		printf("}\n");
	} else {
		total = text_list("node", ch.nodes) + text_list("engineer", ch.engineers) +
		    diff_policy(&pub, &work, false);
		if (ca_changed)
			printf("%c engineer CA %s%s\n", !work.has_engineer_ca ? '-' :
			    pub.has_engineer_ca ? '~' : '+', work.has_engineer_ca ? ca_line : "",
			    pub.has_engineer_ca ? " (every certificate the old CA signed stops "
			    "working)" : "");
		if (admin_changed)
			printf("~ admin key %s -> %s\n", old_b64, new_b64);
		else if (total == 0 && !ca_changed)
			printf("no changes since serial %llu\n", (unsigned long long)pub.serial);
	}
	ret = EXIT_OK;
out:
	for (i = 0; i < KINDS; i++) {
		free(ch.nodes[i].names);
		free(ch.engineers[i].names);
	}
	roster_free(&pub);
	roster_free(&work);
	return ret;
}
