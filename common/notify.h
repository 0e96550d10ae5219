/* Readiness and state for the service manager (systemd's sd_notify protocol): tunneld and
 * the bastion say READY=1 once they serve, RELOADING=1 ... READY=1 around a reload,
 * STOPPING=1 when they stop, and a STATUS= line that `systemctl status` shows.  Outside
 * systemd ($NOTIFY_SOCKET unset) every call does nothing and succeeds.
 *
 * Each call opens a datagram socket (AF_UNIX), sends one message to $NOTIFY_SOCKET (a path,
 * or '@' for an abstract name) and closes it, as libsystemd's sd_notify does: no descriptor
 * is held, so the calls work after a privilege drop as long as the process may still create
 * an AF_UNIX socket and send on it (the bastion's seccomp filter allows both) and systemd
 * accepts the sender (NotifyAccess=main: the main process only).  Failures are logged once
 * per call and returned; a daemon goes on serving (systemd then times the start out, which
 * names the cause).
 *
 * The protocol is spoken here, not through libsystemd: systemd documents it as the stable
 * interface (sd_notify(3), "Standalone Implementations") and advises daemons that need only
 * this not to link the library.  libsystemd brought five more libraries (liblzma, libzstd,
 * liblz4, libgcrypt, libgpg-error) into both daemons, about 0.9 MiB of each one's RSS
 * (docs/performance-design.md, "Memory"). */
#ifndef COMMON_NOTIFY_H
#define COMMON_NOTIFY_H

/* READY=1 with STATUS=status (may be NULL).  0 or a negative errno. */
int notify_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload wants it; 252 ignores
 * it) and STATUS=status; follow with notify_ready once the reload is done. */
int notify_reloading(const char *status);

/* STOPPING=1 with STATUS=status. */
int notify_stopping(const char *status);

/* STATUS=status alone (a printf format: the line is cut at 256 bytes, control bytes
 * replaced by '?' so that no argument can add a field of its own). */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
