// SPDX-License-Identifier: MIT
// Conformance of a preloaded malloc (run with LD_PRELOAD=liballocscope-X.so
// by tests/sh/preload_contract.sh): errno values, zero sizes, calloc
// overflow and zeroing, realloc semantics, every alignment entry point up to
// 2 MiB (and beyond), malloc_usable_size exactness, free(NULL), threads that
// exit with full caches, fork while other threads allocate, and the
// allocscope_* hooks (served counter, name, report). Prints one line per
// failed check and "N passed, N failed"; exit 1 on any failure. With
// --churn it only churns one size class (to make a controller act).
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			passed++;                                              \
		} else {                                                       \
			failed++;                                              \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                              \
	} while (0)

static void *opaque(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

static size_t opaque_size(size_t s)
{
	__asm__ volatile("" : "+r"(s));
	return s;
}

static void test_basic(void)
{
	void *p = malloc(0);
	CHECK(p != NULL);
	free(p);
	free(NULL);
	errno = 0;
	p = malloc(opaque_size(SIZE_MAX - 4096));
	CHECK(p == NULL && errno == ENOMEM);
	errno = 0;
	p = malloc(opaque_size((size_t)1 << 62));
	CHECK(p == NULL && errno == ENOMEM);
	for (size_t s = 1; s < 70000; s = s * 3 / 2 + 1) {
		unsigned char *q = malloc(s);
		CHECK(q != NULL && (uintptr_t)q % 16 == 0);
		size_t u = malloc_usable_size(q);
		CHECK(u >= s);
		memset(q, 0xee, u); // the whole usable size belongs to the caller
		free(q);
	}
	CHECK(malloc_usable_size(NULL) == 0);
}

static void test_calloc(void)
{
	errno = 0;
	void *p = calloc(opaque_size(SIZE_MAX / 2), 3);
	CHECK(p == NULL && errno == ENOMEM);
	errno = 0;
	p = calloc(opaque_size((size_t)1 << 33), (size_t)1 << 33);
	CHECK(p == NULL && errno == ENOMEM);
	p = calloc(0, 10);
	CHECK(p != NULL);
	free(p);
	// Reused memory must come back zeroed.
	for (int round = 0; round < 3; round++) {
		unsigned char *d = malloc(5000);
		memset(d, 0xff, 5000);
		free(d);
		unsigned char *z = calloc(1, 5000);
		int nz = 0;
		for (int i = 0; i < 5000; i++)
			nz |= z[i];
		CHECK(nz == 0);
		free(z);
	}
	unsigned char *big = calloc(3, 1 << 20);
	CHECK(big && big[0] == 0 && big[(3 << 20) - 1] == 0);
	free(big);
}

static void test_realloc(void)
{
	char *p = realloc(NULL, 10);
	CHECK(p != NULL);
	strcpy(p, "abcdefghi");
	p = realloc(p, 100000);
	CHECK(p && strcmp(p, "abcdefghi") == 0);
	p[99999] = 'z';
	p = realloc(p, 5);
	CHECK(p && memcmp(p, "abcde", 5) == 0);
	for (size_t s = 8; s < (8u << 20); s *= 2) {
		p = realloc(p, s);
		CHECK(p && memcmp(p, "abcde", 5) == 0);
		p[s - 1] = 1;
	}
	errno = 0;
	char *q = realloc(opaque(p), opaque_size(SIZE_MAX - 10));
	CHECK(q == NULL && errno == ENOMEM);
	CHECK(memcmp(opaque(p), "abcde", 5) == 0); // original untouched
	errno = 0;
	q = realloc(opaque(p), 0); // glibc: frees and returns NULL
	CHECK(q == NULL);
	errno = 0;
	q = reallocarray(NULL, opaque_size(SIZE_MAX / 4), 8);
	CHECK(q == NULL && errno == ENOMEM);
	q = reallocarray(NULL, 10, 10);
	CHECK(q != NULL);
	free(q);
}

static void test_aligned(void)
{
	void *p;
	CHECK(posix_memalign(&p, 0, 10) == EINVAL);
	CHECK(posix_memalign(&p, 24, 10) == EINVAL);
	CHECK(posix_memalign(&p, 4, 10) == EINVAL);
	errno = 0;
	CHECK(aligned_alloc(opaque_size(24), 10) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(posix_memalign(&p, 64, opaque_size(SIZE_MAX - 100)) == ENOMEM);
	for (size_t a = sizeof(void *); a <= (8u << 20); a *= 2) {
		size_t sizes[] = { 0, 1, 100, 5000, 70000, 3u << 20 };
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *q = NULL;
			int rc = posix_memalign(&q, a, sizes[i]);
			CHECK(rc == 0 && q && (uintptr_t)q % a == 0);
			if (q) {
				CHECK(malloc_usable_size(q) >= sizes[i]);
				memset(q, 1, sizes[i]);
			}
			free(q);
			q = aligned_alloc(a, sizes[i]);
			CHECK(q && (uintptr_t)q % a == 0);
			free(q);
			q = memalign(a, sizes[i]);
			CHECK(q && (uintptr_t)q % a == 0);
			free(q);
		}
	}
	void *q = memalign(opaque_size(48), 10); // glibc rounds to a power of two
	CHECK(q && (uintptr_t)q % 64 == 0);
	free(q);
	long page = sysconf(_SC_PAGESIZE);
	q = valloc(10);
	CHECK(q && (uintptr_t)q % (uintptr_t)page == 0);
	free(q);
	q = pvalloc(10);
	CHECK(q && (uintptr_t)q % (uintptr_t)page == 0 && malloc_usable_size(q) >= (size_t)page);
	free(q);
}

static void *thread_churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *keep[200];
	for (int r = 0; r < 200; r++) {
		for (int i = 0; i < 200; i++) {
			seed = seed * 1103515245u + 12345u;
			keep[i] = malloc(16 + (seed >> 16) % 3000);
			memset(keep[i], i, 16);
		}
		for (int i = 0; i < 200; i++)
			free(keep[i]);
	}
	// Exit with a full cache: the key destructor must take it back.
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(64);
	for (int i = 0; i < 100; i++)
		free(keep[i]);
	return NULL;
}

