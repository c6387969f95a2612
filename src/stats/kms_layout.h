/*
 * kms_layout.h -- the statistics file: its binary layout (version 1).
 * Not for use outside kmem; docs/STATSFILE.md describes the same layout for
 * readers written elsewhere.
 *
 * 1. The file
 *
 *    Each process publishes its zones, malloc types and map figures in one
 *    file, /dev/shm/kmem.<pid> unless the tunable stats_file names another
 *    path ("%p" in it stands for the pid).  Mode 0600.  Integers are the
 *    machine's own (the header's kh_endian tells which), every field is
 *    naturally aligned, and the file is:
 *
 *        offset 0                    struct kms_header (4096 bytes)
 *        kh_area_off[0]              area 0: struct kms_area + records
 *        kh_area_off[1]              area 1: struct kms_area + records
 *
 *    The file is sparse: an area takes memory only for the records it
 *    holds.
 *
 * 2. Snapshots and readers (a sequence counter over two areas)
 *
 *    The library's publisher (one thread per process, "kmem-stats")
 *    gathers a snapshot -- every type summed over the threads' counters,
 *    every zone, the map -- into the area NOT named by kh_generation, then
 *    stores kh_generation + 1 (release).  So the complete snapshot is
 *    always in area (kh_generation & 1).  A reader loads kh_generation
 *    (acquire), copies that area, and loads kh_generation again: if it did
 *    not change, the copy is a consistent snapshot; else it copies again.
 *    A reader never writes anything but kh_request and never waits for the
 *    process; a process killed in the middle of a publication leaves the
 *    previous snapshot intact, which is what a post-mortem read sees.
 *
 *    A reader that wants the figures of this moment adds 1 to kh_request
 *    (getting r), wakes the futex there, and waits until kh_served - r >= 0
 *    (as signed 32-bit): the publisher reads kh_request before it gathers
 *    a snapshot and stores that value in kh_served once the snapshot is
 *    published, so a snapshot that was already under way when the reader
 *    asked never answers it.
 *
 *    Writers never block: threads count in their own counters (never in
 *    the file); the publisher takes a snapshot every stats_interval
 *    milliseconds, when a reader asks (it adds 1 to kh_request and wakes
 *    the futex there), at a normal exit and before kmem aborts the
 *    process.  kh_generation == 0: nothing published yet.
 *
 * 3. Versions
 *
 *    kh_version changes whenever a field moves or changes meaning; fields
 *    are only appended to records and areas within their reserved words.
 *    A reader refuses a file whose magic, version, endianness or sizes it
 *    does not know (memstat: MEMSTAT_ERROR_VERSION / _DATAERROR).
 */
#ifndef KMEM_KMS_LAYOUT_H
#define KMEM_KMS_LAYOUT_H

#include <stdint.h>

#include <kmem/memstat.h>

#define KMS_MAGIC "KMEMSTAT" /* 8 bytes, no NUL */
#define KMS_VERSION 1
#define KMS_ENDIAN 0x01020304u
#define KMS_HEADER_SIZE 4096
#define KMS_MAX_RECORDS 8192 /* per area */
#define KMS_COMMAND_MAX 64

/* kh_state */
#define KMS_STATE_RUNNING MEMSTAT_STATE_RUNNING
#define KMS_STATE_EXITED MEMSTAT_STATE_EXITED
#define KMS_STATE_FATAL MEMSTAT_STATE_FATAL

/* kr_flags */
#define KMS_REC_MALLOC_BACKED 0x1 /* a kmalloc zone (types count its bytes) */
#define KMS_REC_SECONDARY 0x2     /* uma_zsecond_create() */
#define KMS_REC_INTERNAL 0x4      /* one of kmem's own zones */
#define KMS_REC_UNLOADED 0x8      /* a malloc type unregistered, still holding */

/* ka_flags */
#define KMS_AREA_TRUNCATED 0x1 /* more types and zones than KMS_MAX_RECORDS */

