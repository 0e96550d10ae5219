/* libFuzzer target: config_parse_file, the wg-quick style file given with tunneld -c.  The
 * input is the file, handed over as /proc/self/fd/N of a memfd (the parser takes a path).
 * Checks the contract besides memory safety and leaks: true exactly when no error was
 * collected, an empty config after failure, well-formed prefixes after success. */
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keys/lib/key.h"
#include "tunneld/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

typedef int getaddrinfo_fn(const char *, const char *, const struct addrinfo *,
    struct addrinfo **);

/* Endpoint = name:port would ask DNS: slow, flaky and not what is being tested.  This
 * definition overrides libc's (and the sanitizer's weak interceptor) and allows numeric
 * hosts only. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	static getaddrinfo_fn *real;
	struct addrinfo h = { 0 };

	if (!real)
		real = (getaddrinfo_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
	if (!real)
		return EAI_FAIL;
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	return real(node, service, &h, res);
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_config_file: %s\n", what);
	abort();
}

static void check_prefixes(const struct config_prefix *x, size_t n)
{
	size_t i;

	if (n && !x)
		fail("prefix count without an array");
	for (i = 0; i < n; i++) {
		if (x[i].family != AF_INET && x[i].family != AF_INET6)
			fail("prefix with an unknown family");
		if (x[i].cidr > (x[i].family == AF_INET ? 32 : 128))
			fail("prefix length out of range");
	}
}

static void check_errors(const struct config_errors *e)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		if (!e->msgs[i] || !strlen(e->msgs[i]))	/* strlen: ASan checks the terminator */
			fail("message missing or empty");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!key_lib_init())
		abort();
	memfd = memfd_create("fuzz_config_file", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 }, warn = { 0 };
	struct config c;
	size_t i;
	bool ok;

	if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	ok = config_parse_file(path, &c, &errs, &warn);
	if (ok != (errs.count == 0))
		fail("result disagrees with the errors collected");
	if (ok) {
		if (c.n_peers && !c.peers)
			fail("peer count without an array");
		check_prefixes(c.addresses, c.n_addresses);
		for (i = 0; i < c.n_peers; i++)
			check_prefixes(c.peers[i].allowed_ips, c.peers[i].n_allowed_ips);
		if (!c.replace_peers)
			fail("a file must replace the peers");
	} else if (c.n_peers || c.peers || c.addresses || c.has_private_key) {
		fail("config not empty after failure");
	}
	check_errors(&errs);
	check_errors(&warn);
	config_free(&c);
	config_errors_free(&errs);
	config_errors_free(&warn);
	return 0;
}
