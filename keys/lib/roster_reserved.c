/* Engineer names that are system accounts.  An engineer's name is the login name on every node
 * (`keys authorized-keys USER` lets the engineer's keys in as USER), so an engineer called
 * "root" or "daemon" logs in as that account everywhere.  This list is what Debian's base-passwd
 * and the usual services create on any node, whatever the admin machine's own /etc/passwd
 * holds (keys also checks that: cmd_engineer_guard.c). */
#include "keys/lib/roster_int.h"

#include <string.h>

static const char *const reserved[] = {
	"root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
	"proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "nogroup", "adm",
	"operator", "halt", "shutdown", "messagebus", "sshd", "polkitd", "postfix", "ntp",
	"chrony", "tss", "tcpdump", "dnsmasq", "avahi", "statd", "tunneld", "bastion", "warren",
};

bool roster_engineer_name_reserved(const char *name)
{
	size_t i;

	/* systemd-network, systemd-timesync, ...; names starting with '_' cannot be roster
	 * names at all. */
	if (strncmp(name, "systemd-", 8) == 0)
		return true;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(name, reserved[i]) == 0)
			return true;
	return false;
}
