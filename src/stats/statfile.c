/*
 * statfile.c -- publishing this process's statistics in its statistics file.
 *
 * The layout and the reader's side of the protocol are described at the top
 * of kms_layout.h.  This file holds the writer:
 *
 *  - kms_collect() gathers a snapshot: every malloc type (summed over the
 *    threads' counters, mt_foreach), every zone (uma_zone_foreach) and the
 *    map's figures, with the slab pages split into items in use, cached
 *    free items and the rest.  It writes into the memory it is given and
 *    never allocates, so it can fill the shared file directly.
 *
 *  - One thread per process, "kmem-stats", started when the map is set up
 *    (or, where kms_defer() asked so, by kms_start_pending() once the caller
 *    knows that no kmem lock is held and that creating a thread may
 *    allocate: the preload shim, whose malloc() is what sets the map up),
 *    creates the file and publishes a snapshot at once, then again every
 *    stats_interval milliseconds and whenever a reader adds to kh_request
 *    and wakes the futex there.  Allocating threads never touch the file.
 *    Publications are serialized by ks_lock.
 *
 *  - At a normal exit the file is removed (or, with stats_keep=1, given a
 *    last snapshot and the state EXITED); before kmem aborts the process
 *    (kp_fatal) the state becomes FATAL and the thread is asked for a last
 *    snapshot, waited for at most KMS_FATAL_WAIT_NS (the aborting thread may
 *    hold a lock the snapshot needs; then the previous snapshot stands).
 *    A process killed outright leaves the file as it was: its last snapshot
 *    is at most stats_interval old.
 *
 *  - A child of fork() must not write into its parent's file: it drops the
 *    mapping and starts a thread of its own, which waits one interval before
 *    it creates the child's file, so that a child that soon calls exec(2)
 *    leaves nothing behind.  ks_lock is the first lock of kmem's order
 *    around fork() (prim.h); the forking thread holds it across the fork,
 *    so the child finds the file between two publications.
 *
 *  - A reader given only a pid looks for /dev/shm/kmem.<pid>, then for a
 *    statistics file among the files the process maps (/proc/<pid>/maps),
 *    so a file elsewhere is found too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../malloc/malloc_int.h"
#include "../platform/options.h"
#include "../uma/uma_stats.h"
#include "kms.h"

#define KMS_FATAL_WAIT_NS 250000000u /* the aborting thread waits this long */
#define KMS_DEFAULT_DIR "/dev/shm"

static struct {
	kp_mutex_t ks_lock;        /* publications, the mapping */
	struct kms_header *ks_hdr; /* the file, mapped; NULL before it exists */
	size_t ks_maplen;
	uint32_t ks_pid;           /* whose file ks_hdr is */
	char ks_path[KOPT_STRMAX + 24];
	bool ks_failed;            /* creating the file failed (said once) */
	uint32_t ks_wake;          /* futex: the thread's sleep (fatal path) */
} ks = {.ks_lock = KP_MUTEX_INITIALIZER};

static atomic_int ks_started;   /* the thread runs in this process */
static atomic_bool ks_deferred; /* kms_start() only notes the request */
static atomic_bool ks_pending;  /* noted, kms_start_pending() starts it */
static atomic_bool ks_fatal;    /* kmem is aborting the process */
static atomic_bool ks_is_child; /* made by fork(): wait before creating */

/* ---- gathering ------------------------------------------------------------ */

struct kms_fill {
	struct kms_area *kf_area;
	uint32_t kf_cap, kf_n;
	uint64_t kf_malloc, kf_zone_used, kf_zone_cached;
};

static struct kms_record *
kms_next(struct kms_fill *f)
{
	if (f->kf_n++ >= f->kf_cap)
		return (NULL);
	struct kms_record *r = &f->kf_area->ka_records[f->kf_n - 1];
	memset(r, 0, sizeof(*r));
	return (r);
}

