/*
 * fuzz_zone.c -- uma(9) zones and typed malloc driven by the input, in a
 * map of 8 MiB so that running out happens often, checked against a
 * model.
 *
 * Each input makes up to four zones (item size, alignment mask and
 * UMA_ZONE_ZINIT / UMA_ZONE_NOFREE / UMA_ZONE_NOBUCKET from the input),
 * then runs operations: uma_zalloc() and uma_zfree(), uma_zone_set_max(),
 * uma_zone_reclaim() and uma_reclaim(), and kmalloc(), kmallocarray()
 * (overflowing products too), krealloc(), kreallocf(), kfree() and
 * kzfree() of four malloc types with sizes up to 256 KiB.  Requests are
 * M_NOWAIT, which may fail, or M_WAITOK where the model knows that they
 * can be met (the zone under its limit, the map far from full): a single
 * thread waiting for a free would wait for good.  M_ZERO now and then.
 *
 * Every live block is filled with a pattern of its own, checked when it is
 * freed and across krealloc() (up to the smaller size), and after every
 * allocation it must overlap no live block of the model and be aligned as
 * its zone or class promises; M_ZERO blocks read zero, and so do the bytes
 * krealloc(M_ZERO) adds past a moved block's old usable size.  A zone
 * never has more items in use than its limit, and uma_zone_get_cur() is
 * the model's count after every zone operation.  At the end of each input
 * memstat_self_all() must give, for every type, the model's count and
 * bytes (usable sizes) and, for every zone, its count; then everything is
 * freed and the counts must read zero.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/malloc.h>
#include <kmem/memstat.h>
#include <kmem/uma.h>

#include "fuzz.h"

#define FZ_NZONES 4
#define FZ_NTYPES 4
#define FZ_MAXLIVE 256
#define FZ_MAXOPS 2000
#define FZ_MAXSIZE (256 * 1024)
#define FZ_WAITOK_ROOM (1024 * 1024) /* M_WAITOK below this much in use */

MALLOC_DEFINE(M_FZ0, "fz-type0", "fuzzed type 0");
MALLOC_DEFINE(M_FZ1, "fz-type1", "fuzzed type 1");
MALLOC_DEFINE(M_FZ2, "fz-type2", "fuzzed type 2");
MALLOC_DEFINE(M_FZ3, "fz-type3", "fuzzed type 3");
static struct malloc_type *const fz_types[FZ_NTYPES] = {M_FZ0, M_FZ1, M_FZ2,
    M_FZ3};

struct fz_zone {
	uma_zone_t z_zone;
	size_t z_size;    /* item size */
	uintptr_t z_amask; /* alignment mask */
	int z_max;        /* limit, 0 = none */
	int z_count;      /* items in use */
	char z_name[16];
};

struct fz_block {
	unsigned char *b_p;
	size_t b_size;   /* bytes asked (kmalloc) or item size (zone) */
	size_t b_usable; /* bytes it covers */
	int b_zone;      /* zone index, or -1 */
	int b_type;      /* type index, or -1 */
	unsigned char b_fill; /* pattern byte */
};

static struct {
	struct fz_in *m_in;
	struct fz_zone m_zones[FZ_NZONES];
	int m_nzones;
	struct fz_block m_live[FZ_MAXLIVE];
	int m_nlive;
	uint64_t m_tcount[FZ_NTYPES]; /* blocks in use per type */
	uint64_t m_tbytes[FZ_NTYPES]; /* their usable bytes */
	size_t m_inuse;               /* usable bytes of every live block */
	unsigned m_fills;
} fm;

#define FZ_FAIL(...) fz_fail(fm.m_in, "fuzz_zone", __VA_ARGS__)

/* ---- blocks ------------------------------------------------------------------ */

static void
fz_fill(struct fz_block *b)
{
	b->b_fill = (unsigned char)(0x11 + 37 * ++fm.m_fills);
	if (b->b_fill == 0)
		b->b_fill = 0x5a;
	memset(b->b_p, b->b_fill, b->b_size);
}

