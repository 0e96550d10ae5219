#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/threads.h"
#include "log.h"
#include "privilege.h"

bool privilege_user_lookup(const char *name, struct privilege_user *out, char *err,
    size_t errlen)
{
	struct passwd *pw;

	if (strlen(name) >= sizeof(out->name)) {
		snprintf(err, errlen, "user name '%.40s...' is too long", name);
		return false;
	}
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "no user '%.40s'%s%s", name, errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return false;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(err, errlen, "user '%.40s' has uid or gid 0: pick an unprivileged one",
		    name);
		return false;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	return true;
}

int privilege_socket_share(const char *dir, const char *sock, const struct privilege_user *user)
{
	struct stat st;
	int ret;

	if (lchown(sock, user->uid, user->gid) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot hand %s to user %s", sock, user->name);
		return ret;
	}
	if (stat(dir, &st) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "%s", dir);
		return ret;
	}
	/* Already writable for the user (a service manager made it so): leave it. */
	if (st.st_uid == user->uid ||
	    (st.st_gid == user->gid && (st.st_mode & (S_IWGRP | S_ISVTX)) == (S_IWGRP | S_ISVTX)))
		return 0;
	if (st.st_uid != 0) {
		log_error("%s is owned by uid %u, not root or %s: not changing it", dir,
		    (unsigned)st.st_uid, user->name);
		return -EPERM;
	}
	/* Sticky: the user may remove its own socket, never another daemon's. */
	if (chown(dir, 0, user->gid) < 0 ||
	    chmod(dir, (st.st_mode & 0755) | S_IWGRP | S_IXGRP | S_ISVTX) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot let group %u write %s", (unsigned)user->gid,
		    dir);
		return ret;
	}
	return 0;
}

static bool is_kept(int cap, bool keep_bind)
{
	return cap == CAP_NET_ADMIN || (keep_bind && cap == CAP_NET_BIND_SERVICE);
}

static int switch_user(const struct privilege_user *user)
{
	gid_t gid = user->gid;

	/* Keep the permitted set across setuid; capset below trims it. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(user->uid, user->uid, user->uid) < 0)
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	/* As OpenSSH's permanently_set_uid: make sure there is no way back. */
	if (getuid() != user->uid || geteuid() != user->uid || getgid() != gid ||
	    getegid() != gid || setuid(0) == 0 || setgid(0) == 0)
		return -EPERM;
	return 0;
}

int privilege_drop(const struct privilege_user *user, bool keep_bind)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	int cap, last = CAP_LAST_CAP, threads, ret;
	bool have;

	threads = threads_count_self();
	if (threads < 0) {
		log_errno(LOG_LEVEL_ERROR, threads, "cannot drop privileges: cannot count our "
		    "threads in /proc/self/status");
		return threads;
	}
	if (threads != 1) {
		log_error("cannot drop privileges: %d threads running, the others would keep them",
		    threads);
		return -EBUSY;
	}
	if (syscall(SYS_capget, &hdr, data) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot drop privileges: capget");
		return ret;
	}
	have = data[0].effective || data[1].effective || data[0].permitted || data[1].permitted;
	if (!have && user && getuid() != user->uid) {
		log_error("cannot switch to user %s: no privileges to do so", user->name);
		return -EPERM;
	}
	if (have) {
		/* The running kernel may know more capabilities than our headers. */
		while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
			last++;
		/* Shrinking the bounding set needs CAP_SETPCAP, which a service manager may have
		 * taken already (then it also shrank the set).  Without it the sets below plus
		 * no_new_privs still keep us from ever regaining anything. */
		for (cap = 0; cap <= last; cap++) {
			if (is_kept(cap, keep_bind) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
				log_debug("bounding set left as it is: %s", strerror(errno));
				break;
			}
		}
	}
	if (user && getuid() != user->uid) {
		ret = switch_user(user);
		if (ret < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "cannot switch to user %s (uid %u, gid %u)",
			    user->name, (unsigned)user->uid, (unsigned)user->gid);
			return ret;
		}
	}
	if (have) {
		for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
			data[i].effective = data[i].permitted = data[i].inheritable = 0;
		for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
			if (!is_kept(cap, keep_bind))
				continue;
			data[cap / 32].effective |= 1u << (cap % 32);
			data[cap / 32].permitted |= 1u << (cap % 32);
		}
		if (syscall(SYS_capset, &hdr, data) < 0) {
			ret = -errno;
			log_errno(LOG_LEVEL_ERROR, ret, "cannot drop capabilities");
			return ret;
		}
		/* Ambient capabilities (a service manager's AmbientCapabilities=) would pass to
		 * anything executed; the inheritable set is empty now, but say so explicitly. */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
			ret = -errno;
			log_errno(LOG_LEVEL_ERROR, ret, "cannot clear the ambient capabilities");
			return ret;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		log_errno(LOG_LEVEL_ERROR, ret, "cannot set no_new_privs");
		return ret;
	}
	if (have)
		log_info("privileges dropped: uid %u, gid %u, keeping CAP_NET_ADMIN%s",
		    (unsigned)getuid(), (unsigned)getgid(),
		    keep_bind ? " and CAP_NET_BIND_SERVICE" : "");
	else
		log_debug("no capabilities to drop (uid %u)", (unsigned)getuid());
	return 0;
}
