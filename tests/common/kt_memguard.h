/*
 * kt_memguard.h -- what the memguard tests share: setting memguard up, and
 * checking that a child died of the fault memguard's handler names.
 */
#ifndef KMEM_KT_MEMGUARD_H
#define KMEM_KT_MEMGUARD_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmem/kmem.h>

#include "kt.h"

/* memguard=guard, memguard_before and memguard_delay unless NULL; a map. */
static inline void
setup_opts(const char *guard, const char *before, const char *delay)
{
	if (setenv("KMEM_OPTIONS", "stats=0", 1) != 0)
		abort();
	KT_CHECK(kmem_setopt("memguard", guard) == 0);
	if (before != NULL)
		KT_CHECK(kmem_setopt("memguard_before", before) == 0);
	if (delay != NULL)
		KT_CHECK(kmem_setopt("memguard_delay", delay) == 0);
	kt_map_setup("64M");
}

/*
 * Runs fn in a child; checks that it died of SIGSEGV with the line that
 * starts with `head` and names the address the child printed first
 * ("at %p\n") followed by `tail`.
 */
static inline void
assert_fault(void (*fn)(void *), const char *head, const char *tail)
{
	struct kt_result r;
	void *addr = NULL;
	char want[256];

	kt_child(fn, NULL, &r);
	if (r.kr_exited || r.kr_status != SIGSEGV)
		fail_msg("child %s %d, not SIGSEGV; stderr:\n%s",
		    r.kr_exited ? "exited with" : "died of signal", r.kr_status,
		    r.kr_err);
	assert_int_equal(sscanf(r.kr_err, "at %p", &addr), 1);
	snprintf(want, sizeof(want), "%s%p%s", head, addr, tail);
	if (strstr(r.kr_err, want) == NULL)
		fail_msg("expected \"%s\" in:\n%s", want, r.kr_err);
}

#endif /* KMEM_KT_MEMGUARD_H */
