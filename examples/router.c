/*
 * router -- a small packet router whose NAT table leaks, for a leak hunt
 * with kmemstat(1).
 *
 * It is shaped like the router of a freebsd-current thread (January 2008)
 * whose kernel ran out of kmem_map: libalias took a few entries a second
 * and never gave them back, and `vmstat -m` showed it.  Here, with a 64 MiB
 * map unless KMEM_OPTIONS sets kmem_size:
 *
 *   uma zones
 *     mbuf          packet headers (256 bytes), no limit
 *     mbuf_cluster  packet data (2048 bytes), at most NMBCLUSTERS at once,
 *                   as kern.ipc.nmbclusters; rx asks with M_NOWAIT and
 *                   drops the packet on NULL.  A burst of traffic every
 *                   few seconds brings twice that many packets at once,
 *                   so the zone hits its limit and counts failures.
 *   malloc types
 *     conntab   the connection table: connections arrive at a rate that
 *               swings up and down and live a couple of seconds each, so
 *               its use fluctuates around a plateau
 *     libalias  aliasing (NAT) links, 128 bytes each: links expire after
 *               a few seconds, except GRE links, whose expiry is never set
 *               (the bug): a few links a second stay for good -- the leak
 *     rtcache   cloned routes: filled as destinations are seen, flushed
 *               every few seconds (a sawtooth)
 *     temp      tx's scratch buffers: a few at a time, sizes vary
 *     ifnet     the interfaces, allocated once
 *
 * Threads: rx (packets, new connections and links, route lookups), tx
 * (sends and frees packets, uses scratch buffers), housekeeping (expires
 * connections and links, flushes the route cache) and main (one line a
 * second, the time limit, SIGINT/SIGTERM).  Rates follow the clock, not
 * the number of loops, so a loaded machine changes the picture little.
 * On a normal exit everything is freed, leaked links included (as
 * libalias does when its node shuts down); the zones stay, as the
 * kernel's mbuf zones do, so that the statistics file kept after exit
 * (stats_keep=1) still shows them.
 *
 * usage: router [-q] [-t SECONDS]   (default 20 s; 0: until killed)
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/uma.h>

MALLOC_DEFINE(M_CONNTAB, "conntab", "connection table");
MALLOC_DEFINE(M_LIBALIAS, "libalias", "packet aliasing (NAT) links");
MALLOC_DEFINE(M_RTCACHE, "rtcache", "cloned routes");
MALLOC_DEFINE(M_TEMP, "temp", "scratch buffers");
MALLOC_DEFINE(M_IFNET, "ifnet", "interfaces");

/* ---- the traffic ------------------------------------------------------- */

#define NMBCLUSTERS 512    /* limit of the mbuf_cluster zone */
#define PPS 2000           /* packets a second, between bursts */
#define BURST_EVERY 3.0    /* seconds between bursts, the first at 1 s */
#define BURST_PACKETS (2 * NMBCLUSTERS)
#define TX_PER_TICK 16     /* packets tx sends per 2 ms */
#define CONN_RATE 40.0     /* new connections a second, on average ... */
#define CONN_SWING 0.4     /* ... swinging by this much ... */
#define CONN_PERIOD 6.0    /* ... over this many seconds */
#define CONN_LIFE 2.0      /* mean lifetime of a connection, seconds */
#define CONN_HASH 1024     /* buckets of the connection table */
#define LINK_RATE 40       /* new aliasing links a second */
#define LINK_GRE_EVERY 5   /* one link in this many is GRE: 8 leaked a second */
#define LINK_TIMEOUT 2.0   /* seconds an idle link lives */
#define RT_LOOKUPS 100     /* route lookups a second */
#define RT_DESTS 256       /* destinations seen */
#define RT_FLUSH 5.0       /* seconds between route cache flushes */
#define TEMP_BUFS 8        /* scratch buffers tx holds */
#define NIFS 4             /* interfaces */
#define RING 4096          /* rx -> tx queue; more than NMBCLUSTERS */

struct mbuf {
	struct mbuf *m_next;    /* next packet in a queue */
	char *m_data;           /* the cluster */
	uint32_t m_len;         /* bytes of data */
	uint16_t m_ifindex;     /* interface it came in on */
	char m_hdr[256 - 24];   /* the rest of the header */
};
_Static_assert(sizeof(struct mbuf) == 256, "struct mbuf is 256 bytes");

#define MCLBYTES 2048