static void
kms_fill_type(const struct mt_stats *st, void *arg)
{
	struct kms_record *r = kms_next(arg);

	if (r == NULL)
		return;
	snprintf(r->kr_name, sizeof(r->kr_name), "%s", st->ms_name);
	r->kr_allocator = ALLOCATOR_MALLOC;
	r->kr_flags = st->ms_live ? 0 : KMS_REC_UNLOADED;
	r->kr_sizemask = st->ms_sizemask;
	r->kr_numallocs = st->ms_numallocs;
	r->kr_numfrees = st->ms_numfrees;
	r->kr_count = st->ms_count;
	r->kr_bytes = st->ms_bytes;
	r->kr_highbytes = st->ms_hwm;
	r->kr_failures = st->ms_failures;
}

static void
kms_fill_zone(uma_zone_t zone, void *arg)
{
	struct kms_fill *f = arg;
	struct uma_zone_stats st;

	uma_zone_get_stats(zone, &st);
	/* Items of zones whose slabs are pages of the map (not metadata). */
	if (st.zs_keg && !st.zs_internal) {
		if (st.zs_flags & UMA_ZONE_MALLOC)
			f->kf_malloc += st.zs_used * st.zs_rsize;
		else
			f->kf_zone_used += st.zs_used * st.zs_rsize;
		f->kf_zone_cached += (st.zs_free_cache + st.zs_free_bucket) *
		    st.zs_rsize;
	}
	struct kms_record *r = kms_next(f);
	if (r == NULL)
		return;
	snprintf(r->kr_name, sizeof(r->kr_name), "%s", st.zs_name);
	r->kr_allocator = ALLOCATOR_UMA;
	r->kr_flags = ((st.zs_flags & UMA_ZONE_MALLOC) ? KMS_REC_MALLOC_BACKED : 0) |
	    (st.zs_secondary ? KMS_REC_SECONDARY : 0) |
	    (st.zs_kmem ? KMS_REC_INTERNAL : 0);
	r->kr_size = st.zs_size;
	r->kr_rsize = st.zs_rsize;
	r->kr_limit = st.zs_limit;
	r->kr_numallocs = st.zs_requests;
	r->kr_numfrees = st.zs_frees;
	r->kr_count = st.zs_used;
	r->kr_bytes = st.zs_used * st.zs_size;
	r->kr_free = st.zs_free;
	r->kr_free_cache = st.zs_free_cache;
	r->kr_free_bucket = st.zs_free_bucket;
	r->kr_free_slab = st.zs_free_slab;
	r->kr_failures = st.zs_failures;
	r->kr_sleeps = st.zs_sleeps;
	r->kr_pages = st.zs_pages;
}

uint32_t
kms_collect(struct kms_area *a, uint32_t cap)
{
	struct kms_fill f = {.kf_area = a, .kf_cap = cap};
	struct kmem_figures kf;
	struct kms_kmem *k = &a->ka_kmem;

	mt_foreach(kms_fill_type, &f);
	uma_zone_foreach(kms_fill_zone, &f);
	memset(k, 0, sizeof(*k));
	if (kmem_get_figures(&kf)) {
		uint64_t slab = kf.kf_class[KMC_SLAB];
		uint64_t items = f.kf_malloc + f.kf_zone_used + f.kf_zone_cached;
		k->kk_size = kf.kf_size;
		k->kk_pagesize = kf.kf_pagesize;
		k->kk_large = kf.kf_class[KMC_LARGE];
		/*
		 * Zones and the map are read a moment apart: when the items
		 * counted exceed the slab pages, the items give way, so that the
		 * figures still add up to the map's size.
		 */
		if (items > slab) {
			uint64_t over = items - slab;
			uint64_t cut = over < f.kf_zone_cached ? over : f.kf_zone_cached;
			f.kf_zone_cached -= cut;
			over -= cut;
			cut = over < f.kf_zone_used ? over : f.kf_zone_used;
			f.kf_zone_used -= cut;
			over -= cut;
			f.kf_malloc -= over < f.kf_malloc ? over : f.kf_malloc;
			items = slab;
		}
		k->kk_malloc = f.kf_malloc;
		k->kk_zone_used = f.kf_zone_used;
		k->kk_zone_cached = f.kf_zone_cached;
		k->kk_zone_slabfree = slab - items;
		k->kk_direct = kf.kf_class[KMC_DIRECT];
		k->kk_submaps = kf.kf_class[KMC_SUBMAP];
		k->kk_meta = kf.kf_class[KMC_META];
		k->kk_free = kf.kf_free;
		k->kk_maxfree = kf.kf_maxfree;
		k->kk_nfree = kf.kf_nfree;
		k->kk_failures = kf.kf_failures;
		k->kk_waits = kf.kf_waits;
	}
	a->ka_nrecords = f.kf_n < cap ? f.kf_n : cap;
	a->ka_flags = f.kf_n > cap ? KMS_AREA_TRUNCATED : 0;
	a->ka_time_ns = kp_realtime_ns();
	return (f.kf_n);
}

