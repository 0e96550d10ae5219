/* keys push: copies roster.signed to nodes, several at once (-j), never through a local shell:
 * scp to a temporary name beside the target, then `ssh host mv` renames it into place, so the
 * node's tunneld (which picks the file up at Roster + ".new" and gossips it on) never sees a
 * half-written file.  With --wait, each host is then asked (`keys status --node --json`, over
 * the same ssh) which serial it runs, until it runs the pushed one or the time is up.
 *
 * Each host is handled by a worker process of its own, which runs scp and ssh one after the
 * other with deadlines (proc.h) and sends back one fixed-size report; the parent only starts
 * workers (at most -j at a time), collects reports and prints them.  SIGINT, SIGTERM or SIGHUP
 * stops every worker, and each worker the scp or ssh it runs: nothing outlives the command.  Whatever a host says
 * (ssh's stderr relays the remote side's) is untrusted: bounded here, escaped when printed
 * (the logger's vis, json_string_write). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keys/cli.h"
#include "keys/proc.h"

/* Fixed part of the scp/ssh command line: program, two -o pairs, "--", host or source, and up
 * to eight words of the remote command or the target, NULL. */
enum { SCP_FIXED_ARGS = 16 };

enum {
	PUSH_JOBS_DEFAULT = 8,		/* hosts at once */
	PUSH_JOBS_MAX = 256,
	PUSH_TIMEOUT_DEFAULT = 60,	/* seconds for one host's copy and rename */
	PUSH_WAIT_DEFAULT = 60,		/* seconds --wait gives each node to run the new serial */
	PUSH_SECONDS_MAX = 86400,
	PUSH_POLL_MS = 1000,		/* between two status questions to one node */
	PUSH_REASON_MAX = 240,		/* bytes of a host's own words kept in a report */
	PUSH_BACKSTOP_MS = 10000,	/* past a worker's own deadlines, before the parent kills it */
};

/* What a worker tells the parent: one write, well under PIPE_BUF, so it arrives whole. */
struct push_report {
	bool pushed;
	bool confirmed;
	bool serial_known;
	uint64_t running_serial;
	char error[PUSH_REASON_MAX + 64];	/* "" when pushed (and confirmed, with --wait) */
};
_Static_assert(sizeof(struct push_report) < PIPE_BUF, "one atomic pipe write");

struct push_opts {
	const char *remote;		/* Roster.new on the node */
	const char *remote_roster;	/* Roster on the node (what status reads) */
	const char *remote_keys;	/* the node's keys program */
	const char **ssh_opts;
	size_t n_opts;
	const char *local;		/* roster.signed, absolute */
	char tmp[1100];			/* the temporary name on the node */
	uint64_t serial;
	unsigned timeout_s, wait_s;
	bool wait;
};

struct push_host {
	const char *name;
	pid_t pid;		/* 0: not started or done */
	int fd;			/* the worker's report pipe, -1 if none */
	int64_t backstop_ms;
	bool done;
	struct push_report rep;
};

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

/* A remote path is read by the remote side (a shell, for legacy scp and for ssh's command):
 * plain characters only. */
static bool remote_path_valid(const char *p)
{
	return p[0] == '/' && strlen(p) < 1024 && chars_in(p, "/._+-") && !strstr(p, "..");
}

/* The node's keys program: an absolute path as above, or a bare program name for its PATH. */
static bool remote_program_valid(const char *p)
{
	return p[0] == '/' ? remote_path_valid(p) : *p && *p != '-' && strlen(p) < 256 &&
	    chars_in(p, "._+-");
}

/* An ssh -o option: Key=Value, no leading dash, no spaces or control characters. */
static bool ssh_option_valid(const char *o)
{
	const char *eq = strchr(o, '=');

	return eq && eq != o && *o != '-' && chars_in(o, "=._-,:/@+%");
}

/* Seconds, 1..PUSH_SECONDS_MAX (jobs: 1..PUSH_JOBS_MAX). */
static bool uint_parse(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;

	if (!cli_uint_parse(s, 1, max, &v))
		return false;
	*out = (unsigned)v;
	return true;
}

/* program -o BatchMode=yes -o ConnectTimeout=10 [-o OPT]... -o LogLevel=ERROR -- into cmd;
 * returns the next free index.  No -q: it would silence the very line that says why a host
 * failed ("Connection refused"); LogLevel=ERROR keeps the chatter out.  ssh takes the first
 * value given for an option, so an operator's -o LogLevel=... wins over ours. */