struct conn {
	LIST_ENTRY(conn) c_hash;  /* in its hash bucket */
	TAILQ_ENTRY(conn) c_all;  /* in the table's list */
	double c_expire;          /* when it closes, seconds since start */
	uint32_t c_src, c_dst;    /* addresses */
	uint16_t c_sport, c_dport; /* ports */
	uint64_t c_packets;       /* packets seen */
	char c_state[256 - 64];   /* protocol state */
};
_Static_assert(sizeof(struct conn) == 256, "struct conn is 256 bytes");

LIST_HEAD(connbucket, conn);

#define LINK_TCP 6
#define LINK_GRE 47

struct alias_link {
	TAILQ_ENTRY(alias_link) l_list; /* in the aliasing table */
	double l_expire;          /* when it expires; 0: never */
	uint32_t l_src, l_alias;  /* original and aliased address */
	uint16_t l_sport, l_aport; /* original and aliased port */
	uint8_t l_proto;          /* LINK_TCP, LINK_GRE */
	char l_pad[128 - 41];     /* the rest of libalias' struct alias_link */
};
_Static_assert(sizeof(struct alias_link) == 128, "struct alias_link is 128 bytes");

struct rtentry {
	LIST_ENTRY(rtentry) rt_list; /* in the route cache */
	uint32_t rt_dst;          /* destination */
	uint32_t rt_gateway;      /* next hop */
	uint64_t rt_use;          /* lookups that found it */
	char rt_metrics[192 - 32]; /* the rest */
};
_Static_assert(sizeof(struct rtentry) == 192, "struct rtentry is 192 bytes");

struct ifnet {
	char if_name[16];          /* "em0" ... */
	uint64_t if_ipackets;      /* packets in */
	uint64_t if_opackets;      /* packets out */
	uint64_t if_iqdrops;       /* packets dropped: no cluster */
	char if_rest[1024 - 40];   /* addresses, flags, ... */
};

/* ---- state --------------------------------------------------------------- */

static uma_zone_t zone_mbuf, zone_clust;
static struct ifnet *ifnets[NIFS];

/* The rx -> tx queue. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mbuf *ring[RING];
static unsigned ring_head, ring_tail; /* next to take, next free slot */

/* The connection table. */
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct connbucket *conn_hash;
static TAILQ_HEAD(, conn) conn_all = TAILQ_HEAD_INITIALIZER(conn_all);
static unsigned long conn_count;

/* The aliasing table. */
static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, alias_link) link_all = TAILQ_HEAD_INITIALIZER(link_all);
static unsigned long link_count;

/* The route cache: one entry per destination at most. */
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, rtentry) rt_cache = LIST_HEAD_INITIALIZER(rt_cache);
static struct rtentry *rt_bydst[RT_DESTS];
static unsigned long rt_count;

static atomic_bool stop;
static volatile sig_atomic_t got_signal;
static struct timespec t_start;
static atomic_ulong n_rx, n_tx, n_drops, n_nomem;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)(ts.tv_sec - t_start.tv_sec) +
	    (double)(ts.tv_nsec - t_start.tv_nsec) / 1e9);
}

static void
nap(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};

	nanosleep(&ts, NULL);
}

/* A small PRNG per thread (splitmix64). */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

/* Uniform in (0, 1]. */
static double
rnd_unit(uint64_t *s)
{
	return ((double)((rnd(s) >> 11) + 1) / 9007199254740992.0);
}

/* Exponential with the given mean. */
static double
rnd_exp(uint64_t *s, double mean)
{
	return (-mean * log(rnd_unit(s)));
}

/* ---- connections, links, routes ------------------------------------------ */

static void
conn_open(uint64_t *seed, double t)
{
	struct conn *c = kmalloc(sizeof(*c), M_CONNTAB, M_NOWAIT | M_ZERO);

	if (c == NULL) {
		atomic_fetch_add(&n_nomem, 1);
		return;
	}
	uint64_t r = rnd(seed);
	c->c_src = 0x0a000000u | (uint32_t)(r & 0xffff);
	c->c_dst = (uint32_t)(r >> 32);
	c->c_sport = (uint16_t)(1024 + (r >> 16) % 60000);
	c->c_dport = (r >> 48) % 4 == 0 ? 443 : 80;
	c->c_expire = t + rnd_exp(seed, CONN_LIFE);
	unsigned b = (c->c_src ^ c->c_dst ^ c->c_sport) % CONN_HASH;
	pthread_mutex_lock(&conn_lock);
	LIST_INSERT_HEAD(&conn_hash[b], c, c_hash);
	TAILQ_INSERT_TAIL(&conn_all, c, c_all);
	conn_count++;
	pthread_mutex_unlock(&conn_lock);
}

