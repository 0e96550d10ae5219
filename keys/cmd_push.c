/* keys push: copies roster.signed to nodes, one host after the other, never through a local
 * shell: scp to a temporary name beside the target, then `ssh host mv` renames it into place,
 * so the node's tunneld (which picks the file up at Roster + ".new" and gossips it on) never
 * sees a half-written file. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keys/cli.h"

/* Fixed part of the scp/ssh command line: program, -q, two -o pairs, "--", host or source,
 * and up to six words of the remote command or the target, NULL. */
enum { SCP_FIXED_ARGS = 14 };

static int usage_error(void)
{
	cli_command_usage(stderr, "push");
	return EXIT_USAGE;
}

static bool chars_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* [user@]host or [user@][v6]: nothing scp or ssh could read as an option or a second path. */
static bool host_valid(const char *h)
{
	const char *at = strchr(h, '@'), *host = at ? at + 1 : h;

	if (!*h || *h == '-' || strlen(h) > 255 || (at && (at == h || strchr(host, '@'))))
		return false;
	if (at) {
		char user[256];

		memcpy(user, h, (size_t)(at - h));
		user[at - h] = '\0';
		if (!chars_in(user, "._-"))
			return false;
	}
	if (*host == '[') {
		size_t len = strlen(host);

		return len > 2 && host[len - 1] == ']' && strspn(host + 1, "0123456789abcdefABCDEF:.")
		    == len - 2;
	}
	return *host && *host != '-' && chars_in(host, ".-");
}

/* The remote path is read by the remote side (a shell, for legacy scp): plain characters only. */
static bool remote_path_valid(const char *p)
{
	return p[0] == '/' && strlen(p) < 1024 && chars_in(p, "/._+-") && !strstr(p, "..");
}

/* An ssh -o option: Key=Value, no leading dash, no spaces or control characters. */
static bool ssh_option_valid(const char *o)
{
	const char *eq = strchr(o, '=');

	return eq && eq != o && *o != '-' && chars_in(o, "=._-,:/@+%");
}

/* Runs argv, returns its exit status (or 128 + signal, or 127 if it cannot run). */
static int run(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		log_error("cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* program -q -o BatchMode=yes -o ConnectTimeout=10 [-o OPT]... -- into cmd; returns the
 * next free index. */
static size_t ssh_argv(char **cmd, const char *prog, const char **ssh_opts, size_t n_opts)
{
	size_t k = 0;

	cmd[k++] = (char *)prog;
	cmd[k++] = (char *)"-q";
	cmd[k++] = (char *)"-o";
	cmd[k++] = (char *)"BatchMode=yes";	/* never wait for a password prompt */
	cmd[k++] = (char *)"-o";
	cmd[k++] = (char *)"ConnectTimeout=10";
	for (size_t i = 0; i < n_opts; i++) {
		cmd[k++] = (char *)"-o";
		cmd[k++] = (char *)ssh_opts[i];
	}
	cmd[k++] = (char *)"--";
	return k;
}

int cmd_push(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "remote-path", required_argument, NULL, 'p' },
		{ "ssh-option", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[CLI_PATH_MAX], local[PATH_MAX], target[1400], tmp[1100];
	const char *slash, *what;
	const char *remote = CLI_NODE_ROSTER_NEW;
	const char **ssh_opts = NULL;
	char **cmd = NULL;
	size_t n_opts = 0, i, k, failed = 0;
	struct roster r;
	int c, ret = EXIT_FAIL, st;

	roster_init(&r);
	ssh_opts = calloc((size_t)argc, sizeof(*ssh_opts));
	cmd = calloc((size_t)argc * 2 + SCP_FIXED_ARGS, sizeof(*cmd));
	if (!ssh_opts || !cmd) {
		log_error("out of memory");
		goto out;
	}
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		switch (c) {
		case 'p':
			remote = optarg;
			break;
		case 'o':
			ssh_opts[n_opts++] = optarg;
			break;
		case 'h':
			cli_command_usage(stdout, "push");
			ret = EXIT_OK;
			goto out;
		default:
			ret = usage_error();
			goto out;
		}
	}
	if (optind >= argc) {
		ret = usage_error();
		goto out;
	}
	/* Every argument checked before the first copy. */
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (!host_valid(argv[i])) {
			log_error("invalid host '%.100s' ([user@]host or "
			    "[user@][ipv6])", argv[i]);
			goto out;
		}
	if (!remote_path_valid(remote)) {
		log_error("--remote-path '%.100s' must be an absolute path of letters, "
		    "digits and /._+-", remote);
		goto out;
	}
	for (i = 0; i < n_opts; i++)
		if (!ssh_option_valid(ssh_opts[i])) {
			log_error("--ssh-option '%.100s' is not Key=Value",
			    ssh_opts[i]);
			goto out;
		}
	/* Only a roster that parses and is signed goes out; the nodes check the rest. */
	if (!cli_roster_load_signed(&r))
		goto out;
	if (!r.has_signature) {
		log_error("%s/%s is not signed; run 'keys publish'", cli_dir,
		    CLI_ROSTER_SIGNED);
		goto out;
	}
	cli_unpublished_warn(&r, "pushing");
	/* Absolute, so scp never reads a ':' in the directory name as host:path. */
	if (!cli_path(path, CLI_ROSTER_SIGNED) || !realpath(path, local)) {
		log_error("%s: %s", path, strerror(errno));
		goto out;
	}

	/* The temporary name: same directory (rename is atomic only there), dot-prefixed so
	 * nothing watching for the target's name takes it, unique per push. */
	slash = strrchr(remote, '/');
	snprintf(tmp, sizeof(tmp), "%.*s.%s.push-%ld", (int)(slash - remote + 1), remote,
	    slash + 1, (long)getpid());
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		k = ssh_argv(cmd, "scp", ssh_opts, n_opts);
		snprintf(target, sizeof(target), "%s:%s", argv[i], tmp);
		cmd[k++] = local;
		cmd[k++] = target;
		cmd[k] = NULL;
		st = run(cmd);
		what = "scp";
		if (st == 0) {
			/* The remote side runs this through its shell: plain characters only
			 * (remote_path_valid), so nothing in it is interpreted. */
			k = ssh_argv(cmd, "ssh", ssh_opts, n_opts);
			cmd[k++] = argv[i];
			cmd[k++] = (char *)"mv";
			/* -T: a directory at the target is an error, not a place to move the
			 * roster into, where tunneld would never see it. */
			cmd[k++] = (char *)"-fT";
			cmd[k++] = (char *)"--";
			cmd[k++] = tmp;
			cmd[k++] = (char *)remote;
			cmd[k] = NULL;
			st = run(cmd);
			what = "ssh mv";
		}
		if (st == 0) {
			printf("%s: ok (serial %llu)\n", argv[i], (unsigned long long)r.serial);
			continue;
		}
		failed++;
		if (st < 0)
			log_error("%s: failed: %s", argv[i], strerror(-st));
		else
			log_error("%s: failed (%s exit %d)", argv[i], what, st);
	}
	fflush(stdout);
	if (failed) {
		log_error("push failed for %zu of %d hosts", failed,
		    argc - optind);
		goto out;
	}
	ret = EXIT_OK;
out:
	free(ssh_opts);
	free(cmd);
	roster_free(&r);
	return ret;
}
