/*
 * semantics.c -- glibc's allocation semantics, one by one, under
 * libkmem-preload.so (run with LD_PRELOAD).  Exits 0 when every check holds;
 * prints the failing check otherwise.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(c)                                                         \
	do {                                                                 \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,       \
			    __LINE__, #c);                                           \
			failures++;                                                  \
		}                                                                \
	} while (0)

/* Calls through pointers, so that the compiler cannot fold them away. */
static void *(*volatile p_malloc)(size_t) = malloc;
static void *(*volatile p_calloc)(size_t, size_t) = calloc;
static void *(*volatile p_realloc)(void *, size_t) = realloc;
static void *(*volatile p_reallocarray)(void *, size_t, size_t) = reallocarray;

static void
test_is_kmem(void)
{
	Dl_info info;

	CHECK(dladdr((void *)p_malloc, &info) != 0);
	CHECK(info.dli_fname != NULL &&
	    strstr(info.dli_fname, "libkmem-preload.so") != NULL);
}

static void
test_malloc(void)
{
	void *a = p_malloc(0), *b = p_malloc(0);

	CHECK(a != NULL && b != NULL && a != b);
	CHECK(malloc_usable_size(a) >= 1);
	free(a);
	free(b);
	free(NULL);
	for (size_t s = 1; s <= (1u << 22); s = s * 3 / 2 + 1) {
		unsigned char *p = p_malloc(s);
		CHECK(p != NULL);
		CHECK(((uintptr_t)p & 15) == 0);
		CHECK(malloc_usable_size(p) >= s);
		memset(p, 0xa5, malloc_usable_size(p));
		free(p);
	}
	errno = 0;
	CHECK(p_malloc(SIZE_MAX) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(p_malloc((size_t)PTRDIFF_MAX + 1) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(p_malloc((size_t)1 << 60) == NULL && errno == ENOMEM);
}

static void
test_calloc(void)
{
	for (size_t s = 1; s < 300000; s = s * 2 + 7) {
		unsigned char *p = p_calloc(1, s);
		CHECK(p != NULL);
		for (size_t i = 0; i < s; i++)
			if (p[i] != 0) {
				CHECK(p[i] == 0);
				break;
			}
		memset(p, 0xff, s);
		free(p);
	}
	void *z = p_calloc(0, 0);
	CHECK(z != NULL);
	free(z);
	errno = 0;
	CHECK(p_calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(p_calloc((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);
}

static void
test_realloc(void)
{
	/* realloc(NULL, n) is malloc(n) */
	char *p = p_realloc(NULL, 10);
	CHECK(p != NULL);
	memcpy(p, "abcdefghi", 10);
	/* growing keeps the contents, through small classes and pages */
	for (size_t s = 11; s < (1u << 21); s = s * 2 + 1) {
		p = p_realloc(p, s);
		CHECK(p != NULL && memcmp(p, "abcdefghi", 10) == 0);
	}
	/* shrinking too */
	p = p_realloc(p, 5);
	CHECK(p != NULL && memcmp(p, "abcde", 5) == 0);
	/* a failing realloc leaves the block alone */
	errno = 0;
	CHECK(p_realloc(p, SIZE_MAX - 100) == NULL && errno == ENOMEM);
	CHECK(memcmp(p, "abcde", 5) == 0);
	/* realloc(p, 0) frees p and returns NULL (glibc) */
	CHECK(p_realloc(p, 0) == NULL);
	/* realloc(NULL, 0) is malloc(0): a unique pointer */
	void *q = p_realloc(NULL, 0);
	CHECK(q != NULL);
	free(q);
	/* reallocarray */
	int *v = p_reallocarray(NULL, 100, sizeof(int));
	CHECK(v != NULL);
	for (int i = 0; i < 100; i++)
		v[i] = i;
	v = p_reallocarray(v, 1000, sizeof(int));
	CHECK(v != NULL && v[99] == 99);
	errno = 0;
	CHECK(p_reallocarray(v, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
	CHECK(v[50] == 50);
	free(v);
}

static void
test_aligned(void)
{
	void *p;

	CHECK(posix_memalign(&p, 0, 16) == EINVAL);
	CHECK(posix_memalign(&p, 4, 16) == EINVAL);
	CHECK(posix_memalign(&p, 24, 16) == EINVAL);
	CHECK(posix_memalign(&p, sizeof(void *) + 1, 16) == EINVAL);
	for (size_t a = sizeof(void *); a <= ((size_t)2 << 20); a *= 2) {
		size_t sizes[] = {0, 1, a - 1, a, a + 1, 3 * a, 5000, 70000};
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			p = NULL;
			int saved = errno = 1234;
			CHECK(posix_memalign(&p, a, sizes[i]) == 0);
			CHECK(errno == saved);
			CHECK(p != NULL && ((uintptr_t)p & (a - 1)) == 0);
			CHECK(malloc_usable_size(p) >= sizes[i]);
			memset(p, 1, sizes[i]);
			free(p);
		}
	}
	CHECK(posix_memalign(&p, 64, SIZE_MAX - 1000) == ENOMEM);

	p = memalign(4096, 100);
	CHECK(p != NULL && ((uintptr_t)p & 4095) == 0 && malloc_usable_size(p) >= 100);
	free(p);
	p = memalign(48, 100); /* not a power of two: rounded up (glibc 2.36) */
	CHECK(p != NULL && ((uintptr_t)p & 63) == 0);
	free(p);
	errno = 0;
	CHECK(memalign(SIZE_MAX / 2 + 2, 16) == NULL && errno == EINVAL);
	p = aligned_alloc(256, 512);
	CHECK(p != NULL && ((uintptr_t)p & 255) == 0);
	free(p);
	p = aligned_alloc((size_t)1 << 20, 10);
	CHECK(p != NULL && ((uintptr_t)p & (((size_t)1 << 20) - 1)) == 0);
	free(p);
	long ps = sysconf(_SC_PAGESIZE);
	p = valloc(10);
	CHECK(p != NULL && ((uintptr_t)p & (uintptr_t)(ps - 1)) == 0);
	free(p);
	p = pvalloc(10);
	CHECK(p != NULL && ((uintptr_t)p & (uintptr_t)(ps - 1)) == 0 &&
	    malloc_usable_size(p) >= (size_t)ps);
	free(p);
	p = pvalloc(0);
	CHECK(p != NULL && ((uintptr_t)p & (uintptr_t)(ps - 1)) == 0);
	free(p);
	/* an aligned block reallocates like any other */
	CHECK(posix_memalign(&p, 8192, 100) == 0);
	memcpy(p, "xyz", 4);
	p = p_realloc(p, 100000);
	CHECK(p != NULL && strcmp(p, "xyz") == 0);
	free(p);
	CHECK(malloc_usable_size(NULL) == 0);
}

static void
test_libc_users(void)
{
	/* libc's own allocations: strdup, stdio, getline, qsort scratch */
	char *s = strdup("hello");
	CHECK(s != NULL && strcmp(s, "hello") == 0);
	free(s);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fmemopen("one\ntwo\n", 8, "r");
	CHECK(f != NULL);
	CHECK(getline(&buf, &len, f) == 4 && strcmp(buf, "one\n") == 0);
	fclose(f);
	free(buf);
	char *a = NULL;
	CHECK(asprintf(&a, "%d-%s", 42, "x") == 4 && strcmp(a, "42-x") == 0);
	free(a);
}

int
main(void)
{
	test_is_kmem();
	test_malloc();
	test_calloc();
	test_realloc();
	test_aligned();
	test_libc_users();
	if (failures != 0) {
		fprintf(stderr, "%d checks failed\n", failures);
		return (1);
	}
	printf("ok\n");
	return (0);
}
