/* tunneld: the warren node daemon.  Two forms:
 *   tunneld -c FILE [-i IFACE] [-u USER] [-v]   foreground, configured from a wg-quick file
 *   tunneld [-f] [-u USER] [-v] IFACE           as wireguard-go: empty interface configured
 *                                               over the UAPI socket, backgrounds once ready
 *                                               unless -f */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/notify.h"
#include "keys/lib/key.h"
#include "tunneld/config.h"
#include "tunneld/crypt_stage.h"
#include "tunneld/crypt_worker.h"
#include "tunneld/device.h"
#include "tunneld/gossip.h"
#include "tunneld/metrics.h"
#include "tunneld/log.h"
#include "tunneld/privilege.h"
#include "tunneld/roster_sync.h"
#include "tunneld/uapi.h"

struct daemon_state {
	struct event_base *base;
	struct device dev;
	struct uapi_server *uapi;
	const char *config_path;
	bool roster_mode;
	struct roster_sync rs;
	struct gossip *gossip;
	struct metrics *metrics;
	int exit_code;
};

static struct daemon_state state;

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
	    "Usage: %s -c FILE [-i IFACE] [-u USER] [-v]\n"
	    "       %s [-f] [-u USER] [-v] IFACE\n"
	    "\n"
	    "The warren node daemon: a WireGuard-compatible tunnel over a TUN interface.\n"
	    "\n"
	    "  -c, --config FILE    run in the foreground, configured from FILE (wg-quick format:\n"
	    "                       [Interface] PrivateKey/PrivateKeyFile, ListenPort, Address, MTU;\n"
	    "                       [Peer] PublicKey, PresharedKey, AllowedIPs, Endpoint,\n"
	    "                       PersistentKeepalive); SIGHUP re-reads it.  Roster mode\n"
	    "                       ([Interface] Roster, AdminKey, GossipPort): peers come from\n"
	    "                       the signed roster; SIGHUP picks up ROSTER.new\n"
	    "  -i, --interface NAME interface name (default: FILE's base name without .conf)\n"
	    "  -f, --foreground     without -c: stay in the foreground (as wireguard-go -f)\n"
	    "  -u, --user USER      once up, run as USER keeping only CAP_NET_ADMIN (and\n"
	    "                       CAP_NET_BIND_SERVICE for a ListenPort below 1024); overrides\n"
	    "                       the file's User =\n"
	    "  -v, --verbose        debug logging\n"
	    "      --log-format F   text (default; timestamped unless stderr is the journal) or\n"
	    "                       json (one object per line)\n"
	    "      --no-offload     plain TUN reads and writes, one packet each: no TSO/USO\n"
	    "                       super-packets (as the file's Offload = off)\n"
	    "      --crypto-workers N  threads that encrypt and decrypt data packets, 0 to %d;\n"
	    "                       0 (the default): all on the event loop; environment\n"
	    "                       TUNNELD_CRYPTO_WORKERS when not given\n"
	    "  -h, --help           this text\n"
	    "      --version        print the version\n"
	    "\n"
	    "Either way the interface is controlled through %s/IFACE.sock with wg(8).\n",
	    prog, prog, CRYPT_WORKERS_MAX, UAPI_SOCKET_DIR);
}

/* "0".."CRYPT_WORKERS_MAX" (strtoul, whole string, in range). */
static bool crypto_workers_parse(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > CRYPT_WORKERS_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool interface_name_from_path(const char *path, char name[IFNAMSIZ])
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".conf") == 0)
		len -= 5;
	if (len == 0 || len >= IFNAMSIZ)
		return false;
	memcpy(name, base, len);
	name[len] = '\0';
	return true;
}

static bool interface_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '/' || name[i] == ':' || name[i] <= ' ' || name[i] == 0x7f)
			return false;
	}
	return true;
}

static void report_errors(const struct config_errors *errs, enum log_level level)
{
	for (size_t i = 0; i < errs->count; i++)
		log_msg(level, "%s", errs->msgs[i]);
}

/* Parses the file; on success *c holds it.  Errors are logged. */
static bool load_config(const char *path, struct config *c)
{
	struct config_errors errs = { 0 }, warn = { 0 };
	bool ok;

	config_init(c);
	ok = config_parse_file(path, c, &errs, &warn);
	report_errors(&warn, LOG_LEVEL_WARN);
	report_errors(&errs, LOG_LEVEL_ERROR);
	config_errors_free(&errs);
	config_errors_free(&warn);
	return ok;
}

