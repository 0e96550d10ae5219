/* udp_impair: a UDP relay between two nodes that impairs what it forwards, for integration
 * tests on a kernel without tc netem (CONFIG_NET_SCH_NETEM is off here).  It runs in a
 * namespace of its own on the underlay; each node's Endpoint for the other points at it:
 *
 *   a  --(to LISTEN_B)-->  relay  --(from LISTEN_A)-->  b
 *   a  <--(from LISTEN_B)--  relay  <--(to LISTEN_A)--  b
 *
 * so each node sees its peer at the relay's address and answers there.  Every datagram, in
 * both directions, goes through the same impairments as netem's would on both links:
 *   -l P   lost with probability P %
 *   -u P   duplicated with probability P % (the copy is impaired independently)
 *   -d MS  delayed MS milliseconds, -j MS plus or minus up to MS, uniform: as netem, a
 *          packet's release time is its own, so jitter reorders
 *   -r P   with probability P %, sent at once instead of after the delay (netem's
 *          "delay D reorder P%": the rest wait D, so these overtake them)
 * Datagrams wait in a bounded queue (-q slots, preallocated, 2048 bytes each; a full queue
 * drops, as a qdisc does); nothing is allocated per packet.  The random numbers come from a
 * seeded xorshift generator (-s), so a run can be repeated.  The relay stops by itself after -t
 * seconds (or on SIGTERM/SIGINT) and prints its counters on stderr.  Only datagrams from the
 * expected peer are relayed.
 *
 * Usage: udp_impair -A ADDR:PORT -B ADDR:PORT -a ADDR:PORT -b ADDR:PORT [-l P] [-u P]
 *        [-r P] [-d MS] [-j MS] [-q SLOTS] [-s SEED] [-t SECONDS]
 *   -A, -B  where the relay listens for what is meant for a (sent by b), and for b (sent by a)
 *   -a, -b  the nodes' own addresses (IPv4)
 * Exit status: 0 after the run, 1 on a system error, 2 on bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SLOT_BYTES = 2048, RECV_BATCH = 64, DEFAULT_SLOTS = 16384, MAX_SLOTS = 1 << 20 };

struct slot {
	uint64_t due_ns;
	uint64_t seq;		/* arrival order: equal release times keep it */
	int to;			/* 0: to a, 1: to b */
	size_t len;
	uint8_t *data;
};

