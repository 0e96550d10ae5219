/* Node-to-node policy rules: their text, order and parse (docs/roster.md, "Policy"). */
#include "keys/lib/roster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	uint8_t proto;
	bool ports;
} protos[] = {
	{ "any", ROSTER_POLICY_ANY, false },
	{ "icmp", ROSTER_POLICY_ICMP, false },
	{ "tcp", ROSTER_POLICY_TCP, true },
	{ "udp", ROSTER_POLICY_UDP, true },
};

static const char *proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return "?";
}

/* PROTO or PROTO/PORTS: "tcp" is every TCP port; "tcp/1-65535" is not canonical. */
static bool proto_parse(struct roster_policy_rule *rule, const char *s, char *why, size_t whylen)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s), i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strlen(protos[i].name) == n && !memcmp(protos[i].name, s, n))
			break;
	if (i == sizeof(protos) / sizeof(protos[0])) {
		snprintf(why, whylen, "bad protocol '%.20s' (any, icmp, tcp[/PORTS] or udp[/PORTS])",
		    s);
		return false;
	}
	rule->proto = protos[i].proto;
	rule->port_lo = rule->port_hi = 0;
	if (!protos[i].ports) {
		if (slash) {
			snprintf(why, whylen, "%s takes no ports", protos[i].name);
			return false;
		}
		return true;
	}
	rule->port_lo = 1;
	rule->port_hi = 65535;
	if (!slash)
		return true;
	if (!roster_ports_parse(&rule->port_lo, &rule->port_hi, slash + 1, false)) {
		snprintf(why, whylen, "bad ports '%.20s' (N or N-M with N < M, 1-65535)", slash + 1);
		return false;
	}
	if (rule->port_lo == 1 && rule->port_hi == 65535) {
		snprintf(why, whylen, "non-canonical ports: write '%s' for every port",
		    protos[i].name);
		return false;
	}
	return true;
}

bool roster_policy_rule_parse(struct roster_policy_rule *rule, const char *text, char *why,
    size_t whylen)
{
	char buf[ROSTER_POLICY_TEXT_MAX + 1], *tok[6], *save = NULL, *t;
	size_t n = 0;

	memset(rule, 0, sizeof(*rule));
	if (strlen(text) > ROSTER_POLICY_TEXT_MAX) {
		snprintf(why, whylen, "policy rule too long");
		return false;
	}
	strcpy(buf, text);
	for (t = strtok_r(buf, " ", &save); t && n < 6; t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	if (n != 5 || t || strcmp(tok[2], "->") != 0) {
		snprintf(why, whylen, "expected 'allow|deny FROM -> TO PROTO[/PORTS]'");
		return false;
	}
	if (!strcmp(tok[0], "deny"))
		rule->deny = true;
	else if (strcmp(tok[0], "allow") != 0) {
		snprintf(why, whylen, "expected allow or deny, not '%.20s'", tok[0]);
		return false;
	}
	if (!roster_allow_parse(&rule->from, tok[1]) || !roster_allow_parse(&rule->to, tok[3])) {
		snprintf(why, whylen, "bad target '%.60s' (a node, group:NAME, * or a prefix)",
		    roster_allow_parse(&rule->from, tok[1]) ? tok[3] : tok[1]);
		return false;
	}
	return proto_parse(rule, tok[4], why, whylen);
}

void roster_policy_rule_format(char *out, const struct roster_policy_rule *rule)
{
	char ports[16] = "";

	if (rule->proto == ROSTER_POLICY_TCP || rule->proto == ROSTER_POLICY_UDP) {
		if (rule->port_lo == rule->port_hi)
			snprintf(ports, sizeof(ports), "/%u", rule->port_lo);
		else if (rule->port_lo != 1 || rule->port_hi != 65535)
			snprintf(ports, sizeof(ports), "/%u-%u", rule->port_lo, rule->port_hi);
	}
	snprintf(out, ROSTER_POLICY_TEXT_MAX, "%s %s -> %s %s%s", rule->deny ? "deny" : "allow",
	    rule->from.target, rule->to.target, proto_name(rule->proto), ports);
}

int roster_policy_cmp(const struct roster_policy_rule *a, const struct roster_policy_rule *b)
{
	int c;

	if (a->deny != b->deny)
		return a->deny ? -1 : 1;
	if ((c = strcmp(a->from.target, b->from.target)) != 0)
		return c;
	if ((c = strcmp(a->to.target, b->to.target)) != 0)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port_lo != b->port_lo)
		return a->port_lo < b->port_lo ? -1 : 1;
	return a->port_hi == b->port_hi ? 0 : a->port_hi < b->port_hi ? -1 : 1;
}
