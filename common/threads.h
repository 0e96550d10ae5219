/* How many threads the calling process runs, from /proc/self/status.  Credentials and
 * capabilities are per thread: a privilege drop done while another thread runs leaves that
 * thread privileged, so tunneld's and the bastion's drops check this first.  Header-only, as
 * mem.h. */
#ifndef COMMON_THREADS_H
#define COMMON_THREADS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our thread count, or a negative errno when /proc/self/status cannot tell. */
static inline int threads_count_self(void)
{
	char line[128];
	int n = -EIO;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Threads:", 8) == 0) {
			n = (int)strtol(line + 8, NULL, 10);
			break;
		}
	}
	fclose(f);
	return n;
}

#endif
