/* Checks on engineers that the roster format cannot make: a name that is a system account,
 * and one SSH key given to two engineers (which the format refuses too, but only as "duplicate
 * SSH key" at a line of a roster the admin never sees). */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "keys/cli.h"

/* /etc/login.defs' UID_MIN: below it, accounts are the system's.  Debian's default. */
enum { UID_MIN_DEFAULT = 1000, NOBODY_UID = 65534 };

static unsigned long uid_min(void)
{
	unsigned long v = UID_MIN_DEFAULT, x;
	char line[256], *p, *end;
	FILE *f = fopen("/etc/login.defs", "re");

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " \t");
		if (strncmp(p, "UID_MIN", 7) != 0 || (p[7] != ' ' && p[7] != '\t'))
			continue;
		p += 7 + strspn(p + 7, " \t");
		errno = 0;
		x = strtoul(p, &end, 10);
		if (!errno && end != p && (*end == '\n' || *end == '\0' || *end == ' ') &&
		    x > 0 && x < NOBODY_UID)
			v = x;
	}
	fclose(f);
	return v;
}

bool cli_engineer_name_check(const char *name, bool force)
{
	struct passwd *pw;
	char why[128] = "";

	if (roster_engineer_name_reserved(name)) {
		snprintf(why, sizeof(why), "a system account on every node");
	} else {
		errno = 0;
		pw = getpwnam(name);
		if (pw && (pw->pw_uid < uid_min() || pw->pw_uid == NOBODY_UID))
			snprintf(why, sizeof(why), "a system account here (uid %lu, below "
			    "UID_MIN %lu)", (unsigned long)pw->pw_uid, uid_min());
	}
	if (!why[0])
		return true;
	if (force) {
		log_warn("engineer '%s' is %s: they log in to the nodes as that account", name,
		    why);
		return true;
	}
	log_error("engineer name '%s' is %s: they would log in to the nodes as that account "
	    "(keys authorized-keys %s); choose the person's own name, or --force", name, why,
	    name);
	return false;
}

static bool key_eq(const struct roster_ssh_key *a, const struct roster_ssh_key *b)
{
	return a->blob_len == b->blob_len && memcmp(a->blob, b->blob, a->blob_len) == 0;
}

const char *cli_ssh_key_holder(const struct roster *r, const struct roster_ssh_key *k,
    const char *name)
{
	size_t i, j;

	for (i = 0; i < r->n_engineers; i++) {
		const struct roster_engineer *o = &r->engineers[i];

		if (strcmp(o->name, name) == 0)
			continue;
		for (j = 0; j < o->n_ssh_keys; j++)
			if (key_eq(k, &o->ssh_keys[j]))
				return o->name;
	}
	return NULL;
}

bool cli_ssh_keys_unique(const struct roster *r, const struct roster_engineer *e)
{
	const char *holder;
	char fp[51];
	size_t j, k;
	bool ok = true;

	for (k = 0; k < e->n_ssh_keys; k++) {
		holder = cli_ssh_key_holder(r, &e->ssh_keys[k], e->name);
		if (holder) {
			roster_ssh_key_fingerprint(&e->ssh_keys[k], fp);
			log_error("SSH key %s %s is already engineer %s's: one key is one "
			    "person (the audit log names the engineer by key)",
			    e->ssh_keys[k].type, fp, holder);
			ok = false;
		}
		for (j = 0; j < k; j++)
			if (key_eq(&e->ssh_keys[k], &e->ssh_keys[j])) {
				roster_ssh_key_fingerprint(&e->ssh_keys[k], fp);
				log_error("SSH key %s given twice for engineer %s", fp, e->name);
				ok = false;
			}
	}
	return ok;
}