static size_t ssh_argv(char **cmd, const char *prog, const struct push_opts *o)
{
	size_t k = 0;

	cmd[k++] = (char *)prog;
	cmd[k++] = (char *)"-o";
	cmd[k++] = (char *)"BatchMode=yes";	/* never wait for a password prompt */
	cmd[k++] = (char *)"-o";
	cmd[k++] = (char *)"ConnectTimeout=10";
	for (size_t i = 0; i < o->n_opts; i++) {
		cmd[k++] = (char *)"-o";
		cmd[k++] = (char *)o->ssh_opts[i];
	}
	cmd[k++] = (char *)"-o";
	cmd[k++] = (char *)"LogLevel=ERROR";
	cmd[k++] = (char *)"--";
	return k;
}

/* Lines a failing scp or ssh adds after the one that says why, and ssh's warning banners. */
static bool line_says_nothing(const char *l, size_t n)
{
	static const char *const noise[] = { "lost connection", "scp: Connection closed",
	    "Connection closed" };

	if (n == 0 || l[0] == '@')
		return true;
	for (size_t i = 0; i < sizeof(noise) / sizeof(noise[0]); i++)
		if (n == strlen(noise[i]) && memcmp(l, noise[i], n) == 0)
			return true;
	return false;
}

/* The host's reason: the last line of stderr that says something, at most PUSH_REASON_MAX
 * bytes (escaped later, where it is printed); "" if there is none. */
static void reason_of(const char *err, char *out, size_t outlen)
{
	const char *end = err + strlen(err), *l, *e;
	size_t n;

	out[0] = '\0';
	while (end > err) {
		e = end;
		while (e > err && (e[-1] == '\n' || e[-1] == '\r'))
			e--;
		l = e;
		while (l > err && l[-1] != '\n' && l[-1] != '\r')
			l--;
		end = l;
		n = (size_t)(e - l);
		if (line_says_nothing(l, n))
			continue;
		if (n > PUSH_REASON_MAX)
			n = PUSH_REASON_MAX;
		snprintf(out, outlen, "%.*s", (int)n, l);
		return;
	}
}

/* Runs cmd for step what until deadline; false with rep->error set if it did not succeed. */
static bool step_run(char **cmd, const char *what, int64_t deadline_ms, unsigned limit_s,
    struct proc_result *res, struct push_report *rep)
{
	char reason[PUSH_REASON_MAX + 1];
	int ret = proc_run(cmd, deadline_ms, res);

	if (ret < 0) {
		snprintf(rep->error, sizeof(rep->error), "cannot run %s: %s", cmd[0],
		    strerror(-ret));
		return false;
	}
	if (res->timed_out) {
		snprintf(rep->error, sizeof(rep->error), "timed out after %u s (%s)", limit_s,
		    what);
		return false;
	}
	if (res->status == 0)
		return true;
	reason_of(res->err, reason, sizeof(reason));
	snprintf(rep->error, sizeof(rep->error), "%s exit %d%s%s", what, res->status,
	    *reason ? ": " : "", reason);
	return false;
}

/* The serial in `keys status --node --json` output: {"roster": ..., "serial": N, ...}. */
static bool status_serial(const char *out, uint64_t *serial)
{
	const char *p = strstr(out, "\"serial\": ");
	unsigned long long v;
	char *end;

	if (!p)
		return false;
	p += strlen("\"serial\": ");
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || (*end != ',' && *end != '}'))
		return false;
	*serial = v;
	return true;
}

/* Asks the node which serial it runs until it is the pushed one or the --wait time is up. */
static void host_wait(const char *host, const struct push_opts *o, char **cmd,
    struct push_report *rep)
{
	int64_t deadline = proc_now_ms() + (int64_t)o->wait_s * 1000, step_deadline, now;
	struct proc_result *res = malloc(sizeof(*res));
	char last[sizeof(rep->error)] = "";
	size_t k;

