/* The network process's sandbox (OpenSSH's privsep child, OpenBSD's pledge): entered once,
 * at the end of bastion_open, when every privileged thing is open -- the listeners bound, the
 * host key read, the roster read and watched, the signal fd and the audit log open.  From then
 * on the process runs as the unprivileged User with no capability and no_new_privs, under a
 * seccomp allow-list of what the event loop needs; any other system call kills it
 * (SIGSYS, logged by the kernel's audit and by whoever waits for it: systemd, the shell). */
#ifndef BASTION_SANDBOX_H
#define BASTION_SANDBOX_H

#include <stddef.h>

/* The seccomp filter alone: an allow-list (memory, time, randomness, the poll loop's sockets,
 * opens for reading only -- the roster is re-read on change --, reaping our own children,
 * signals to ourselves, exit);
 * socket() only for AF_INET, AF_INET6 and AF_UNIX (syslog); ioctl() only FIONBIO, FIONREAD and
 * TCGETS.  Every other call, and an open for writing or creating, kills the process (execve,
 * fork, ptrace, bind, listen, setuid, chmod, unlink, rename, mount...).  The sanitizer build
 * (SANITIZE=1) also allows what the ASan/LSan runtimes need (docs/bastion.md, "Privilege
 * separation").  Installs on the calling thread with no_new_privs set; irreversible.  0 or a
 * negative errno with the reason in err. */
int sandbox_filter_install(char *err, size_t errlen);

/* Enters the sandbox: looks up user (a name, see privdrop.h), drops to it for good, then
 * installs the filter.  The one call that ends the privileged part of start-up.  0 or a
 * negative errno with the reason in err (the caller must then exit). */
int sandbox_enter(const char *user, char *err, size_t errlen);

#endif
