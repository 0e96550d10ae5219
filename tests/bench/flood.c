/* A forged-handshake flooder for the benchmark and the flood test: handshake initiations that
 * pass the victim's first check (a valid mac1, computed from its public key, as anyone who
 * knows a node's public key can) and carry random garbage after it, so the victim spends what
 * it spends on an unknown sender.  Written from the whitepaper (5.4.2, 5.4.4, 5.4.7), not from
 * tunneld's code, so it doubles as an independent check of the mac1 computation.
 *
 *   flood [--cookie] [--port P] HOST PORT PUBKEY COUNT SECONDS
 *
 * Sends COUNT initiations to HOST:PORT, paced evenly over (95% of) SECONDS, and stops at
 * whichever limit comes first.  It never answers anything.  With --cookie it is the stronger attacker
 * that reads the victim's cookie replies and puts a valid mac2 on what it sends next (all from
 * one source address and port, the one the cookie is bound to).  --port binds the source port.
 * Prints one line: key=value counters (sent, seconds, rate, cookie replies, cookies used).
 *
 * Test traffic only: HOST must be an address of a namespace the caller created. */
#include <arpa/inet.h>
#include <blake2.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

enum {
	KEY_LEN = 32,
	MAC_LEN = 16,
	INIT_LEN = 148,
	MAC1_OFF = 116,		/* type..encrypted timestamp */
	MAC2_OFF = 132,
	COOKIE_REPLY_LEN = 64,
	BATCH = 64,
	/* Recent sender indices and their mac1, to open the cookie reply that answers them. */
	RING = 1 << 14,
	MAX_COUNT = 10000000,
	MAX_SECONDS = 600,
};

struct sent {
	uint32_t index;
	uint8_t mac1[MAC_LEN];
};

static struct sent ring[RING];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && !*end && !errno && *out <= max;
}

/* HASH(label || pub), BLAKE2s-256. */
static void derive(uint8_t out[KEY_LEN], const char *label, const uint8_t pub[KEY_LEN])
{
	uint8_t in[8 + KEY_LEN];

	memcpy(in, label, 8);
	memcpy(in + 8, pub, KEY_LEN);
	blake2s(out, in, NULL, KEY_LEN, sizeof(in), 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: flood [--cookie] [--port P] HOST PORT PUBKEY COUNT SECONDS\n");
	exit(2);
}

/* Reads the cookie replies waiting on fd; the newest that opens becomes *cookie. */
static void read_cookies(int fd, const uint8_t cookie_key[KEY_LEN], uint8_t cookie[MAC_LEN],
    bool *have, unsigned long *replies, unsigned long *opened)
{
	uint8_t m[COOKIE_REPLY_LEN + 1], plain[MAC_LEN];
	uint32_t idx;
	ssize_t n;

	while ((n = recv(fd, m, sizeof(m), MSG_DONTWAIT)) >= 0) {
		if (n != COOKIE_REPLY_LEN || m[0] != 3)
			continue;
		(*replies)++;
		if (!cookie)
			continue;
		memcpy(&idx, m + 4, 4);		/* receiver = our sender index, little-endian */
		idx = le32toh(idx);
		if (ring[idx % RING].index != idx)
			continue;
		/* XChaCha20-Poly1305(key, nonce m[8..32], cookie, AD = the mac1 it answers) */
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, m + 32, 32,
		    ring[idx % RING].mac1, MAC_LEN, m + 8, cookie_key) != 0)
			continue;
		memcpy(cookie, plain, MAC_LEN);
		*have = true;
		(*opened)++;
	}
}

