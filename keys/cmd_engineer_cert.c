/* keys engineer ca | cert: short-lived engineer access.  The CA is an OpenSSH Ed25519 key in the
 * admin directory, named by the roster's engineer-ca line; a certificate binds one engineer's
 * SSH key to her name (the principal) for a few hours.  ssh-keygen makes the key and signs:
 * the certificate format is OpenSSH's, and so is the tool every operator already trusts with
 * it.  The bastion checks certificates itself (ssh_cert.c), a node's sshd through the
 * cert-authority line keys authorized-keys prints. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/duration.h"
#include "keys/cli.h"
#include "keys/lib/ssh_cert.h"
#include "keys/proc.h"

enum {
	CERT_VALID_DEFAULT = 8 * 3600,
	CERT_VALID_MAX = 30 * 86400,	/* short-lived is the point: a longer need is a key */
	CERT_BACKDATE = 5 * 60,		/* valid from 5 minutes ago: clocks a little behind */
	SSH_KEYGEN_TIMEOUT_MS = 30000,
	CERT_FILE_MAX = 16 << 10,
};

#define ENGINEER_CA_USAGE "Usage: %s engineer ca [--force]\n"
#define ENGINEER_CERT_USAGE "Usage: %s engineer cert NAME --ssh-key FILE.pub " \
	"[--valid DURATION] [-o FILE|-] [--force]\n"

/* Runs ssh-keygen with argv; false after printing its last words. */
static bool ssh_keygen(const char *const argv[])
{
	struct proc_result res;
	int err;

	/* execvp's argv type; nothing writes to the strings. */
	err = proc_run((char *const *)argv, proc_now_ms() + SSH_KEYGEN_TIMEOUT_MS, &res);
	if (err < 0) {
		log_error("cannot run ssh-keygen: %s", strerror(-err));
		return false;
	}
	if (res.timed_out || res.status != 0) {
		size_t n = strlen(res.err);
		char *last;

		/* Its last line says why ("Load key ...: bad permissions"), CR LF ended. */
		while (n && (res.err[n - 1] == '\n' || res.err[n - 1] == '\r'))
			res.err[--n] = '\0';
		last = strrchr(res.err, '\n');
		if (last)
			memmove(res.err, last + 1, strlen(last + 1) + 1);
		n = strlen(res.err);
		while (n && res.err[n - 1] == '\r')
			res.err[--n] = '\0';
		log_error("ssh-keygen %s: %s", res.timed_out ? "timed out" :
		    res.status == 127 ? "not found (install openssh-client)" : "failed",
		    res.err[0] ? res.err : "no message");
		return false;
	}
	return true;
}

/* Reads a small text file whole (NUL-terminated, at most CERT_FILE_MAX); malloc'd or NULL
 * after a message. */