static void test_threads(void)
{
	for (int wave = 0; wave < 20; wave++) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			CHECK(pthread_create(&t[i], NULL, thread_churn, (void *)(uintptr_t)(wave * 4 + i)) == 0);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
}

static volatile int stop;

static void *fork_noise(void *arg)
{
	(void)arg;
	while (!stop) {
		void *p = malloc(100);
		void *q = malloc(50000);
		free(p);
		free(q);
	}
	return NULL;
}

static void test_fork(void)
{
	pthread_t t[2];
	stop = 0;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, fork_noise, NULL);
	int ok = 1;
	for (int i = 0; i < 30; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			// The child allocates, from a thread too.
			void *p = malloc(1000);
			pthread_t c;
			if (pthread_create(&c, NULL, thread_churn, NULL) != 0)
				_exit(3);
			pthread_join(c, NULL);
			free(p);
			_exit(p ? 0 : 2);
		}
		int st = 0;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(ok);
}

static void count_metric(const char *name, double v)
{
	(void)v;
	if (strcmp(name, "controller_changes") == 0)
		passed++;
}

static void test_hooks(const char *expect_name)
{
	uint64_t (*served)(void) = (uint64_t(*)(void))dlsym(RTLD_DEFAULT, "allocscope_malloc_served");
	const char *(*name)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "allocscope_allocator_name");
	void (*report)(void (*)(const char *, double)) =
		(void (*)(void (*)(const char *, double)))dlsym(RTLD_DEFAULT, "allocscope_report");
	void (*set_node)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "allocscope_set_thread_node");
	CHECK(served && name && report && set_node);
	if (!served || !name || !report || !set_node)
		return;
	uint64_t before = served();
	free(opaque(malloc(10)));
	CHECK(served() >= before + 2);
	CHECK(before > 1000);
	if (expect_name && strcmp(name(), expect_name) != 0) {
		printf("FAIL allocator name %s, expected %s\n", name(), expect_name);
		failed++;
	}
	set_node(1);
	free(opaque(malloc(10)));
	set_node(0);
	int p0 = passed;
	report(count_metric);
	CHECK(passed == p0 + 1);
}

/// Misses on one class, many times: enough for the adaptive controller to act
/// (used by the trace check of preload_contract.sh).
static int churn(void)
{
	enum { N = 2000 };
	static void *v[N];
	for (int r = 0; r < 300; r++) {
		for (int i = 0; i < N; i++)
			v[i] = malloc(48);
		for (int i = 0; i < N; i++)
			free(v[i]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--churn") == 0)
		return churn();
	test_basic();
	test_calloc();
	test_realloc();
	test_aligned();
	test_threads();
	test_fork();
	test_hooks(argc > 1 ? argv[1] : NULL);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
