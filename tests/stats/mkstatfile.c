/*
 * mkstatfile.c -- writes a deterministic statistics file (layout version 1,
 * src/stats/kms_layout.h) for the reader and kmemstat(1) tests.
 *
 * Usage: mkstatfile [-k KIND] FILE
 *
 *   good       (default) a process that was running when it was last seen
 *              (pid 99999999, which no Linux system hands out), two
 *              snapshots: the current one in area 0 (generation 2) and a
 *              stale one in area 1 that a correct reader never shows
 *   magic      the same with a wrong magic
 *   version    the same with layout version 99
 *   truncated  the first half of the header only
 *   records    the current area claims more records than an area holds
 *
 * The current snapshot holds malloc types with chosen counts, bytes and
 * sizemasks (one never used, one only large, names that need escaping),
 * zones (kmalloc zones, one at its limit with failures and sleeps, one
 * internal) and map figures in which 50 of 80 MiB are in use when the
 * map runs short: 10 MiB idle in zones, the 15 MiB free fragmented into
 * extents of at most 512 KiB.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats/kms_layout.h"

#define MIB (UINT64_C(1) << 20)
#define FIXTURE_PID UINT64_C(99999999)
#define FIXTURE_START_NS INT64_C(1767225600000000000) /* 2026-01-01 UTC */
#define SEC_NS INT64_C(1000000000)

#define BIT(c) (UINT64_C(1) << (c))
/* kmalloc class indices used below */
#define C16 0
#define C32 1
#define C48 2
#define C64 3
#define C512 15
#define C1280 20
#define C1536 21
#define C4096 27
#define CLARGE 44

static const struct kms_record fixture_types[] = {
	{.kr_name = "devbuf", .kr_sizemask = BIT(C16) | BIT(C64) | BIT(C512),
	 .kr_numallocs = 5000, .kr_numfrees = 4880, .kr_count = 120,
	 .kr_bytes = 40 * 16 + 50 * 64 + 30 * 512, .kr_highbytes = 40000},
	{.kr_name = "packet", .kr_sizemask = BIT(C1536) | BIT(CLARGE),
	 .kr_numallocs = 100000, .kr_numfrees = 97952, .kr_count = 2048,
	 .kr_bytes = 2046 * 1536 + 2 * 131072, .kr_highbytes = 4000000,
	 .kr_failures = 4},
	{.kr_name = "temp", .kr_sizemask = BIT(C32), .kr_numallocs = 77,
	 .kr_numfrees = 77, .kr_highbytes = 320},
	{.kr_name = "unused"},
	{.kr_name = "q\"uote\\back", .kr_sizemask = BIT(C1280),
	 .kr_numallocs = 1, .kr_count = 1, .kr_bytes = 1280,
	 .kr_highbytes = 1280},
	{.kr_name = "tab\there", .kr_sizemask = BIT(C48), .kr_numallocs = 3,
	 .kr_count = 3, .kr_bytes = 144, .kr_highbytes = 144},
	{.kr_name = "bigbuf", .kr_sizemask = BIT(CLARGE), .kr_numallocs = 10,
	 .kr_numfrees = 7, .kr_count = 3, .kr_bytes = 3 * 200704,
	 .kr_highbytes = 10 * 200704},
	{.kr_name = "a_type_name_of_31_characters_x",
	 .kr_sizemask = BIT(C4096), .kr_numallocs = 1234567890,
	 .kr_numfrees = 1234567885, .kr_count = 5, .kr_bytes = 5 * 4096,
	 .kr_highbytes = 90 * 4096},
	{.kr_name = "caf\xc3\xa9", .kr_sizemask = BIT(C16), .kr_numallocs = 2,
	 .kr_count = 2, .kr_bytes = 32, .kr_highbytes = 32},
	{.kr_name = "bad\xffname", .kr_sizemask = BIT(C16), .kr_numallocs = 1,
	 .kr_count = 1, .kr_bytes = 16, .kr_highbytes = 16},
};

