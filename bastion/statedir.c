/* Creating the bastion's missing directories: see statedir.h. */
#include "bastion/statedir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bastion/log.h"

/* dir = path without its last component ("." for a bare name, "/" for "/x").  false if it
 * does not fit. */
static bool dir_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash) {
		strcpy(dir, ".");
		return true;
	}
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= PATH_MAX)
		return false;
	memcpy(dir, path, len);
	dir[len] = '\0';
	return true;
}

int statedir_ensure(const char *file, char *err, size_t errlen)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	struct stat st;
	int ret;

	if (!dir_of(file, dir)) {
		snprintf(err, errlen, "%.200s: path too long", file);
		return -ENAMETOOLONG;
	}
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(err, errlen, "%.200s: not a directory (it should hold %.200s)", dir, file);
		return -ENOTDIR;
	}
	if (errno != ENOENT) {
		ret = -errno;
		snprintf(err, errlen, "%.200s: %s", dir, strerror(errno));
		return ret;
	}
	if (dir_of(dir, parent) && stat(parent, &st) < 0 && errno == ENOENT) {
		snprintf(err, errlen, "%.200s: missing, and so is %.200s (create it, or run "
		    "bastion.service, whose StateDirectory= and LogsDirectory= make them)", dir,
		    parent);
		return -ENOENT;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %.200s: %s", dir, strerror(errno));
		return ret;
	}
	blog_info("created %s (0700): it holds %s", dir, file);
	return 0;
}