/*
 * Whether the first n bytes of p all hold c.  Not traced for coverage:
 * comparing blocks of up to 256 KiB word by word would cost the fuzzer
 * most of its time and tell it nothing.
 */
static __attribute__((no_sanitize("coverage"))) bool
fz_holds(const unsigned char *p, size_t n, unsigned char c)
{
	uint64_t w = 0x0101010101010101ull * c, v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v, p + i, 8);
		if (v != w)
			return (false);
	}
	for (; i < n; i++)
		if (p[i] != c)
			return (false);
	return (true);
}

static void
fz_check_fill(const struct fz_block *b, size_t n, const char *when)
{
	if (!fz_holds(b->b_p, n, b->b_fill))
		FZ_FAIL("block %p (%zu bytes, %s %d) lost its contents %s",
		    (void *)b->b_p, b->b_size, b->b_zone >= 0 ? "zone" : "type",
		    b->b_zone >= 0 ? b->b_zone : b->b_type, when);
}

/* Against every live block; not traced for coverage either. */
static __attribute__((no_sanitize("coverage"))) void
fz_check_new(const unsigned char *p, size_t usable, uintptr_t amask,
    const char *fn)
{
	if (((uintptr_t)p & amask) != 0)
		FZ_FAIL("%s gave %p, not aligned to %ju", fn, (void *)p,
		    (uintmax_t)amask + 1);
	for (int i = 0; i < fm.m_nlive; i++) {
		const struct fz_block *b = &fm.m_live[i];
		if (p < b->b_p + b->b_usable && b->b_p < p + usable)
			FZ_FAIL("%s gave %p (%zu bytes), overlapping the live "
			    "block %p (%zu bytes)", fn, (void *)p, usable,
			    (void *)b->b_p, b->b_usable);
	}
}

static void
fz_add(unsigned char *p, size_t size, size_t usable, int zone, int type)
{
	struct fz_block *b = &fm.m_live[fm.m_nlive++];

	*b = (struct fz_block){p, size, usable, zone, type, 0};
	fz_fill(b);
	fm.m_inuse += usable;
	if (zone >= 0)
		fm.m_zones[zone].z_count++;
	if (type >= 0) {
		fm.m_tcount[type]++;
		fm.m_tbytes[type] += usable;
	}
}

static void
fz_forget(int i)
{
	struct fz_block *b = &fm.m_live[i];

	fm.m_inuse -= b->b_usable;
	if (b->b_zone >= 0)
		fm.m_zones[b->b_zone].z_count--;
	if (b->b_type >= 0) {
		fm.m_tcount[b->b_type]--;
		fm.m_tbytes[b->b_type] -= b->b_usable;
	}
	fm.m_live[i] = fm.m_live[--fm.m_nlive];
}

static void
fz_check_zone_count(int z)
{
	struct fz_zone *zn = &fm.m_zones[z];
	int cur = uma_zone_get_cur(zn->z_zone);

	if (cur != zn->z_count)
		FZ_FAIL("uma_zone_get_cur(%s) %d, the model %d", zn->z_name,
		    cur, zn->z_count);
}

/* The flags of a request: M_WAITOK only where it must succeed at once. */
static int
fz_flags(struct fz_in *in, size_t size, bool can_wait)
{
	unsigned k = fz_u8(in);
	int flags = (k & 1) ? M_ZERO : 0;

	if ((k & 6) == 6 && can_wait && size <= FZ_WAITOK_ROOM &&
	    fm.m_inuse <= FZ_WAITOK_ROOM)
		return (flags | M_WAITOK);
	return (flags | M_NOWAIT);
}

/* ---- zones ------------------------------------------------------------------- */

