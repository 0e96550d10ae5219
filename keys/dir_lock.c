/* The admin directory's lock: every command that changes the directory holds an exclusive
 * flock(2) on DIR/.lock from before it reads the roster until it exits, so two of them (two
 * admins, a script in a loop, Ansible forks) never both read serial N and write over each
 * other: each sees the other's result.  The lock is released by the kernel when the process
 * exits, however it exits.  A command waits LockTimeout (keys.conf) for it, then fails naming
 * the lock and its holder's pid (/proc/locks).  The file stays, empty: removing it would let
 * two commands lock two different files of one name. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keys/cli.h"

/* Poll interval while another command holds the lock. */
enum { LOCK_POLL_MS = 20 };

static int lock_fd = -1;

/* The pid holding a flock on fd's file, from /proc/locks ("1: FLOCK  ADVISORY  WRITE 1234
 * 08:01:5678 0 EOF"), so the message names the holder whoever took it (flock(1) too). */
static void holder_describe(int fd, char *out, size_t len)
{
	unsigned long long ino;
	char line[256], type[16];
	struct stat st;
	long pid;
	FILE *f;

	out[0] = '\0';
	if (fstat(fd, &st) != 0)
		return;
	f = fopen("/proc/locks", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* Only the numbers matter; a line not of this shape is skipped. */
		if (sscanf(line, "%*s %15s %*s %*s %ld %*x:%*x:%llu", type, &pid, &ino) != 3)
			continue;
		if (strcmp(type, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino && pid > 0) {
			snprintf(out, len, " (pid %ld)", pid);
			break;
		}
	}
	fclose(f);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

bool cli_dir_lock(unsigned timeout_s)
{
	struct timespec start, pause = { 0, LOCK_POLL_MS * 1000000L };
	char path[CLI_PATH_MAX], who[48];
	struct stat st;
	int fd;

	if (lock_fd >= 0)
		return true;
	if (!cli_path(path, CLI_LOCK))
		return false;
	/* No directory yet (init creates it; any other command then says it is no admin
	 * directory): nothing to protect. */
	/* Empty and public (0644): admins sharing the directory through a group all lock it,
	 * read-only if another one created it (flock needs no write access). */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return true;
	/* O_NOFOLLOW: a link planted at DIR/.lock would have us create or lock a file
	 * elsewhere (and two admins' commands lock two different files).  ELOOP alone also
	 * means a loop in DIR's own path, so lstat tells which. */
	if (fd < 0 && errno == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		log_error("%s is a symbolic link, not the directory's lock file: refused, nothing "
		    "was changed (remove it; keys creates the lock file itself)", path);
		return false;
	}
	if (fd < 0) {
		log_error("cannot open the lock %s: %s; nothing was changed", path,
		    strerror(errno));
		return false;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			log_error("cannot lock %s: %s; nothing was changed", path, strerror(errno));
			close(fd);
			return false;
		}
		if (elapsed_ms(&start) >= (long)timeout_s * 1000) {
			holder_describe(fd, who, sizeof(who));
			log_error("another keys command%s holds %s; gave up after %u s (LockTimeout "
			    "in %s/%s); nothing was changed", who, path, timeout_s, cli_dir,
			    CLI_SETTINGS);
			close(fd);
			return false;
		}
		nanosleep(&pause, NULL);
	}
	lock_fd = fd;	/* held until exit */
	return true;
}
