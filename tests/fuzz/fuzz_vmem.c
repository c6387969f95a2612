/*
 * fuzz_vmem.c -- vmem(9) arenas driven by the input, checked against a
 * model.
 *
 * The first bytes choose an arena: its quantum (1 to 4096), a first span
 * or none, quantum caches or not, and whether it imports from a parent
 * arena (vmem_set_import() over vmem_alloc()/vmem_free() of the parent,
 * with an import quantum and a limit).  The rest is a sequence of
 * operations, each a tag byte and its arguments: vmem_alloc() and
 * vmem_xalloc() of any size under the three policies, with alignment,
 * phase, nocross and minaddr/maxaddr drawn so that the request is valid,
 * vmem_free()/vmem_xfree() of a live segment, vmem_add() of a span that
 * overlaps none, vmem_set_limit().  Spans may lie anywhere, from 0 to the
 * last integer.  Only valid operations are made: kmem aborts on misuse,
 * which the unit tests cover.
 *
 * The model holds the spans (added, and imported as the import function
 * saw them) and the live segments.  After every operation:
 *   - a segment returned lies wholly inside one span, overlaps no live
 *     segment and meets its request's constraints;
 *   - a request that failed had no fit in the free gaps of the spans
 *     (vmem finds a fit whenever one exists) -- not checked with quantum
 *     caches, whose segments the model cannot see;
 *   - an import keeps the arena within its limit, and a release gives back
 *     a span that was imported and holds nothing;
 *   - vmem_size() gives the model's allocated, free, total and largest
 *     free figures (allocated at least the model's with quantum caches);
 *   - vmem_check() finds the arena's own structures consistent.
 * At the end everything is freed: every imported span has gone back, the
 * arena's spans are wholly free, and the parent has nothing allocated.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <kmem/kmem.h>
#include <kmem/vmem.h>

#include "fuzz.h"
#include "vmem/vmem_int.h"

#define FV_MAXSPANS 24 /* spans of the arena, added and imported */
#define FV_MAXLIVE 256 /* live segments */
#define FV_MAXOPS 4000 /* operations of one input */
#define FV_PARENT_BASE ((vmem_addr_t)1 << 62) /* the parent's range */

struct fv_span {
	vmem_addr_t s_start; /* first integer */
	vmem_size_t s_size;  /* integers */
	bool s_import;       /* imported from the parent */
};

struct fv_seg {
	vmem_addr_t g_addr;  /* start */
	vmem_size_t g_size;  /* size asked */
	vmem_size_t g_rsize; /* size rounded to the quantum */
	bool g_x;            /* from vmem_xalloc() */
};

/* A request's constraints, as the model checks them. */
struct fv_req {
	vmem_size_t r_rsize;
	vmem_size_t r_align;
	vmem_size_t r_phase;
	vmem_size_t r_nocross;
	vmem_addr_t r_min;
	vmem_addr_t r_max;
};

static struct fv_model {
	struct fz_in *m_in;
	vmem_t *m_vm;        /* the arena under test */
	vmem_t *m_parent;    /* where it imports from, or NULL */
	vmem_size_t m_q;     /* its quantum */
	vmem_size_t m_pq;    /* the parent's quantum */
	vmem_size_t m_limit; /* vmem_set_limit(), 0 = none */
	bool m_qcache;       /* quantum caches on */
	vmem_size_t m_qcache_max; /* ... up to this size */
	struct fv_span m_spans[FV_MAXSPANS];
	int m_nspans;
	struct fv_seg m_live[FV_MAXLIVE];
	int m_nlive;
	bool m_importing;    /* inside the import function */
} fv;

#define FV_FAIL(...) fz_fail(fv.m_in, "fuzz_vmem", __VA_ARGS__)

static vmem_size_t
fv_total(void)
{
	vmem_size_t t = 0;

	for (int i = 0; i < fv.m_nspans; i++)
		t += fv.m_spans[i].s_size;
	return (t);
}

static vmem_size_t
fv_inuse(void)
{
	vmem_size_t t = 0;

	for (int i = 0; i < fv.m_nlive; i++)
		t += fv.m_live[i].g_rsize;
	return (t);
}

static inline vmem_addr_t
fv_end(vmem_addr_t start, vmem_size_t size)
{
	return (start + (size - 1)); /* inclusive: a span may end at the top */
}