static void
fz_zcreate(struct fz_in *in)
{
	static const int aligns[] = {UMA_ALIGN_CHAR, UMA_ALIGN_SHORT,
	    UMA_ALIGN_INT, UMA_ALIGN_PTR, UMA_ALIGN_CACHE, 15, 255, 4095};
	static const uint32_t flagsets[] = {0, UMA_ZONE_ZINIT, UMA_ZONE_NOFREE,
	    UMA_ZONE_NOBUCKET, UMA_ZONE_ZINIT | UMA_ZONE_NOBUCKET};
	struct fz_zone *zn = &fm.m_zones[fm.m_nzones];
	unsigned k = fz_u8(in);
	int align = aligns[k & 7];

	zn->z_size = (k & 0x80) ? 1 + fz_below(in, 65536) :
	    1 + fz_below(in, 512);
	zn->z_amask = align == UMA_ALIGN_CACHE ? 63 : (uintptr_t)align;
	zn->z_max = 0;
	zn->z_count = 0;
	snprintf(zn->z_name, sizeof(zn->z_name), "fz-zone%d", fm.m_nzones);
	zn->z_zone = uma_zcreate(zn->z_name, zn->z_size, NULL, NULL, NULL,
	    NULL, align, flagsets[fz_u8(in) % 5]);
	if (zn->z_zone == NULL)
		FZ_FAIL("uma_zcreate(%s, %zu, align %d) failed", zn->z_name,
		    zn->z_size, align);
	if (uma_zone_size(zn->z_zone) != zn->z_size)
		FZ_FAIL("uma_zone_size(%s) %zu, made with %zu", zn->z_name,
		    uma_zone_size(zn->z_zone), zn->z_size);
	fm.m_nzones++;
}

static void
fz_zalloc(struct fz_in *in)
{
	int z = (int)fz_below(in, (uint64_t)fm.m_nzones);
	struct fz_zone *zn = &fm.m_zones[z];
	bool under = zn->z_max == 0 || zn->z_count < zn->z_max;
	int flags = fz_flags(in, zn->z_size, under);
	unsigned char *p = uma_zalloc(zn->z_zone, flags);

	if (p == NULL) {
		if (flags & M_WAITOK)
			FZ_FAIL("uma_zalloc(%s, M_WAITOK) returned NULL",
			    zn->z_name);
		return;
	}
	if (!under)
		FZ_FAIL("uma_zalloc(%s) gave an item past the limit %d",
		    zn->z_name, zn->z_max);
	fz_check_new(p, zn->z_size, zn->z_amask, "uma_zalloc");
	if ((flags & M_ZERO) && !fz_holds(p, zn->z_size, 0))
		FZ_FAIL("uma_zalloc(%s, M_ZERO) gave an item that is not zero",
		    zn->z_name);
	fz_add(p, zn->z_size, zn->z_size, z, -1);
	fz_check_zone_count(z);
}

static void
fz_zone_op(struct fz_in *in)
{
	unsigned k = fz_u8(in);
	int z = (int)fz_below(in, (uint64_t)fm.m_nzones);
	struct fz_zone *zn = &fm.m_zones[z];

	switch (k & 3) {
	case 0:
	case 1: {
		int max = (k & 4) ? 0 : (int)fz_below(in, 200);
		zn->z_max = uma_zone_set_max(zn->z_zone, max);
		if (zn->z_max != max || uma_zone_get_max(zn->z_zone) != max)
			FZ_FAIL("uma_zone_set_max(%s, %d) gave %d", zn->z_name,
			    max, zn->z_max);
		break;
	}
	case 2:
		uma_zone_reclaim(zn->z_zone, 1 + (int)((k >> 2) % 3));
		break;
	default:
		uma_reclaim(1 + (int)((k >> 2) % 3));
		break;
	}
	fz_check_zone_count(z);
}

/* ---- typed malloc ------------------------------------------------------------- */

static size_t
fz_ksize(struct fz_in *in)
{
	switch (fz_u8(in) & 7) {
	case 0:
		return (fz_below(in, 17));
	case 1:
	case 2:
		return (fz_below(in, 1025));
	case 3:
	case 4:
		return (fz_below(in, 65537));
	default:
		return (fz_below(in, FZ_MAXSIZE + 1));
	}
}

static void
fz_check_kblock(unsigned char *p, size_t size, int flags, const char *fn)
{
	size_t usable = kmalloc_usable_size(p);

	if (usable < size || usable < 16)
		FZ_FAIL("%s(%zu) gave a block of %zu usable bytes", fn, size,
		    usable);
	fz_check_new(p, usable, usable > 65536 ? kmem_page_size() - 1 : 15, fn);
	if ((flags & M_ZERO) && !fz_holds(p, usable, 0))
		FZ_FAIL("%s(%zu, M_ZERO) gave a block that is not zero", fn,
		    size);
}

