/*
 * leaky.c -- a kmem process for the kmemstat --leaks, --plot and -t tests.
 * Every tick (50 ms) it changes five series:
 *
 *	ks_leak		malloc type: 4 blocks of 1000 bytes more, never freed
 *	ks_fluct	malloc type: 200..400 blocks of 256 bytes, at random
 *	ks_plateau	malloc type: 40 blocks of 256 bytes more for the first
 *			15 ticks, then steady (a cache that filled)
 *	ks_saw		malloc type: 10 blocks of 512 bytes more a tick, all
 *			freed every 20 ticks (a sawtooth)
 *	ks_leakzone	uma zone: 8 items of 192 bytes more, never freed
 *	ks_churnzone	uma zone: 100..300 items of 128 bytes, at random
 *
 * The leaks stop growing after LEAKY_TICKS ticks, so a leaky left behind
 * cannot fill the map.  Prints "ready" once the zones exist and the first
 * tick is done, and runs until its standard input closes; then it frees
 * everything and exits normally.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <kmem/malloc.h>
#include <kmem/uma.h>

MALLOC_DEFINE(M_KSLEAK, "ks_leak", "kmemstat test: leaks");
MALLOC_DEFINE(M_KSFLUCT, "ks_fluct", "kmemstat test: fluctuates");
MALLOC_DEFINE(M_KSPLATEAU, "ks_plateau", "kmemstat test: fills, then steady");
MALLOC_DEFINE(M_KSSAW, "ks_saw", "kmemstat test: sawtooth");

#define LEAKY_TICK_MS 50
#define LEAKY_TICKS 1200 /* a minute of leaking at most */
#define NFLUCT 400
#define NPLATEAU 600
#define NSAW 200
#define NCHURN 300

/* Blocks and items chained through their first word, to free them at exit. */
struct chain {
	struct chain *c_next;
};

static void *
xkmalloc(size_t size, struct malloc_type *type)
{
	void *p = kmalloc(size, type, M_WAITOK);

	if (p == NULL)
		abort();
	return (p);
}

int
main(void)
{
	static void *fluct[NFLUCT], *plateau[NPLATEAU], *saw[NSAW];
	static void *churn[NCHURN];
	struct chain *leak = NULL, *zleak = NULL;
	int nfluct = 0, nplateau = 0, nsaw = 0, nchurn = 0;
	uma_zone_t zleakzone, zchurn;
	struct pollfd pfd = {.fd = 0, .events = POLLIN};

	zleakzone = uma_zcreate("ks_leakzone", 192, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	zchurn = uma_zcreate("ks_churnzone", 128, NULL, NULL, NULL, NULL,
	    UMA_ALIGN_PTR, 0);
	if (zleakzone == NULL || zchurn == NULL)
		return (1);
	srand(1);
	for (long tick = 0;; tick++) {
		if (tick < LEAKY_TICKS) {
			for (int i = 0; i < 4; i++) {
				struct chain *c = xkmalloc(1000, M_KSLEAK);
				c->c_next = leak;
				leak = c;
			}
			for (int i = 0; i < 8; i++) {
				struct chain *c = uma_zalloc(zleakzone, M_WAITOK);
				c->c_next = zleak;
				zleak = c;
			}
		}
		int want = 200 + rand() % 201;
		while (nfluct < want)
			fluct[nfluct++] = xkmalloc(256, M_KSFLUCT);
		while (nfluct > want)
			kfree(fluct[--nfluct], M_KSFLUCT);
		for (int i = 0; i < 40 && nplateau < NPLATEAU; i++)
			plateau[nplateau++] = xkmalloc(256, M_KSPLATEAU);
		if (nsaw == NSAW)
			while (nsaw > 0)
				kfree(saw[--nsaw], M_KSSAW);
		for (int i = 0; i < 10; i++)
			saw[nsaw++] = xkmalloc(512, M_KSSAW);
		want = 100 + rand() % 201;
		while (nchurn < want)
			churn[nchurn++] = uma_zalloc(zchurn, M_WAITOK);
		while (nchurn > want)
			uma_zfree(zchurn, churn[--nchurn]);
		if (tick == 0) {
			printf("ready\n");
			fflush(stdout);
		}
		if (poll(&pfd, 1, LEAKY_TICK_MS) > 0) {
			char buf[64];
			if (read(0, buf, sizeof(buf)) <= 0)
				break;
		}
	}
	while (leak != NULL) {
		struct chain *c = leak;
		leak = c->c_next;
		kfree(c, M_KSLEAK);
	}
	while (zleak != NULL) {
		struct chain *c = zleak;
		zleak = c->c_next;
		uma_zfree(zleakzone, c);
	}
	while (nfluct > 0)
		kfree(fluct[--nfluct], M_KSFLUCT);
	while (nplateau > 0)
		kfree(plateau[--nplateau], M_KSPLATEAU);
	while (nsaw > 0)
		kfree(saw[--nsaw], M_KSSAW);
	while (nchurn > 0)
		uma_zfree(zchurn, churn[--nchurn]);
	uma_zdestroy(zleakzone);
	uma_zdestroy(zchurn);
	return (0);
}