static void stop(int code)
{
	state.exit_code = code;
	event_base_loopbreak(state.base);
}

/* The STATUS= line `systemctl status` shows: what serves now. */
static void ready_status(char *out, size_t len)
{
	if (state.roster_mode && state.rs.has_roster)
		snprintf(out, len, "%s up: roster serial %llu, %zu peers", state.dev.ifname,
		    (unsigned long long)state.rs.running.serial, state.dev.n_peers);
	else if (state.roster_mode)
		snprintf(out, len, "%s up: no roster yet (waiting for %.150s or a peer)",
		    state.dev.ifname, state.rs.new_path);
	else
		snprintf(out, len, "%s up: %zu peers", state.dev.ifname, state.dev.n_peers);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	char status[256];
	struct config c;

	(void)what;
	(void)arg;
	if (sig != SIGHUP) {
		log_info("%s: shutting down", state.dev.ifname);
		notify_stopping("shutting down");
		stop(0);
		return;
	}
	if (!state.config_path) {
		log_info("%s: SIGHUP ignored: no configuration file", state.dev.ifname);
		return;
	}
	/* systemd shows "reloading" until READY=1: the reload is synchronous (a roster
	 * candidate is verified and applied here; only its persisting is left to the thread). */
	notify_reloading("reloading");
	/* Roster mode: peers come from the roster; SIGHUP looks for a candidate. */
	if (state.roster_mode) {
		log_info("%s: SIGHUP: looking for %s", state.dev.ifname, state.rs.new_path);
		roster_sync_check_new(&state.rs);
		goto ready;
	}
	if (!load_config(state.config_path, &c)) {
		log_error("%s: reload rejected, keeping the running configuration",
		    state.dev.ifname);
		config_free(&c);
		goto ready;
	}
	if (device_apply_file_config(&state.dev, &c) == 0)
		log_info("%s: configuration reloaded from %s", state.dev.ifname, state.config_path);
	else
		log_error("%s: configuration from %s applied only in part (see above); SIGHUP "
		    "retries", state.dev.ifname, state.config_path);
	config_free(&c);
ready:
	ready_status(status, sizeof(status));
	notify_ready(status);
}

static void on_device_fatal(struct device *dev, const char *why)
{
	log_info("%s: %s, exiting", dev->ifname, why);
	notify_stopping(why);
	stop(0);
}

static void on_socket_gone(struct device *dev)
{
	log_info("%s: control socket removed, exiting", dev->ifname);
	notify_stopping("control socket removed");
	stop(0);
}

/* Without -f, fork and let the parent wait until the child reports the interface ready, so
 * that wg-quick can configure it as soon as we return (what wireguard-go does). */
static int daemonize(int *ready_fd)
{
	int fds[2];
	pid_t pid;
	char status = 1;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_errno(LOG_LEVEL_ERROR, errno, "cannot daemonize: pipe2");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_errno(LOG_LEVEL_ERROR, errno, "cannot daemonize: fork");
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	setsid();
	/* Hold no directory busy: nothing after start-up opens a relative path. */
	if (chdir("/") < 0) {
		log_errno(LOG_LEVEL_ERROR, errno, "cannot daemonize: chdir /");
		return -1;
	}
	*ready_fd = fds[1];
	return 0;
}