static void
fz_kmalloc(struct fz_in *in)
{
	int t = (int)fz_below(in, FZ_NTYPES);
	unsigned k = fz_u8(in);
	size_t size, nmemb = 1, esize;
	unsigned char *p;
	int flags;

	if ((k & 3) != 0) {
		size = fz_ksize(in);
		flags = fz_flags(in, size, true);
		p = kmalloc(size, fz_types[t], flags);
	} else {
		/* kmallocarray, with a product that may overflow */
		nmemb = (k & 4) ? fz_u64(in) : fz_below(in, 4097);
		esize = fz_below(in, 257);
		if (esize != 0 && nmemb > SIZE_MAX / esize) {
			errno = 0;
			p = kmallocarray(nmemb, esize, fz_types[t],
			    fz_flags(in, 0, true));
			if (p != NULL || errno != ENOMEM)
				FZ_FAIL("kmallocarray(%zu, %zu) overflows, gave %p "
				    "errno %d", nmemb, esize, (void *)p, errno);
			return;
		}
		size = nmemb * esize;
		flags = fz_flags(in, size, size <= FZ_MAXSIZE);
		p = kmallocarray(nmemb, esize, fz_types[t], flags);
	}
	if (p == NULL) {
		if (flags & M_WAITOK)
			FZ_FAIL("kmalloc(%zu, M_WAITOK) returned NULL", size);
		return;
	}
	fz_check_kblock(p, size, flags, "kmalloc");
	fz_add(p, size, kmalloc_usable_size(p), -1, t);
}

static void
fz_krealloc(struct fz_in *in, int i)
{
	struct fz_block b = fm.m_live[i];
	size_t size = fz_ksize(in), keep = size < b.b_size ? size : b.b_size;
	bool f = fz_u8(in) & 1;
	int flags = fz_flags(in, size, true);
	unsigned char *p;

	p = (f ? kreallocf : krealloc)(b.b_p, size, fz_types[b.b_type], flags);
	if (p == NULL) {
		if (flags & M_WAITOK)
			FZ_FAIL("krealloc(%zu, M_WAITOK) returned NULL", size);
		if (f) {
			fz_forget(i); /* kreallocf freed it */
			return;
		}
		fz_check_fill(&b, b.b_size, "after a krealloc that failed");
		return;
	}
	size_t usable = kmalloc_usable_size(p);
	if (usable < size)
		FZ_FAIL("krealloc(%zu) gave a block of %zu usable bytes", size,
		    usable);
	fz_check_fill(&(struct fz_block){p, keep, usable, -1, b.b_type,
	    b.b_fill}, keep, "across krealloc");
	if (p != b.b_p && (flags & M_ZERO) && size > b.b_usable &&
	    !fz_holds(p + b.b_usable, size - b.b_usable, 0))
		FZ_FAIL("krealloc(%zu, M_ZERO) moved a block of %zu usable "
		    "bytes and left the new bytes unzeroed", size, b.b_usable);
	fz_forget(i);
	if (p != b.b_p)
		fz_check_new(p, usable, usable > 65536 ? kmem_page_size() - 1 :
		    15, "krealloc");
	fz_add(p, size, usable, -1, b.b_type);
}

/* ---- freeing ------------------------------------------------------------------- */

static void
fz_free(int i, bool z)
{
	struct fz_block b = fm.m_live[i];

	fz_check_fill(&b, b.b_size, "before its free");
	fz_forget(i);
	if (b.b_zone >= 0) {
		uma_zfree(fm.m_zones[b.b_zone].z_zone, b.b_p);
		fz_check_zone_count(b.b_zone);
	} else if (z) {
		kzfree(b.b_p, fz_types[b.b_type]);
	} else {
		kfree(b.b_p, fz_types[b.b_type]);
	}
}

/* ---- statistics ------------------------------------------------------------------ */

