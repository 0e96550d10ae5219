/* Encoding and (hostile-input) decoding of the auditor's messages: bastion/auditor_proto.h. */
#include "bastion/auditor_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Field bits for the fields-an-event-carries check: the 7 strings, then the numbers. */
enum {
	F_SESSION = 1 << 0, F_ENGINEER = 1 << 1, F_FP = 1 << 2, F_SRC = 1 << 3,
	F_TARGET = 1 << 4, F_TARGET_ADDR = 1 << 5, F_REASON = 1 << 6, F_SRC_PORT = 1 << 7,
	F_TARGET_PORT = 1 << 8, F_BYTES_IN = 1 << 9, F_BYTES_OUT = 1 << 10,
	F_DURATION = 1 << 11, F_SERIAL = 1 << 12,
	F_WHO = F_SESSION | F_ENGINEER | F_FP | F_SRC | F_SRC_PORT,
	F_JUMP = F_WHO | F_TARGET | F_TARGET_ADDR | F_TARGET_PORT,
};

static const struct {
	const char *name;
	unsigned fields;
} events[AUDITOR_EV_COUNT] = {
	[AUDITOR_EV_START] = { "start", F_SERIAL },
	[AUDITOR_EV_STOP] = { "stop", F_REASON },
	[AUDITOR_EV_CONFIG_RELOAD] = { "config_reload", F_SERIAL },
	[AUDITOR_EV_AUTH_ACCEPT] = { "auth_accept", F_WHO },
	[AUDITOR_EV_AUTH_REJECT] = { "auth_reject", F_WHO | F_REASON },
	[AUDITOR_EV_SESSION_DENY] = { "session_deny", F_WHO | F_REASON },
	[AUDITOR_EV_JUMP_OPEN] = { "jump_open", F_JUMP },
	[AUDITOR_EV_JUMP_DENY] = { "jump_deny", F_JUMP | F_REASON },
	[AUDITOR_EV_JUMP_CLOSE] = { "jump_close", F_JUMP | F_REASON | F_BYTES_IN | F_BYTES_OUT |
	    F_DURATION },
	[AUDITOR_EV_CERT_ACCEPT] = { "cert_accept", F_WHO | F_SERIAL },
};

