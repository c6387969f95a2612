/*
 * kms.h -- the statistics layer inside kmem.  Not for use outside kmem.
 *
 * statfile.c gathers snapshots (kms_collect) and publishes them in the
 * statistics file (layout and protocol: kms_layout.h); memstat.c reads
 * snapshots of this process (kms_collect again) and of files.
 */
#ifndef KMEM_KMS_H
#define KMEM_KMS_H

#include <stdbool.h>
#include <stdint.h>

#include "kms_layout.h"

/*
 * Gathers every malloc type and zone, and the map, into a: at most cap
 * records are written; returns how many there are (more than cap: call
 * again with room for them).  Takes kmem's statistics locks one at a time;
 * never allocates.
 */
uint32_t kms_collect(struct kms_area *a, uint32_t cap);

/*
 * Starts publishing (the thread, then the file), once per process; called
 * by the map when it is set up, without locks held.  A no-op with stats=0.
 */
void kms_start(void);
/*
 * For a caller whose own allocations set the map up (the preload shim):
 * after kms_defer(), kms_start() only notes that publishing is wanted
 * (kms_pending() then says true), and kms_start_pending() starts it, to be
 * called where no kmem lock is held, since creating the thread allocates.
 */
void kms_defer(void);
bool kms_pending(void);
void kms_start_pending(void);
/*
 * The process leaves without running destructors (_exit): removes the file
 * as a normal exit would (stats_keep=1: marks it EXITED).  Takes no lock
 * and does nothing in a vfork() child, whose memory is its parent's.
 */
void kms_exit_now(void);

#endif /* KMEM_KMS_H */