static void report_ready(int ready_fd, bool ok)
{
	char status = ok ? 0 : 1;
	int null;

	if (ready_fd < 0)
		return;
	if (ok) {
		/* Detach from the terminal only once everything worked, so that start-up errors
		 * reach the user who started us. */
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
		log_init("tunneld", log_level(), LOG_DEST_SYSLOG);
	}
	if (write(ready_fd, &status, 1) != 1)
		status = 1;
	close(ready_fd);
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "user", required_argument, NULL, 'u' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "no-offload", no_argument, NULL, 'O' },
		{ "crypto-workers", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *ifname_arg = NULL, *user_arg = NULL, *env;
	char status[256];
	struct privilege_user user;
	bool have_user = false, keep_bind;
	char err[256], sock[sizeof(UAPI_SOCKET_DIR) + IFNAMSIZ + 8];
	enum log_level level = LOG_LEVEL_INFO;
	enum log_format log_fmt = LOG_FORMAT_TEXT;
	bool foreground = false, offload = true;
	bool workers_given = false;
	/* Off unless asked for: under CPU contention a batch has been seen coming back seconds
	 * late (docs/performance-design.md, "Threads"), which the one-thread path never does. */
	unsigned crypto_workers = 0;
	char ifname[IFNAMSIZ];
	struct event *sig_ev[3] = { NULL };
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct config cfg;
	int opt, ready_fd = -1, ret;

	config_init(&cfg);
	while ((opt = getopt_long(argc, argv, "c:i:fu:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'i': ifname_arg = optarg; break;
		case 'f': foreground = true; break;
		case 'u': user_arg = optarg; break;
		case 'v': level = LOG_LEVEL_DEBUG; break;
		case 'O': offload = false; break;
		case 'L':
			if (!log_format_parse(optarg, &log_fmt)) {
				fprintf(stderr, "tunneld: --log-format '%.40s': text or json\n",
				    optarg);
				return 2;
			}
			break;
		case 'W':
			if (!crypto_workers_parse(optarg, &crypto_workers)) {
				fprintf(stderr, "tunneld: --crypto-workers '%.40s': a number from 0 "
				    "to %d\n", optarg, CRYPT_WORKERS_MAX);
				return 2;
			}
			workers_given = true;
			break;
		case 'h': usage(stdout, argv[0]); return 0;
		case 'V': printf("tunneld %s\n", WARREN_VERSION); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	env = getenv("WG_PROCESS_FOREGROUND");
	if (env && strcmp(env, "1") == 0)
		foreground = true;
	/* For UAPI mode under wg-quick, which starts us without options. */
	env = getenv("TUNNELD_CRYPTO_WORKERS");
	if (env && !workers_given && !crypto_workers_parse(env, &crypto_workers)) {
		fprintf(stderr, "tunneld: TUNNELD_CRYPTO_WORKERS='%.40s': a number from 0 to %d\n",
		    env, CRYPT_WORKERS_MAX);
		return 2;
	}
	env = getenv("LOG_LEVEL");
	if (env && (strcmp(env, "verbose") == 0 || strcmp(env, "debug") == 0))
		level = LOG_LEVEL_DEBUG;
	log_init("tunneld", level, LOG_DEST_STDERR);
	/* The journal stamps lines itself; anywhere else a line says when it happened. */
	log_style_set(log_fmt, !log_stderr_is_journal());
	log_libevent_route();

	if (config_path) {
		if (optind != argc) {
			usage(stderr, argv[0]);
			return 2;
		}
		if (ifname_arg)
			snprintf(ifname, sizeof(ifname), "%s", ifname_arg);
		else if (!interface_name_from_path(config_path, ifname)) {
			log_error("cannot derive an interface name from %s: use -i", config_path);
			return 2;
		}
		foreground = true;
	} else {
		if (optind != argc - 1 || ifname_arg) {
			usage(stderr, argv[0]);
			return 2;
		}
		snprintf(ifname, sizeof(ifname), "%s", argv[optind]);
		if (strlen(argv[optind]) >= IFNAMSIZ) {
			log_error("interface name '%.100s' is too long (at most %d characters)",
			    argv[optind], IFNAMSIZ - 1);
			return 2;
		}
	}
	if (!interface_name_valid(ifname)) {
		log_error("invalid interface name '%.100s'", ifname);
		return 2;
	}
	if (!key_lib_init()) {
		log_error("libsodium failed to initialize");
		return 1;
	}
	/* Parse before touching the system: a bad file changes nothing. */
	if (config_path && !load_config(config_path, &cfg)) {
		config_free(&cfg);
		return 1;
	}
	/* The user, looked up before anything changes: a typo must not leave us running as root. */
	if (!user_arg && cfg.user[0])
		user_arg = cfg.user;
	if (user_arg) {
		if (!privilege_user_lookup(user_arg, &user, err, sizeof(err))) {
			log_error("%s", err);
			config_free(&cfg);
			return 1;
		}
		have_user = true;
	}
	/* CAP_NET_BIND_SERVICE only for a configured port below 1024; over the UAPI, wg(8) may
	 * set any port later, as with wireguard-go. */
	keep_bind = !config_path || (cfg.has_listen_port && cfg.listen_port > 0 &&
	    cfg.listen_port < 1024);
	if (!foreground && daemonize(&ready_fd) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	state.config_path = config_path;
	/* Every start-up step below logs its own failure once, naming the call or path and the
	 * cause; only what the callee cannot say is logged here. */
	errno = 0;
	state.base = event_base_new();
	if (!state.base) {
		log_error("cannot create the event loop (event_base_new: epoll, eventfd or "
		    "pipe): %s", errno ? strerror(errno) : "unknown error");
		ret = 1;
		goto out;
	}
	ret = device_create(&state.dev, state.base, ifname, config_path != NULL,
	    offload && !cfg.no_offload);
	if (ret < 0) {
		ret = 1;
		goto out;
	}
	state.dev.on_fatal = on_device_fatal;
	state.roster_mode = config_path && cfg.roster_path[0];
	if (state.roster_mode) {
		if (roster_sync_init(&state.rs, &state.dev, &cfg) < 0 ||
		    roster_sync_start(&state.rs) < 0) {
			ret = 1;
			goto out;
		}
		if (cfg.gossip_port &&
		    (ret = gossip_start(&state.gossip, &state.rs, cfg.gossip_port)) < 0) {
			log_errno(LOG_LEVEL_ERROR, ret, "%s: cannot start gossip on port %u",
			    state.dev.ifname, cfg.gossip_port);
			ret = 1;
			goto out;
		}
	} else if (config_path && device_apply_file_config(&state.dev, &cfg) < 0) {
		ret = 1;
		goto out;
	}
	/* Bound now, while a port below 1024 could still be bound. */
	if (cfg.has_metrics_listen && metrics_start(&state.metrics, &state.dev,
	    state.roster_mode ? &state.rs : NULL, &cfg.metrics_listen) < 0) {
		ret = 1;
		goto out;
	}
	config_free(&cfg);
	if (uapi_server_start(&state.uapi, &state.dev, on_socket_gone) < 0) {
		ret = 1;
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		errno = 0;
		sig_ev[i] = evsignal_new(state.base, sigs[i], on_signal, NULL);
		if (!sig_ev[i] || event_add(sig_ev[i], NULL) < 0) {
			/* libevent's signal pipe is a socketpair made on the first add. */
			log_error("cannot handle %s (evsignal: socketpair): %s", strsignal(sigs[i]),
			    errno ? strerror(errno) : "out of memory");
			ret = 1;
			goto out;
		}
	}
	snprintf(sock, sizeof(sock), "%s/%s.sock", UAPI_SOCKET_DIR, ifname);
	if (have_user && getuid() == 0 &&
	    privilege_socket_share(UAPI_SOCKET_DIR, sock, &user) < 0) {
		ret = 1;
		goto out;
	}
	if (privilege_drop(have_user ? &user : NULL, keep_bind) < 0) {
		ret = 1;
		goto out;
	}
	/* After the drop: capabilities are per thread, and the workers need none. */
	if (crypt_stage_start(&state.dev, crypto_workers) < 0) {
		ret = 1;
		goto out;
	}
	log_info("%s: up (%s)", state.dev.ifname, config_path ? config_path : "UAPI");
	report_ready(ready_fd, true);
	ready_fd = -1;
	/* Type=notify: the interface, its addresses and routes exist, the port is bound and the
	 * control socket answers; units ordered after us (sshd on the overlay address) may
	 * start. */
	ready_status(status, sizeof(status));
	notify_ready(status);
	event_base_dispatch(state.base);
	ret = state.exit_code;
out:
	report_ready(ready_fd, false);
	for (int i = 0; i < 3; i++) {
		if (sig_ev[i])
			event_free(sig_ev[i]);
	}
	uapi_server_stop(state.uapi);
	gossip_stop(state.gossip);
	metrics_stop(state.metrics);
	if (state.base)
		device_destroy(&state.dev);
	/* After the interface is gone: roster_sync_free waits for a persist in flight, which a
	 * stalled disk can hold up for as long as it stalls. */
	if (state.roster_mode)
		roster_sync_free(&state.rs);
	if (state.base)
		event_base_free(state.base);
	config_free(&cfg);
	return ret;
}
