/*
 * annot.c -- the misuse programs of the valgrind and AddressSanitizer
 * tests (kmem_debug(3), VALGRIND and ADDRESSSANITIZER): annot MODE makes
 * one mistake, or none (clean), and the script that runs it checks the
 * tool's report.  The lines the reports must name carry a SITE comment
 * that the scripts find.
 */
#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

MALLOC_DEFINE(M_ANNOT, "annot", "annotation tests");

/* Keeps the compiler from dropping an access. */
static void
poke(void *p, size_t off, unsigned char v)
{
	((volatile unsigned char *)p)[off] = v;
}

static unsigned char
peek(const void *p, size_t off)
{
	return (((const volatile unsigned char *)p)[off]);
}

static __attribute__((noinline)) void
kfree_uaf(void)
{
	char *p = kmalloc(64, M_ANNOT, M_WAITOK);

	memset(p, 1, 64);
	kfree(p, M_ANNOT); /* SITE kfree */
	poke(p, 8, 2); /* SITE kfree-write */
}

static __attribute__((noinline)) void
kfree_large_uaf(void)
{
	char *p = kmalloc(100000, M_ANNOT, M_WAITOK);

	memset(p, 1, 100000);
	kfree(p, M_ANNOT); /* SITE kfree-large */
	poke(p, 4096, 2); /* SITE kfree-large-write */
}

static __attribute__((noinline)) void
zfree_uaf(void)
{
	uma_zone_t z = uma_zcreate("annot", 48, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	char *p = uma_zalloc(z, M_WAITOK);

	memset(p, 1, 48);
	uma_zfree(z, p); /* SITE zfree */
	poke(p, 16, 2); /* SITE zfree-write */
}

static __attribute__((noinline)) void
overflow(void)
{
	char *p = kmalloc(24, M_ANNOT, M_WAITOK); /* SITE overflow-alloc */

	memset(p, 1, 24);
	poke(p, 24, 2); /* SITE overflow-write */
	kfree(p, M_ANNOT);
}

static __attribute__((noinline)) void
uninit(void)
{
	char *p = kmalloc(64, M_ANNOT, M_WAITOK);

	if (peek(p, 5) == 7) /* SITE uninit-read */
		puts("seven");
	kfree(p, M_ANNOT);
}

static void *leaked;

static __attribute__((noinline)) void
leak(void)
{
	leaked = kmalloc(200, M_ANNOT, M_WAITOK); /* SITE leak */
	memset(leaked, 3, 200);
	leaked = NULL;
}

static int
ctor(void *mem, int size, void *arg, int flags)
{
	memset(mem, 0x11, (size_t)size);
	return (0);
}

static int
init(void *mem, int size, int flags)
{
	memset(mem, 0x22, (size_t)size);
	return (0);
}

static void *
worker(void *arg)
{
	uma_zone_t z = arg;

	for (int i = 0; i < 1000; i++) {
		char *p = kmalloc((size_t)(i % 700) + 1, M_ANNOT, M_WAITOK);
		p[0] = 1;
		kfree(p, M_ANNOT);
		void *it = uma_zalloc(z, M_WAITOK);
		uma_zfree(z, it);
	}
	return (NULL);
}

/* Everything kmem does, used correctly: no report from any tool. */
static int
clean(void)
{
	uma_zone_t zc = uma_zcreate("annot ctor", 100, ctor, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t zi = uma_zcreate("annot init", 72, NULL, NULL, init, NULL,
	    UMA_ALIGN_PTR, 0);
	uma_zone_t zz = uma_zcreate("annot zinit", 40, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, UMA_ZONE_ZINIT);
	unsigned sum = 0;
	void *v[300];
	pthread_t t[2];

	for (int i = 0; i < 300; i++) {
		v[i] = kmalloc((size_t)i * 37 % 5000 + 1, M_ANNOT,
		    i % 3 == 0 ? M_WAITOK | M_ZERO : M_WAITOK);
		if (i % 3 == 0)
			sum += peek(v[i], 0);
		memset(v[i], i, kmalloc_usable_size(v[i]));
	}
	for (int i = 0; i < 300; i += 2) {
		v[i] = krealloc(v[i], (size_t)i * 11 % 9000 + 1, M_ANNOT,
		    M_WAITOK);
		sum += peek(v[i], 0);
	}
	for (int i = 0; i < 300; i++) {
		if (i % 5 == 0)
			kzfree(v[i], M_ANNOT);
		else
			kfree(v[i], M_ANNOT);
	}
	char *big = kmalloc(300000, M_ANNOT, M_WAITOK | M_ZERO);
	sum += peek(big, 299999);
	kfree(big, M_ANNOT);
	for (int i = 0; i < 200; i++) {
		char *a = uma_zalloc(zc, M_WAITOK);
		char *b = uma_zalloc(zi, M_WAITOK);
		char *c = uma_zalloc(zz, M_WAITOK | M_ZERO);
		sum += peek(a, 99) + peek(b, 71) + peek(c, 39);
		memset(b, 0x22, 72);
		uma_zfree(zc, a);
		uma_zfree(zi, b);
		uma_zfree(zz, c);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, zc);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* The statistics thread publishes meanwhile; read it too. */
	usleep(300 * 1000);
	struct memory_type_list *mtl = memstat_mtl_alloc();
	if (mtl == NULL || memstat_self_all(mtl) != 0)
		return (1);
	struct memory_type *mt = memstat_mtl_find(mtl, ALLOCATOR_MALLOC,
	    "annot");
	if (mt == NULL || memstat_get_count(mt) != 0)
		return (1);
	memstat_mtl_free(mtl);
	if (kmem_check() != 0)
		return (1);
	uma_zone_reclaim(zc, UMA_RECLAIM_DRAIN);
	uma_zdestroy(zc);
	uma_zdestroy(zi);
	uma_zdestroy(zz);
	printf("clean %u\n", sum);
	return (0);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "kfree") == 0)
		kfree_uaf();
	else if (strcmp(mode, "kfree-large") == 0)
		kfree_large_uaf();
	else if (strcmp(mode, "zfree") == 0)
		zfree_uaf();
	else if (strcmp(mode, "overflow") == 0)
		overflow();
	else if (strcmp(mode, "uninit") == 0)
		uninit();
	else if (strcmp(mode, "leak") == 0)
		leak();
	else if (strcmp(mode, "clean") == 0)
		return (clean());
	else {
		fprintf(stderr, "annot: unknown mode '%s' (kfree, kfree-large, "
		    "zfree, overflow, uninit, leak, clean)\n", mode);
		return (2);
	}
	return (0);
}