static char *file_slurp(const char *path)
{
	char *buf = malloc(CERT_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (!buf) {
		log_error("out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	while (len < CERT_FILE_MAX && (n = read(fd, buf + len, CERT_FILE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("%s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The Ed25519 key of an OpenSSH .pub file ("ssh-ed25519 BASE64 [comment]"). */
static bool ca_pub_read(const char *path, uint8_t key[KEY_LEN])
{
	char *text = file_slurp(path), *sp;
	bool ok = false;

	if (!text)
		return false;
	text[strcspn(text, "\n")] = '\0';
	sp = strchr(text, ' ');
	if (sp)
		sp = strchr(sp + 1, ' ');
	if (sp)
		*sp = '\0';
	ok = ssh_ed25519_line_parse(key, text);
	if (!ok)
		log_error("%s: not an OpenSSH Ed25519 public key", path);
	free(text);
	return ok;
}

/* Removes the two files ssh-keygen may have left in dir (made by mkdtemp; "" if not), then dir. */
static void tmpdir_remove(const char *dir, const char *a, const char *b)
{
	if (!dir[0])
		return;
	unlink(a);
	unlink(b);
	rmdir(dir);
}

static void ca_fingerprint(char out[51], const uint8_t key[KEY_LEN])
{
	struct roster_ssh_key k;
	char line[SSH_ED25519_LINE_MAX], why[64];

	ssh_ed25519_line(line, key);
	out[0] = '\0';
	if (roster_ssh_key_parse(&k, line, why, sizeof(why))) {
		roster_ssh_key_fingerprint(&k, out);
		roster_ssh_key_free(&k);
	}
}

int cli_engineer_ca(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char key_path[CLI_PATH_MAX], pub_path[CLI_PATH_MAX], tmpl[CLI_PATH_MAX];
	char tmpdir[CLI_PATH_MAX], tmp_key[CLI_PATH_MAX + 16], tmp_pub[CLI_PATH_MAX + 16];
	char comment[ROSTER_NAME_MAX + 40];
	char fp[51], line[SSH_ED25519_LINE_MAX];
	uint8_t ca[KEY_LEN];
	struct roster r;
	struct stat st;
	bool force = false;
	int c, ret = EXIT_FAIL;

	roster_init(&r);
	tmpdir[0] = '\0';
	while ((c = cli_getopt(argc, argv, opts)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
		fprintf(c == 'h' ? stdout : stderr, ENGINEER_CA_USAGE "Creates the engineer CA "
		    "(DIR/engineer-ca) and names it in the roster\n", cli_prog);
		ret = c == 'h' ? EXIT_OK : EXIT_USAGE;
		goto out;
	}
	if (optind != argc) {
		fprintf(stderr, ENGINEER_CA_USAGE, cli_prog);
		ret = EXIT_USAGE;
		goto out;
	}
	if (!cli_path(key_path, CLI_ENGINEER_CA) || !cli_path(pub_path, CLI_ENGINEER_CA ".pub") ||
	    !cli_path(tmpl, ".engineer-ca.XXXXXX") || !cli_roster_load_working(&r))
		goto out;
	if (!force && (r.has_engineer_ca || lstat(key_path, &st) == 0)) {
		log_error("%s already has an engineer CA (%s): --force replaces it, and every "
		    "certificate it signed stops working once the roster is published",
		    cli_dir, r.has_engineer_ca ? "named in the roster" : key_path);
		goto out;
	}
	/* Made aside, then renamed into place: never half a key under the real name. */
	if (!mkdtemp(tmpl)) {
		log_error("cannot create %s: %s", tmpl, strerror(errno));
		goto out;
	}
	memcpy(tmpdir, tmpl, sizeof(tmpdir));
	snprintf(tmp_key, sizeof(tmp_key), "%s/ca", tmpdir);
	snprintf(tmp_pub, sizeof(tmp_pub), "%s/ca.pub", tmpdir);
	snprintf(comment, sizeof(comment), "warren engineer CA %s", r.network);
	{
		const char *kg[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
		    "-f", tmp_key, NULL };

		if (!ssh_keygen(kg))
			goto out;
	}
	if (!ca_pub_read(tmp_pub, ca))
		goto out;
	if (rename(tmp_pub, pub_path) != 0 || rename(tmp_key, key_path) != 0) {
		log_error("cannot install %s: %s", key_path, strerror(errno));
		goto out;
	}
	r.has_engineer_ca = true;
	memcpy(r.engineer_ca, ca, KEY_LEN);
	/* A new CA: every engineer gets a new principal (the old CA's certificates are dead
	 * anyway), so that certificates are accepted for those added before the CA existed. */
	for (size_t i = 0; i < r.n_engineers; i++)
		roster_cert_principal_new(&r.engineers[i]);
	if (!cli_roster_check(&r) || !cli_roster_save_working(&r))
		goto out;
	ca_fingerprint(fp, ca);
	ssh_ed25519_line(line, ca);
	log_info("engineer CA %s in %s: publish the roster so that the bastion and the nodes "
	    "accept its certificates", fp, key_path);
	printf("%s\n", line);
	ret = EXIT_OK;
out:
	tmpdir_remove(tmpdir, tmp_key, tmp_pub);
	sodium_memzero(ca, sizeof(ca));
	roster_free(&r);
	return ret;
}

/* DIR/engineer-ca.serial: the last serial issued, then the next one written back (under the
 * directory's lock, which every engineer command holds). */
static bool serial_next(uint64_t *serial)
{
	char path[CLI_PATH_MAX], tmp[CLI_PATH_MAX], *text, buf[32];
	int err, n;

	if (!cli_path(path, CLI_ENGINEER_CA_SERIAL))
		return false;
	*serial = 0;
	if (access(path, F_OK) == 0) {
		unsigned long v;

		text = file_slurp(path);
		if (!text)
			return false;
		text[strcspn(text, "\n")] = '\0';
		if (!cli_uint_parse(text, 1, ULONG_MAX - 1, &v)) {
			log_error("%s: not a serial number", path);
			free(text);
			return false;
		}
		free(text);
		*serial = v;
	}
	(*serial)++;
	n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)*serial);
	err = cli_file_stage(path, buf, (size_t)n, 0644, tmp);
	if (err == 0)
		err = cli_file_commit(tmp, path);
	if (err < 0) {
		log_error("cannot write %s: %s", path, strerror(-err));
		return false;
	}
	return true;
}

/* ssh-keygen's name for the certificate of KEY.pub: KEY-cert.pub. */
static bool cert_path_default(char out[CLI_PATH_MAX], const char *key_file)
{
	size_t l = strlen(key_file);
	int n;

	if (l > 4 && strcmp(key_file + l - 4, ".pub") == 0)
		l -= 4;
	n = snprintf(out, CLI_PATH_MAX, "%.*s-cert.pub", (int)l, key_file);
	return n > 0 && n < CLI_PATH_MAX;
}

/* Whether path may be replaced by a certificate: it does not exist, or holds one ("TYPE-cert-v01@
 * openssh.com ..."): never a private or public key given by mistake as -o. */
static bool cert_path_free(const char *path)
{
	static const char suffix[] = "-cert-v01@openssh.com ";
	char head[128] = "";
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n <= 0)
		return n == 0;		/* an empty file */
	head[n] = '\0';
	head[strcspn(head, " ")] = '\0';
	return strlen(head) > sizeof(suffix) - 2 &&
	    !strcmp(head + strlen(head) - (sizeof(suffix) - 2), "-cert-v01@openssh.com");
}

/* DIR/roster.signed, if there is one that parses (errors are not this command's business). */
static bool signed_quiet(struct roster *pub)
{
	struct roster_errors errs = { 0 };
	char path[CLI_PATH_MAX];
	bool ok;

	if (snprintf(path, sizeof(path), "%s/%s", cli_dir, CLI_ROSTER_SIGNED) >= (int)sizeof(path))
		return false;
	ok = roster_load(path, pub, &errs);
	roster_errors_free(&errs);
	return ok;
}

/* The certificate ssh-keygen wrote, checked as the bastion will check it. */
static bool cert_verify(const char *text, const uint8_t ca[KEY_LEN], const char *principal,
    uint64_t serial, int64_t now, struct ssh_cert *c, uint8_t *blob, size_t *blob_len)
{
	const char *sp = strchr(text, ' '), *end;
	char why[SSH_CERT_WHY_MAX];

	end = sp ? strpbrk(sp + 1, " \n") : NULL;
	if (!sp || !end || sodium_base642bin(blob, ROSTER_SSH_BLOB_MAX, sp + 1,
	    (size_t)(end - sp - 1), NULL, blob_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		log_error("ssh-keygen wrote no certificate");
		return false;
	}
	if (!ssh_cert_parse(c, blob, *blob_len, why, sizeof(why)) ||
	    !ssh_cert_check(c, ca, principal, now, why, sizeof(why))) {
		log_error("the new certificate does not check: %s", why);
		return false;
	}
	if (c->serial != serial) {
		log_error("the new certificate has serial %llu, not %llu",
		    (unsigned long long)c->serial, (unsigned long long)serial);
		return false;
	}
	return true;
}

int cli_engineer_cert(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "ssh-key", required_argument, NULL, 'k' },
		{ "valid", required_argument, NULL, 'v' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_file = NULL, *out_arg = NULL, *name, *holder, *comment;
	char ca_path[CLI_PATH_MAX], out_path[CLI_PATH_MAX], tmpdir[CLI_PATH_MAX];
	char tmp_pub[CLI_PATH_MAX + 16], tmp_cert[CLI_PATH_MAX + 16], tmp[CLI_PATH_MAX];
	char key_id[2 * ROSTER_NAME_MAX + 2], validity[64], serial_s[24], fp[51];
	char from[32], to[32], *cert_text = NULL, *key_line = NULL;
	uint8_t ca[KEY_LEN], file_ca[KEY_LEN], *blob = NULL;
	uint64_t valid = CERT_VALID_DEFAULT, serial;
	struct roster_engineer who, *eng;
	const struct roster_engineer *peng;
	char principal[ROSTER_CERT_PRINCIPAL_MAX + 1];
	struct roster r, pub;
	struct ssh_cert cert;
	struct tm tm_from, tm_to;
	bool force = false;
	int64_t now = (int64_t)time(NULL);
	size_t blob_len = 0, len;
	int c, err, ret = EXIT_FAIL;

	roster_init(&r);
	roster_init(&pub);
	memset(&who, 0, sizeof(who));
	tmpdir[0] = '\0';
	while ((c = cli_getopt_short(argc, argv, ":ho:", opts)) != -1) {
		switch (c) {
		case 'k': key_file = optarg; break;
		case 'o': out_arg = optarg; break;
		case 'f': force = true; break;
		case 'v':
			if (!duration_parse(optarg, CERT_VALID_MAX, &valid) || valid == 0) {
				log_error("--valid '%.100s' is not a duration from 1s to 30d (N, Ns, "
				    "Nm, Nh, Nd or Nw)", optarg);
				ret = EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			printf(ENGINEER_CERT_USAGE "Signs an OpenSSH user certificate for NAME's key\n",
			    cli_prog);
			ret = EXIT_OK;
			goto out;
		default:
			fprintf(stderr, ENGINEER_CERT_USAGE, cli_prog);
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (optind != argc - 1 || !key_file) {
		fprintf(stderr, ENGINEER_CERT_USAGE, cli_prog);
		ret = EXIT_USAGE;
		goto out;
	}
	name = argv[optind];
	if (!cli_roster_load_working(&r))
		goto out;
	if (!r.has_engineer_ca) {
		log_error("the roster has no engineer CA ('keys engineer ca' creates one)");
		goto out;
	}
	eng = roster_engineer_find(&r, name);
	if (!eng) {
		log_error("no engineer '%.100s' in the roster ('keys engineer add' first)", name);
		goto out;
	}
	/* An engineer added before the CA existed gets her principal now (to be published). */
	if (!eng->cert_principal[0]) {
		roster_cert_principal_new(eng);
		if (!cli_roster_check(&r) || !cli_roster_save_working(&r))
			goto out;
	}
	snprintf(principal, sizeof(principal), "%s", eng->cert_principal);
	if (!cli_path(ca_path, CLI_ENGINEER_CA ".pub") || !ca_pub_read(ca_path, file_ca))
		goto out;
	if (sodium_memcmp(file_ca, r.engineer_ca, KEY_LEN) != 0) {
		log_error("%s is not the engineer CA the roster names", ca_path);
		goto out;
	}
	memcpy(ca, r.engineer_ca, KEY_LEN);
	/* One key, public, of a type the bastion takes (cli_ssh_keys_read refuses the rest). */
	if (!cli_ssh_keys_read(key_file, &who))
		goto out;
	if (who.n_ssh_keys != 1) {
		log_error("%s holds %zu keys: give one", key_file, who.n_ssh_keys);
		goto out;
	}
	holder = cli_ssh_key_holder(&r, &who.ssh_keys[0], name);
	if (holder && !force) {
		log_error("%s is engineer %s's key: a certificate would let %s log in as %s "
		    "(--force if that is meant)", key_file, holder, holder, name);
		goto out;
	}
	/* What the nodes run decides: say so if it does not know the CA or the engineer yet. */
	if (!signed_quiet(&pub) || !pub.has_engineer_ca ||
	    sodium_memcmp(pub.engineer_ca, ca, KEY_LEN) != 0 || !(peng = roster_engineer_find(&pub,
	    name)) || strcmp(peng->cert_principal, principal) != 0)
		log_warn("the published roster does not name this CA, or engineer %s with the "
		    "principal %s, yet: the certificate works once 'keys publish' has reached the "
		    "bastion and the nodes", name, principal);
	if (!cert_path_default(out_path, key_file) ||
	    (out_arg && strcmp(out_arg, "-") &&
	    snprintf(out_path, sizeof(out_path), "%s", out_arg) >= (int)sizeof(out_path))) {
		log_error("path too long");
		goto out;
	}
	if (!(out_arg && !strcmp(out_arg, "-")) && !force && !cert_path_free(out_path)) {
		log_error("%s exists and is not a certificate: not replaced (--force)", out_path);
		goto out;
	}
	if (!serial_next(&serial))
		goto out;
	snprintf(key_id, sizeof(key_id), "%s@%s", name, r.network);
	/* ssh-keygen signs a copy in a private directory: KEY.pub -> KEY-cert.pub. */
	snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/keys-cert.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		log_error("cannot create %s: %s", tmpdir, strerror(errno));
		tmpdir[0] = '\0';
		goto out;
	}
	snprintf(tmp_pub, sizeof(tmp_pub), "%s/key.pub", tmpdir);
	snprintf(tmp_cert, sizeof(tmp_cert), "%s/key-cert.pub", tmpdir);
	/* Its comment becomes the certificate's (else ssh-keygen would use our file's name). */
	comment = *who.ssh_keys[0].comment ? who.ssh_keys[0].comment : key_id;
	len = sodium_base64_encoded_len(who.ssh_keys[0].blob_len, sodium_base64_VARIANT_ORIGINAL);
	key_line = malloc(strlen(who.ssh_keys[0].type) + len + strlen(comment) + 3);
	blob = malloc(ROSTER_SSH_BLOB_MAX);
	if (!key_line || !blob) {
		log_error("out of memory");
		goto out;
	}
	/* The blob's own type name first: "ssh-rsa" for an rsa-sha2-* line. */
	{
		const uint8_t *b = who.ssh_keys[0].blob;
		uint32_t tl = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		int n = snprintf(key_line, strlen(who.ssh_keys[0].type) + 2, "%.*s ", (int)tl,
		    (const char *)b + 4);

		sodium_bin2base64(key_line + n, len, b, who.ssh_keys[0].blob_len,
		    sodium_base64_VARIANT_ORIGINAL);
		strcat(key_line, " ");
		strcat(key_line, comment);
	}
	err = cli_file_stage(tmp_pub, key_line, strlen(key_line), 0600, tmp);
	if (err == 0)
		err = cli_file_commit(tmp, tmp_pub);
	if (err < 0) {
		log_error("cannot write %s: %s", tmp_pub, strerror(-err));
		goto out;
	}
	/* Absolute UTC times (ssh-keygen reads them in TZ), so the summary says what is signed. */
	setenv("TZ", "UTC", 1);
	tzset();
	{
		time_t t0 = (time_t)(now - CERT_BACKDATE), t1 = (time_t)(now + (int64_t)valid);

		gmtime_r(&t0, &tm_from);
		gmtime_r(&t1, &tm_to);
	}
	strftime(from, sizeof(from), "%Y%m%d%H%M%S", &tm_from);
	strftime(to, sizeof(to), "%Y%m%d%H%M%S", &tm_to);
	snprintf(validity, sizeof(validity), "%s:%s", from, to);
	snprintf(serial_s, sizeof(serial_s), "%llu", (unsigned long long)serial);
	{
		const char *kg[] = { "ssh-keygen", "-q", "-s", ca_path, "-I", key_id, "-n", principal,
		    "-V", validity, "-z", serial_s, tmp_pub, NULL };

		/* ssh-keygen -s would ask for a passphrase on the terminal, which it cannot
		 * reach from its own process group: find out first, at once. */
		const char *probe[] = { "ssh-keygen", "-y", "-P", "", "-f", ca_path, NULL };

		ca_path[strlen(ca_path) - 4] = '\0';	/* the private key: engineer-ca */
		if (!ssh_keygen(probe)) {
			log_error("%s: ssh-keygen cannot load it (above): keys needs it as keys "
			    "engineer ca makes it, 0600 and without a passphrase", ca_path);
			goto out;
		}
		if (!ssh_keygen(kg))
			goto out;
	}
	cert_text = file_slurp(tmp_cert);
	if (!cert_text || !cert_verify(cert_text, ca, principal, serial, now, &cert, blob, &blob_len))
		goto out;
	if (out_arg && !strcmp(out_arg, "-")) {
		fputs(cert_text, stdout);
		if (fflush(stdout) != 0) {
			log_error("cannot write to stdout");
			goto out;
		}
	} else {
		err = cli_file_stage(out_path, cert_text, strlen(cert_text), 0644, tmp);
		if (err == 0)
			err = cli_file_commit(tmp, out_path);
		if (err < 0) {
			log_error("cannot write %s: %s", out_path, strerror(-err));
			goto out;
		}
	}
	ssh_cert_key_fingerprint(&cert, fp);
	cli_time_format(from, (int64_t)cert.valid_after);
	cli_time_format(to, (int64_t)cert.valid_before);
	log_info("certificate serial %llu for %s (key %s), valid from %s to %s%s%s",
	    (unsigned long long)serial, name, fp, from, to,
	    out_arg && !strcmp(out_arg, "-") ? "" : ": ",
	    out_arg && !strcmp(out_arg, "-") ? "" : out_path);
	ret = EXIT_OK;
out:
	tmpdir_remove(tmpdir, tmp_pub, tmp_cert);
	free(cert_text);
	free(key_line);
	free(blob);
	for (size_t i = 0; i < who.n_ssh_keys; i++)
		roster_ssh_key_free(&who.ssh_keys[i]);
	free(who.ssh_keys);
	roster_free(&r);
	roster_free(&pub);
	return ret;
}