/* One malloc type or zone: 256 bytes. */
struct kms_record {
	char kr_name[32];      /* NUL-terminated */
	uint32_t kr_allocator; /* ALLOCATOR_MALLOC or ALLOCATOR_UMA */
	uint32_t kr_flags;     /* KMS_REC_* */
	uint64_t kr_size;      /* zone: item size */
	uint64_t kr_rsize;     /* zone: item size in the slab */
	uint64_t kr_limit;     /* zone: uma_zone_set_max, 0 = none */
	uint64_t kr_sizemask;  /* type: bit c = kmalloc class c used */
	uint64_t kr_numallocs; /* requests */
	uint64_t kr_numfrees;  /* frees */
	uint64_t kr_count;     /* in use */
	uint64_t kr_bytes;     /* bytes in use */
	uint64_t kr_highbytes; /* type: high-water mark of bytes */
	uint64_t kr_free;      /* zone: free items (the three below) */
	uint64_t kr_free_cache;  /* ... in per-thread caches */
	uint64_t kr_free_bucket; /* ... in the zone's bucket cache */
	uint64_t kr_free_slab;   /* ... in slabs */
	uint64_t kr_failures;  /* NULLs returned */
	uint64_t kr_sleeps;    /* zone: sleeps at the limit */
	uint64_t kr_pages;     /* zone: pages of slabs */
	uint64_t kr_reserved[11];
};
_Static_assert(sizeof(struct kms_record) == 256, "record layout");

/* The map, as struct memstat_kmem from mk_size on. */
struct kms_kmem {
	uint64_t kk_size, kk_pagesize;
	uint64_t kk_malloc, kk_large, kk_zone_used, kk_zone_cached;
	uint64_t kk_zone_slabfree, kk_direct, kk_submaps, kk_meta;
	uint64_t kk_free, kk_maxfree, kk_nfree, kk_failures, kk_waits;
	uint64_t kk_reserved[9];
};
_Static_assert(sizeof(struct kms_kmem) == 192, "map layout");

/* One snapshot. */
struct kms_area {
	uint64_t ka_generation; /* the kh_generation that published it */
	int64_t ka_time_ns;     /* CLOCK_REALTIME when taken */
	uint32_t ka_nrecords;   /* records that follow */
	uint32_t ka_flags;      /* KMS_AREA_* */
	uint64_t ka_reserved[5];
	struct kms_kmem ka_kmem;
	struct kms_record ka_records[];
};
_Static_assert(sizeof(struct kms_area) == 256, "area layout");

struct kms_header {
	char kh_magic[8];        /* KMS_MAGIC */
	uint32_t kh_version;     /* KMS_VERSION */
	uint32_t kh_endian;      /* KMS_ENDIAN, as this machine stores it */
	uint32_t kh_header_size; /* KMS_HEADER_SIZE */
	uint32_t kh_record_size; /* sizeof(struct kms_record) */
	uint32_t kh_area_header; /* sizeof(struct kms_area) */
	uint32_t kh_max_records; /* records an area can hold */
	uint64_t kh_area_off[2]; /* file offsets of the areas */
	uint64_t kh_file_size;   /* bytes of the file */
	uint64_t kh_pid;         /* the process */
	uint64_t kh_uid;         /* its user */
	int64_t kh_start_ns;     /* when kmem started in it (CLOCK_REALTIME) */
	uint64_t kh_proc_start;  /* /proc/<pid>/stat start time: tells pid reuse */
	char kh_command[KMS_COMMAND_MAX]; /* program name, NUL-terminated */
	uint32_t kh_state;       /* KMS_STATE_* (atomic) */
	uint32_t kh_interval_ms; /* publication interval */
	uint64_t kh_generation;  /* atomic: snapshots published (sec. 2) */
	uint32_t kh_request;     /* atomic, futex: readers ask for a snapshot */
	uint32_t kh_served;      /* atomic: the kh_request value the last
				    snapshot began after */
	uint64_t kh_reserved[16];
};

/* The offsets docs/STATSFILE.md gives readers written elsewhere. */
_Static_assert(__builtin_offsetof(struct kms_header, kh_pid) == 56, "header");
_Static_assert(__builtin_offsetof(struct kms_header, kh_state) == 152, "header");
_Static_assert(__builtin_offsetof(struct kms_header, kh_generation) == 160,
    "header");
_Static_assert(__builtin_offsetof(struct kms_header, kh_request) == 168, "header");
_Static_assert(__builtin_offsetof(struct kms_header, kh_served) == 172, "header");
_Static_assert(sizeof(struct kms_header) <= KMS_HEADER_SIZE, "header");
_Static_assert(__builtin_offsetof(struct kms_area, ka_kmem) == 64, "area");
_Static_assert(__builtin_offsetof(struct kms_record, kr_failures) == 144, "record");

#define KMS_AREA_BYTES \
	(sizeof(struct kms_area) + (uint64_t)KMS_MAX_RECORDS * sizeof(struct kms_record))

#endif /* KMEM_KMS_LAYOUT_H */