static bool
fv_overlaps(vmem_addr_t a, vmem_size_t as, vmem_addr_t b, vmem_size_t bs)
{
	return (a <= fv_end(b, bs) && b <= fv_end(a, as));
}

/* ---- the import functions --------------------------------------------- */

static int
fv_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	vmem_t *parent = arg;
	vmem_addr_t addr;
	int error;

	if (size == 0 || size % fv.m_q != 0)
		FV_FAIL("import of %zu, not a multiple of the quantum %zu",
		    size, fv.m_q);
	if (fv.m_limit != 0 && (fv_total() > fv.m_limit ||
	    size > fv.m_limit - fv_total()))
		FV_FAIL("import of %zu with %zu held passes the limit %zu",
		    size, fv_total(), fv.m_limit);
	if (fv.m_nspans == FV_MAXSPANS)
		return (ENOMEM); /* the model is full: an import may fail */
	if ((flags & (M_NOWAIT | M_WAITOK)) != M_NOWAIT)
		FV_FAIL("import with flags 0x%x for an M_NOWAIT request",
		    flags);
	error = vmem_alloc(parent, size, M_NOWAIT | M_BESTFIT, &addr);
	if (error != 0)
		return (error);
	fv.m_spans[fv.m_nspans++] = (struct fv_span){addr, size, true};
	*addrp = addr;
	return (0);
}

static void
fv_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	vmem_t *parent = arg;
	int i;

	for (i = 0; i < fv.m_nspans; i++)
		if (fv.m_spans[i].s_import && fv.m_spans[i].s_start == addr)
			break;
	if (i == fv.m_nspans || fv.m_spans[i].s_size != size)
		FV_FAIL("release of 0x%jx (size %zu), not an imported span",
		    (uintmax_t)addr, size);
	for (int j = 0; j < fv.m_nlive; j++)
		if (fv_overlaps(fv.m_live[j].g_addr, fv.m_live[j].g_rsize,
		    addr, size))
			FV_FAIL("release of span 0x%jx (size %zu) holding the "
			    "live segment 0x%jx", (uintmax_t)addr, size,
			    (uintmax_t)fv.m_live[j].g_addr);
	fv.m_spans[i] = fv.m_spans[--fv.m_nspans];
	vmem_free(parent, addr, size);
}

/* ---- the model's view of free space --------------------------------------- */

static int
fv_seg_cmp(const void *a, const void *b)
{
	const struct fv_seg *x = a, *y = b;

	return (x->g_addr < y->g_addr ? -1 : x->g_addr > y->g_addr);
}

/*
 * Whether r fits in [lo, hi] (inclusive).  Computed in 128 bits, apart
 * from vmem's own arithmetic: the first start at or above lo with the
 * phase, moved past a nocross boundary it would cross (twice at most:
 * after one move the offset within a nocross block no longer changes).
 */
static bool
fv_fits_in(const struct fv_req *r, vmem_addr_t lo, vmem_addr_t hi)
{
	unsigned __int128 x, top, b;

	if (lo < r->r_min)
		lo = r->r_min;
	if (hi > r->r_max)
		hi = r->r_max;
	if (lo > hi)
		return (false);
	top = hi;
	x = lo;
	for (int tries = 0; tries < 3; tries++) {
		uint64_t off = ((uint64_t)x - r->r_phase) & (r->r_align - 1);
		if (off != 0)
			x += r->r_align - off;
		if (x + r->r_rsize - 1 > top)
			return (false);
		if (r->r_nocross == 0 ||
		    x / r->r_nocross == (x + r->r_rsize - 1) / r->r_nocross)
			return (true);
		b = (x / r->r_nocross + 1) * r->r_nocross;
		x = b;
	}
	return (false);
}

/*
 * Walks the free gaps of every span: whether r fits in one (r != NULL),
 * and the largest gap.
 */
