/* Running a helper program (scp, ssh) with a deadline and its output captured: what keys push
 * needs to talk to hosts it does not trust.  The child gets /dev/null as stdin and a process
 * group of its own, so that a deadline ends it and everything it started (scp's ssh). */
#ifndef KEYS_PROC_H
#define KEYS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept of each stream: the first of stdout (a short answer is expected), the last of
 * stderr (where a failing program says why, at the end). */
enum { PROC_OUT_MAX = 4096, PROC_ERR_MAX = 4096 };

struct proc_result {
	int status;		/* exit status; 128 + signal if killed; meaningless if timed_out */
	bool timed_out;		/* the deadline passed: the child's group was killed */
	char out[PROC_OUT_MAX];	/* stdout, NUL-terminated, cut at PROC_OUT_MAX - 1 bytes */
	char err[PROC_ERR_MAX];	/* the last PROC_ERR_MAX - 1 bytes of stderr, NUL-terminated */
};

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t proc_now_ms(void);

/* Runs argv (execvp) until it exits or deadline_ms (proc_now_ms time) passes, filling res.
 * 0 (res->status or res->timed_out say how it ended) or -errno if it could not be started
 * (127 is the status of a program that was not found). */
int proc_run(char *const argv[], int64_t deadline_ms, struct proc_result *res);

/* Kills (SIGKILL) the process group of the program proc_run is running now, if any.
 * Async-signal-safe: for a SIGTERM handler, so that a process killed while it waits leaves
 * nothing behind (the children are not in its process group). */
void proc_kill_running(void);

#endif
