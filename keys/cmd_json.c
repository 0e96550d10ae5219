/* JSON output for --json: nodes and engineers as objects, strings escaped by common/json.c. */
#include <string.h>
#include <sys/socket.h>

#include "keys/cli.h"

static void key_field(FILE *f, const char *name, const uint8_t key[KEY_LEN])
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	fprintf(f, "\"%s\": \"%s\"", name, b64);
}

void cli_json_node(FILE *f, const struct roster_node *n)
{
	char buf[300];
	size_t i;

	fputs("{\"name\": ", f);
	json_string_write(f, n->name);
	fputs(", ", f);
	key_field(f, "key", n->key);
	fputs(", \"addresses\": [", f);
	if (n->has_addr4) {
		cli_addr_format(buf, AF_INET, n->addr4);
		fprintf(f, "\"%s\"", buf);
	}
	if (n->has_addr6) {
		cli_addr_format(buf, AF_INET6, n->addr6);
		fprintf(f, "%s\"%s\"", n->has_addr4 ? ", " : "", buf);
	}
	fputs("], \"subnets\": [", f);
	for (i = 0; i < n->n_subnets; i++) {
		cli_prefix_format(buf, &n->subnets[i]);
		fprintf(f, "%s\"%s\"", i ? ", " : "", buf);
	}
	fputs("], \"endpoints\": [", f);
	for (i = 0; i < n->n_endpoints; i++) {
		cli_endpoint_format(buf, &n->endpoints[i]);
		fputs(i ? ", " : "", f);
		json_string_write(f, buf);
	}
	fputs("], \"groups\": [", f);
	for (i = 0; i < n->n_groups; i++) {
		fputs(i ? ", " : "", f);
		json_string_write(f, n->groups[i]);
	}
	fputs("]}", f);
}

void cli_json_engineer(FILE *f, const struct roster_engineer *e)
{
	char fp[51];
	size_t i;

	fputs("{\"name\": ", f);
	json_string_write(f, e->name);
	fputs(", \"ssh_keys\": [", f);
	for (i = 0; i < e->n_ssh_keys; i++) {
		fputs(i ? ", {\"type\": " : "{\"type\": ", f);
		json_string_write(f, e->ssh_keys[i].type);
		roster_ssh_key_fingerprint(&e->ssh_keys[i], fp);
		fprintf(f, ", \"fingerprint\": \"%s\", \"comment\": ", fp);
		json_string_write(f, e->ssh_keys[i].comment ? e->ssh_keys[i].comment : "");
		fputs("}", f);
	}
	fputs("], \"cert_principal\": ", f);
	if (e->cert_principal[0])
		json_string_write(f, e->cert_principal);
	else
		fputs("null", f);
	fputs(", \"allow\": [", f);
	for (i = 0; i < e->n_allows; i++) {
		const struct roster_allow *a = &e->allows[i];

		fputs(i ? ", {\"target\": " : "{\"target\": ", f);
		json_string_write(f, a->target);
		fprintf(f, ", \"ports\": [%u, %u]", a->port_lo, a->port_hi);
		if (a->has_until) {
			char t[32];

			cli_time_format(t, a->until);
			fprintf(f, ", \"until\": \"%s\"", t);
		}
		fputs("}", f);
	}
	fputs("]}", f);
}
