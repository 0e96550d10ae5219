/* The admin directory's own settings, DIR/keys.conf: policy of this admin tool that nodes never
 * see (so it is not in the signed roster).  `Key = value` lines, `#` comments, keys
 * case-insensitive; every error is reported as FILE:LINE: before the command refuses to run.
 * A missing file means the defaults. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/duration.h"
#include "keys/cli.h"

/* Longest keys.conf accepted: a handful of settings and their comments. */
enum { SETTINGS_FILE_MAX = 64 << 10 };

static char *trim(char *s)
{
	size_t l;

	s += strspn(s, " \t");
	l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
		s[--l] = '\0';
	return s;
}

static bool line_apply(struct cli_settings *st, const char *path, unsigned lineno, char *line)
{
	char *eq = strchr(line, '='), *key, *val;
	uint64_t v;

	if (!eq) {
		log_error("%s:%u: expected 'Key = value'", path, lineno);
		return false;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!strcasecmp(key, "AddressHold")) {
		if (!duration_parse(val, CLI_ADDRESS_HOLD_MAX, &v)) {
			log_error("%s:%u: AddressHold '%.100s' is not a duration (N, Ns, Nm, Nh "
			    "or Nd, at most 10 years)", path, lineno, val);
			return false;
		}
		st->address_hold = (int64_t)v;
	} else if (!strcasecmp(key, "LockTimeout")) {
		if (!duration_parse(val, CLI_LOCK_TIMEOUT_MAX, &v)) {
			log_error("%s:%u: LockTimeout '%.100s' is not a duration (N, Ns, Nm or "
			    "Nh, at most 1h)", path, lineno, val);
			return false;
		}
		st->lock_timeout = (unsigned)v;
	} else if (!strcasecmp(key, "RosterValidity")) {
		if (!strcasecmp(val, "none")) {
			st->roster_validity = 0;
		} else if (!duration_parse(val, CLI_ROSTER_VALIDITY_MAX, &v) || v == 0) {
			log_error("%s:%u: RosterValidity '%.100s' is not a duration (N, Ns, Nm, "
			    "Nh, Nd or Nw, more than 0, at most 10 years) nor 'none'", path, lineno,
			    val);
			return false;
		} else {
			st->roster_validity = (int64_t)v;
		}
	} else if (!strcasecmp(key, "BastionNode")) {
		if (!roster_name_valid(val)) {
			log_error("%s:%u: BastionNode '%.100s' is not a node name", path, lineno,
			    val);
			return false;
		}
		snprintf(st->bastion_node, sizeof(st->bastion_node), "%s", val);
	} else {
		log_error("%s:%u: unknown setting '%.100s' (AddressHold, LockTimeout, "
		    "BastionNode, RosterValidity)", path, lineno, key);
		return false;
	}
	return true;
}

bool cli_settings_load(struct cli_settings *st)
{
	char path[CLI_PATH_MAX], *buf = NULL, *line, *next;
	unsigned lineno = 0;
	bool ok = false, bad = false;
	size_t len;
	FILE *f;

	memset(st, 0, sizeof(*st));
	st->address_hold = CLI_ADDRESS_HOLD_DEFAULT;
	st->lock_timeout = CLI_LOCK_TIMEOUT_DEFAULT;
	st->roster_validity = CLI_ROSTER_VALIDITY_DEFAULT;
	if (!cli_path(path, CLI_SETTINGS))
		return false;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return true;
		log_error("%s: %s", path, strerror(errno));
		return false;
	}
	buf = malloc(SETTINGS_FILE_MAX + 1);
	if (!buf) {
		log_error("out of memory");
		goto out;
	}
	len = fread(buf, 1, SETTINGS_FILE_MAX + 1, f);
	if (ferror(f) || len > SETTINGS_FILE_MAX || memchr(buf, '\0', len)) {
		log_error("%s: %s", path, ferror(f) ? "read error" :
		    "not a settings file (too big or binary)");
		goto out;
	}
	buf[len] = '\0';
	for (line = buf; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		if (!line_apply(st, path, lineno, line))
			bad = true;	/* report them all */
	}
	ok = !bad;
out:
	free(buf);
	fclose(f);
	return ok;
}