/* ---- the file ------------------------------------------------------------------ */

static uint64_t
kms_area_stride(void)
{
	return ((KMS_AREA_BYTES + 4095) & ~(uint64_t)4095);
}

/* stats_file with %p replaced by the pid. */
static void
kms_expand_path(char *out, size_t len, const char *pattern, uint32_t pid)
{
	size_t n = 0;

	for (const char *p = pattern; *p != '\0' && n + 1 < len; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			int k = snprintf(out + n, len - n, "%u", pid);
			n += k > 0 ? (size_t)k : 0;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			out[n++] = '%';
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n < len ? n : len - 1] = '\0';
}

/* Publishes one snapshot, ks_lock held and the file mapped. */
static void
kms_publish(struct kms_header *h)
{
	uint64_t g = __atomic_load_n(&h->kh_generation, __ATOMIC_RELAXED);
	uint32_t req = __atomic_load_n(&h->kh_request, __ATOMIC_ACQUIRE);
	struct kms_area *a = (struct kms_area *)((char *)h +
	    h->kh_area_off[(g + 1) & 1]);

	(void)kms_collect(a, KMS_MAX_RECORDS);
	a->ka_generation = g + 1;
	h->kh_interval_ms = (uint32_t)kopt.stats_interval;
	__atomic_store_n(&h->kh_generation, g + 1, __ATOMIC_RELEASE);
	/* Requests made before the gathering began are answered. */
	__atomic_store_n(&h->kh_served, req, __ATOMIC_RELEASE);
}

/*
 * Creates and maps the file with its header and a first snapshot, ks_lock
 * held; 0 or an errno.  The file is made under a temporary name and renamed
 * into place, so that a reader never finds it without a snapshot.
 */
static int
kms_create(bool collect)
{
	uint32_t pid = kp_process_id();
	size_t len = KMS_HEADER_SIZE + 2 * kms_area_stride();
	char tmp[sizeof(ks.ks_path) + 8];
	void *p;
	int error;

	kms_expand_path(ks.ks_path, sizeof(ks.ks_path),
	    kopt.stats_file[0] != '\0' ? kopt.stats_file : KMS_DEFAULT_DIR "/kmem.%p",
	    pid);
	snprintf(tmp, sizeof(tmp), "%s.new", ks.ks_path);
	error = kp_file_create_map(tmp, len, &p);
	if (error != 0)
		return (error);
	struct kms_header *h = p;
	memcpy(h->kh_magic, KMS_MAGIC, 8);
	h->kh_version = KMS_VERSION;
	h->kh_endian = KMS_ENDIAN;
	h->kh_header_size = KMS_HEADER_SIZE;
	h->kh_record_size = sizeof(struct kms_record);
	h->kh_area_header = sizeof(struct kms_area);
	h->kh_max_records = KMS_MAX_RECORDS;
	h->kh_area_off[0] = KMS_HEADER_SIZE;
	h->kh_area_off[1] = KMS_HEADER_SIZE + kms_area_stride();
	h->kh_file_size = len;
	h->kh_pid = pid;
	h->kh_uid = (uint64_t)getuid();
	h->kh_start_ns = kp_realtime_ns();
	h->kh_proc_start = kp_process_start_ticks();
	snprintf(h->kh_command, sizeof(h->kh_command), "%s", kp_program_name());
	h->kh_interval_ms = (uint32_t)kopt.stats_interval;
	__atomic_store_n(&h->kh_state, atomic_load(&ks_fatal) ? KMS_STATE_FATAL :
	    KMS_STATE_RUNNING, __ATOMIC_RELEASE);
	if (collect) {
		kms_publish(h);
	} else {
		/* An empty first snapshot: the thread publishes a full one next. */
		struct kms_area *a = (struct kms_area *)((char *)h + h->kh_area_off[1]);
		a->ka_generation = 1;
		a->ka_time_ns = kp_realtime_ns();
		__atomic_store_n(&h->kh_generation, 1, __ATOMIC_RELEASE);
	}
	if ((error = kp_rename(tmp, ks.ks_path)) != 0) {
		(void)kp_unlink(tmp);
		kp_file_unmap(p, len);
		return (error);
	}
	ks.ks_maplen = len;
	ks.ks_pid = pid;
	ks.ks_hdr = h;
	return (0);
}

