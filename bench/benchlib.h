/*
 * benchlib.h -- what the benchmark programs share: failing, the clock and
 * resident memory.  Define BENCH_NAME (the program's name, for messages)
 * and BENCH_USAGE (its usage line) before including it.
 */
#ifndef KMEM_BENCHLIB_H
#define KMEM_BENCHLIB_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define bench_unlikely(x) __builtin_expect(!!(x), 0)

static void __attribute__((noreturn, unused))
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", BENCH_NAME, what);
	exit(1);
}

static uint64_t __attribute__((unused))
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
}

/* A positive count from the command line; the usage line otherwise. */
static uint64_t __attribute__((unused))
number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0)
		die(BENCH_USAGE);
	return ((uint64_t)v);
}

/* Resident bytes, from /proc/self/statm, read without allocating. */
static uint64_t __attribute__((unused))
rss_bytes(void)
{
	unsigned long long size, resident;
	char buf[128];
	ssize_t n;
	int fd;

	fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		die("cannot open /proc/self/statm");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die("cannot read /proc/self/statm");
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		die("cannot parse /proc/self/statm");
	return ((uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE));
}

#endif /* KMEM_BENCHLIB_H */
