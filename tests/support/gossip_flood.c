/* A hostile gossip client for the integration tests (tests/integration/test_gossip_*.sh).
 * Every mode is bounded in connections, bytes and time, and stops by itself.
 *
 *   gossip_flood body ADDR PORT BYTES [-f FILE] [-c] [-b SRC] [-t SECONDS]
 *	POST /v1/roster with BYTES of garbage ending in a garbage signature line (or the first
 *	BYTES of FILE), announced by Content-Length (or sent chunked with -c), from SRC if
 *	given.  Prints
 *	"sent=N status=CODE closed=0|1 ms=T": how many body bytes the server let in before it
 *	answered or closed, its HTTP status (0: none), and whether it closed the connection.
 *
 *   gossip_flood slow ADDR PORT CONNS SECONDS INTERVAL [-b SRC] [-r REOPENS]
 *	Holds up to CONNS connections that each send one byte of a POST every INTERVAL seconds
 *	(slowloris), for SECONDS; a connection the server closed is reopened at the next tick, at
 *	most REOPENS times in all (default 4 * CONNS).  Prints "opened=N established=N
 *	server_closed=N oldest_alive=S longest_closed=S half_open=N": oldest_alive is the age in
 *	seconds of the oldest connection still open on the server at the end (not closed, every
 *	byte acknowledged), longest_closed the longest life of one the server closed after it had
 *	taken bytes, half_open the connections whose bytes the server never acknowledged.  Ages
 *	count from the first byte sent (the tick after the connection was established). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool parse_addr(const char *addr, unsigned port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return true;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

/* A non-blocking socket connecting to dst (from src if given); -1 on error. */
static int open_conn(const struct sockaddr_storage *dst, socklen_t dlen,
    const struct sockaddr_storage *src, socklen_t slen)
{
	int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if ((src && bind(fd, (const struct sockaddr *)src, slen) < 0) ||
	    (connect(fd, (const struct sockaddr *)dst, dlen) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads whatever the server answered; returns the HTTP status in it (0: none yet) and sets
 * *closed on EOF or error. */
static int read_answer(int fd, char *buf, size_t size, size_t *have, bool *closed)
{
	ssize_t r;
	int code = 0;

	while (*have + 1 < size) {
		r = recv(fd, buf + *have, size - 1 - *have, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			*closed = true;
			break;
		}
		if (r < 0)
			break;
		*have += (size_t)r;
	}
	buf[*have] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	return code;
}

/* -f FILE, mapped. */
static const char *body_file;
static unsigned long long body_file_len;

/* Byte i of a body of total bytes: FILE's, or lines of 'x' ending in a garbage signature. */
static char body_byte(unsigned long long i, unsigned long long total)
{
	static const char sig[] = "\nsignature AAAAgarbagegarbagegarbagegarbagegarbage==\n";
	const unsigned long long slen = sizeof(sig) - 1;

	if (body_file)
		return body_file[i];

	if (total >= slen && i >= total - slen)
		return sig[i - (total - slen)];
	return i % 64 == 63 ? '\n' : 'x';
}

static int run_body(const struct sockaddr_storage *dst, socklen_t dlen,
    const struct sockaddr_storage *src, socklen_t slen, unsigned long long total, bool chunked,
    double limit)
{
	static char buf[65536 + 64];
	char answer[4096];
	unsigned long long planned = 0, written = 0, head_len;
	size_t have = 0, off = 0, blen = 0;
	double t0 = now_s();
	bool closed = false, head_done = false, all_queued = false;
	int fd, code = 0;
	struct pollfd pfd;

	if (chunked)
		blen = (size_t)snprintf(buf, sizeof(buf), "POST /v1/roster HTTP/1.1\r\nHost: v\r\n"
		    "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
	else
		blen = (size_t)snprintf(buf, sizeof(buf), "POST /v1/roster HTTP/1.1\r\nHost: v\r\n"
		    "Content-Type: text/plain\r\nContent-Length: %llu\r\n\r\n", total);
	head_len = blen;
	fd = open_conn(dst, dlen, src, slen);
	if (fd < 0) {
		perror("gossip_flood: connect");
		return 1;
	}
	pfd.fd = fd;
	while (!closed && !code && now_s() - t0 < limit) {
		pfd.events = POLLIN | (all_queued && off == blen ? 0 : POLLOUT);
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			break;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			code = read_answer(fd, answer, sizeof(answer), &have, &closed);
			continue;
		}
		if (!(pfd.revents & POLLOUT))
			continue;
		if (off == blen) {
			/* The next piece: 64 KiB of body (a chunk when chunked), the last chunk. */
			off = blen = 0;
			head_done = true;
			if (planned < total) {
				unsigned long long n = total - planned;

				if (n > 65536)
					n = 65536;
				if (chunked)
					blen = (size_t)snprintf(buf, sizeof(buf), "%llx\r\n", n);
				for (unsigned long long i = 0; i < n; i++)
					buf[blen++] = body_byte(planned + i, total);
				if (chunked) {
					buf[blen++] = '\r';
					buf[blen++] = '\n';
				}
				planned += n;
			} else if (chunked && !all_queued) {
				blen = (size_t)snprintf(buf, sizeof(buf), "0\r\n\r\n");
				all_queued = true;
			} else {
				all_queued = true;
				continue;
			}
		}
		{
			ssize_t w = send(fd, buf + off, blen - off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w < 0) {
				if (errno != EAGAIN && errno != EINTR)
					closed = true;
				continue;
			}
			off += (size_t)w;
			written += (unsigned long long)w;
		}
	}
	(void)head_done;
	close(fd);
	printf("sent=%llu status=%d closed=%d ms=%.0f\n",
	    written > head_len ? written - head_len : 0, code, closed ? 1 : 0,
	    (now_s() - t0) * 1000);
	return 0;
}

struct slot {
	int fd;
	double opened;		/* when the first byte went out: connected by then */
	size_t pos;		/* bytes of the request sent */
};

static int run_slow(const struct sockaddr_storage *dst, socklen_t dlen,
    const struct sockaddr_storage *src, socklen_t slen, unsigned conns, double seconds,
    double interval, unsigned long reopens_max)
{
	static const char req[] = "POST /v1/roster HTTP/1.1\r\nHost: v\r\nContent-Length: 100000"
	    "\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct slot *s = calloc(conns, sizeof(*s));
	unsigned long opened = 0, established = 0, server_closed = 0, reopens = 0, half_open = 0;
	double t0 = now_s(), next = t0, longest_closed = 0, oldest = 0, t;
	struct rlimit rl;
	char c;

	if (!s)
		return 1;
	/* One fd per connection, and a few to spare. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < conns + 64) {
		rl.rlim_cur = conns + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			perror("gossip_flood: setrlimit");
	}
	for (unsigned i = 0; i < conns; i++)
		s[i].fd = -1;
	while ((t = now_s()) - t0 < seconds) {
		if (t < next) {
			usleep((useconds_t)((next - t) * 1e6) + 1000);
			continue;
		}
		next += interval;
		for (unsigned i = 0; i < conns; i++) {
			struct slot *x = &s[i];
			ssize_t r;

			if (x->fd < 0) {
				if (opened >= conns && reopens >= reopens_max)
					continue;
				if (opened >= conns)
					reopens++;
				x->fd = open_conn(dst, dlen, src, slen);
				x->pos = 0;
				if (x->fd >= 0)
					opened++;
				continue;
			}
			r = recv(x->fd, &c, 1, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != ENOTCONN) || r > 0) {
				goto closed;
			}
			r = send(x->fd, req + x->pos % (sizeof(req) - 1), 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r == 1) {
				/* Ages count from here: a SYN the server's full queue
				 * dropped is retried for seconds, and the server's
				 * deadline starts at accept. */
				if (x->pos++ == 0) {
					established++;
					x->opened = t;
				}
				continue;
			}
			if (errno == EAGAIN || errno == ENOTCONN || errno == EINPROGRESS)
				continue;
closed:
			if (x->pos > 0) {
				server_closed++;
				if (t - x->opened > longest_closed)
					longest_closed = t - x->opened;
			}
			close(x->fd);
			x->fd = -1;
		}
	}
	t = now_s();
	for (unsigned i = 0; i < conns; i++) {
		int unacked = 0;

		if (s[i].fd < 0)
			continue;
		/* Still open on the server: not closed, and every byte sent was acknowledged.  A
		 * handshake whose last ACK the server dropped (its accept queue was full during the
		 * opening burst) looks established here but has no socket there: its bytes stay
		 * unacknowledged, so it is not counted. */
		if (s[i].pos > 0 && recv(s[i].fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN &&
		    ioctl(s[i].fd, SIOCOUTQ, &unacked) == 0) {
			if (unacked > 0)
				half_open++;
			else if (t - s[i].opened > oldest)
				oldest = t - s[i].opened;
		}
		close(s[i].fd);
	}
	free(s);
	printf("opened=%lu established=%lu server_closed=%lu oldest_alive=%.0f "
	    "longest_closed=%.0f half_open=%lu\n", opened, established, server_closed, oldest,
	    longest_closed, half_open);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: gossip_flood body ADDR PORT BYTES [-f FILE] [-c] [-b SRC] "
	    "[-t SECONDS]\n"
	    "       gossip_flood slow ADDR PORT CONNS SECONDS INTERVAL [-b SRC] [-r REOPENS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen = 0;
	bool have_src = false, chunked = false;
	double limit = 30;
	unsigned long reopens = 0;
	int first_opt, i;

	if (argc < 5)
		usage();
	if (!parse_addr(argv[2], (unsigned)strtoul(argv[3], NULL, 10), &dst, &dlen))
		usage();
	first_opt = strcmp(argv[1], "body") == 0 ? 5 : 7;
	if (argc < first_opt)
		usage();
	for (i = first_opt; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			chunked = true;
		} else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) {
			if (!parse_addr(argv[++i], 0, &src, &slen))
				usage();
			have_src = true;
		} else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			struct stat st;
			int fd = open(argv[++i], O_RDONLY | O_CLOEXEC);

			if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0 ||
			    (body_file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			    0)) == MAP_FAILED) {
				perror(argv[i]);
				return 1;
			}
			body_file_len = (unsigned long long)st.st_size;
			close(fd);
		} else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			limit = strtod(argv[++i], NULL);
		} else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
			reopens = strtoul(argv[++i], NULL, 10);
		} else {
			usage();
		}
	}
	if (strcmp(argv[1], "body") == 0) {
		unsigned long long bytes = strtoull(argv[4], NULL, 10);

		if (body_file && bytes > body_file_len)
			bytes = body_file_len;
		return run_body(&dst, dlen, have_src ? &src : NULL, slen, bytes, chunked, limit);
	}
	if (strcmp(argv[1], "slow") == 0) {
		unsigned conns = (unsigned)strtoul(argv[4], NULL, 10);

		if (conns == 0 || conns > 20000)
			usage();
		return run_slow(&dst, dlen, have_src ? &src : NULL, slen, conns,
		    strtod(argv[5], NULL), strtod(argv[6], NULL), reopens ? reopens : 4ul * conns);
	}
	usage();
	return 2;
}
