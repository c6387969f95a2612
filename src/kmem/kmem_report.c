/*
 * kmem_report.c -- kmem_report(3): where every byte of the map is.
 *
 * The classes are read from the map's counters and the free figure from the
 * map arena, so the lines add up to kmem_size() whenever nothing changes the
 * map while the report is taken; if something did, the report says so
 * rather than hide the difference.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../vmem/vmem_int.h"
#include "kmem_int.h"

#define km (&kmem_map_store)

static void
kmem_report_line(FILE *out, const char *name, size_t bytes, size_t total)
{
	char s[32];

	kmem_fmt_size(s, sizeof(s), bytes);
	fprintf(out, "  %-22s %16zu %12s %6.2f%%\n", name, bytes, s,
	    total != 0 ? 100.0 * (double)bytes / (double)total : 0.0);
}

static void
kmem_report_region(FILE *out, const struct kmem_region *r)
{
	struct vmem_stats st;
	char sz[32], used[32], mf[32];

	vmem_get_stats(r->kr_arena, &st);
	/* The metadata arena's size is what it imported so far. */
	kmem_fmt_size(sz, sizeof(sz), r == &km->km_meta ? st.vs_size : r->kr_size);
	kmem_fmt_size(used, sizeof(used), st.vs_inuse);
	kmem_fmt_size(mf, sizeof(mf), st.vs_maxfree);
	fprintf(out, "  %-16s %#14" PRIxPTR " %10s %10s %12s %8" PRIu64 " %8" PRIu64
	    " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10" PRIu64 "\n", r->kr_name,
	    r->kr_base, sz, used, mf, atomic_load(&r->kr_nallocs),
	    atomic_load(&r->kr_nfrees), atomic_load(&r->kr_nfailures),
	    atomic_load(&r->kr_nwaits), atomic_load(&r->kr_nneverfit),
	    atomic_load(&r->kr_ncommitfail));
}

bool
kmem_get_figures(struct kmem_figures *f)
{
	struct vmem_stats st;

	memset(f, 0, sizeof(*f));
	if (!kmem_ready())
		return (false);
	f->kf_size = km->km_size;
	f->kf_pagesize = km->km_pagesize;
	for (int c = 1; c < KMC_NCLASSES; c++)
		f->kf_class[c] = atomic_load(&km->km_class_bytes[c]);
	/*
	 * Free is what the owners leave, so that the figures add up to the
	 * map's size even while other threads allocate (the arena's own free
	 * figure is read at another moment than the counters).
	 */
	uint64_t owned = 0;
	for (int c = 1; c < KMC_NCLASSES; c++)
		owned += f->kf_class[c];
	vmem_get_stats(km->km_map.kr_arena, &st);
	f->kf_free = owned < f->kf_size ? f->kf_size - owned : 0;
	f->kf_maxfree = st.vs_maxfree < f->kf_free ? st.vs_maxfree : f->kf_free;
	f->kf_nfree = st.vs_nfree;
	f->kf_failures = atomic_load(&km->km_map.kr_nfailures);
	f->kf_waits = atomic_load(&km->km_map.kr_nwaits);
	return (true);
}

int
kmem_report(FILE *out)
{
	size_t cls[KMC_NCLASSES], sum = 0, freeb, total;
	struct vmem_stats st;
	char s1[32], s2[32];

	if (out == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (!kmem_ready()) {
		fprintf(out, "kmem map: not set up (%s)\n", strerror(km->km_init_error));
		return (ferror(out) ? -1 : 0);
	}
	total = km->km_size;
	vmem_get_stats(km->km_map.kr_arena, &st);
	for (int c = 1; c < KMC_NCLASSES; c++) {
		cls[c] = atomic_load(&km->km_class_bytes[c]);
		sum += cls[c];
	}
	freeb = st.vs_size - st.vs_inuse;

	kmem_fmt_size(s1, sizeof(s1), total);
	fprintf(out, "kmem map %s: %#" PRIxPTR "-%#" PRIxPTR ", %zu bytes (%s), "
	    "page size %zu\n", km->km_map.kr_name, km->km_base,
	    km->km_base + total, total, s1, km->km_pagesize);
	fprintf(out, "  %s\n", km->km_tune_why);
	fprintf(out, "  %-22s %16s %12s %7s\n", "owner", "bytes", "", "share");
	for (int c = 1; c < KMC_NCLASSES; c++)
		kmem_report_line(out, kmem_class_names[c], cls[c], total);
	kmem_report_line(out, "free", freeb, total);
	fprintf(out, "  %-22s %16zu %12s %6.2f%%\n", "total", sum + freeb, "",
	    100.0 * (double)(sum + freeb) / (double)total);
	if (sum + freeb != total || sum != st.vs_inuse)
		fprintf(out, "  (the map changed while this report was taken: "
		    "owners %zu + free %zu != kmem_size %zu)\n", sum, freeb, total);

	kmem_fmt_size(s1, sizeof(s1), st.vs_maxfree);
	fprintf(out, "free space: %zu bytes in %" PRIu64 " extents, largest %zu "
	    "(%s), fragmentation %.1f%%\n", freeb, st.vs_nfree, st.vs_maxfree, s1,
	    freeb != 0 ? 100.0 * (1.0 - (double)st.vs_maxfree / (double)freeb) :
			 0.0);
	kmem_fmt_size(s1, sizeof(s1), km->km_ptbytes);
	kmem_fmt_size(s2, sizeof(s2), vmem_meta_bytes());
	fprintf(out, "metadata: page table %s, vmem tags, hashes and arenas %s\n",
	    s1, s2);

	fprintf(out, "regions (fails: M_NOWAIT NULLs; waits: M_WAITOK sleeps; "
	    "neverfit: requests larger than the region; commitfail: commits the "
	    "system refused):\n  %-16s %14s %10s %10s %12s %8s %8s %8s %8s %8s "
	    "%10s\n", "name", "base", "size", "in use", "largest free", "allocs",
	    "frees", "fails", "waits", "neverfit", "commitfail");
	kmem_report_region(out, &km->km_map);
	kmem_report_region(out, &km->km_meta);
	unsigned n = atomic_load(&km->km_nsubmaps);
	for (unsigned i = 0; i < n; i++)
		kmem_report_region(out, &km->km_submaps[i]);
	fprintf(out, "low-memory handlers: %u registered, called on %" PRIu64
	    " shortages\n",
	    km->km_nlowmem, atomic_load(&km->km_lowmem_runs));

	size_t nrows;
	const struct kopt_desc *t = kopt_table(&nrows);
	fprintf(out, "tunables:\n");
	for (size_t i = 0; i < nrows; i++) {
		char v[KOPT_STRMAX];
		kopt_format(i, v, sizeof(v));
		fprintf(out, "  %-18s %-12s (%s)\n", t[i].kd_name, v,
		    kopt_source_name(kopt_source_of(i)));
	}
	fflush(out);
	return (ferror(out) ? -1 : 0);
}