/* Closes the connections whose time is up (all of them if t < 0). */
static void
conn_expire(double t)
{
	struct conn *c, *tmp;

	pthread_mutex_lock(&conn_lock);
	for (c = TAILQ_FIRST(&conn_all); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, c_all);
		if (t >= 0 && c->c_expire > t)
			continue;
		LIST_REMOVE(c, c_hash);
		TAILQ_REMOVE(&conn_all, c, c_all);
		conn_count--;
		kfree(c, M_CONNTAB);
	}
	pthread_mutex_unlock(&conn_lock);
}

static void
link_new(uint64_t *seed, double t, unsigned long n)
{
	struct alias_link *l = kmalloc(sizeof(*l), M_LIBALIAS, M_NOWAIT | M_ZERO);

	if (l == NULL) {
		atomic_fetch_add(&n_nomem, 1);
		return;
	}
	uint64_t r = rnd(seed);
	l->l_src = 0x0a000000u | (uint32_t)(r & 0xffff);
	l->l_alias = 0xc6336401u;
	l->l_sport = (uint16_t)(r >> 16);
	l->l_aport = (uint16_t)(1024 + n % 64000);
	l->l_proto = n % LINK_GRE_EVERY == 0 ? LINK_GRE : LINK_TCP;
	/* The bug: GRE links never get an expiry time. */
	l->l_expire = l->l_proto == LINK_GRE ? 0 : t + LINK_TIMEOUT;
	pthread_mutex_lock(&link_lock);
	TAILQ_INSERT_TAIL(&link_all, l, l_list);
	link_count++;
	pthread_mutex_unlock(&link_lock);
}

/* Expires idle links (all of them if all). */
static void
link_expire(double t, bool all)
{
	struct alias_link *l, *tmp;

	pthread_mutex_lock(&link_lock);
	for (l = TAILQ_FIRST(&link_all); l != NULL; l = tmp) {
		tmp = TAILQ_NEXT(l, l_list);
		if (!all && (l->l_expire == 0 || l->l_expire > t))
			continue;
		TAILQ_REMOVE(&link_all, l, l_list);
		link_count--;
		kfree(l, M_LIBALIAS);
	}
	pthread_mutex_unlock(&link_lock);
}

static void
rt_lookup(uint32_t dst)
{
	struct rtentry *rt;

	pthread_mutex_lock(&rt_lock);
	rt = rt_bydst[dst % RT_DESTS];
	if (rt == NULL) {
		rt = kmalloc(sizeof(*rt), M_RTCACHE, M_NOWAIT | M_ZERO);
		if (rt == NULL) {
			pthread_mutex_unlock(&rt_lock);
			atomic_fetch_add(&n_nomem, 1);
			return;
		}
		rt->rt_dst = dst;
		rt->rt_gateway = 0xc0a80001u;
		LIST_INSERT_HEAD(&rt_cache, rt, rt_list);
		rt_bydst[dst % RT_DESTS] = rt;
		rt_count++;
	}
	rt->rt_use++;
	pthread_mutex_unlock(&rt_lock);
}

static void
rt_flush(void)
{
	struct rtentry *rt;

	pthread_mutex_lock(&rt_lock);
	while ((rt = LIST_FIRST(&rt_cache)) != NULL) {
		LIST_REMOVE(rt, rt_list);
		rt_bydst[rt->rt_dst % RT_DESTS] = NULL;
		kfree(rt, M_RTCACHE);
	}
	rt_count = 0;
	pthread_mutex_unlock(&rt_lock);
}

/* ---- packets ------------------------------------------------------------- */

/* Receives one packet: an mbuf and a cluster, queued for tx. */
static void
rx_packet(uint64_t *seed)
{
	struct mbuf *m;
	unsigned ifi = (unsigned)(rnd(seed) % NIFS);

	m = uma_zalloc(zone_mbuf, M_NOWAIT);
	if (m != NULL && (m->m_data = uma_zalloc(zone_clust, M_NOWAIT)) == NULL) {
		uma_zfree(zone_mbuf, m);
		m = NULL;
	}
	if (m == NULL) {
		ifnets[ifi]->if_iqdrops++;
		atomic_fetch_add(&n_drops, 1);
		return;
	}
	m->m_len = 64 + (uint32_t)(rnd(seed) % (MCLBYTES - 64));
	m->m_ifindex = (uint16_t)ifi;
	memset(m->m_data, 0x45, 64);
	ifnets[ifi]->if_ipackets++;
	atomic_fetch_add(&n_rx, 1);

	pthread_mutex_lock(&ring_lock);
	if (ring_tail - ring_head < RING) {
		ring[ring_tail++ % RING] = m;
		m = NULL;
	}
	pthread_mutex_unlock(&ring_lock);
	if (m != NULL) {
		uma_zfree(zone_clust, m->m_data);
		uma_zfree(zone_mbuf, m);
		atomic_fetch_add(&n_drops, 1);
	}
}