	if (!res) {
		snprintf(rep->error, sizeof(rep->error), "out of memory");
		return;
	}
	for (;;) {
		k = ssh_argv(cmd, "ssh", o);
		cmd[k++] = (char *)host;
		cmd[k++] = (char *)o->remote_keys;
		cmd[k++] = (char *)"status";
		cmd[k++] = (char *)"--node";
		cmd[k++] = (char *)"--roster";
		cmd[k++] = (char *)o->remote_roster;
		cmd[k++] = (char *)"--json";
		cmd[k] = NULL;
		now = proc_now_ms();
		step_deadline = now + (int64_t)o->timeout_s * 1000;
		if (step_deadline > deadline)
			step_deadline = deadline;
		rep->error[0] = '\0';
		if (step_run(cmd, "ssh keys status", step_deadline, o->wait_s, res, rep)) {
			if (status_serial(res->out, &rep->running_serial)) {
				rep->serial_known = true;
				last[0] = '\0';
				if (rep->running_serial == o->serial) {
					rep->confirmed = true;
					break;
				}
			} else {
				snprintf(last, sizeof(last), "no serial in the answer of keys status");
			}
		} else {
			memcpy(last, rep->error, sizeof(last));
		}
		if (proc_now_ms() + PUSH_POLL_MS >= deadline)
			break;
		poll(NULL, 0, PUSH_POLL_MS);
	}
	if (!rep->confirmed) {
		if (rep->serial_known)
			snprintf(rep->error, sizeof(rep->error), "runs serial %" PRIu64 ", pushed %"
			    PRIu64 " (not confirmed within %u s)", rep->running_serial, o->serial,
			    o->wait_s);
		else
			snprintf(rep->error, sizeof(rep->error), "serial unknown after %u s: %.*s",
			    o->wait_s, PUSH_REASON_MAX, last);
	}
	free(res);
}

/* One host, start to end, in a worker process: copy, rename, and with --wait the question. */
static void host_push(const char *host, const struct push_opts *o, char **cmd,
    struct push_report *rep)
{
	int64_t deadline = proc_now_ms() + (int64_t)o->timeout_s * 1000;
	struct proc_result *res = malloc(sizeof(*res));
	char target[1400];
	size_t k;

	memset(rep, 0, sizeof(*rep));
	if (!res) {
		snprintf(rep->error, sizeof(rep->error), "out of memory");
		return;
	}
	k = ssh_argv(cmd, "scp", o);
	snprintf(target, sizeof(target), "%s:%s", host, o->tmp);
	cmd[k++] = (char *)o->local;
	cmd[k++] = target;
	cmd[k] = NULL;
	if (!step_run(cmd, "scp", deadline, o->timeout_s, res, rep))
		goto out;
	/* The remote side runs this through its shell: plain characters only
	 * (remote_path_valid), so nothing in it is interpreted. */
	k = ssh_argv(cmd, "ssh", o);
	cmd[k++] = (char *)host;
	cmd[k++] = (char *)"mv";
	/* -T: a directory at the target is an error, not a place to move the roster into,
	 * where tunneld would never see it. */
	cmd[k++] = (char *)"-fT";
	cmd[k++] = (char *)"--";
	cmd[k++] = (char *)o->tmp;
	cmd[k++] = (char *)o->remote;
	cmd[k] = NULL;
	if (!step_run(cmd, "ssh mv", deadline, o->timeout_s, res, rep))
		goto out;
	rep->pushed = true;
	if (o->wait)
		host_wait(host, o, cmd, rep);
out:
	free(res);
}

/* Set by SIGINT, SIGTERM or SIGHUP in the parent: stop the workers and report. */
static volatile sig_atomic_t interrupted;

