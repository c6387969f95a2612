/*
 * kmem_debug.h -- the debug layer: trash checks and redzones.  Not for use
 * outside kmem.
 *
 * 1. Switches
 *
 *    Each mode is a tunable read once, when a zone is made (trash) or when
 *    kmalloc is set up (redzone); both refuse to change after first use.
 *    A mode does not add a test to any fast path: a zone it covers is made
 *    without a per-thread cache slot (uz_id UMA_SLOT_NONE), so every
 *    allocation and free of it already takes the slow path, where the
 *    checks are.  Off, nothing of this layer runs.
 *
 * 2. Trash (trash=1)
 *
 *    A free item of a covered zone holds KDBG_JUNK in every 32-bit word.
 *    uma fills an item when it goes back to its slab (after the free was
 *    validated: a double free or a foreign pointer aborts before anything
 *    is written) and when a new slab is made, and checks it when it leaves
 *    the slab again, before init and ctor run.  The items of the kmalloc
 *    zones keep, in their last 8 bytes, the index of the malloc type that
 *    freed them (as FreeBSD's mtrash does), so a modification names the
 *    type that last used the memory.  Covered: callers' zones whose keg has
 *    no init or fini (those keep state across a free) and no
 *    UMA_ZONE_ZINIT, and the kmalloc zones; kmem's own zones are not.
 *    Without caches a free item is always in its slab, so every free item
 *    is checked by kmem_check().
 *
 *        free item:   | junk ... junk | (kmalloc zones) type index, 8 bytes |
 *
 * 3. Redzones (redzone=1)
 *
 *    kmalloc(size) takes an item of the class of size + KDBG_RZ_OVERHEAD and
 *    returns the address KDBG_RZ_FRONT bytes into it:
 *
 *        | front guard | size bytes        | back guard ...      |
 *        0             32                  32 + size             rsize
 *
 *    The guards hold KDBG_RZ_BYTE.  The record (struct kdbg_rz, kept off the
 *    item in a zone of its own, in a hash table of every live block by
 *    address) keeps the block's size, type and the call stack of the
 *    allocation (backtrace(3)).  kfree() checks both guards before the block goes back;
 *    kmem_check() checks every block on the list.  Blocks larger than the
 *    largest kmalloc zone less the overhead are whole pages and have no
 *    redzones.
 *
 * 4. Lock order
 *
 *    rz_lock (the live blocks) is a leaf: records are allocated before it
 *    is taken and freed after it is dropped.
 */
#ifndef KMEM_DEBUG_H
#define KMEM_DEBUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../platform/options.h"

#define KDBG_JUNK 0xdeadc0deu /* every word of a free item (trash) */
#define KDBG_RZ_BYTE 0xfdu    /* every byte of a redzone */
#define KDBG_RZ_FRONT 32      /* bytes before a redzoned block */
#define KDBG_RZ_BACK 16       /* guard bytes after it, at least */
#define KDBG_RZ_OVERHEAD (KDBG_RZ_FRONT + KDBG_RZ_BACK)
#define KDBG_RZ_FRAMES 12     /* call-stack frames kept per block */
#define KDBG_TRASH_TAIL 8     /* kmalloc zones: the type index at the end */

static inline bool
kdbg_trash_enabled(void)
{
	return (kopt.trash);
}

/*
 * Fills a free item of size bytes with junk; with mtype (a kmalloc zone)
 * its last KDBG_TRASH_TAIL bytes get lastuse, the type index.
 */
void kdbg_trash_fill(void *item, size_t size, bool mtype, uint32_t lastuse);

/*
 * Checks a free item's junk.  On a change: with fatal, aborts with
 * "memory modified after free ADDR (SIZE, ZONE) + OFFSET = VALUE"; else
 * prints that line and returns false.
 */
bool kdbg_trash_check(const void *item, size_t size, const char *zone,
    bool mtype, bool fatal);

static inline bool
kdbg_redzone_enabled(void)
{
	return (kopt.redzone);
}

/* Makes the zone of the records; when kmalloc is set up with redzone=1. */
bool kdbg_rz_init(void);
/*
 * Guards a new block in item (rsize bytes) of size bytes asked for by type;
 * returns the address to hand out, or NULL (no memory for the record).
 */
void *kdbg_rz_arm(void *item, size_t rsize, size_t size, uint32_t type,
    int flags);
/*
 * Checks a block's guards at its free (aborts naming fn on damage), forgets
 * its record and returns its item.
 */
void *kdbg_rz_disarm(const char *fn, void *addr);
/* The size asked for of the live block at addr. */
size_t kdbg_rz_size(const void *addr);

/* uma's part of kmem_check(): the junk of every free item; problems found. */
int uma_check_trash(void);
/* kmalloc's part: the guards of every live redzoned block. */
int km_check_redzones(void);

#endif /* KMEM_DEBUG_H */
