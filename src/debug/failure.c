/*
 * failure.c -- failure injection (kmem_debug.h, section 5) and the debug
 * layer's set-up, which also finds out whether annotations are on
 * (section 8).
 */
#include "kmem_debug.h"

#include <kmem/kmem.h>
#include <string.h>

#include "../platform/options.h"
#include "../platform/prim.h"

atomic_bool kdbg_fail_on;
atomic_bool kdbg_memguard_on;
atomic_bool kdbg_annot_on;

static _Atomic uint64_t kdbg_fail_calls; /* requests counted */
static _Atomic uint64_t kdbg_fail_done;  /* failures injected */

void memguard_init(void);

/*
 * Whether the program runs under valgrind's memcheck: RUNNING_ON_VALGRIND
 * says valgrind, and only memcheck answers VALGRIND_GET_VBITS (the other
 * tools return the request's default, 0).
 */
static bool
kdbg_on_memcheck(void)
{
#if defined(KMEM_HAVE_VALGRIND) && !KDBG_ASAN
	unsigned char v = 0, vbits;

	if (RUNNING_ON_VALGRIND == 0)
		return (false);
	return (VALGRIND_GET_VBITS(&v, &vbits, 1) == 1);
#else
	return (false);
#endif
}

void
kdbg_init(void)
{
	static atomic_bool done;

	if (atomic_exchange(&done, true))
		return;
	if (kopt.fail_reserve != 0)
		kp_inject_every(KP_OP_RESERVE, (unsigned)kopt.fail_reserve);
	if (kopt.fail_commit != 0)
		kp_inject_every(KP_OP_COMMIT, (unsigned)kopt.fail_commit);
	atomic_store(&kdbg_fail_on, kopt.failure_rate != 0);
	atomic_store(&kdbg_annot_on, KDBG_ASAN || kdbg_on_memcheck());
	if (kopt.memguard[0] != '\0') {
		memguard_init();
		atomic_store(&kdbg_memguard_on, true);
	}
}

bool
kdbg_fail_applies(const char *name)
{
	if (!atomic_load_explicit(&kdbg_fail_on, memory_order_relaxed))
		return (false);
	return (kopt.failure_only[0] == '\0' ||
	    strcmp(kopt.failure_only, name) == 0);
}

/* splitmix64's finaliser: the seeded pattern. */
static uint64_t
kdbg_mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (x ^ (x >> 31));
}

bool
kdbg_fail_now(const char *name, int flags)
{
	uint64_t n;
	bool hit;

	if ((flags & M_NOWAIT) == 0 || !kdbg_fail_applies(name))
		return (false);
	n = atomic_fetch_add_explicit(&kdbg_fail_calls, 1,
	    memory_order_relaxed) + 1;
	if (kopt.failure_seed == 0)
		hit = n % kopt.failure_rate == 0;
	else
		hit = kdbg_mix(kopt.failure_seed ^ kdbg_mix(n)) %
		    kopt.failure_rate == 0;
	if (hit)
		atomic_fetch_add_explicit(&kdbg_fail_done, 1, memory_order_relaxed);
	return (hit);
}

uint64_t
kdbg_fail_injected(void)
{
	return (atomic_load(&kdbg_fail_done));
}

uint64_t
kdbg_fail_counted(void)
{
	return (atomic_load(&kdbg_fail_calls));
}

bool
kdbg_kmalloc_divert(void)
{
	return (atomic_load(&kdbg_fail_on) || atomic_load(&kdbg_memguard_on) ||
	    kdbg_annotating());
}
