/* Pinning the bastion's host key for `keys ssh-config --bastion-host-key`: the bastion's public
 * host key file (ssh_host_ed25519_key.pub, one OpenSSH public key per line) becomes a
 * known_hosts file of lines "ALIAS TYPE BASE64", which the snippet names with UserKnownHostsFile
 * and HostKeyAlias ALIAS under StrictHostKeyChecking yes: an engineer's first connection is
 * verified against it, never trusted on first use, and a changed key is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli.h"

enum { HOST_KEY_FILE_MAX = 16384, HOST_KEYS_MAX = 8 };

/* Reads path (bounded, not blocking on a FIFO) into buf, NUL-terminated.  0 or -errno; -EFBIG
 * if larger than HOST_KEY_FILE_MAX. */
static int file_read(const char *path, char buf[HOST_KEY_FILE_MAX + 1], size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), ret = 0;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return -errno;
	while (*len <= HOST_KEY_FILE_MAX) {
		n = read(fd, buf + *len, HOST_KEY_FILE_MAX + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (*len > HOST_KEY_FILE_MAX)
		ret = -EFBIG;
	else
		buf[*len] = '\0';
out:
	close(fd);
	return ret;
}

/* "~/x" names $HOME/x on this machine (what ssh does with UserKnownHostsFile). */
static bool path_expand(const char *path, char out[CLI_PATH_MAX])
{
	const char *home = getenv("HOME");
	int n;

	if (strncmp(path, "~/", 2) != 0)
		n = snprintf(out, CLI_PATH_MAX, "%s", path);
	else if (!home || !*home)
		return false;
	else
		n = snprintf(out, CLI_PATH_MAX, "%s/%s", home, path + 2);
	return n > 0 && n < CLI_PATH_MAX;
}

int cli_known_hosts_write(const char *known_hosts, const char *alias, const char *key_file)
{
	char *buf = NULL, *line, *next, *out = NULL, why[128], path[CLI_PATH_MAX],
	    tmp[CLI_PATH_MAX] = "", fp[51];
	struct roster_ssh_key k;
	size_t len, out_len = 0, n_keys = 0;
	unsigned lineno = 0;
	int ret = -EINVAL;

	buf = malloc(HOST_KEY_FILE_MAX + 1);
	/* Each line of the output is no longer than its line of the input plus the alias. */
	out = malloc(HOST_KEY_FILE_MAX + HOST_KEYS_MAX * (ROSTER_NAME_MAX + 16) + 1);
	if (!buf || !out) {
		log_error("out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ret = file_read(key_file, buf, &len);
	if (ret < 0 || memchr(buf, '\0', len)) {
		log_error("--bastion-host-key %s: %s", key_file, ret == -EFBIG ? "larger than "
		    "16 KiB: not a public host key file" : ret < 0 ? strerror(-ret) :
		    "not a public host key file (NUL byte)");
		ret = ret < 0 ? ret : -EINVAL;
		goto out;
	}
	ret = -EINVAL;
	for (line = buf; line; line = next) {
		size_t l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		l = strlen(line);
		while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			line[--l] = '\0';
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		/* A private key has no "type base64" line: it is refused here, never copied. */
		if (!roster_ssh_key_parse(&k, line, why, sizeof(why))) {
			log_error("%s:%u: not an SSH public host key (\"type base64 [comment]\", as "
			    "in ssh_host_ed25519_key.pub): %s", key_file, lineno, why);
			goto out;
		}
		if (strncmp(k.type, "sk-", 3) == 0 || n_keys == HOST_KEYS_MAX) {
			log_error("%s:%u: %s", key_file, lineno, n_keys == HOST_KEYS_MAX ?
			    "more than 8 host keys" : "a FIDO (sk-) key is not a host key");
			roster_ssh_key_free(&k);
			goto out;
		}
		/* The comment (a user@host of the key's maker) is not part of the pin. */
		l = strcspn(line + strlen(k.type) + 1, " ");
		out_len += (size_t)sprintf(out + out_len, "%s %s %.*s\n", alias, k.type, (int)l,
		    line + strlen(k.type) + 1);
		roster_ssh_key_fingerprint(&k, fp);
		fprintf(stderr, "%s: pinned %s host key %s as %s in %s\n", cli_prog, k.type, fp,
		    alias, known_hosts);
		roster_ssh_key_free(&k);
		n_keys++;
	}
	if (!n_keys) {
		log_error("%s holds no SSH public host key", key_file);
		goto out;
	}
	if (!path_expand(known_hosts, path)) {
		log_error("--known-hosts %.200s: cannot expand ~ (HOME unset) or path too long",
		    known_hosts);
		goto out;
	}
	ret = cli_file_stage(path, out, out_len, 0644, tmp);
	if (ret == 0)
		ret = cli_file_commit(tmp, path);
	if (ret < 0)
		log_errno(LOG_LEVEL_ERROR, -ret, "cannot write %s", path);
out:
	free(buf);
	free(out);
	return ret;
}
