/*
 * top_driver -- runs kmemstat_top() on this very process while a thread
 * allocates, so that the screen has something to show and its figures
 * move.  The types settle in a known order of memory use:
 *
 *	top_big		16 blocks of 256 KiB	4 MiB
 *	top_mid		1024 blocks of 1 KiB	1 MiB
 *	top_churn	50..150 blocks of 4 KiB	200..600 KiB, up and down
 *	top_small	16 blocks of 1 KiB	16 KiB
 *
 * and two zones: top_node (5000 items of 96 bytes, steady) and top_conn
 * (1000..3000 items of 256 bytes, up and down, limit 10000).
 *
 * usage: top_driver [-i interval_ms] [-f n]
 *	-f n	the sampler fails after n good samples, as if the process
 *		watched had gone: it reads a statistics file that is not there.
 * Exits with what kmemstat_top() returned.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

#include "kmemstat_top.h"

MALLOC_DEFINE(M_TOPBIG, "top_big", "top_driver: large blocks");
MALLOC_DEFINE(M_TOPMID, "top_mid", "top_driver: 1 KiB blocks");
MALLOC_DEFINE(M_TOPCHURN, "top_churn", "top_driver: going up and down");
MALLOC_DEFINE(M_TOPSMALL, "top_small", "top_driver: a few blocks");

#define NBIG      16
#define NMID      1024
#define NSMALL    16
#define CHURN_MIN 50
#define CHURN_MAX 150
#define NNODE     5000
#define CONN_MIN  1000
#define CONN_MAX  3000

static atomic_bool stop;

struct sampler {
	long s_good; /* good samples left; < 0: no end */
};

static int
sample(struct memory_type_list *list, void *arg)
{
	struct sampler *s = arg;

	if (s->s_good == 0)
		return (memstat_file_all(list, "/nonexistent/kmem.top_driver"));
	if (s->s_good > 0)
		s->s_good--;
	return (memstat_self_all(list));
}

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void *
worker(void *arg)
{
	static void *big[NBIG], *mid[NMID], *small[NSMALL], *churn[CHURN_MAX];
	static void *node[NNODE], *conn[CONN_MAX];
	uma_zone_t znode, zconn;
	int nchurn = 0, nconn = 0, dchurn = 4, dconn = 80;

	(void)arg;
	znode = uma_zcreate(
	    "top_node", 96, NULL, NULL, NULL, NULL, UMA_ALIGN_PTR, 0);
	zconn = uma_zcreate(
	    "top_conn", 256, NULL, NULL, NULL, NULL, UMA_ALIGN_CACHE, 0);
	if (znode == NULL || zconn == NULL)
		abort();
	uma_zone_set_max(zconn, 10000);
	for (int i = 0; i < NBIG; i++)
		big[i] = kmalloc(256 << 10, M_TOPBIG, M_WAITOK);
	for (int i = 0; i < NMID; i++)
		mid[i] = kmalloc(1024, M_TOPMID, M_WAITOK);
	for (int i = 0; i < NSMALL; i++)
		small[i] = kmalloc(1024, M_TOPSMALL, M_WAITOK);
	for (int i = 0; i < NNODE; i++)
		node[i] = uma_zalloc(znode, M_WAITOK);
	while (nchurn < CHURN_MIN)
		churn[nchurn++] = kmalloc(4096, M_TOPCHURN, M_WAITOK);
	while (nconn < CONN_MIN)
		conn[nconn++] = uma_zalloc(zconn, M_WAITOK);

	while (!atomic_load(&stop)) {
		if (nchurn + dchurn > CHURN_MAX || nchurn + dchurn < CHURN_MIN)
			dchurn = -dchurn;
		for (int i = 0; i < dchurn; i++)
			churn[nchurn++] = kmalloc(4096, M_TOPCHURN, M_WAITOK);
		for (int i = 0; i < -dchurn; i++)
			kfree(churn[--nchurn], M_TOPCHURN);
		if (nconn + dconn > CONN_MAX || nconn + dconn < CONN_MIN)
			dconn = -dconn;
		for (int i = 0; i < dconn; i++)
			conn[nconn++] = uma_zalloc(zconn, M_WAITOK);
		for (int i = 0; i < -dconn; i++)
			uma_zfree(zconn, conn[--nconn]);
		nap_ms(50);
	}

	while (nconn > 0)
		uma_zfree(zconn, conn[--nconn]);
	while (nchurn > 0)
		kfree(churn[--nchurn], M_TOPCHURN);
	for (int i = 0; i < NNODE; i++)
		uma_zfree(znode, node[i]);
	for (int i = 0; i < NSMALL; i++)
		kfree(small[i], M_TOPSMALL);
	for (int i = 0; i < NMID; i++)
		kfree(mid[i], M_TOPMID);
	for (int i = 0; i < NBIG; i++)
		kfree(big[i], M_TOPBIG);
	uma_zdestroy(zconn);
	uma_zdestroy(znode);
	return (NULL);
}

int
main(int argc, char **argv)
{
	struct sampler s = {-1};
	unsigned interval = 500;
	pthread_t thr;
	int ch, rc;

	while ((ch = getopt(argc, argv, "f:i:")) != -1) {
		switch (ch) {
		case 'f':
			s.s_good = atol(optarg);
			break;
		case 'i':
			interval = (unsigned)atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: top_driver [-i ms] [-f n]\n");
			return (2);
		}
	}
	if (pthread_create(&thr, NULL, worker, NULL) != 0) {
		fprintf(stderr, "top_driver: cannot start the worker\n");
		return (2);
	}
	rc = kmemstat_top(sample, &s, interval);
	atomic_store(&stop, true);
	pthread_join(thr, NULL);
	return (rc);
}
