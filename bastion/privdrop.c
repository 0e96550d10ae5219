/* Dropping root for good: see privdrop.h. */
#include "bastion/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/threads.h"

bool privdrop_user_lookup(const char *name, struct privdrop_user *out, char *err,
    size_t errlen)
{
	struct passwd *pw;

	if (strlen(name) >= sizeof(out->name)) {
		snprintf(err, errlen, "User: name '%.40s...' is too long", name);
		return false;
	}
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "User: no user '%s'%s%s (make install creates 'bastion')", name,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		endpwent();
		return false;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "User: '%s' has uid or gid 0: pick an unprivileged user", name);
		endpwent();
		return false;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	endpwent();
	return true;
}

/* Empties the bounding set as far as CAP_SETPCAP allows: a service manager that took
 * CAP_SETPCAP already shrank it, and the empty permitted set plus no_new_privs keep us from
 * ever regaining anything either way. */
static void bounding_set_clear(void)
{
	int cap, in;

	/* Up to the last capability the running kernel knows (it may know more than our
	 * headers). */
	for (cap = 0; (in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0; cap++)
		if (in == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return;
}

int privdrop_apply(const struct privdrop_user *user, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int threads, ret;

	threads = threads_count_self();
	if (threads != 1) {
		snprintf(err, errlen, "cannot drop privileges: %s",
		    threads < 0 ? "cannot count our threads in /proc/self/status" :
		    "more than one thread (the others would keep root)");
		return threads < 0 ? threads : -EBUSY;
	}
	if (getuid() != user->uid || geteuid() != user->uid) {
		bounding_set_clear();
		if (setgroups(0, NULL) < 0 || setresgid(user->gid, user->gid, user->gid) < 0 ||
		    setresuid(user->uid, user->uid, user->uid) < 0) {
			ret = -errno;
			snprintf(err, errlen, "cannot switch to user %s (uid %u, gid %u): %s",
			    user->name, (unsigned)user->uid, (unsigned)user->gid, strerror(errno));
			return ret;
		}
	}
	/* As OpenSSH's permanently_set_uid: make sure there is no way back. */
	if (getuid() != user->uid || geteuid() != user->uid || getgid() != user->gid ||
	    getegid() != user->gid || setuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "still able to regain root after switching to user %s",
		    user->name);
		return -EPERM;
	}
	/* A uid change from 0 clears the effective and permitted sets; a process started as the
	 * user with ambient or file capabilities keeps them, so clear them all explicitly. */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot clear the capabilities: %s", strerror(errno));
		return ret;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		ret = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return ret;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return ret;
	}
	return 0;
}
