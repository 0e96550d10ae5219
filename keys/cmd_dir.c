/* The admin directory: where its files are, loading the rosters, and replacing files
 * atomically (temp file, fsync, rename, fsync of the directory) so a failed command leaves the
 * directory as it was. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keys/cli.h"

const char *cli_dir = ".";

bool cli_path(char out[CLI_PATH_MAX], const char *file)
{
	int n = snprintf(out, CLI_PATH_MAX, "%s/%s", cli_dir, file);

	if (n < 0 || n >= CLI_PATH_MAX) {
		log_error("path too long: %.100s/%s", cli_dir, file);
		return false;
	}
	return true;
}

static void print_errors(struct roster_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++)
		log_error("%s", errs->msgs[i]);
	roster_errors_free(errs);
}

static bool load(const char *file, struct roster *r)
{
	struct roster_errors errs = { 0 };
	char path[CLI_PATH_MAX];

	if (!cli_path(path, file))
		return false;
	if (access(path, F_OK) != 0) {
		log_error("%s: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (not an admin directory? run 'keys init' or use -C DIR)" :
		    "");
		return false;
	}
	if (roster_load(path, r, &errs)) {
		roster_errors_free(&errs);
		return true;
	}
	if (errs.count == 0)
		log_error("cannot load %s", path);
	print_errors(&errs);
	return false;
}

bool cli_roster_load_working(struct roster *r)
{
	return load(CLI_ROSTER, r);
}

bool cli_roster_load_signed(struct roster *r)
{
	return load(CLI_ROSTER_SIGNED, r);
}

bool cli_roster_check(struct roster *r)
{
	struct roster_errors errs = { 0 };
	struct roster back;
	char *text;
	size_t len;
	bool ok;

	text = roster_serialize(r, false, &len);
	if (!text) {
		log_error("out of memory");
		return false;
	}
	roster_init(&back);
	ok = roster_parse(text, len, "(new roster)", &back, &errs);
	if (!ok && errs.count == 0)
		log_error("the new roster does not parse");
	print_errors(&errs);
	roster_free(&back);
	free(text);
	return ok;
}

static int fsync_dir(const char *path)
{
	char copy[CLI_PATH_MAX];
	int fd, ret = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

int cli_file_stage(const char *path, const void *data, size_t len, unsigned mode,
    char tmp[CLI_PATH_MAX])
{
	const uint8_t *p = data;
	int fd = -1, ret = 0, n;
	ssize_t w;

	n = snprintf(tmp, CLI_PATH_MAX, "%s.tmp.XXXXXX", path);
	if (n < 0 || n >= CLI_PATH_MAX) {
		tmp[0] = '\0';
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, mode) != 0) {
		ret = -errno;
		goto out;
	}
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		ret = -errno;
out:
	if (fd >= 0 && close(fd) != 0 && ret == 0)
		ret = -errno;
	if (ret < 0 && tmp[0]) {
		unlink(tmp);
		tmp[0] = '\0';
	}
	return ret;
}

int cli_file_commit(const char *tmp, const char *path)
{
	if (rename(tmp, path) != 0) {
		int ret = -errno;

		unlink(tmp);
		return ret;
	}
	return fsync_dir(path);
}

void cli_file_abort(const char *tmp)
{
	if (tmp[0])
		unlink(tmp);
}

int cli_roster_stage_working(struct roster *r, char tmp[CLI_PATH_MAX])
{
	char path[CLI_PATH_MAX];
	char *text;
	size_t len;
	int ret;

	tmp[0] = '\0';
	if (!cli_path(path, CLI_ROSTER))
		return -ENAMETOOLONG;
	text = roster_serialize(r, false, &len);
	if (!text)
		return -ENOMEM;
	/* Only public data (no signature yet): 0644 like roster.signed. */
	ret = cli_file_stage(path, text, len, 0644, tmp);
	free(text);
	return ret;
}

bool cli_roster_save_working(struct roster *r)
{
	char path[CLI_PATH_MAX], tmp[CLI_PATH_MAX];
	int ret;

	if (!cli_path(path, CLI_ROSTER))
		return false;
	ret = cli_roster_stage_working(r, tmp);
	if (ret == 0)
		ret = cli_file_commit(tmp, path);
	if (ret < 0) {
		log_error("cannot write %s: %s", path, strerror(-ret));
		return false;
	}
	return true;
}

bool cli_admin_secret_read(uint8_t secret[ROSTER_ADMIN_SECRET_LEN])
{
	char path[CLI_PATH_MAX], err[256];

	if (!cli_path(path, CLI_ADMIN_KEY))
		return false;
	if (roster_admin_key_read(path, secret, err, sizeof(err)) < 0) {
		log_error("%s", err);
		sodium_memzero(secret, ROSTER_ADMIN_SECRET_LEN);
		return false;
	}
	return true;
}