int main(int argc, char **argv)
{
	uint8_t pub[KEY_LEN], mac1_key[KEY_LEN], cookie_key[KEY_LEN], cookie[MAC_LEN];
	static uint8_t msgs[BATCH][INIT_LEN];
	struct mmsghdr mh[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage to;
	socklen_t to_len;
	unsigned long port, count, seconds, src_port = 0, sent = 0, replies = 0, opened = 0;
	uint64_t t0, deadline, pace_ns, due, elapsed;
	bool use_cookie = false, have_cookie = false;
	size_t pub_len;
	int fd, i, n, argi = 1;

	while (argi < argc && argv[argi][0] == '-') {
		if (strcmp(argv[argi], "--cookie") == 0) {
			use_cookie = true;
			argi++;
		} else if (strcmp(argv[argi], "--port") == 0 && argi + 1 < argc &&
		    parse_ulong(argv[argi + 1], 65535, &src_port)) {
			argi += 2;
		} else {
			usage();
		}
	}
	if (argc - argi != 5 || sodium_init() < 0)
		usage();
	memset(&to, 0, sizeof(to));
	if (inet_pton(AF_INET, argv[argi], &((struct sockaddr_in *)&to)->sin_addr) == 1) {
		to.ss_family = AF_INET;
		to_len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[argi], &((struct sockaddr_in6 *)&to)->sin6_addr) == 1) {
		to.ss_family = AF_INET6;
		to_len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "flood: %.100s: not an IPv4 or IPv6 address\n", argv[argi]);
		return 2;
	}
	if (!parse_ulong(argv[argi + 1], 65535, &port) || port == 0 ||
	    sodium_base642bin(pub, sizeof(pub), argv[argi + 2], strlen(argv[argi + 2]), NULL,
	    &pub_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || pub_len != KEY_LEN ||
	    !parse_ulong(argv[argi + 3], MAX_COUNT, &count) ||
	    !parse_ulong(argv[argi + 4], MAX_SECONDS, &seconds) || seconds == 0) {
		fprintf(stderr, "flood: bad port, public key, count (<= %d) or seconds (1..%d)\n",
		    MAX_COUNT, MAX_SECONDS);
		return 2;
	}
	if (to.ss_family == AF_INET)
		((struct sockaddr_in *)&to)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&to)->sin6_port = htons((uint16_t)port);
	derive(mac1_key, "mac1----", pub);
	derive(cookie_key, "cookie--", pub);

	fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("flood: socket");
		return 1;
	}
	if (src_port) {
		struct sockaddr_storage self;

		memset(&self, 0, sizeof(self));
		self.ss_family = to.ss_family;
		if (to.ss_family == AF_INET)
			((struct sockaddr_in *)&self)->sin_port = htons((uint16_t)src_port);
		else
			((struct sockaddr_in6 *)&self)->sin6_port = htons((uint16_t)src_port);
		if (bind(fd, (struct sockaddr *)&self, to_len) < 0) {
			perror("flood: bind");
			return 1;
		}
	}
	if (connect(fd, (struct sockaddr *)&to, to_len) < 0) {
		perror("flood: connect");
		return 1;
	}
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = msgs[i];
		iov[i].iov_len = INIT_LEN;
		memset(&mh[i], 0, sizeof(mh[i]));
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now_ns();
	deadline = t0 + (uint64_t)seconds * 1000000000ULL;
	/* Paced to have sent everything at 95% of the time, so that a busy scheduler near the end
	 * does not cut the count short; the deadline still holds. */
	pace_ns = (uint64_t)seconds * 950000000ULL;
	while (sent < count) {
		uint64_t t = now_ns();
		unsigned long want;

		if (t >= deadline)
			break;
		/* By now, count * elapsed / pace initiations should have gone. */
		due = (uint64_t)count * (t - t0) / pace_ns + 1;
		if (sent >= due) {
			read_cookies(fd, cookie_key, use_cookie ? cookie : NULL, &have_cookie,
			    &replies, &opened);
			usleep(200);
			continue;
		}
		want = due - sent;
		if (want > BATCH)
			want = BATCH;
		if (want > count - sent)
			want = count - sent;
		for (i = 0; i < (int)want; i++) {
			uint8_t *m = msgs[i];
			uint32_t idx;

			/* type 1, reserved zero, then random sender, ephemeral, "encrypted" static
			 * and timestamp. */
			m[0] = 1;
			m[1] = m[2] = m[3] = 0;
			randombytes_buf(m + 4, MAC1_OFF - 4);
			blake2s(m + MAC1_OFF, m, mac1_key, MAC_LEN, MAC1_OFF, KEY_LEN);
			if (have_cookie)
				blake2s(m + MAC2_OFF, m, cookie, MAC_LEN, MAC2_OFF, MAC_LEN);
			else
				memset(m + MAC2_OFF, 0, MAC_LEN);
			memcpy(&idx, m + 4, 4);
			idx = le32toh(idx);
			ring[idx % RING].index = idx;
			memcpy(ring[idx % RING].mac1, m + MAC1_OFF, MAC_LEN);
		}
		n = sendmmsg(fd, mh, (unsigned)want, 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN ||
			    errno == ECONNREFUSED)
				continue;
			perror("flood: sendmmsg");
			return 1;
		}
		sent += (unsigned long)n;
		read_cookies(fd, cookie_key, use_cookie ? cookie : NULL, &have_cookie, &replies,
		    &opened);
	}
	elapsed = now_ns() - t0;
	/* Replies still in flight. */
	usleep(200000);
	read_cookies(fd, cookie_key, use_cookie ? cookie : NULL, &have_cookie, &replies, &opened);
	printf("sent=%lu seconds=%.2f rate=%.0f cookie_replies=%lu cookies_used=%lu mode=%s\n",
	    sent, (double)elapsed / 1e9, (double)sent * 1e9 / (double)(elapsed ? elapsed : 1),
	    replies, opened, use_cookie ? "cookie" : "mac1");
	close(fd);
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}
