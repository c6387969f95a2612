/*
 * map_bench -- kmem_malloc(3)/kmem_free(3) pairs per second against the
 * plain system calls they stand on (mmap + munmap of the same size), with
 * few and with many live allocations in the map.
 *
 *   map_bench [--quick]
 *
 * Every kmem_malloc commits its pages and every kmem_free returns them to
 * the system, so a pair costs two system calls plus the arena work; the
 * table shows what the arena and the page table add to those calls.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <kmem/kmem.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static double
run_kmem(size_t size, long iters)
{
	double t0 = now();

	for (long i = 0; i < iters; i++) {
		char *p = kmem_malloc(size, M_NOWAIT);
		if (p == NULL) {
			fprintf(stderr, "map_bench: kmem_malloc(%zu) failed\n", size);
			exit(1);
		}
		p[0] = 1; /* touch: the page is really there */
		kmem_free(p, size);
	}
	return ((double)iters / (now() - t0));
}

static double
run_mmap(size_t size, long iters)
{
	double t0 = now();

	for (long i = 0; i < iters; i++) {
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("map_bench: mmap");
			exit(1);
		}
		p[0] = 1;
		munmap(p, size);
	}
	return ((double)iters / (now() - t0));
}

int
main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	long iters = quick ? 20000 : 200000;
	int runs = quick ? 1 : 5;
	size_t ps = kmem_page_size();
	size_t sizes[] = {ps, 16 * ps, 256 * ps};
	long lives[] = {0, 10000};

	kmem_setopt("kmem_size", "1G");
	if (kmem_init() != 0)
		return (1);
	printf("## kmem map: allocation + free pairs per second "
	       "(median of %d runs, %ld pairs each)\n\n", runs, iters);
	printf("| size | live allocations | kmem_malloc+kmem_free (kops/s) | "
	       "mmap+munmap (kops/s) | kmem / mmap |\n");
	printf("|---:|---:|---:|---:|---:|\n");
	for (size_t li = 0; li < sizeof(lives) / sizeof(lives[0]); li++) {
		void **live = calloc((size_t)lives[li] + 1, sizeof(void *));
		/* Live allocations of one page, every other one freed: holes. */
		for (long i = 0; i < 2 * lives[li]; i++) {
			void *p = kmem_malloc(ps, M_WAITOK);
			if (i % 2 == 0)
				live[i / 2] = p;
			else
				kmem_free(p, ps);
		}
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			double k[5], m[5];
			for (int r = 0; r < runs; r++) { /* interleaved */
				k[r] = run_kmem(sizes[si], iters);
				m[r] = run_mmap(sizes[si], iters);
			}
			qsort(k, (size_t)runs, sizeof(double), cmp_double);
			qsort(m, (size_t)runs, sizeof(double), cmp_double);
			double km = k[runs / 2], mm = m[runs / 2];
			printf("| %zu KiB | %ld | %.0f | %.0f | %.2f |\n",
			    sizes[si] / 1024, lives[li], km / 1e3, mm / 1e3, km / mm);
		}
		for (long i = 0; i < lives[li]; i++)
			kmem_free(live[i], ps);
		free(live);
	}
	return (0);
}
