/* What tunneld's metrics endpoint answers (docs/tunneld.md, "Metrics"): the device's
 * counters, every peer's traffic and latest handshake, the running roster, in the Prometheus
 * text format.  Pure: reads the device and the roster, no I/O, so that a unit test drives it. */
#ifndef TUNNELD_METRICS_PAGE_H
#define TUNNELD_METRICS_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/prom.h"

struct device;
struct roster_sync;

/* The value of the label reason="..." for each engine drop reason (WG_DROP_*); static. */
const char *metrics_drop_reason_name(unsigned reason);

/* Writes the whole page to w.  rs: the roster mode's state (peers then carry their node's name,
 * and the roster's serial and issue time are given), or NULL.  now_ns is CLOCK_MONOTONIC (the
 * engine's load state). */
void metrics_page_write(struct prom_writer *w, const struct device *dev,
    const struct roster_sync *rs, uint64_t now_ns);

/* The policy section: whether the roster's policy is in force and the packets each drop rule
 * of it dropped (rule: "deny ... " as in the roster, or "default deny"), d[0..n). */
struct metrics_policy_drop {
	const char *rule;	/* borrowed */
	uint64_t packets;
};
void metrics_policy_write(struct prom_writer *w, bool applied,
    const struct metrics_policy_drop *d, size_t n);

#endif