const char *auditor_event_name(enum auditor_event e)
{
	return (unsigned)e < AUDITOR_EV_COUNT ? events[e].name : NULL;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put_hdr(uint8_t *out, size_t len, enum auditor_msg_type type, unsigned event,
    unsigned flags)
{
	put32(out, (uint32_t)len);
	out[4] = (uint8_t)type;
	out[5] = (uint8_t)event;
	out[6] = (uint8_t)flags;
	out[7] = 0;
}

size_t auditor_msg_len(const uint8_t hdr[AUDITOR_HDR_LEN])
{
	return get32(hdr);
}

/* The strings of an event, in wire order. */
static const char **str_at(struct audit_event *ev, unsigned i)
{
	const char **slots[AUDITOR_STRINGS] = { &ev->session, &ev->engineer, &ev->fingerprint,
		&ev->src, &ev->target, &ev->target_addr, &ev->reason };

	return slots[i];
}

size_t auditor_event_encode(uint8_t out[AUDITOR_MSG_MAX], uint64_t id, enum auditor_event e,
    unsigned flags, const struct audit_event *ev)
{
	struct audit_event copy = *ev;
	size_t n = AUDITOR_HDR_LEN, sl;
	const char *s;
	unsigned i;

	put64(out + n, id);
	n += 8;
	for (i = 0; i < AUDITOR_STRINGS; i++) {
		s = *str_at(&copy, i);
		if (!s) {
			put16(out + n, AUDITOR_STR_NULL);
			n += 2;
			continue;
		}
		sl = strnlen(s, AUDIT_FIELD_MAX);
		put16(out + n, (uint16_t)sl);
		memcpy(out + n + 2, s, sl);
		n += 2 + sl;
	}
	put32(out + n, (uint32_t)(int32_t)ev->src_port);
	put32(out + n + 4, (uint32_t)(int32_t)ev->target_port);
	n += 8;
	put64(out + n, (uint64_t)ev->bytes_in);
	put64(out + n + 8, (uint64_t)ev->bytes_out);
	put64(out + n + 16, (uint64_t)ev->duration_ms);
	put64(out + n + 24, (uint64_t)ev->serial);
	n += 32;
	put_hdr(out, n, AUDITOR_MSG_EVENT, e, flags);
	return n;
}

static bool bad(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s", what);
	return false;
}

bool auditor_event_decode(const uint8_t *msg, size_t len, struct auditor_event_msg *out,
    char *why, size_t whylen)
{
	int64_t nums[4], *slots[4];
	char *st = out->storage;
	unsigned fields, i;
	size_t n, sl;
	int32_t port;
	uint16_t l16;

	/* Exact length first, then the cheap header checks. */
	if (len < AUDITOR_HDR_LEN + 8 || len > AUDITOR_MSG_MAX || get32(msg) != len)
		return bad(why, whylen, "bad message length");
	if (msg[4] != AUDITOR_MSG_EVENT || msg[7] != 0)
		return bad(why, whylen, "not an event message");
	if (msg[5] >= AUDITOR_EV_COUNT)
		return bad(why, whylen, "unknown event");
	if (msg[6] & ~(AUDITOR_F_DURABLE | AUDITOR_F_ACK))
		return bad(why, whylen, "unknown flags");
	memset(out, 0, offsetof(struct auditor_event_msg, storage));
	audit_event_init(&out->ev);
	out->event = msg[5];
	out->flags = msg[6];
	if (out->flags & AUDITOR_F_ACK)
		out->flags |= AUDITOR_F_DURABLE;
	fields = events[out->event].fields;
	n = AUDITOR_HDR_LEN;
	out->id = get64(msg + n);
	n += 8;
	for (i = 0; i < AUDITOR_STRINGS; i++) {
		if (len - n < 2)
			return bad(why, whylen, "truncated string length");
		l16 = get16(msg + n);
		n += 2;
		if (l16 == AUDITOR_STR_NULL)
			continue;
		if (!(fields & (1u << i)))
			return bad(why, whylen, "a field the event does not carry");
		if (l16 > AUDIT_FIELD_MAX || len - n < l16)
			return bad(why, whylen, "string too long or truncated");
		if (memchr(msg + n, '\0', l16))
			return bad(why, whylen, "NUL byte in a string");
		sl = l16;
		memcpy(st, msg + n, sl);
		st[sl] = '\0';
		*str_at(&out->ev, i) = st;
		st += sl + 1;
		n += sl;
	}
	if (len - n != 8 + 32)
		return bad(why, whylen, "bad length of the numbers");
	for (i = 0; i < 2; i++) {
		port = (int32_t)get32(msg + n + 4 * i);
		if (port < -1 || port > 65535)
			return bad(why, whylen, "port out of range");
		if (port != -1 && !(fields & (i ? F_TARGET_PORT : F_SRC_PORT)))
			return bad(why, whylen, "a field the event does not carry");
		*(i ? &out->ev.target_port : &out->ev.src_port) = port;
	}
	n += 8;
	slots[0] = &out->ev.bytes_in;
	slots[1] = &out->ev.bytes_out;
	slots[2] = &out->ev.duration_ms;
	slots[3] = &out->ev.serial;
	for (i = 0; i < 4; i++) {
		nums[i] = (int64_t)get64(msg + n + 8 * i);
		if (nums[i] < -1)
			return bad(why, whylen, "negative number");
		if (nums[i] != -1 && !(fields & (F_BYTES_IN << i)))
			return bad(why, whylen, "a field the event does not carry");
		*slots[i] = nums[i];
	}
	return true;
}

size_t auditor_ack_encode(uint8_t out[AUDITOR_ACK_LEN], uint64_t id, int status)
{
	put_hdr(out, AUDITOR_ACK_LEN, AUDITOR_MSG_ACK, 0, 0);
	put64(out + AUDITOR_HDR_LEN, id);
	put32(out + AUDITOR_HDR_LEN + 8, (uint32_t)status);
	return AUDITOR_ACK_LEN;
}

size_t auditor_status_encode(uint8_t out[AUDITOR_STATUS_LEN], bool writable)
{
	put_hdr(out, AUDITOR_STATUS_LEN, AUDITOR_MSG_STATUS, 0, writable);
	return AUDITOR_STATUS_LEN;
}

size_t auditor_ready_encode(uint8_t out[AUDITOR_READY_MAX], int status, const char *err)
{
	size_t el = strnlen(err, AUDITOR_READY_MAX - AUDITOR_HDR_LEN - 4);

	put32(out + AUDITOR_HDR_LEN, (uint32_t)status);
	memcpy(out + AUDITOR_HDR_LEN + 4, err, el);
	put_hdr(out, AUDITOR_HDR_LEN + 4 + el, AUDITOR_MSG_READY, 0, 0);
	return AUDITOR_HDR_LEN + 4 + el;
}

bool auditor_reply_decode(const uint8_t *msg, size_t len, enum auditor_msg_type *type,
    uint64_t *id, int *status, bool *writable, char *err, size_t errlen)
{
	size_t el;

	if (len < AUDITOR_HDR_LEN || get32(msg) != len)
		return false;
	*type = msg[4];
	switch (msg[4]) {
	case AUDITOR_MSG_ACK:
		if (len != AUDITOR_ACK_LEN)
			return false;
		*id = get64(msg + AUDITOR_HDR_LEN);
		*status = (int32_t)get32(msg + AUDITOR_HDR_LEN + 8);
		return *status <= 0;
	case AUDITOR_MSG_STATUS:
		if (len != AUDITOR_STATUS_LEN)
			return false;
		*writable = msg[6] != 0;
		return true;
	case AUDITOR_MSG_READY:
		if (len < AUDITOR_HDR_LEN + 4 || len > AUDITOR_READY_MAX)
			return false;
		*status = (int32_t)get32(msg + AUDITOR_HDR_LEN);
		el = len - AUDITOR_HDR_LEN - 4;
		if (el >= errlen)
			el = errlen - 1;
		memcpy(err, msg + AUDITOR_HDR_LEN + 4, el);
		err[el] = '\0';
		return *status <= 0;
	default:
		return false;
	}
}