static bool
fv_gaps(const struct fv_req *r, vmem_size_t *maxfreep)
{
	static struct fv_seg sorted[FV_MAXLIVE];
	vmem_size_t maxfree = 0;
	bool fit = false;

	memcpy(sorted, fv.m_live, (size_t)fv.m_nlive * sizeof(sorted[0]));
	qsort(sorted, (size_t)fv.m_nlive, sizeof(sorted[0]), fv_seg_cmp);
	for (int i = 0; i < fv.m_nspans; i++) {
		const struct fv_span *s = &fv.m_spans[i];
		unsigned __int128 cur = s->s_start;
		unsigned __int128 end = (unsigned __int128)s->s_start + s->s_size;

		for (int j = 0; j <= fv.m_nlive; j++) {
			unsigned __int128 gs, ge;
			if (j < fv.m_nlive) {
				if (sorted[j].g_addr < s->s_start ||
				    sorted[j].g_addr > fv_end(s->s_start,
				    s->s_size))
					continue;
				gs = sorted[j].g_addr;
				ge = gs + sorted[j].g_rsize;
			} else {
				gs = ge = end;
			}
			if (gs > cur) {
				if (gs - cur > maxfree)
					maxfree = (vmem_size_t)(gs - cur);
				if (r != NULL && fv_fits_in(r, (vmem_addr_t)cur,
				    (vmem_addr_t)(gs - 1)))
					fit = true;
			}
			cur = ge;
		}
	}
	if (maxfreep != NULL)
		*maxfreep = maxfree;
	return (fit);
}

/* ---- checks --------------------------------------------------------------- */

static void
fv_check_seg(const char *fn, vmem_addr_t addr, const struct fv_req *r)
{
	int i;

	for (i = 0; i < fv.m_nspans; i++) {
		const struct fv_span *s = &fv.m_spans[i];
		if (addr >= s->s_start &&
		    addr <= fv_end(s->s_start, s->s_size) &&
		    r->r_rsize - 1 <= fv_end(s->s_start, s->s_size) - addr)
			break;
	}
	if (i == fv.m_nspans)
		FV_FAIL("%s gave 0x%jx (size %zu), in no span", fn,
		    (uintmax_t)addr, r->r_rsize);
	for (i = 0; i < fv.m_nlive; i++)
		if (fv_overlaps(addr, r->r_rsize, fv.m_live[i].g_addr,
		    fv.m_live[i].g_rsize))
			FV_FAIL("%s gave 0x%jx (size %zu), overlapping the live "
			    "0x%jx (size %zu)", fn, (uintmax_t)addr,
			    r->r_rsize, (uintmax_t)fv.m_live[i].g_addr,
			    fv.m_live[i].g_rsize);
	if (((addr - r->r_phase) & (r->r_align - 1)) != 0)
		FV_FAIL("%s gave 0x%jx, not at phase 0x%zx of align 0x%zx", fn,
		    (uintmax_t)addr, r->r_phase, r->r_align);
	if (r->r_nocross != 0 && (addr / r->r_nocross) !=
	    fv_end(addr, r->r_rsize) / r->r_nocross)
		FV_FAIL("%s gave 0x%jx (size %zu), crossing a multiple of "
		    "0x%zx", fn, (uintmax_t)addr, r->r_rsize, r->r_nocross);
	if (addr < r->r_min || fv_end(addr, r->r_rsize) > r->r_max)
		FV_FAIL("%s gave 0x%jx (size %zu), outside [0x%jx, 0x%jx]", fn,
		    (uintmax_t)addr, r->r_rsize, (uintmax_t)r->r_min,
		    (uintmax_t)r->r_max);
}

static void
fv_check_sizes(void)
{
	vmem_size_t alloc = vmem_size(fv.m_vm, VMEM_ALLOC);
	vmem_size_t vfree = vmem_size(fv.m_vm, VMEM_FREE);
	vmem_size_t total = vmem_size(fv.m_vm, VMEM_ALLOC | VMEM_FREE);
	vmem_size_t maxfree = vmem_size(fv.m_vm, VMEM_MAXFREE), mmax;

	if (total != fv_total())
		FV_FAIL("vmem_size(ALLOC|FREE) %zu, spans of the model %zu",
		    total, fv_total());
	if (alloc + vfree != total)
		FV_FAIL("vmem_size ALLOC %zu + FREE %zu != %zu", alloc, vfree,
		    total);
	if (fv.m_qcache) {
		/* Segments in the caches count as allocated. */
		if (alloc < fv_inuse())
			FV_FAIL("vmem_size(ALLOC) %zu, below the live %zu",
			    alloc, fv_inuse());
		return;
	}
	if (alloc != fv_inuse())
		FV_FAIL("vmem_size(ALLOC) %zu, the model %zu", alloc,
		    fv_inuse());
	(void)fv_gaps(NULL, &mmax);
	if (maxfree != mmax)
		FV_FAIL("vmem_size(MAXFREE) %zu, the model's largest gap %zu",
		    maxfree, mmax);
	if (fv.m_parent != NULL) {
		vmem_size_t pa = vmem_size(fv.m_parent, VMEM_ALLOC), imp = 0;
		for (int i = 0; i < fv.m_nspans; i++)
			if (fv.m_spans[i].s_import)
				imp += (fv.m_spans[i].s_size + fv.m_pq - 1) &
				    ~(fv.m_pq - 1);
		if (pa != imp)
			FV_FAIL("parent vmem_size(ALLOC) %zu, imports %zu", pa,
			    imp);
	}
}