static const struct kms_record fixture_zones[] = {
	{.kr_name = "16", .kr_flags = KMS_REC_MALLOC_BACKED,
	 .kr_size = 16, .kr_rsize = 16, .kr_numallocs = 9000,
	 .kr_numfrees = 8460, .kr_count = 540, .kr_bytes = 540 * 16,
	 .kr_free = 100, .kr_free_cache = 60, .kr_free_bucket = 30,
	 .kr_free_slab = 10, .kr_pages = 3},
	{.kr_name = "1536", .kr_flags = KMS_REC_MALLOC_BACKED,
	 .kr_size = 1536, .kr_rsize = 1536, .kr_numallocs = 99998,
	 .kr_numfrees = 97952, .kr_count = 2046, .kr_bytes = 2046 * 1536,
	 .kr_free = 10, .kr_free_cache = 10, .kr_pages = 771},
	{.kr_name = "conn", .kr_size = 256, .kr_rsize = 256, .kr_limit = 10000,
	 .kr_numallocs = 25000, .kr_numfrees = 15000, .kr_count = 10000,
	 .kr_bytes = 10000 * 256, .kr_failures = 42, .kr_sleeps = 7,
	 .kr_pages = 625},
	{.kr_name = "vnode", .kr_size = 480, .kr_rsize = 480,
	 .kr_numallocs = 1000, .kr_numfrees = 700, .kr_count = 300,
	 .kr_bytes = 300 * 480, .kr_free = 20, .kr_free_bucket = 12,
	 .kr_free_slab = 8, .kr_pages = 38},
	{.kr_name = "BUCKET-16", .kr_flags = KMS_REC_INTERNAL, .kr_size = 144,
	 .kr_rsize = 144, .kr_numallocs = 40, .kr_numfrees = 28,
	 .kr_count = 12, .kr_bytes = 12 * 144, .kr_free = 16,
	 .kr_free_slab = 16, .kr_pages = 1},
	{.kr_name = "zone-with-a-rather-long-name", .kr_size = 64,
	 .kr_rsize = 64, .kr_numallocs = 1, .kr_count = 1, .kr_bytes = 64,
	 .kr_free = 63, .kr_free_slab = 63, .kr_pages = 1},
	{.kr_name = "mbuf_cluster", .kr_flags = KMS_REC_SECONDARY,
	 .kr_size = 2048, .kr_rsize = 2048, .kr_numallocs = 64,
	 .kr_count = 64, .kr_bytes = 64 * 2048, .kr_pages = 32},
};

static const struct kms_kmem fixture_kmem = {
	.kk_size = 80 * MIB, .kk_pagesize = 4096,
	.kk_malloc = 30 * MIB, .kk_large = 8 * MIB,
	.kk_zone_used = 10 * MIB, .kk_zone_cached = 6 * MIB,
	.kk_zone_slabfree = 4 * MIB, .kk_direct = 2 * MIB,
	.kk_submaps = 4 * MIB, .kk_meta = 1 * MIB,
	.kk_free = 15 * MIB, .kk_maxfree = 512 * 1024, .kk_nfree = 300,
	.kk_failures = 17, .kk_waits = 3,
};

