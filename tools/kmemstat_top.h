/*
 * kmemstat_top.h -- kmemstat -t, the live full-screen view of kmem's
 * statistics (after top(1) and slabtop(1)).
 */
#ifndef KMEMSTAT_TOP_H
#define KMEMSTAT_TOP_H

struct memory_type_list;

/*
 * Shows the malloc types or the uma zones of what `sample` reads, refreshed
 * every interval_ms milliseconds (0: one second), until the user quits.
 *
 * Arguments:
 *	sample		fills the list with a new snapshot (memstat_self_all(),
 *			memstat_pid_all() or memstat_file_all() behind it);
 *			returns 0, or nonzero with the reason in
 *			memstat_mtl_geterror(list) (or errno when that says
 *			MEMSTAT_ERROR_UNDEFINED).
 *	arg		passed to sample.
 *	interval_ms	the first refresh interval (`+` and `-` change it).
 *
 * Returns:
 *	0 when the user quit (q, or SIGINT, SIGTERM, SIGHUP); nonzero when the
 *	view could not run (no terminal on standard input and output, out of
 *	memory), after a one-line message on standard error, printed once the
 *	terminal is restored.
 *
 * Discussion:
 *	A sampler that fails (the process watched died, its statistics file
 *	went away) does not end the view: the message is shown on the status
 *	line, the last snapshot stays on the screen, and sampling is tried
 *	again at every refresh.  The caller that wants a bad pid or file to
 *	fail at once samples once before calling kmemstat_top().
 *	The function uses curses on the process's standard input and output,
 *	and handles SIGINT, SIGTERM and SIGHUP while it runs (their previous
 *	handlers are restored on return).
 */
int kmemstat_top(int (*sample)(struct memory_type_list *list, void *arg),
    void *arg, unsigned interval_ms);

#endif /* KMEMSTAT_TOP_H */
