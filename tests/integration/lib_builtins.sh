# shellcheck shell=bash
# Sourced by run-all.sh and lib.sh.  sleep, basename and dirname as bash builtins (Debian's
# bash-builtins, which make deps installs): the tests' polling loops (run-all's watchdog,
# wait_until, pids_wait_exit) no longer fork and exec a program ten times a second each.  On
# this machine a fork of a test's shell costs milliseconds of kernel time, and four tests at a
# time kept both cores busy with it.  Without the package they stay programs, only slower.
for _b in sleep basename dirname; do
	enable -f "/usr/lib/bash/$_b" "$_b" 2>/dev/null || true
done
unset _b
