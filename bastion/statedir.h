/* The bastion's own directories outside systemd.  bastion.service has systemd create them
 * (StateDirectory=warren/bastion, LogsDirectory=warren, both 0700); started by hand or by
 * another init, the bastion creates the directory that holds each of its files -- the host
 * key, the audit key, the audit log -- when it is missing, as root and 0700, before anything
 * is opened.  Only that last directory: a missing parent (/var/lib/warren, which tunneld and
 * `make install` own, 0711) is an error naming it, not something to guess the mode of. */
#ifndef BASTION_STATEDIR_H
#define BASTION_STATEDIR_H

#include <stddef.h>

/* Makes sure the directory holding file exists: creates it (mode 0700) if missing.  0, or a
 * negative errno with "PATH: why" in err (a missing parent, something not a directory in its
 * place, mkdir's own error). */
int statedir_ensure(const char *file, char *err, size_t errlen);

#endif
