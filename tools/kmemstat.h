/*
 * kmemstat.h -- what the parts of kmemstat(1) share: the statistics
 * source, its sampler, and the sampling loop the output modes hang on.
 *
 * kmemstat reads a process's statistics only through <kmem/memstat.h>.
 * A source is either a live process (-p PID, memstat_pid_all) or a
 * statistics file (-M FILE, memstat_file_all; live or left by a dead
 * process).  ks_sample() takes one snapshot of it into a list; every
 * mode is a consumer of such snapshots:
 *
 *   - the tables (-m, -z, -s, --json) print each sample as it comes,
 *     from ks_run();
 *   - a trend mode (--leaks, --plot FILE.svg) keeps the lists ks_run()
 *     hands it (its callback returns KS_KEEP) as a series and judges or
 *     draws the series when ks_run() returns;
 *   - the full-screen view (-t) calls ks_sample() itself every interval:
 *     kmemstat_top() below, from kmemstat_top.c.  Linking the
 *     kmemstat_top library (tools/top.cmake) into kmemstat builds it in;
 *     without it, -t says "not built".
 */
#ifndef KMEMSTAT_H
#define KMEMSTAT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include <kmem/memstat.h>

/* Exit status. */
#define KS_EXIT_OK 0    /* done */
#define KS_EXIT_READ 1  /* the statistics could not be read */
#define KS_EXIT_USAGE 2 /* bad command line, or a mode not built in */

/* Where the statistics come from (-p or -M). */
struct ks_source {
	pid_t ks_pid;         /* -p: the process, or 0 */
	const char *ks_path;  /* -M: the statistics file, or NULL */
	char ks_label[PATH_MAX + 8]; /* "-p PID" or "-M FILE", for messages */
};

/*
 * One snapshot of the source arg (a struct ks_source) into list.
 * Returns 0, or -1 with the reason in memstat_mtl_geterror(list).
 */
int ks_sample(struct memory_type_list *list, void *arg);

/*
 * The sampling loop: count samples (count < 0: until interrupted), one
 * every interval_ms milliseconds (drift-free; a slow sample delays the
 * next one, never two at once), each in a fresh list passed to
 * each(list, index, time_ns, arg), time_ns being CLOCK_REALTIME when the
 * sample was asked for.  each returns KS_DONE (the loop frees the list),
 * KS_KEEP (each took the list over and frees it with memstat_mtl_free)
 * or a negative number to stop the loop.
 *
 * Returns KS_EXIT_OK; or KS_EXIT_READ when a sample failed (after one
 * line on stderr naming the source and the reason) or each stopped the
 * loop (each says why).
 */
#define KS_DONE 0
#define KS_KEEP 1
int ks_run(struct ks_source *src, unsigned interval_ms, long count,
    int (*each)(struct memory_type_list *list, unsigned long index,
	int64_t time_ns, void *arg),
    void *arg);

/*
 * -t: the full-screen view.  Calls sample(list, arg) every interval_ms
 * and redraws until the user quits; returns 0, or nonzero after a line on
 * stderr.  Defined by kmemstat_top.c (kmemstat_top.h); kmemstat refers to
 * it weakly unless KMEMSTAT_HAVE_TOP says it is linked in.
 */
int kmemstat_top(int (*sample)(struct memory_type_list *list, void *arg),
    void *arg, unsigned interval_ms);

#endif /* KMEMSTAT_H */
