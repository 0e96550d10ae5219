/* Overlay addresses freed by `keys revoke`, held back from enroll for AddressHold (keys.conf,
 * 30 days by default): peers' caches, firewall rules, known_hosts entries and audit logs that
 * name a revoked node's address must not start to mean a new node at once.
 *
 * Kept in the admin directory (DIR/addresses.held), not in the signed roster: only the
 * allocator reads it, nodes have no use for it, and the roster every node stores and gossips
 * should not grow with history.  One line per address: "ADDRESS FREED-AT NODE" (Unix
 * seconds).  Entries past their hold are dropped whenever the file is read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "keys/cli.h"

/* More entries than this is not a file we wrote (a 10,000-node network revoking them all
 * twice over): refused, not read without bound. */
enum { HELD_MAX = 100000, HELD_LINE_MAX = 256 };

void cli_held_free(struct cli_held *h)
{
	free(h->e);
	memset(h, 0, sizeof(*h));
}

static bool held_push(struct cli_held *h, int family, const uint8_t *addr, int64_t freed,
    const char *node)
{
	struct cli_held_entry *grown;

	if (h->n >= HELD_MAX) {
		log_error("more than %d held addresses", HELD_MAX);
		return false;
	}
	grown = realloc(h->e, (h->n + 1) * sizeof(*h->e));
	if (!grown) {
		log_error("out of memory");
		return false;
	}
	h->e = grown;
	memset(&h->e[h->n], 0, sizeof(h->e[h->n]));
	h->e[h->n].family = family;
	memcpy(h->e[h->n].addr, addr, family == AF_INET ? 4 : 16);
	h->e[h->n].freed = freed;
	snprintf(h->e[h->n].node, sizeof(h->e[h->n].node), "%s", node);
	h->n++;
	return true;
}

static bool line_parse(struct cli_held *h, const char *path, unsigned lineno, char *line,
    int64_t now)
{
	char *tok[4], *save = NULL, *end;
	unsigned long long t;
	uint8_t addr[16];
	int family, k = 0;

	for (char *s = strtok_r(line, " \t", &save); s && k < 4; s = strtok_r(NULL, " \t", &save))
		tok[k++] = s;
	if (k != 3) {
		log_error("%s:%u: expected 'ADDRESS FREED-AT NODE'", path, lineno);
		return false;
	}
	if (!roster_address_parse(&family, addr, tok[0])) {
		log_error("%s:%u: '%.100s' is not an address", path, lineno, tok[0]);
		return false;
	}
	errno = 0;
	t = strtoull(tok[1], &end, 10);
	if (errno || *end || end == tok[1] || tok[1][0] == '-' || t > (unsigned long long)INT64_MAX / 2) {
		log_error("%s:%u: '%.100s' is not a time (Unix seconds)", path, lineno,
		    tok[1]);
		return false;
	}
	if (!roster_name_valid(tok[2])) {
		log_error("%s:%u: '%.100s' is not a node name", path, lineno, tok[2]);
		return false;
	}
	/* Past its hold: forgotten (a clock set back holds it longer, never shorter). */
	if ((int64_t)t + cli_settings.address_hold <= now)
		return true;
	return held_push(h, family, addr, (int64_t)t, tok[2]);
}

bool cli_held_load(struct cli_held *h)
{
	char path[CLI_PATH_MAX], line[HELD_LINE_MAX + 2];
	int64_t now = (int64_t)time(NULL);
	unsigned lineno = 0;
	bool ok = true;
	size_t len;
	FILE *f;

	memset(h, 0, sizeof(*h));
	if (!cli_path(path, CLI_HELD))
		return false;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return true;
		log_error("%s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			log_error("%s:%u: line too long", path, lineno);
			ok = false;
			break;
		}
		if (memchr(line, '\0', len) || (line[0] && line[0] != '#' &&
		    !line_parse(h, path, lineno, line, now)))
			ok = false;
	}
	if (ferror(f)) {
		log_error("%s: read error", path);
		ok = false;
	}
	fclose(f);
	if (!ok)
		cli_held_free(h);
	return ok;
}

bool cli_held_add(struct cli_held *h, const struct roster_node *n)
{
	int64_t now = (int64_t)time(NULL);

	return (!n->has_addr4 || held_push(h, AF_INET, n->addr4, now, n->name)) &&
	    (!n->has_addr6 || held_push(h, AF_INET6, n->addr6, now, n->name));
}

const struct cli_held_entry *cli_held_find(const struct cli_held *h, int family,
    const uint8_t *addr)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->e[i].family == family &&
		    !memcmp(h->e[i].addr, addr, family == AF_INET ? 4 : 16))
			return &h->e[i];
	return NULL;
}

bool cli_held_save(const struct cli_held *h)
{
	char path[CLI_PATH_MAX], tmp[CLI_PATH_MAX], a[64];
	char *text = NULL;
	size_t len = 0, i;
	FILE *mem;
	int ret;

	if (!cli_path(path, CLI_HELD))
		return false;
	mem = open_memstream(&text, &len);
	if (!mem) {
		log_error("out of memory");
		return false;
	}
	fprintf(mem, "# Addresses freed by 'keys revoke', not reused before FREED-AT + "
	    "AddressHold (keys.conf)\n# ADDRESS FREED-AT NODE\n");
	for (i = 0; i < h->n; i++) {
		roster_address_format(a, sizeof(a), h->e[i].family, h->e[i].addr);
		fprintf(mem, "%s %lld %s\n", a, (long long)h->e[i].freed, h->e[i].node);
	}
	if (fclose(mem) != 0 || !text) {
		free(text);
		log_error("out of memory");
		return false;
	}
	ret = cli_file_stage(path, text, len, 0644, tmp);
	if (ret == 0)
		ret = cli_file_commit(tmp, path);
	free(text);
	if (ret < 0) {
		log_error("cannot write %s: %s", path, strerror(-ret));
		return false;
	}
	return true;
}

bool cli_held_addresses(const struct cli_held *h, int family, uint8_t (**out)[16], size_t *n)
{
	size_t i;

	*n = 0;
	*out = calloc(h->n + 1, sizeof(**out));
	if (!*out) {
		log_error("out of memory");
		return false;
	}
	for (i = 0; i < h->n; i++)
		if (h->e[i].family == family)
			memcpy((*out)[(*n)++], h->e[i].addr, 16);
	return true;
}
