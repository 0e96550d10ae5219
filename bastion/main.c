/* bastion: warren's jump-only SSH entry point.  `bastion -c FILE [-v]`, foreground. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "bastion/bastion.h"
#include "bastion/log.h"
#include "keys/lib/key.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bastion -c FILE [-v] [--log-format text|json]\n"
	    "\n"
	    "warren's jump-only SSH entry point (ssh -J), in the foreground; SIGHUP re-reads the\n"
	    "roster.  Defaults: ListenAddress 0.0.0.0:22, state in /var/lib/warren/bastion, the\n"
	    "audit log in /var/log/warren (created 0700 when missing).\n"
	    "\n"
	    "  -c, --config FILE  configuration file (see bastion(8))\n"
	    "  -v, --verbose      verbose (debug) logging\n"
	    "      --log-format F text (default; timestamped unless stderr is the journal) or\n"
	    "                     json (one object per line)\n"
	    "  -h, --help         this help\n"
	    "      --version      print the version\n");
}

int main(int argc, char **argv)
{
	static struct bastion b;
	struct bastion_config_errors errs;
	const char *conf = NULL;
	char err[512] = "";
	bool verbose = false;
	enum log_format log_fmt = LOG_FORMAT_TEXT;
	size_t i;
	int c, ret;

	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'L':
			if (!log_format_parse(optarg, &log_fmt)) {
				fprintf(stderr, "bastion: --log-format '%.40s': text or json\n",
				    optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("bastion %s\n", WARREN_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!conf || optind != argc) {
		usage(stderr);
		return 2;
	}
	blog_init(verbose ? BLOG_DEBUG : BLOG_INFO);
	log_style_set(log_fmt, !log_stderr_is_journal());
	blog_libssh_route();
	if (!key_lib_init() || ssh_init() != SSH_OK) {
		blog_error("cannot initialise the crypto libraries");
		return 1;
	}
	if (!bastion_config_load(&b.cfg, conf, &errs)) {
		for (i = 0; i < errs.count && i < BASTION_CONFIG_ERRORS_MAX; i++)
			blog_error("%s", errs.msgs[i]);
		if (errs.count > BASTION_CONFIG_ERRORS_MAX)
			blog_error("%s: %zu more errors", conf,
			    errs.count - BASTION_CONFIG_ERRORS_MAX);
		return 1;
	}
	ret = bastion_open(&b, err, sizeof(err));
	if (ret < 0) {
		blog_error("%s", err[0] ? err : "cannot start");
		bastion_close(&b);
		ssh_finalize();
		return 1;
	}
	bastion_notify_ready(&b);
	ret = bastion_run(&b);
	bastion_close(&b);
	ssh_finalize();
	return ret < 0 ? 1 : 0;
}
