#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "privilege.h"

static const int kept[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE };

static bool is_kept(int cap)
{
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		if (kept[i] == cap)
			return true;
	}
	return false;
}

int privilege_drop(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	int cap, last = CAP_LAST_CAP;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	if (!data[0].effective && !data[1].effective)
		return 0;
	/* The running kernel may know more capabilities than our headers. */
	while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
		last++;
	/* Shrinking the bounding set needs CAP_SETPCAP, which a service manager may have taken
	 * already (then it also shrank the set).  Without it the effective and permitted sets
	 * below plus no_new_privs still keep us from ever regaining anything. */
	for (cap = 0; cap <= last; cap++) {
		if (is_kept(cap) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			log_debug("bounding set left as it is: %s", strerror(errno));
			break;
		}
	}
	for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].effective = data[i].permitted = data[i].inheritable = 0;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		data[kept[i] / 32].effective |= 1u << (kept[i] % 32);
		data[kept[i] / 32].permitted |= 1u << (kept[i] % 32);
	}
	if (syscall(SYS_capset, &hdr, data) < 0) {
		log_errno(LOG_LEVEL_ERROR, errno, "cannot drop capabilities");
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_errno(LOG_LEVEL_ERROR, errno, "cannot set no_new_privs");
		return -errno;
	}
	log_debug("privileges dropped: keeping CAP_NET_ADMIN and CAP_NET_BIND_SERVICE");
	return 0;
}