/* Sleeps up to ns, or until the fatal path wakes the thread. */
static void
kms_nap(uint64_t ns)
{
	uint32_t w = __atomic_load_n(&ks.ks_wake, __ATOMIC_ACQUIRE);

	if (!atomic_load(&ks_fatal))
		kp_futex_wait(&ks.ks_wake, w, ns);
}

static void *
kms_thread(void *arg)
{
	(void)arg;
	if (atomic_load(&ks_is_child))
		kms_nap(kopt.stats_interval * 1000000u);
	kp_mutex_lock(&ks.ks_lock);
	if (ks.ks_hdr == NULL) {
		int error = kms_create(true);
		if (error != 0) {
			if (!ks.ks_failed)
				kp_log("statistics file %s: %s (kmemstat cannot see this "
				    "process; stats_file=PATH names another)", ks.ks_path,
				    strerror(error));
			ks.ks_failed = true;
			kp_mutex_unlock(&ks.ks_lock);
			return (NULL);
		}
	}
	struct kms_header *h = ks.ks_hdr;
	if (!atomic_load(&ks_is_child))
		kms_publish(h); /* the file was made with an empty snapshot */
	kp_mutex_unlock(&ks.ks_lock);
	for (;;) {
		uint32_t req = __atomic_load_n(&h->kh_request, __ATOMIC_ACQUIRE);
		if (!atomic_load(&ks_fatal))
			kp_futex_wait(&h->kh_request, req, kopt.stats_interval * 1000000u);
		kp_mutex_lock(&ks.ks_lock);
		if (ks.ks_hdr != h) { /* another process's, after fork() */
			kp_mutex_unlock(&ks.ks_lock);
			return (NULL);
		}
		kms_publish(ks.ks_hdr);
		kp_mutex_unlock(&ks.ks_lock);
		if (atomic_load(&ks_fatal))
			kp_sleep_ns(KMS_FATAL_WAIT_NS); /* the process is going */
	}
	return (NULL);
}

/* kp_fatal's last word: state FATAL and a last snapshot if one comes soon. */
static void
kms_on_fatal(void)
{
	struct kms_header *h = ks.ks_hdr;

	if (atomic_load(&ks_started) == 0)
		return;
	atomic_store(&ks_fatal, true);
	__atomic_add_fetch(&ks.ks_wake, 1, __ATOMIC_RELEASE);
	kp_futex_wake(&ks.ks_wake);
	if (h == NULL) {
		/* A young child's thread creates its file now. */
		for (uint64_t t = 0; t < KMS_FATAL_WAIT_NS && ks.ks_hdr == NULL &&
		    !ks.ks_failed; t += 1000000)
			kp_sleep_ns(1000000);
		if ((h = ks.ks_hdr) == NULL)
			return;
	}
	__atomic_store_n(&h->kh_state, KMS_STATE_FATAL, __ATOMIC_RELEASE);
	uint32_t r = __atomic_add_fetch(&h->kh_request, 1, __ATOMIC_ACQ_REL);
	kp_futex_wake(&h->kh_request);
	for (uint64_t t = 0; t < KMS_FATAL_WAIT_NS &&
	    (int32_t)(__atomic_load_n(&h->kh_served, __ATOMIC_ACQUIRE) - r) < 0;
	    t += 1000000)
		kp_sleep_ns(1000000);
}