struct relay {
	int fd[2];			/* fd[0] listens on -A (traffic for a), fd[1] on -B */
	struct sockaddr_in node[2];	/* a, b */
	unsigned loss, dup, reorder;	/* per cent */
	uint64_t delay_ns, jitter_ns;
	uint64_t rng;
	struct slot *slots;
	uint32_t *heap;			/* indices into slots, a min-heap by (due_ns, seq) */
	uint32_t *free_list;
	size_t n_slots, n_heap, n_free;
	uint64_t seq;
	uint64_t n_in, n_out, n_lost, n_dup, n_reordered, n_full, n_foreign, n_big;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, seeded, good enough to draw test impairments. */
static uint64_t rnd(struct relay *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 2685821657736338717ull;
}

static bool chance(struct relay *r, unsigned percent)
{
	return percent && rnd(r) % 100 < percent;
}

static bool parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return false;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

static bool parse_num(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && *s && !*end && *v <= max;
}

static bool before(const struct slot *x, const struct slot *y)
{
	return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void heap_push(struct relay *r, uint32_t i)
{
	size_t k = r->n_heap++;

	while (k > 0 && before(&r->slots[i], &r->slots[r->heap[(k - 1) / 2]])) {
		r->heap[k] = r->heap[(k - 1) / 2];
		k = (k - 1) / 2;
	}
	r->heap[k] = i;
}

static uint32_t heap_pop(struct relay *r)
{
	uint32_t top = r->heap[0], last = r->heap[--r->n_heap];
	size_t k = 0, c;

	while ((c = 2 * k + 1) < r->n_heap) {
		if (c + 1 < r->n_heap && before(&r->slots[r->heap[c + 1]], &r->slots[r->heap[c]]))
			c++;
		if (!before(&r->slots[r->heap[c]], &r->slots[last]))
			break;
		r->heap[k] = r->heap[c];
		k = c;
	}
	if (r->n_heap)
		r->heap[k] = last;
	return top;
}

/* Queues one copy of a datagram for node `to`, with its own delay. */
static void enqueue(struct relay *r, int to, const uint8_t *data, size_t len, uint64_t now)
{
	struct slot *s;
	uint64_t delay = r->delay_ns;
	uint32_t i;

	if (!r->n_free) {
		r->n_full++;
		return;
	}
	if (r->jitter_ns)
		delay = delay + rnd(r) % (2 * r->jitter_ns + 1) - r->jitter_ns;
	if (chance(r, r->reorder)) {
		delay = 0;
		r->n_reordered++;
	}
	i = r->free_list[--r->n_free];
	s = &r->slots[i];
	s->due_ns = now + delay;
	s->seq = r->seq++;
	s->to = to;
	s->len = len;
	memcpy(s->data, data, len);
	heap_push(r, i);
}

/* Reads what waits on fd[for_node]: datagrams the other node sent for for_node. */
static void receive(struct relay *r, int for_node)
{
	static uint8_t buf[RECV_BATCH][SLOT_BYTES];
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_in src[RECV_BATCH];
	const struct sockaddr_in *sender = &r->node[!for_node];
	uint64_t now;
	int n, k;

	for (k = 0; k < RECV_BATCH; k++) {
		iov[k] = (struct iovec){ buf[k], SLOT_BYTES };
		msgs[k].msg_hdr = (struct msghdr){ .msg_name = &src[k], .msg_namelen = sizeof(src[k]),
		    .msg_iov = &iov[k], .msg_iovlen = 1 };
	}
	n = recvmmsg(r->fd[for_node], msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
	now = now_ns();
	for (k = 0; k < n; k++) {
		r->n_in++;
		if (src[k].sin_addr.s_addr != sender->sin_addr.s_addr ||
		    src[k].sin_port != sender->sin_port) {
			r->n_foreign++;
			continue;
		}
		if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) {
			r->n_big++;
			continue;
		}
		if (chance(r, r->loss)) {
			r->n_lost++;
			continue;
		}
		enqueue(r, for_node, buf[k], msgs[k].msg_len, now);
		if (chance(r, r->dup)) {
			r->n_dup++;
			enqueue(r, for_node, buf[k], msgs[k].msg_len, now);
		}
	}
}

/* Sends every datagram that is due; the one for node `to` leaves from the other listener, so
 * that `to` sees its peer at the relay address it sends to. */
static void release(struct relay *r)
{
	uint64_t now = now_ns();
	struct slot *s;
	uint32_t i;

	while (r->n_heap && r->slots[r->heap[0]].due_ns <= now) {
		i = heap_pop(r);
		s = &r->slots[i];
		if (sendto(r->fd[!s->to], s->data, s->len, MSG_DONTWAIT,
		    (const struct sockaddr *)&r->node[s->to], sizeof(r->node[s->to])) >= 0)
			r->n_out++;
		r->free_list[r->n_free++] = i;
	}
}

static int listen_on(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), size = 8 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: udp_impair -A ADDR:PORT -B ADDR:PORT -a ADDR:PORT -b ADDR:PORT "
	    "[-l P] [-u P] [-r P] [-d MS] [-j MS] [-q SLOTS] [-s SEED] [-t SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct relay r = { .fd = { -1, -1 }, .rng = 1 };
	struct sockaddr_in listen_addr[2];
	unsigned long v, seconds = 60, slots = DEFAULT_SLOTS;
	bool have[4] = { false };
	uint64_t end, now, wait;
	struct pollfd pfd[2];
	struct timespec ts;
	int opt, ret = 1;
	size_t i;

	while ((opt = getopt(argc, argv, "A:B:a:b:l:u:r:d:j:q:s:t:")) != -1) {
		switch (opt) {
		case 'A': have[0] = parse_addr(optarg, &listen_addr[0]); if (!have[0]) return usage(); break;
		case 'B': have[1] = parse_addr(optarg, &listen_addr[1]); if (!have[1]) return usage(); break;
		case 'a': have[2] = parse_addr(optarg, &r.node[0]); if (!have[2]) return usage(); break;
		case 'b': have[3] = parse_addr(optarg, &r.node[1]); if (!have[3]) return usage(); break;
		case 'l': if (!parse_num(optarg, 100, &v)) return usage(); r.loss = (unsigned)v; break;
		case 'u': if (!parse_num(optarg, 100, &v)) return usage(); r.dup = (unsigned)v; break;
		case 'r': if (!parse_num(optarg, 100, &v)) return usage(); r.reorder = (unsigned)v; break;
		case 'd': if (!parse_num(optarg, 10000, &v)) return usage(); r.delay_ns = v * 1000000u; break;
		case 'j': if (!parse_num(optarg, 10000, &v)) return usage(); r.jitter_ns = v * 1000000u; break;
		case 'q': if (!parse_num(optarg, MAX_SLOTS, &slots) || !slots) return usage(); break;
		case 's': if (!parse_num(optarg, ULONG_MAX, &v)) return usage(); r.rng = v | 1; break;
		case 't': if (!parse_num(optarg, 3600, &seconds) || !seconds) return usage(); break;
		default: return usage();
		}
	}
	if (optind != argc || !have[0] || !have[1] || !have[2] || !have[3] || r.jitter_ns > r.delay_ns)
		return usage();
	r.n_slots = slots;
	r.slots = calloc(slots, sizeof(*r.slots));
	r.heap = calloc(slots, sizeof(*r.heap));
	r.free_list = calloc(slots, sizeof(*r.free_list));
	if (!r.slots || !r.heap || !r.free_list)
		goto out;
	for (i = 0; i < slots; i++) {
		r.slots[i].data = malloc(SLOT_BYTES);
		if (!r.slots[i].data)
			goto out;
		r.free_list[r.n_free++] = (uint32_t)(slots - 1 - i);
	}
	for (i = 0; i < 2; i++) {
		r.fd[i] = listen_on(&listen_addr[i]);
		if (r.fd[i] < 0) {
			perror("udp_impair: bind");
			goto out;
		}
		pfd[i] = (struct pollfd){ .fd = r.fd[i], .events = POLLIN };
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	end = now_ns() + (uint64_t)seconds * 1000000000u;
	while (!stop && (now = now_ns()) < end) {
		/* Sleep until the next release (at most 50 ms: the deadline and signals). */
		wait = 50000000u;
		if (r.n_heap)
			wait = r.slots[r.heap[0]].due_ns > now ? r.slots[r.heap[0]].due_ns - now : 0;
		if (wait > 50000000u)
			wait = 50000000u;
		ts = (struct timespec){ (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };
		if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR) {
			perror("udp_impair: ppoll");
			goto out;
		}
		for (i = 0; i < 2; i++)
			if (pfd[i].revents & POLLIN)
				receive(&r, (int)i);
		release(&r);
	}
	ret = 0;
out:
	fprintf(stderr, "udp_impair: in %llu, out %llu, lost %llu, duplicated %llu, sent early "
	    "%llu, queue full %llu, foreign %llu, oversized %llu\n",
	    (unsigned long long)r.n_in, (unsigned long long)r.n_out, (unsigned long long)r.n_lost,
	    (unsigned long long)r.n_dup, (unsigned long long)r.n_reordered,
	    (unsigned long long)r.n_full, (unsigned long long)r.n_foreign,
	    (unsigned long long)r.n_big);
	for (i = 0; i < 2; i++)
		if (r.fd[i] >= 0)
			close(r.fd[i]);
	for (i = 0; r.slots && i < r.n_slots; i++)
		free(r.slots[i].data);
	free(r.slots);
	free(r.heap);
	free(r.free_list);
	return ret;
}
