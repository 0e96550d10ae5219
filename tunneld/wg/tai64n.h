/* TAI64N timestamps for handshake initiations (WireGuard whitepaper 5.4.2). */
#ifndef TUNNELD_WG_TAI64N_H
#define TUNNELD_WG_TAI64N_H

#include <stdbool.h>
#include <stdint.h>

enum { TAI64N_LEN = 12 };

/* Big-endian TAI64 label (2^62 + 10 + seconds, the +10 being the TAI-UTC offset wireguard-go
 * uses) then big-endian nanoseconds.  Pure: the caller passes the wall clock (ns since the
 * Unix epoch).  Nanoseconds are rounded down to a multiple of 2^24 (~16.8 ms), as
 * wireguard-go does, so a timestamp does not leak the sender's fine-grained clock. */
void tai64n_from_wall_ns(uint8_t out[TAI64N_LEN], uint64_t wall_ns);
/* <0, 0, >0 as a is earlier, equal to, later than b (byte order is time order). */
int tai64n_compare(const uint8_t a[TAI64N_LEN], const uint8_t b[TAI64N_LEN]);
bool tai64n_is_after(const uint8_t a[TAI64N_LEN], const uint8_t b[TAI64N_LEN]);

#endif
