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

# python3 is Debian's, the one make deps installs the tests' modules for (python3-asyncssh...),
# also where PATH names another first: a version manager's shim there (pyenv's: a bash script
# that runs pyenv, which runs its own python) cost 0.5 s of CPU per call against 0.04 s, and
# a test may call it dozens of times (test_fleet_status: 11 CPU-seconds, then 6).
if [ -x /usr/bin/python3 ]; then
	_py=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/debian-python
	case $(command -v python3) in
	/usr/bin/python3 | "$_py/python3") ;;
	*) export PATH="$_py:$PATH" ;;
	esac
	unset _py
fi