static void
fz_check_stats(void)
{
	struct memory_type_list *mtl = memstat_mtl_alloc();
	struct memory_type *mt;

	if (mtl == NULL || memstat_self_all(mtl) != 0)
		FZ_FAIL("memstat_self_all failed");
	for (int t = 0; t < FZ_NTYPES; t++) {
		mt = memstat_mtl_find(mtl, ALLOCATOR_MALLOC,
		    fz_types[t]->ks_shortdesc);
		if (mt == NULL)
			FZ_FAIL("memstat: no type %s", fz_types[t]->ks_shortdesc);
		if (memstat_get_count(mt) != fm.m_tcount[t] ||
		    memstat_get_bytes(mt) != fm.m_tbytes[t] ||
		    memstat_get_numallocs(mt) - memstat_get_numfrees(mt) !=
		    fm.m_tcount[t])
			FZ_FAIL("memstat: type %s has %ju blocks, %ju bytes "
			    "(%ju requests, %ju frees); the model %ju, %ju",
			    fz_types[t]->ks_shortdesc,
			    (uintmax_t)memstat_get_count(mt),
			    (uintmax_t)memstat_get_bytes(mt),
			    (uintmax_t)memstat_get_numallocs(mt),
			    (uintmax_t)memstat_get_numfrees(mt),
			    (uintmax_t)fm.m_tcount[t], (uintmax_t)fm.m_tbytes[t]);
	}
	for (int z = 0; z < fm.m_nzones; z++) {
		const struct fz_zone *zn = &fm.m_zones[z];
		mt = memstat_mtl_find(mtl, ALLOCATOR_UMA, zn->z_name);
		if (mt == NULL)
			FZ_FAIL("memstat: no zone %s", zn->z_name);
		if (memstat_get_count(mt) != (uint64_t)zn->z_count ||
		    memstat_get_size(mt) != zn->z_size ||
		    memstat_get_countlimit(mt) != (uint64_t)zn->z_max)
			FZ_FAIL("memstat: zone %s has %ju items of %ju bytes, "
			    "limit %ju; the model %d of %zu, limit %d",
			    zn->z_name, (uintmax_t)memstat_get_count(mt),
			    (uintmax_t)memstat_get_size(mt),
			    (uintmax_t)memstat_get_countlimit(mt), zn->z_count,
			    zn->z_size, zn->z_max);
	}
	memstat_mtl_free(mtl);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (kmem_setopt("kmem_size", "8M") != 0 ||
	    kmem_setopt("stats", "0") != 0)
		FZ_FAIL("kmem_setopt refused the harness's tunables");
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in;
	unsigned nz;

	fz_init(&in, data, size);
	memset(&fm, 0, sizeof(fm));
	fm.m_in = &in;
	nz = 1 + fz_u8(&in) % FZ_NZONES;
	for (unsigned z = 0; z < nz; z++)
		fz_zcreate(&in);
	while (fz_more(&in) && in.fi_op < FZ_MAXOPS) {
		unsigned op = fz_u8(&in);
		in.fi_op++;
		switch (op % 10) {
		case 0:
		case 1:
			if (fm.m_nlive < FZ_MAXLIVE)
				fz_zalloc(&in);
			break;
		case 2:
		case 3:
			if (fm.m_nlive < FZ_MAXLIVE)
				fz_kmalloc(&in);
			break;
		case 4:
		case 5:
		case 6:
			if (fm.m_nlive > 0)
				fz_free((int)fz_below(&in, (uint64_t)fm.m_nlive),
				    (op & 0x80) != 0);
			break;
		case 7: {
			if (fm.m_nlive == 0)
				break;
			int i = (int)fz_below(&in, (uint64_t)fm.m_nlive);
			if (fm.m_live[i].b_type >= 0)
				fz_krealloc(&in, i);
			break;
		}
		default:
			fz_zone_op(&in);
			break;
		}
	}
	fz_check_stats();
	while (fm.m_nlive > 0)
		fz_free(fm.m_nlive - 1, false);
	fz_check_stats();
	for (int z = 0; z < fm.m_nzones; z++)
		uma_zdestroy(fm.m_zones[z].z_zone);
	return (0);
}