/*
 * fork(): ks_lock comes first in kmem's order (rank KP_FORK_STATS in
 * prim.h): a publication holds it while it reads every layer's figures.
 * Its child function runs last, once every other lock is free again, since
 * it starts the child's own thread.
 */
static void
kms_prefork(void)
{
	kp_mutex_lock(&ks.ks_lock);
}

static void
kms_postfork_parent(void)
{
	kp_mutex_unlock(&ks.ks_lock);
}

/* In the child after fork(): the file and the thread were the parent's. */
static void
kms_postfork_child(void)
{
	kp_mutex_unlock(&ks.ks_lock);
	if (atomic_load(&ks_started) == 0)
		return;
	if (ks.ks_hdr != NULL)
		kp_file_unmap(ks.ks_hdr, ks.ks_maplen);
	ks.ks_hdr = NULL;
	ks.ks_failed = false;
	atomic_store(&ks_fatal, false);
	atomic_store(&ks_is_child, true);
	if (kp_thread_start("kmem-stats", kms_thread, NULL) != 0)
		atomic_store(&ks_started, 0);
}

void
kms_defer(void)
{
	atomic_store(&ks_deferred, true);
}

bool
kms_pending(void)
{
	return (atomic_load_explicit(&ks_pending, memory_order_relaxed));
}

void
kms_start_pending(void)
{
	if (atomic_exchange(&ks_pending, false)) {
		atomic_store(&ks_deferred, false);
		kms_start();
	}
}

void
kms_start(void)
{
	int expected = 0;

	if (atomic_load(&ks_deferred)) {
		atomic_store(&ks_pending, true);
		return;
	}
	if (!kopt.stats || !atomic_compare_exchange_strong(&ks_started, &expected, 1))
		return;
	kp_set_fatal_hook(kms_on_fatal);
	/*
	 * The file exists once the first allocation returns (kmemstat -p can
	 * find a process at once); the thread fills it.  kms_start may run
	 * under locks of the layers above, so the snapshot is not taken here.
	 */
	kp_mutex_lock(&ks.ks_lock);
	int error = kms_create(false);
	if (error != 0) {
		kp_log("statistics file %s: %s (kmemstat cannot see this process; "
		    "stats_file=PATH names another)", ks.ks_path, strerror(error));
		ks.ks_failed = true;
		kp_mutex_unlock(&ks.ks_lock);
		return;
	}
	kp_mutex_unlock(&ks.ks_lock);
	error = kp_thread_start("kmem-stats", kms_thread, NULL);
	if (error != 0) {
		kp_log("statistics: cannot start the publishing thread: %s",
		    strerror(error));
		atomic_store(&ks_started, 0);
	}
}

void
kms_exit_now(void)
{
	struct kms_header *h = ks.ks_hdr;

	if (atomic_load(&ks_started) == 0 || h == NULL ||
	    ks.ks_pid != kp_process_id())
		return;
	if (kopt.stats_keep)
		__atomic_store_n(&h->kh_state, KMS_STATE_EXITED, __ATOMIC_RELEASE);
	else
		(void)kp_unlink(ks.ks_path);
}

static const struct kp_fork_ops kms_fork_ops = {
	.kfo_prepare = kms_prefork,
	.kfo_parent = kms_postfork_parent,
	.kfo_child = kms_postfork_child,
};

static void __attribute__((constructor))
kms_fork_register(void)
{
	kp_fork_register(KP_FORK_STATS, &kms_fork_ops);
}

static void __attribute__((destructor))
kms_fini(void)
{
	if (atomic_load(&ks_started) == 0)
		return;
	kp_mutex_lock(&ks.ks_lock);
	struct kms_header *h = ks.ks_hdr;
	if (h != NULL && ks.ks_pid == kp_process_id()) {
		if (kopt.stats_keep) {
			__atomic_store_n(&h->kh_state, KMS_STATE_EXITED, __ATOMIC_RELEASE);
			kms_publish(ks.ks_hdr);
		} else {
			(void)kp_unlink(ks.ks_path);
		}
	}
	kp_mutex_unlock(&ks.ks_lock);
}
