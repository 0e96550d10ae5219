/* A roster's expiry as the nodes and the bastion see it (docs/roster.md, "Expiry"): the state
 * at a moment of the holder's wall clock, its text for log lines and errors, and a tracker
 * that says when the state changed so that a daemon logs each change once. */
#include "keys/lib/roster_int.h"

#include <stdio.h>

enum roster_expiry roster_expiry_at(const struct roster *r, int64_t now, int64_t margin)
{
	if (!r->has_expires)
		return ROSTER_EXPIRY_NONE;
	if (now >= r->expires)
		return ROSTER_EXPIRY_EXPIRED;
	/* A roster valid for less than four margins would warn from the moment it is signed,
	 * and renewing would not stop it: warn in the last quarter of its life instead. */
	if (r->expires > r->issued && margin > (r->expires - r->issued) / 4)
		margin = (r->expires - r->issued) / 4;
	if (margin > 0 && now >= r->expires - margin)
		return ROSTER_EXPIRY_SOON;
	return ROSTER_EXPIRY_VALID;
}

void roster_expiry_text(char *out, const struct roster *r, int64_t now)
{
	char t[ROSTER_TIME_LEN + 1];
	int64_t left;

	out[0] = '\0';
	if (!r->has_expires)
		return;
	if (!roster_time_format(t, r->expires))
		snprintf(t, sizeof(t), "?");
	if (now >= r->expires) {
		snprintf(out, ROSTER_EXPIRY_TEXT_MAX, "expired at %s", t);
		return;
	}
	left = r->expires - now;
	if (left >= 86400)
		snprintf(out, ROSTER_EXPIRY_TEXT_MAX, "expires at %s (in %lldd%lldh)", t,
		    (long long)(left / 86400), (long long)(left % 86400 / 3600));
	else if (left >= 3600)
		snprintf(out, ROSTER_EXPIRY_TEXT_MAX, "expires at %s (in %lldh%lldm)", t,
		    (long long)(left / 3600), (long long)(left % 3600 / 60));
	else
		snprintf(out, ROSTER_EXPIRY_TEXT_MAX, "expires at %s (in %lldm%llds)", t,
		    (long long)(left / 60), (long long)(left % 60));
}

bool roster_expiry_track(struct roster_expiry_tracker *t, const struct roster *r, int64_t now,
    int64_t margin, enum roster_expiry *state)
{
	enum roster_expiry st = roster_expiry_at(r, now, margin);
	bool changed = !t->seen || t->serial != r->serial || t->state != st;

	t->seen = true;
	t->serial = r->serial;
	t->state = st;
	*state = st;
	return changed;
}

bool roster_time_from_text(int64_t *t, const char *s)
{
	return roster_time_parse(t, s);
}

void roster_time_text(char out[ROSTER_TIME_TEXT_LEN + 1], int64_t t)
{
	if (!roster_time_format(out, t))
		snprintf(out, ROSTER_TIME_TEXT_LEN + 1, "%s", t > 0 ? "never" : "the epoch");
}