static void parent_on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* A worker told to stop takes its running scp or ssh with it (they are in a process group of
 * their own, out of reach of the terminal's Ctrl-C). */
static void worker_on_signal(int sig)
{
	(void)sig;
	proc_kill_running();
	_exit(1);
}

static void signals_set(void (*fn)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int worker_start(struct push_host *h, const struct push_opts *o, char **cmd)
{
	struct push_report rep;
	sigset_t stop, old;
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	/* Blocked until the worker has its own handler: before that, a stop sent to it would
	 * run the parent's (a flag the worker never reads) and be lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	pid = fork();
	if (pid < 0) {
		int ret = -errno;

		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[0]);
		close(p[1]);
		return ret;
	}
	if (pid == 0) {
		signals_set(worker_on_signal);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[0]);
		host_push(h->name, o, cmd, &rep);
		_exit(write(p[1], &rep, sizeof(rep)) == (ssize_t)sizeof(rep) ? 0 : 1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	h->pid = pid;
	h->fd = p[0];
	h->backstop_ms = proc_now_ms() + (int64_t)(o->timeout_s + (o->wait ? o->wait_s +
	    o->timeout_s : 0)) * 1000 + PUSH_BACKSTOP_MS;
	return 0;
}

/* Collects a worker's report, or stops it (SIGTERM: it ends what it runs; SIGKILL if it has
 * not within a second), and reaps it. */
static void worker_finish(struct push_host *h, bool killed)
{
	int64_t until = proc_now_ms() + 1000;
	ssize_t n = 0;
	pid_t w;

	if (killed) {
		kill(h->pid, SIGTERM);
		while ((w = waitpid(h->pid, NULL, WNOHANG)) == 0 && proc_now_ms() < until)
			poll(NULL, 0, 10);
		if (w == 0)
			kill(h->pid, SIGKILL);
		if (w == 0 || (w < 0 && errno == EINTR))
			while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
				;
	} else {
		n = read(h->fd, &h->rep, sizeof(h->rep));
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (n != (ssize_t)sizeof(h->rep)) {
		memset(&h->rep, 0, sizeof(h->rep));
		snprintf(h->rep.error, sizeof(h->rep.error), interrupted ? "interrupted" : killed ?
		    "no report in time (killed)" : "worker ended without a report");
	}
	h->rep.error[sizeof(h->rep.error) - 1] = '\0';
	close(h->fd);
	h->fd = -1;
	h->pid = 0;
	h->done = true;
}

static bool host_ok(const struct push_host *h, const struct push_opts *o)
{
	return h->rep.pushed && (!o->wait || h->rep.confirmed);
}

/* The progress line of a finished host, on stderr through the logger (which escapes). */
static void host_print(const struct push_host *h, const struct push_opts *o)
{
	if (!h->rep.pushed)
		log_msg(LOG_LEVEL_ERROR, "%s: FAILED: %s", h->name, h->rep.error);
	else if (!o->wait)
		log_msg(LOG_LEVEL_INFO, "%s: ok (serial %" PRIu64 ")", h->name, o->serial);
	else if (h->rep.confirmed)
		log_msg(LOG_LEVEL_INFO, "%s: ok, runs serial %" PRIu64, h->name,
		    h->rep.running_serial);
	else
		log_msg(LOG_LEVEL_ERROR, "%s: NOT CONFIRMED: %s", h->name, h->rep.error);
}

static void json_print(const struct push_host *hosts, size_t n, const struct push_opts *o,
    size_t ok)
{
	size_t i;

	printf("{\"serial\": %" PRIu64 ", \"hosts\": [", o->serial);
	for (i = 0; i < n; i++) {
		const struct push_report *r = &hosts[i].rep;

		printf("%s{\"host\": ", i ? ", " : "");
		json_string_write(stdout, hosts[i].name);
		printf(", \"pushed\": %s, \"confirmed\": %s, \"running_serial\": ",
		    r->pushed ? "true" : "false", !o->wait ? "null" : r->confirmed ? "true" :
		    "false");
		if (r->serial_known)
			printf("%" PRIu64, r->running_serial);
		else
			fputs("null", stdout);
		fputs(", \"error\": ", stdout);
		if (host_ok(&hosts[i], o))
			fputs("null", stdout);
		else
			json_string_write(stdout, r->error);
		fputs("}", stdout);
	}
	printf("], \"ok\": %zu, \"failed\": %zu}\n", ok, n - ok);
}

/* Starts workers while fewer than jobs run, collects reports, ends the overdue. */
static int hosts_run(struct push_host *hosts, size_t n, unsigned jobs,
    const struct push_opts *o, char **cmd)
{
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	size_t *idx = calloc(n, sizeof(*idx));
	size_t next = 0, running = 0, i, m;
	int64_t now, soonest;
	int ret = 0, r;

	if (!pfd || !idx) {
		ret = -ENOMEM;
		goto out;
	}
	while (next < n || running) {
		if (interrupted) {
			ret = -EINTR;
			goto out;
		}
		while (running < jobs && next < n) {
			r = worker_start(&hosts[next], o, cmd);
			if (r < 0) {
				snprintf(hosts[next].rep.error, sizeof(hosts[next].rep.error),
				    "cannot start a worker: %s", strerror(-r));
				hosts[next].done = true;
				host_print(&hosts[next], o);
			} else {
				running++;
			}
			next++;
		}
		now = proc_now_ms();
		soonest = INT64_MAX;
		for (i = 0, m = 0; i < next; i++) {
			if (hosts[i].done || hosts[i].fd < 0)
				continue;
			pfd[m].fd = hosts[i].fd;
			pfd[m].events = POLLIN;
			idx[m++] = i;
			if (hosts[i].backstop_ms < soonest)
				soonest = hosts[i].backstop_ms;
		}
		if (!m)
			continue;
		r = poll(pfd, m, soonest - now > 1000 ? 1000 : soonest - now < 0 ? 0 :
		    (int)(soonest - now));
		if (r < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		now = proc_now_ms();
		for (i = 0; i < m; i++) {
			struct push_host *h = &hosts[idx[i]];

			if (r > 0 && pfd[i].revents)
				worker_finish(h, false);
			else if (now >= h->backstop_ms)
				worker_finish(h, true);
			else
				continue;
			running--;
			host_print(h, o);
		}
	}
out:
	/* Only on an error or a signal: nothing may outlive the command. */
	for (i = 0; i < n; i++) {
		if (hosts[i].pid) {
			worker_finish(&hosts[i], true);
			host_print(&hosts[i], o);
		} else if (!hosts[i].done) {
			snprintf(hosts[i].rep.error, sizeof(hosts[i].rep.error), "not tried (%s)",
			    strerror(-ret));
		}
	}
	free(pfd);
	free(idx);
	return ret;
}

int cmd_push(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", optional_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "remote-path", required_argument, NULL, 'p' },
		{ "remote-roster", required_argument, NULL, 'R' },
		{ "remote-keys", required_argument, NULL, 'k' },
		{ "ssh-option", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[CLI_PATH_MAX], local[PATH_MAX], derived[1100];
	struct push_opts o = {
		.remote = CLI_NODE_ROSTER_NEW, .remote_keys = "keys",
		.timeout_s = PUSH_TIMEOUT_DEFAULT, .wait_s = PUSH_WAIT_DEFAULT,
	};
	struct push_host *hosts = NULL;
	const char *slash;
	bool json = false;
	unsigned jobs = PUSH_JOBS_DEFAULT;
	char **cmd = NULL;
	size_t i, j, n, ok = 0;
	struct roster r;
	int c, ret = EXIT_FAIL;
	size_t len;

	roster_init(&r);
	o.ssh_opts = calloc((size_t)argc, sizeof(*o.ssh_opts));
	cmd = calloc((size_t)argc * 2 + SCP_FIXED_ARGS, sizeof(*cmd));
	if (!o.ssh_opts || !cmd) {
		log_error("out of memory");
		goto out;
	}
	while ((c = cli_getopt_short(argc, argv, ":hj:o:", opts)) != -1) {
		switch (c) {
		case 'j':
			if (!uint_parse(optarg, PUSH_JOBS_MAX, &jobs)) {
				log_error("-j '%.100s' is not a number of hosts (1-%d)", optarg,
				    PUSH_JOBS_MAX);
				ret = usage_error();
				goto out;
			}
			break;
		case 't':
			if (!uint_parse(optarg, PUSH_SECONDS_MAX, &o.timeout_s)) {
				log_error("--timeout '%.100s' is not seconds (1-%d)", optarg,
				    PUSH_SECONDS_MAX);
				ret = usage_error();
				goto out;
			}
			break;
		case 'w':
			o.wait = true;
			/* --wait SECONDS as well as --wait=SECONDS: a host is never all digits. */
			if (!optarg && optind < argc && argv[optind][0] >= '0' &&
			    argv[optind][0] <= '9' && strspn(argv[optind], "0123456789") ==
			    strlen(argv[optind]))
				optarg = argv[optind++];
			if (optarg && !uint_parse(optarg, PUSH_SECONDS_MAX, &o.wait_s)) {
				log_error("--wait '%.100s' is not seconds (1-%d)", optarg,
				    PUSH_SECONDS_MAX);
				ret = usage_error();
				goto out;
			}
			break;
		case 'J':
			json = true;
			break;
		case 'p':
			o.remote = optarg;
			break;
		case 'R':
			o.remote_roster = optarg;
			break;
		case 'k':
			o.remote_keys = optarg;
			break;
		case 'o':
			o.ssh_opts[o.n_opts++] = optarg;
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
	/* Every argument checked before the first copy.  An argument given twice is refused:
	 * its copies, run in parallel, would share one temporary name and race.  (The same
	 * machine under two users is let through: tests give a refused user beside a good one.) */
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (!host_valid(argv[i])) {
			log_error("invalid host '%.100s' ([user@]host or "
			    "[user@][ipv6])", argv[i]);
			goto out;
		}
		for (j = (size_t)optind; j < i; j++)
			if (strcmp(argv[i], argv[j]) == 0) {
				log_error("host '%.100s' named twice", argv[i]);
				goto out;
			}
	}
	if (!remote_path_valid(o.remote)) {
		log_error("--remote-path '%.100s' must be an absolute path of letters, "
		    "digits and /._+-", o.remote);
		goto out;
	}
	/* The node runs Roster; the push writes Roster.new next to it. */
	len = strlen(o.remote);
	if (!o.remote_roster && len > 4 && strcmp(o.remote + len - 4, ".new") == 0) {
		snprintf(derived, sizeof(derived), "%.*s", (int)(len - 4), o.remote);
		o.remote_roster = derived;
	}
	if (o.wait && !o.remote_roster) {
		log_error("--wait: --remote-path does not end in .new; name the node's roster "
		    "with --remote-roster");
		ret = usage_error();
		goto out;
	}
	if (o.remote_roster && !remote_path_valid(o.remote_roster)) {
		log_error("--remote-roster '%.100s' must be an absolute path of letters, "
		    "digits and /._+-", o.remote_roster);
		goto out;
	}
	if (!remote_program_valid(o.remote_keys)) {
		log_error("--remote-keys '%.100s' must be a program name or an absolute path of "
		    "letters, digits and /._+-", o.remote_keys);
		goto out;
	}
	for (i = 0; i < o.n_opts; i++)
		if (!ssh_option_valid(o.ssh_opts[i])) {
			log_error("--ssh-option '%.100s' is not Key=Value",
			    o.ssh_opts[i]);
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
	/* Nodes would take it (it is newer), but their engineers would be locked out at once. */
	if (roster_expiry_at(&r, (int64_t)time(NULL), 0) == ROSTER_EXPIRY_EXPIRED) {
		char expiry[ROSTER_EXPIRY_TEXT_MAX];

		roster_expiry_text(expiry, &r, (int64_t)time(NULL));
		log_error("%s/%s (serial %llu) %s: nodes running it refuse engineers; renew it "
		    "first (keys publish --renew)", cli_dir, CLI_ROSTER_SIGNED,
		    (unsigned long long)r.serial, expiry);
		goto out;
	}
	cli_unpublished_warn(&r, "pushing");
	cli_expiry_warn(&r);
	o.serial = r.serial;
	/* Absolute, so scp never reads a ':' in the directory name as host:path. */
	if (!cli_path(path, CLI_ROSTER_SIGNED) || !realpath(path, local)) {
		log_error("%s: %s", path, strerror(errno));
		goto out;
	}
	o.local = local;

	/* The temporary name: same directory (rename is atomic only there), dot-prefixed so
	 * nothing watching for the target's name takes it, unique per push. */
	slash = strrchr(o.remote, '/');
	snprintf(o.tmp, sizeof(o.tmp), "%.*s.%s.push-%ld", (int)(slash - o.remote + 1), o.remote,
	    slash + 1, (long)getpid());
	n = (size_t)(argc - optind);
	hosts = calloc(n, sizeof(*hosts));
	if (!hosts) {
		log_error("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		hosts[i].name = argv[optind + (int)i];
		hosts[i].fd = -1;
	}
	signals_set(parent_on_signal);
	c = hosts_run(hosts, n, jobs, &o, cmd);
	if (c == -EINTR)
		log_error("push: interrupted; every scp and ssh it ran is stopped");
	else if (c < 0)
		log_error("push: %s", strerror(-c));
	for (i = 0; i < n; i++)
		ok += host_ok(&hosts[i], &o);
	if (json)
		json_print(hosts, n, &o, ok);
	fflush(stdout);
	if (c < 0)
		goto out;
	if (ok < n) {
		log_error("push failed for %zu of %zu hosts%s", n - ok, n,
		    o.wait ? " (not pushed, or not running the pushed serial)" : "");
		goto out;
	}
	ret = EXIT_OK;
out:
	free(hosts);
	free(o.ssh_opts);
	free(cmd);
	roster_free(&r);
	return ret;
}