static void *
rx_main(void *arg)
{
	uint64_t seed = (uint64_t)getpid() * 0x2545f4914f6cdd1dull + 1;
	unsigned long packets = 0, links = 0, lookups = 0, bursts = 0;
	double next_conn = 0;

	while (!atomic_load(&stop)) {
		double t = now();

		/* Packets: PPS, and a burst of BURST_PACKETS every few seconds. */
		unsigned long want = (unsigned long)(t * PPS);
		if (want - packets > 256)
			packets = want - 256; /* too far behind: those are lost */
		for (; packets < want; packets++)
			rx_packet(&seed);
		if (t >= 1.0 && (unsigned long)((t - 1.0) / BURST_EVERY) + 1 > bursts) {
			for (unsigned n = 0; n < BURST_PACKETS; n++)
				rx_packet(&seed);
			bursts = (unsigned long)((t - 1.0) / BURST_EVERY) + 1;
		}

		/* New connections: a Poisson stream whose rate swings. */
		while (next_conn <= t) {
			double rate = CONN_RATE *
			    (1 + CONN_SWING * sin(2 * M_PI * next_conn / CONN_PERIOD));
			conn_open(&seed, t);
			next_conn += rnd_exp(&seed, 1.0 / rate);
		}

		/* New aliasing links, at a steady rate. */
		for (want = (unsigned long)(t * LINK_RATE); links < want; links++)
			link_new(&seed, t, links);

		/* Route lookups. */
		for (want = (unsigned long)(t * RT_LOOKUPS); lookups < want; lookups++)
			rt_lookup((uint32_t)(rnd(&seed) % RT_DESTS));

		nap(5000);
	}
	return (NULL);
}

static void *
tx_main(void *arg)
{
	uint64_t seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull + 7;
	struct {
		void *p;
		size_t size;
	} temp[TEMP_BUFS] = {{NULL, 0}};
	unsigned k = 0;

	while (!atomic_load(&stop)) {
		struct mbuf *batch[TX_PER_TICK];
		unsigned n = 0;

		pthread_mutex_lock(&ring_lock);
		while (n < TX_PER_TICK && ring_head != ring_tail)
			batch[n++] = ring[ring_head++ % RING];
		pthread_mutex_unlock(&ring_lock);

		/* A scratch buffer for this batch, replacing the oldest. */
		k = (k + 1) % TEMP_BUFS;
		if (temp[k].p != NULL)
			kfree(temp[k].p, M_TEMP);
		temp[k].size = 512 + (size_t)(rnd(&seed) % 7681);
		temp[k].p = kmalloc(temp[k].size, M_TEMP, M_NOWAIT);
		if (temp[k].p == NULL)
			atomic_fetch_add(&n_nomem, 1);

		for (unsigned i = 0; i < n; i++) {
			struct mbuf *m = batch[i];
			unsigned sum = 0;
			for (unsigned j = 0; j < 64; j++)
				sum += (unsigned char)m->m_data[j];
			if (temp[k].p != NULL)
				memcpy(temp[k].p, m->m_data, 64);
			ifnets[(m->m_ifindex + sum) % NIFS]->if_opackets++;
			uma_zfree(zone_clust, m->m_data);
			uma_zfree(zone_mbuf, m);
		}
		atomic_fetch_add(&n_tx, n);
		nap(2000);
	}
	for (unsigned i = 0; i < TEMP_BUFS; i++)
		if (temp[i].p != NULL)
			kfree(temp[i].p, M_TEMP);
	return (NULL);
}

static void *
housekeeping_main(void *arg)
{
	double next_flush = RT_FLUSH;

	while (!atomic_load(&stop)) {
		double t = now();

		conn_expire(t);
		link_expire(t, false);
		if (t >= next_flush) {
			rt_flush();
			next_flush += RT_FLUSH;
		}
		nap(100000);
	}
	return (NULL);
}

/* ---- main ---------------------------------------------------------------- */

static void
on_signal(int sig)
{
	got_signal = sig;
}

static void
usage(void)
{
	fprintf(stderr, "usage: router [-q] [-t SECONDS]\n");
	exit(2);
}

