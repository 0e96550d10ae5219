/* Private to libkeys' roster files: the pieces parse, serialize and the helpers share.
 * Not an API: nothing outside keys/lib/roster*.c includes it. */
#ifndef KEYS_ROSTER_INT_H
#define KEYS_ROSTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/lib/roster.h"

enum { ROSTER_TIME_LEN = ROSTER_TIME_TEXT_LEN };	/* "2026-11-21T23:00:00Z" (roster.h) */

/* Ed25519 signature domains (docs/roster.md, "Signatures"). */
#define ROSTER_SIG_MAGIC "warren roster signature\n"
#define ROSTER_ENDORSE_MAGIC "warren admin endorsement\n"
enum { ROSTER_ENDORSE_VERSION = 1 };

bool roster_time_parse(int64_t *t, const char *s);
bool roster_time_format(char out[ROSTER_TIME_LEN + 1], int64_t t);
/* Decimal without leading zeros, at most max. */
bool roster_u64_parse(uint64_t *v, const char *s, uint64_t max);
/* "N" or "N-M" with 1 <= N < M <= 65535 (canonical: N-N is written N); star also takes "*". */
bool roster_ports_parse(uint16_t *lo, uint16_t *hi, const char *s, bool star);
int roster_prefix_cmp(const struct roster_prefix *a, const struct roster_prefix *b);
/* Whether a (a prefix) contains addr of the same family. */
bool roster_prefix_contains(const struct roster_prefix *p, int family, const uint8_t *addr);
bool roster_prefix_overlaps(const struct roster_prefix *a, const struct roster_prefix *b);
int roster_allow_cmp(const struct roster_allow *a, const struct roster_allow *b);
/* Writes "host:port" with brackets around IPv6 literals. */
void roster_endpoint_format(char *out, size_t outlen, const struct roster_endpoint *e);
/* Standard base64 with padding, strict (canonical, nothing after): true and *outlen. */
bool roster_b64_decode(uint8_t *out, size_t outmax, size_t *outlen, const char *s, size_t slen);
/* The body the admin signs, and the endorsement message; see roster_sign.c. */
void roster_sig_message(uint8_t msg[sizeof(ROSTER_SIG_MAGIC) - 1 + 4 + 64], unsigned version,
    const char *body, size_t len);
/* Body text without sorting (r must already be sorted); NULL if out of memory. */
char *roster_text_write(const struct roster *r, bool with_signature, size_t *len);

#endif
