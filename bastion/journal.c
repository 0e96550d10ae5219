/* Audit hooks: session and jump fields into struct audit_event, then one message to the
 * auditor (bastion/auditor.h). */
#include "bastion/journal.h"

#include <errno.h>
#include <string.h>

#include "bastion/auditor.h"
#include "bastion/bastion.h"
#include "keys/lib/audit.h"

/* The network side's name for an event is the log's; the auditor takes only these. */
static enum auditor_event event_code(const char *event)
{
	enum auditor_event e;

	for (e = 0; e < AUDITOR_EV_COUNT; e++)
		if (!strcmp(auditor_event_name(e), event))
			break;
	return e;
}

/* Queued for the auditor; a dead auditor stops the bastion (auditor_process says so). */
static int append(struct bastion *b, const char *event, const struct audit_event *ev,
    unsigned flags, struct relay *r)
{
	enum auditor_event e = event_code(event);

	if (e == AUDITOR_EV_COUNT)
		return -EINVAL;
	return auditor_send(b, e, flags, ev, r);
}

static void session_fields(struct audit_event *ev, struct bsession *s)
{
	audit_event_init(ev);
	ev->session = s->id;
	ev->src = s->src;
	ev->src_port = s->src_port;
	if (s->engineer[0]) {
		ev->engineer = s->engineer;
		ev->fingerprint = s->fp;
	}
}

void journal_daemon(struct bastion *b, const char *event, int64_t serial, const char *reason)
{
	struct audit_event ev;

	audit_event_init(&ev);
	ev.serial = serial;
	ev.reason = reason;
	append(b, event, &ev, AUDITOR_F_DURABLE, NULL);
}

void journal_session(struct bsession *s, const char *event, const char *user, const char *fp,
    const char *reason)
{
	struct audit_event ev;

	session_fields(&ev, s);
	if (user)
		ev.engineer = user;
	if (fp)
		ev.fingerprint = fp;
	ev.reason = reason;
	append(s->b, event, &ev, 0, NULL);
}

void journal_cert_accept(struct bsession *s, uint64_t serial)
{
	struct audit_event ev;

	session_fields(&ev, s);
	ev.serial = serial > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)serial;
	append(s->b, "cert_accept", &ev, 0, NULL);
}

void journal_jump_deny(struct bsession *s, const char *target, const struct access_target *t,
    int port, const char *reason)
{
	struct audit_event ev;

	session_fields(&ev, s);
	ev.target = t ? t->name : target;
	ev.target_addr = t ? t->addr_str : NULL;
	ev.target_port = port;
	ev.reason = reason;
	append(s->b, "jump_deny", &ev, 0, NULL);
}

static void jump_fields(struct audit_event *ev, struct relay *r)
{
	session_fields(ev, r->s);
	ev->target = r->t.name;
	ev->target_addr = r->t.addr_str;
	ev->target_port = r->t.port;
}

int journal_jump_open(struct relay *r)
{
	struct audit_event ev;

	jump_fields(&ev, r);
	return append(r->s->b, "jump_open", &ev, AUDITOR_F_ACK, r);
}

void journal_jump_close(struct relay *r, uint64_t now_ns)
{
	struct audit_event ev;

	jump_fields(&ev, r);
	ev.reason = r->reason;
	ev.bytes_in = r->bytes_in;
	ev.bytes_out = r->bytes_out;
	ev.duration_ms = (int64_t)((now_ns - r->t_open_ns) / 1000000);
	append(r->s->b, "jump_close", &ev, 0, NULL);
}