static void
print_line(double t)
{
	unsigned long conns, links, routes;

	pthread_mutex_lock(&conn_lock);
	conns = conn_count;
	pthread_mutex_unlock(&conn_lock);
	pthread_mutex_lock(&link_lock);
	links = link_count;
	pthread_mutex_unlock(&link_lock);
	pthread_mutex_lock(&rt_lock);
	routes = rt_count;
	pthread_mutex_unlock(&rt_lock);
	printf("router: %3.0fs  rx %lu tx %lu drops %lu  clusters %d/%d  "
	    "conns %lu  links %lu  routes %lu  map %zuK/%zuK\n",
	    t, atomic_load(&n_rx), atomic_load(&n_tx), atomic_load(&n_drops),
	    uma_zone_get_cur(zone_clust), NMBCLUSTERS, conns, links, routes,
	    kmem_map_size() >> 10, kmem_size() >> 10);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	double seconds = 20;
	bool quiet = false;
	int ch;

	while ((ch = getopt(argc, argv, "qt:")) != -1) {
		switch (ch) {
		case 'q':
			quiet = true;
			break;
		case 't': {
			char *end;
			errno = 0;
			seconds = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || seconds < 0)
				usage();
			break;
		}
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	const char *env = getenv("KMEM_OPTIONS");
	if ((env == NULL || strstr(env, "kmem_size=") == NULL) &&
	    kmem_setopt("kmem_size", "64M") != 0) {
		fprintf(stderr, "router: cannot set kmem_size\n");
		return (1);
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	zone_mbuf = uma_zcreate("mbuf", sizeof(struct mbuf), NULL, NULL, NULL,
	    NULL, UMA_ALIGN_CACHE, 0);
	zone_clust = uma_zcreate("mbuf_cluster", MCLBYTES, NULL, NULL, NULL,
	    NULL, UMA_ALIGN_CACHE, 0);
	if (zone_mbuf == NULL || zone_clust == NULL) {
		fprintf(stderr, "router: cannot create the mbuf zones\n");
		return (1);
	}
	uma_zone_set_max(zone_clust, NMBCLUSTERS);
	uma_zone_set_warning(zone_clust,
	    "kern.ipc.nmbclusters limit reached");

	for (int i = 0; i < NIFS; i++) {
		ifnets[i] = kmalloc(sizeof(struct ifnet), M_IFNET, M_WAITOK | M_ZERO);
		snprintf(ifnets[i]->if_name, sizeof(ifnets[i]->if_name), "em%d", i);
	}
	conn_hash = kmallocarray(CONN_HASH, sizeof(*conn_hash), M_CONNTAB,
	    M_WAITOK | M_ZERO);
	/* Start with the table as full as it will stay: the router has been up. */
	uint64_t seed = (uint64_t)getpid();
	for (int i = 0; i < (int)(CONN_RATE * CONN_LIFE); i++)
		conn_open(&seed, 0);

	if (!quiet) {
		if (seconds > 0)
			printf("router: pid %ld, kmem map %zuK, running %gs\n",
			    (long)getpid(), kmem_size() >> 10, seconds);
		else
			printf("router: pid %ld, kmem map %zuK, running until "
			    "killed\n", (long)getpid(), kmem_size() >> 10);
		fflush(stdout);
	}

	pthread_t rx, tx, hk;
	if (pthread_create(&rx, NULL, rx_main, NULL) != 0 ||
	    pthread_create(&tx, NULL, tx_main, NULL) != 0 ||
	    pthread_create(&hk, NULL, housekeeping_main, NULL) != 0) {
		fprintf(stderr, "router: cannot start threads\n");
		return (1);
	}

	double next_line = 1;
	while (!got_signal) {
		double t = now();
		if (seconds > 0 && t >= seconds)
			break;
		if (t >= next_line) {
			if (!quiet)
				print_line(t);
			next_line += 1;
		}
		nap(50000);
	}
	atomic_store(&stop, true);
	pthread_join(rx, NULL);
	pthread_join(tx, NULL);
	pthread_join(hk, NULL);

	/* Shut down: the queue, the tables, the route cache, the interfaces. */
	unsigned long drops = atomic_load(&n_drops);
	while (ring_head != ring_tail) {
		struct mbuf *m = ring[ring_head++ % RING];
		uma_zfree(zone_clust, m->m_data);
		uma_zfree(zone_mbuf, m);
	}
	conn_expire(-1);
	link_expire(0, true);
	rt_flush();
	kfree(conn_hash, M_CONNTAB);
	for (int i = 0; i < NIFS; i++)
		kfree(ifnets[i], M_IFNET);
	if (!quiet)
		printf("router: stopped after %.1fs: %lu packets in, %lu dropped, "
		    "%lu allocations refused\n", now(), atomic_load(&n_rx) + drops,
		    drops, atomic_load(&n_nomem));
	return (0);
}
