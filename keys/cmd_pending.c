/* Whether the working roster holds changes no publish has signed yet.  `keys engineer remove`
 * followed by `keys push` without `keys publish` pushes the old roster, which keeps the
 * engineer's access while looking done: push and list say so, and publish with nothing to
 * sign says that instead of making a new serial. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys/cli.h"

bool cli_roster_unpublished(struct roster *work, struct roster *pub, bool *pending)
{
	char *a, *b;
	size_t la, lb;

	/* publish writes the working roster with the serial and time it signed, so "nothing
	 * changed" is exactly "the same canonical body". */
	a = roster_serialize(work, false, &la);
	b = roster_serialize(pub, false, &lb);
	if (!a || !b) {
		free(a);
		free(b);
		log_error("out of memory");
		return false;
	}
	*pending = la != lb || memcmp(a, b, la) != 0;
	free(a);
	free(b);
	return true;
}

void cli_unpublished_warn(struct roster *pub, const char *doing)
{
	struct roster work;
	bool pending = false;

	roster_init(&work);
	/* A directory without a working roster has nothing unpublished to warn about; the
	 * command itself reports what it needs. */
	if (cli_roster_load_working(&work) && cli_roster_unpublished(&work, pub, &pending) &&
	    pending)
		log_warn("working roster has unpublished changes (keys diff); %s serial %llu",
		    doing, (unsigned long long)pub->serial);
	roster_free(&work);
}

void cli_expiry_warn(const struct roster *pub)
{
	char text[ROSTER_EXPIRY_TEXT_MAX];
	struct cli_settings st;
	int64_t now = (int64_t)time(NULL);

	/* Published before expiry existed, or with --valid none although the directory wants
	 * one: a node held back from newer rosters would keep it for good. */
	if (!pub->has_expires) {
		if (cli_settings_load(&st) && st.roster_validity > 0)
			log_warn("published roster serial %llu never expires: renew it with an "
			    "expiry (keys publish --renew, then keys push)",
			    (unsigned long long)pub->serial);
		return;
	}
	if (roster_expiry_at(pub, now, CLI_EXPIRY_WARNING) != ROSTER_EXPIRY_SOON)
		return;
	roster_expiry_text(text, pub, now);
	log_warn("published roster serial %llu %s: renew it (keys publish --renew, then keys "
	    "push)", (unsigned long long)pub->serial, text);
}