/* ---- drawing valid requests ---------------------------------------------- */

static int
fv_policy(struct fz_in *in)
{
	static const int policies[4] = {0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT};

	return (policies[fz_u8(in) & 3]);
}

/* A size: mostly a few quanta, sometimes many, sometimes absurd. */
static vmem_size_t
fv_size(struct fz_in *in)
{
	switch (fz_u8(in) & 7) {
	case 0:
	case 1:
	case 2:
		return (1 + fz_below(in, 4 * fv.m_q));
	case 3:
	case 4:
		return (1 + fz_below(in, 64 * fv.m_q));
	case 5:
		return (1 + fz_below(in, 4096 * fv.m_q));
	case 6:
		return (fv.m_q * (1 + fz_below(in, 1 << 16)));
	default:
		return (fz_u64(in) | 1);
	}
}

/* An address near a span of the model, or anywhere. */
static vmem_addr_t
fv_addr(struct fz_in *in)
{
	unsigned k = fz_u8(in);

	if (fv.m_nspans > 0 && (k & 3) != 0) {
		const struct fv_span *s = &fv.m_spans[(k >> 2) % fv.m_nspans];
		return (s->s_start + fz_below(in, s->s_size + 1) - 1 +
		    (k & 0x80 ? 1 : 0));
	}
	return (fz_u64(in));
}

/* ---- operations ------------------------------------------------------------ */

static void
fv_record(vmem_addr_t addr, vmem_size_t size, vmem_size_t rsize, bool x)
{
	fv.m_live[fv.m_nlive++] = (struct fv_seg){addr, size, rsize, x};
}

static void
fv_op_alloc(struct fz_in *in)
{
	vmem_size_t size = fv_size(in);
	int policy = fv_policy(in);
	struct fv_req r = {0, fv.m_q, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX};
	vmem_addr_t addr;
	int error;

	error = vmem_alloc(fv.m_vm, size, M_NOWAIT | policy, &addr);
	if (size > ~(fv.m_q - 1)) {
		if (error != ENOMEM)
			FV_FAIL("vmem_alloc(%zu) above the last quantum gave %d",
			    size, error);
		return;
	}
	r.r_rsize = (size + fv.m_q - 1) & ~(fv.m_q - 1);
	if (error == 0) {
		fv_check_seg("vmem_alloc", addr, &r);
		if (fv.m_qcache && size <= fv.m_qcache_max && addr == 0)
			FV_FAIL("vmem_alloc(%zu) gave 0 with quantum caches",
			    size);
		fv_record(addr, size, r.r_rsize, false);
	} else if (error != ENOMEM) {
		FV_FAIL("vmem_alloc(%zu) returned %d", size, error);
	} else if (!fv.m_qcache && fv_gaps(&r, NULL)) {
		FV_FAIL("vmem_alloc(%zu, policy 0x%x) failed, but the model "
		    "has room", size, policy);
	}
}