/* The stale snapshot: what area 1 still holds from generation 1. */
static const struct kms_record stale_records[] = {
	{.kr_name = "stale", .kr_allocator = ALLOCATOR_MALLOC,
	 .kr_sizemask = BIT(C16), .kr_numallocs = 1, .kr_count = 1,
	 .kr_bytes = 16},
	{.kr_name = "stale-zone", .kr_allocator = ALLOCATOR_UMA, .kr_size = 8,
	 .kr_numallocs = 1, .kr_count = 1, .kr_bytes = 8},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
die(const char *what, const char *path)
{
	fprintf(stderr, "mkstatfile: %s: ", path);
	perror(what);
	exit(1);
}

static void
put(int fd, const void *buf, size_t len, uint64_t off, const char *path)
{
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		die("pwrite", path);
}

static uint64_t
area_write(int fd, uint64_t off, uint64_t gen, int64_t time_ns,
    const struct kms_kmem *kk, const struct kms_record *types, size_t ntypes,
    const struct kms_record *zones, size_t nzones, const char *path)
{
	struct kms_area a;
	struct kms_record r;
	uint64_t roff = off + sizeof(a);

	for (size_t i = 0; i < ntypes; i++, roff += sizeof(r)) {
		r = types[i];
		if (r.kr_allocator == 0)
			r.kr_allocator = ALLOCATOR_MALLOC;
		put(fd, &r, sizeof(r), roff, path);
	}
	for (size_t i = 0; i < nzones; i++, roff += sizeof(r)) {
		r = zones[i];
		if (r.kr_allocator == 0)
			r.kr_allocator = ALLOCATOR_UMA;
		put(fd, &r, sizeof(r), roff, path);
	}
	memset(&a, 0, sizeof(a));
	a.ka_generation = gen;
	a.ka_time_ns = time_ns;
	a.ka_nrecords = (uint32_t)(ntypes + nzones);
	a.ka_kmem = *kk;
	put(fd, &a, sizeof(a), off, path);
	return (a.ka_nrecords);
}

int
main(int argc, char **argv)
{
	const char *kind = "good", *path;
	struct kms_header h;
	int c;

	while ((c = getopt(argc, argv, "k:")) != -1) {
		if (c != 'k') {
			fprintf(stderr, "usage: mkstatfile [-k KIND] FILE\n");
			return (2);
		}
		kind = optarg;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: mkstatfile [-k KIND] FILE\n");
		return (2);
	}
	path = argv[optind];
	if (strcmp(kind, "good") != 0 && strcmp(kind, "magic") != 0 &&
	    strcmp(kind, "version") != 0 && strcmp(kind, "truncated") != 0 &&
	    strcmp(kind, "records") != 0) {
		fprintf(stderr, "mkstatfile: unknown kind %s\n", kind);
		return (2);
	}

	uint64_t area_span = (KMS_AREA_BYTES + 4095) & ~UINT64_C(4095);
	memset(&h, 0, sizeof(h));
	memcpy(h.kh_magic, KMS_MAGIC, sizeof(h.kh_magic));
	h.kh_version = KMS_VERSION;
	h.kh_endian = KMS_ENDIAN;
	h.kh_header_size = KMS_HEADER_SIZE;
	h.kh_record_size = sizeof(struct kms_record);
	h.kh_area_header = sizeof(struct kms_area);
	h.kh_max_records = KMS_MAX_RECORDS;
	h.kh_area_off[0] = KMS_HEADER_SIZE;
	h.kh_area_off[1] = KMS_HEADER_SIZE + area_span;
	h.kh_file_size = h.kh_area_off[1] + KMS_AREA_BYTES;
	h.kh_pid = FIXTURE_PID;
	h.kh_uid = getuid();
	h.kh_start_ns = FIXTURE_START_NS;
	h.kh_proc_start = 1;
	snprintf(h.kh_command, sizeof(h.kh_command), "fixture");
	h.kh_state = KMS_STATE_RUNNING;
	h.kh_interval_ms = 1000;
	h.kh_generation = 2; /* the current snapshot is in area 0 */
	if (strcmp(kind, "magic") == 0)
		memcpy(h.kh_magic, "KMEMSTAX", sizeof(h.kh_magic));
	if (strcmp(kind, "version") == 0)
		h.kh_version = 99;

	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open", path);
	if (strcmp(kind, "truncated") == 0) {
		static unsigned char page[KMS_HEADER_SIZE];
		memcpy(page, &h, sizeof(h));
		put(fd, page, KMS_HEADER_SIZE / 2, 0, path);
		close(fd);
		return (0);
	}
	if (ftruncate(fd, (off_t)h.kh_file_size) != 0)
		die("ftruncate", path);
	put(fd, &h, sizeof(h), 0, path);

	struct kms_kmem stale_kmem = {.kk_size = 80 * MIB,
		.kk_pagesize = 4096, .kk_free = 80 * MIB,
		.kk_maxfree = 80 * MIB, .kk_nfree = 1};
	area_write(fd, h.kh_area_off[1], 1, FIXTURE_START_NS + 1800 * SEC_NS,
	    &stale_kmem, stale_records, NELEM(stale_records), NULL, 0, path);
	area_write(fd, h.kh_area_off[0], 2, FIXTURE_START_NS + 3600 * SEC_NS,
	    &fixture_kmem, fixture_types, NELEM(fixture_types), fixture_zones,
	    NELEM(fixture_zones), path);
	if (strcmp(kind, "records") == 0) {
		uint32_t n = KMS_MAX_RECORDS + 1;
		put(fd, &n, sizeof(n), h.kh_area_off[0] +
		    offsetof(struct kms_area, ka_nrecords), path);
	}
	if (close(fd) != 0)
		die("close", path);
	return (0);
}
