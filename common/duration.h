/* Durations in configuration files and on command lines, as OpenSSH's sshd_config writes a
 * time: a decimal number of seconds, or a number with one unit, s (seconds), m (minutes),
 * h (hours), d (days) or w (weeks): "30", "90s", "15m", "8h", "30d", "2w".  No sign, no
 * leading '+', no space, no combinations ("1h30m" is refused: write "90m"). */
#ifndef COMMON_DURATION_H
#define COMMON_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* Parses s into *out seconds.  false (and *out untouched) if s is not a duration as above or
 * is more than max seconds. */
bool duration_parse(const char *s, uint64_t max, uint64_t *out);

#endif