static void
fv_op_xalloc(struct fz_in *in)
{
	vmem_size_t size = fv_size(in), align, phase, nocross = 0, rsize;
	vmem_addr_t min = VMEM_ADDR_MIN, max = VMEM_ADDR_MAX, a, b, addr;
	unsigned k = fz_u8(in);
	int policy = fv_policy(in), error;

	if (size > ~(fv.m_q - 1))
		size = fv.m_q;
	rsize = (size + fv.m_q - 1) & ~(fv.m_q - 1);
	/* align: 0 (the quantum) or a power of two multiple of it */
	align = (k & 1) ? 0 : fv.m_q << fz_below(in, 41);
	if (align == 0 || align < fv.m_q)
		align = 0;
	phase = align != 0 ? fv.m_q * fz_below(in, align / fv.m_q) : 0;
	if (k & 2) {
		/* nocross: a power of two of at least the size */
		vmem_size_t n = 1;
		while (n < rsize && n != 0)
			n <<= 1;
		if (n != 0) {
			unsigned sh = (unsigned)fz_below(in, 4);
			nocross = n << sh;
			if (nocross >> sh != n)
				nocross = n;
		}
	}
	if (k & 4) {
		a = fv_addr(in);
		b = fv_addr(in);
		min = a < b ? a : b;
		max = a < b ? b : a;
	} else if (k & 8) {
		min = fv_addr(in);
	} else if (k & 16) {
		max = fv_addr(in);
	}
	error = vmem_xalloc(fv.m_vm, size, align, phase, nocross, min, max,
	    M_NOWAIT | policy, &addr);
	struct fv_req r = {rsize, align != 0 ? align : fv.m_q, phase, nocross,
	    min, max};
	if (error == 0) {
		fv_check_seg("vmem_xalloc", addr, &r);
		fv_record(addr, size, rsize, true);
	} else if (error != ENOMEM) {
		FV_FAIL("vmem_xalloc(%zu) returned %d", size, error);
	} else if (!fv.m_qcache && fv_gaps(&r, NULL)) {
		FV_FAIL("vmem_xalloc(size %zu, align 0x%zx, phase 0x%zx, "
		    "nocross 0x%zx, [0x%jx, 0x%jx], policy 0x%x) failed, but "
		    "the model has room", size, align, phase, nocross,
		    (uintmax_t)min, (uintmax_t)max, policy);
	}
}

static void
fv_free_at(int i)
{
	struct fv_seg g = fv.m_live[i];

	fv.m_live[i] = fv.m_live[--fv.m_nlive];
	if (g.g_x)
		vmem_xfree(fv.m_vm, g.g_addr, g.g_size);
	else
		vmem_free(fv.m_vm, g.g_addr, g.g_size);
}

/* A span for vmem_add(): low, in the middle, or ending at the top. */
static bool
fv_pick_span(struct fz_in *in, vmem_addr_t *startp, vmem_size_t *sizep)
{
	vmem_size_t q = fv.m_q, size;
	vmem_addr_t start;

	size = q * (1 + (fz_u8(in) & 1 ? fz_below(in, 64) :
	    fz_below(in, 1 << 14)));
	switch (fz_u8(in) % 3) {
	case 0:
		start = q * fz_below(in, 1 << 16);
		break;
	case 1:
		start = ((vmem_addr_t)1 << 32) + q * fz_below(in, 1 << 16);
		break;
	default:
		start = VMEM_ADDR_MAX - size + 1 - q * fz_below(in, 1 << 16);
		break;
	}
	for (int i = 0; i < fv.m_nspans; i++)
		if (fv_overlaps(start, size, fv.m_spans[i].s_start,
		    fv.m_spans[i].s_size))
			return (false);
	*startp = start;
	*sizep = size;
	return (true);
}

static void
fv_op_add(struct fz_in *in)
{
	vmem_addr_t start;
	vmem_size_t size;
	int flags = fz_u8(in) & 1 ? M_WAITOK : M_NOWAIT;

	if (fv.m_nspans >= FV_MAXSPANS - 4 || !fv_pick_span(in, &start, &size))
		return;
	if (vmem_add(fv.m_vm, start, size, flags) != 0) {
		if (flags == M_WAITOK)
			FV_FAIL("vmem_add(M_WAITOK) of 0x%jx failed",
			    (uintmax_t)start);
		return;
	}
	fv.m_spans[fv.m_nspans++] = (struct fv_span){start, size, false};
}

static void
fv_setup(struct fz_in *in)
{
	unsigned cfg = fz_u8(in), qshift = fz_u8(in) % 13;
	vmem_addr_t start = 0;
	vmem_size_t size = 0, psize;

	memset(&fv, 0, sizeof(fv));
	fv.m_in = in;
	fv.m_q = (vmem_size_t)1 << qshift;
	fv.m_qcache = (cfg & 2) != 0;
	if ((cfg & 4) && !fv_pick_span(in, &start, &size))
		size = 0;
	fv.m_qcache_max = fv.m_qcache ? fv.m_q * (1 + fz_below(in, 16)) : 0;
	fv.m_vm = vmem_create("fz-vmem", start, size, fv.m_q, fv.m_qcache_max,
	    M_WAITOK);
	if (fv.m_vm == NULL)
		FV_FAIL("vmem_create(quantum %zu) failed", fv.m_q);
	if (size != 0)
		fv.m_spans[fv.m_nspans++] = (struct fv_span){start, size, false};
	if ((cfg & 1) == 0)
		return;
	fv.m_pq = fv.m_q << fz_below(in, 3);
	psize = fv.m_pq * (1 + fz_below(in, 4096));
	fv.m_parent = vmem_create("fz-parent",
	    FV_PARENT_BASE + fv.m_pq * fz_below(in, 1 << 16), psize, fv.m_pq,
	    0, M_WAITOK);
	if (fv.m_parent == NULL)
		FV_FAIL("vmem_create(parent, quantum %zu) failed", fv.m_pq);
	vmem_set_import(fv.m_vm, fv_import, fv_release, fv.m_parent,
	    fv.m_q << fz_below(in, 4));
	if (cfg & 8) {
		fv.m_limit = fv.m_q * fz_below(in, 1 << 12);
		vmem_set_limit(fv.m_vm, fv.m_limit);
	}
}

static void
fv_teardown(void)
{
	vmem_size_t smax = 0, stotal = 0;

	while (fv.m_nlive > 0)
		fv_free_at(fv.m_nlive - 1);
	for (int i = 0; i < fv.m_nspans; i++) {
		if (fv.m_spans[i].s_import && !fv.m_qcache)
			FV_FAIL("imported span 0x%jx not released with "
			    "nothing allocated",
			    (uintmax_t)fv.m_spans[i].s_start);
		if (!fv.m_spans[i].s_import) {
			stotal += fv.m_spans[i].s_size;
			if (fv.m_spans[i].s_size > smax)
				smax = fv.m_spans[i].s_size;
		}
	}
	fv_check_sizes();
	if (!fv.m_qcache && (vmem_size(fv.m_vm, VMEM_ALLOC) != 0 ||
	    vmem_size(fv.m_vm, VMEM_FREE) != stotal ||
	    vmem_size(fv.m_vm, VMEM_MAXFREE) != smax))
		FV_FAIL("emptied arena: allocated %zu, free %zu of %zu, "
		    "largest free %zu of %zu", vmem_size(fv.m_vm, VMEM_ALLOC),
		    vmem_size(fv.m_vm, VMEM_FREE), stotal,
		    vmem_size(fv.m_vm, VMEM_MAXFREE), smax);
	vmem_check(fv.m_vm);
	vmem_destroy(fv.m_vm);
	for (int i = 0; i < fv.m_nspans; i++)
		if (fv.m_spans[i].s_import)
			FV_FAIL("vmem_destroy kept the imported span 0x%jx",
			    (uintmax_t)fv.m_spans[i].s_start);
	if (fv.m_parent != NULL) {
		if (vmem_size(fv.m_parent, VMEM_ALLOC) != 0)
			FV_FAIL("parent holds %zu after the arena went",
			    vmem_size(fv.m_parent, VMEM_ALLOC));
		vmem_check(fv.m_parent);
		vmem_destroy(fv.m_parent);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)kmem_setopt("stats", "0");
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in;

	fz_init(&in, data, size);
	fv_setup(&in);
	while (fz_more(&in) && in.fi_op < FV_MAXOPS) {
		unsigned op = fz_u8(&in);
		in.fi_op++;
		switch (op & 7) {
		case 0:
		case 1:
			if (fv.m_nlive < FV_MAXLIVE)
				fv_op_alloc(&in);
			break;
		case 2:
		case 3:
			if (fv.m_nlive < FV_MAXLIVE)
				fv_op_xalloc(&in);
			break;
		case 4:
		case 5:
			if (fv.m_nlive > 0)
				fv_free_at((int)fz_below(&in,
				    (uint64_t)fv.m_nlive));
			break;
		case 6:
			fv_op_add(&in);
			break;
		default:
			if (fv.m_parent != NULL && (op & 8)) {
				fv.m_limit = (op & 16) ? 0 :
				    fv.m_q * fz_below(&in, 1 << 12);
				vmem_set_limit(fv.m_vm, fv.m_limit);
			}
			break;
		}
		fv_check_sizes();
		if (fv.m_nlive < 32 || (in.fi_op & 15) == 0)
			vmem_check(fv.m_vm);
	}
	fv_teardown();
	return (0);
}
