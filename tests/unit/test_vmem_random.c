/*
 * test_vmem_random.c -- vmem against a model.  A fixed-seed random mix of
 * vmem_alloc, vmem_xalloc with random constraints (align, phase, nocross,
 * minaddr, maxaddr), vmem_free and vmem_xfree under all three policies,
 * over a small arena of three spans (two of them adjacent), mirrored in a
 * map of quanta.  After every operation: the result satisfies its
 * constraints and overlaps nothing the model holds; a request fails exactly
 * when the model says nothing fits; instant and best fit choose the
 * segment their definition names; vmem_size() is exact.  vmem_check()
 * every 1000 operations; at the end everything is freed and each span must
 * be one free segment again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kt.h"
#include "vmem/vmem_int.h"

#define NQ 4096      /* quanta the model covers */
#define MAXLIVE 300  /* live allocations at most */

enum { Q_FREE = 0, Q_BUSY = 1, Q_ABSENT = 2 };

struct live {
	vmem_addr_t l_addr;  /* start */
	vmem_size_t l_size;  /* size asked */
	vmem_size_t l_rsize; /* size rounded */
	bool l_x;            /* from vmem_xalloc */
};

static struct model {
	vmem_addr_t base;         /* address of quantum 0 */
	vmem_size_t q;            /* quantum */
	unsigned char st[NQ];     /* Q_* per quantum */
	signed char span[NQ];     /* span of the quantum, -1 if none */
	unsigned run[NQ + 1];     /* free quanta from here within the span */
	int runs[NQ];             /* starts of the maximal free runs */
	int nruns;                /* how many */
	vmem_size_t busy;         /* busy quanta */
	vmem_size_t total;        /* quanta in spans */
	struct live live[MAXLIVE];
	int nlive;
} m;

static bool
run_start(int i)
{
	return (m.st[i] == Q_FREE &&
	    (i == 0 || m.st[i - 1] != Q_FREE || m.span[i - 1] != m.span[i]));
}

/* The span (or gap) holding quantum i: [lo, hi). */
static void
model_span_bounds(int i, int *lo, int *hi)
{
	static const int edges[] = {0, 2048, 3072, 3584, NQ};

	int k = 0;

	while (k < 3 && i >= edges[k + 1])
		k++;
	*lo = edges[k];
	*hi = edges[k + 1];
}

/*
 * Recomputes run[] after [i0, i1) changed: from i1 - 1 down, until a quantum
 * before i0 that is not free (nothing before it depends on the change).
 */
static void
model_update_runs(int i0, int i1)
{
	int lo, hi;
	unsigned r;

	model_span_bounds(i0, &lo, &hi);
	r = i1 < hi ? m.run[i1] : 0;
	for (int i = i1 - 1; i >= lo; i--) {
		if (m.st[i] != Q_FREE) {
			m.run[i] = r = 0;
			if (i < i0)
				break;
		} else {
			m.run[i] = ++r;
		}
	}
}

/* Lists the starts of the maximal free runs (run[] is current). */
static void
model_runs(void)
{
	unsigned r = 0;

	/* A run starts where the quantum before does not continue it. */
	m.nruns = 0;
	for (int i = 0; i < NQ; i++) {
		unsigned ri = m.run[i];

		if (ri != 0 && r != ri + 1)
			m.runs[m.nruns++] = i;
		r = ri;
	}
}

static vmem_addr_t
qaddr(int i)
{
	return (m.base + (vmem_addr_t)i * m.q);
}

struct cons {
	vmem_size_t rsize, align, phase, nocross;
	vmem_addr_t minaddr, maxaddr;
};

static bool
satisfies(const struct cons *c, vmem_addr_t a)
{
	if (a < c->minaddr || a + (c->rsize - 1) > c->maxaddr)
		return (false);
	if (((a - c->phase) & (c->align - 1)) != 0)
		return (false);
	if (c->nocross != 0 &&
	    ((a ^ (a + c->rsize - 1)) & ~(c->nocross - 1)) != 0)
		return (false);
	return (true);
}

/* Does a fit exist anywhere?  Tries every free quantum with room after
 * it in its span.  (model_runs() is current.) */
static bool
oracle(const struct cons *c)
{
	vmem_size_t nq = c->rsize / m.q;

	for (int r = 0; r < m.nruns; r++) {
		for (int i = m.runs[r]; m.run[i] >= nq; i++) {
			if (satisfies(c, qaddr(i)))
				return (true);
		}
	}
	return (false);
}

static int
order(vmem_size_t n)
{
	return (63 - __builtin_clzll(n));
}

/*
 * A request without constraints: instant fit takes a maximal free segment
 * of the lowest power-of-two class at or above the request's rounded-up
 * class (or, if none, the smallest that fits); best fit the smallest that
 * fits; both at the segment's start.
 */
static void
check_policy(int policy, vmem_size_t nq, int at)
{
	int ceil = order(nq) + ((nq & (nq - 1)) != 0);
	int best_class = 99;
	unsigned best_len = ~0u;

	if (policy == M_NEXTFIT) {
		assert_true(run_start(at));
		return;
	}
	for (int r = 0; r < m.nruns; r++) {
		int i = m.runs[r];

		if (m.run[i] < nq)
			continue;
		if (m.run[i] < best_len)
			best_len = m.run[i];
		if (order(m.run[i]) >= ceil && order(m.run[i]) < best_class)
			best_class = order(m.run[i]);
	}
	assert_true(run_start(at));
	if (policy == M_BESTFIT || best_class == 99)
		assert_int_equal(m.run[at], best_len);
	else
		assert_int_equal(order(m.run[at]), best_class);
}

static void
model_mark(vmem_addr_t a, vmem_size_t rsize, int want, int to)
{
	int i0 = (int)((a - m.base) / m.q), n = (int)(rsize / m.q);

	assert_true(a >= m.base && (a - m.base) % m.q == 0);
	assert_true(i0 + n <= NQ);
	for (int i = i0; i < i0 + n; i++) {
		if (m.st[i] != want)
			fail_msg("quantum %d (0x%jx) is %d, expected %d", i,
			    (uintmax_t)qaddr(i), m.st[i], want);
		if (m.span[i] != m.span[i0])
			fail_msg("segment 0x%jx crosses a span boundary",
			    (uintmax_t)a);
		m.st[i] = (unsigned char)to;
	}
	model_update_runs(i0, i0 + n);
	if (to == Q_BUSY)
		m.busy += (vmem_size_t)n;
	else
		m.busy -= (vmem_size_t)n;
}

static vmem_size_t
rnd(uint64_t *s, vmem_size_t n)
{
	return ((vmem_size_t)(kt_rand(s) % n));
}

static vmem_addr_t
rnd_addr(uint64_t *s)
{
	vmem_addr_t a = qaddr((int)rnd(s, NQ + 64)) ;

	if (rnd(s, 4) == 0)
		a += rnd(s, m.q); /* not quantum aligned */
	return (a);
}

static void
random_alloc(vmem_t *vm, uint64_t *s, unsigned long *nfail)
{
	static const int policies[] = {0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT};
	int policy = policies[rnd(s, 4)], kind = (int)rnd(s, 3), flags;
	vmem_size_t nq, size;
	struct cons c;
	vmem_addr_t a = 0;
	bool fits;
	int error;

	switch (rnd(s, 10)) {
	case 0:
		nq = 65 + rnd(s, 448);
		break;
	case 1: case 2: case 3:
		nq = 9 + rnd(s, 56);
		break;
	default:
		nq = 1 + rnd(s, 8);
	}
	size = nq * m.q - rnd(s, m.q);
	memset(&c, 0, sizeof(c));
	c.rsize = nq * m.q;
	c.align = m.q;
	c.maxaddr = VMEM_ADDR_MAX;
	if (kind == 2) {
		/* Random constraints. */
		if (rnd(s, 2))
			c.align = m.q << rnd(s, 7);
		if (c.align > m.q && rnd(s, 2))
			c.phase = rnd(s, c.align / m.q) * m.q;
		if (rnd(s, 4) == 0) {
			c.nocross = 1;
			while (c.nocross < c.rsize)
				c.nocross <<= 1;
			c.nocross <<= rnd(s, 3);
		}
		if (rnd(s, 2))
			c.minaddr = rnd_addr(s);
		if (rnd(s, 2)) {
			c.maxaddr = rnd_addr(s);
			if (c.maxaddr < c.minaddr) {
				vmem_addr_t t = c.maxaddr;
				c.maxaddr = c.minaddr;
				c.minaddr = t;
			}
		}
	}
	model_runs();
	fits = oracle(&c);
	flags = policy | (fits && rnd(s, 10) == 0 ? M_WAITOK : M_NOWAIT);
	if (kind == 0)
		error = vmem_alloc(vm, size, flags, &a);
	else
		error = vmem_xalloc(vm, size, kind == 2 ? c.align : 0,
		    c.phase, c.nocross, c.minaddr, c.maxaddr, flags, &a);
	if (!fits) {
		assert_int_equal(error, ENOMEM);
		(*nfail)++;
		return;
	}
	if (error != 0)
		fail_msg("no fit found for size %zu align %zu phase %zu "
		    "nocross %zu min 0x%jx max 0x%jx policy 0x%x, but one "
		    "exists", c.rsize, c.align, c.phase, c.nocross,
		    (uintmax_t)c.minaddr, (uintmax_t)c.maxaddr, policy);
	assert_true(satisfies(&c, a));
	if (kind != 2)
		check_policy(policy, nq, (int)((a - m.base) / m.q));
	model_mark(a, c.rsize, Q_FREE, Q_BUSY);
	m.live[m.nlive].l_addr = a;
	m.live[m.nlive].l_size = size;
	m.live[m.nlive].l_rsize = c.rsize;
	m.live[m.nlive].l_x = kind != 0;
	m.nlive++;
}

static void
random_free(vmem_t *vm, uint64_t *s)
{
	int k = (int)rnd(s, (vmem_size_t)m.nlive);
	struct live l = m.live[k];
	vmem_size_t size = rnd(s, 2) ? l.l_size : l.l_rsize;

	if (l.l_x)
		vmem_xfree(vm, l.l_addr, size);
	else
		vmem_free(vm, l.l_addr, size);
	model_mark(l.l_addr, l.l_rsize, Q_BUSY, Q_FREE);
	m.live[k] = m.live[--m.nlive];
}

static void
check_sizes(vmem_t *vm)
{
	assert_int_equal(vmem_size(vm, VMEM_ALLOC), m.busy * m.q);
	assert_int_equal(vmem_size(vm, VMEM_FREE), (m.total - m.busy) * m.q);
	assert_int_equal(vmem_size(vm, VMEM_ALLOC | VMEM_FREE),
	    m.total * m.q);
}

static void
check_maxfree(vmem_t *vm)
{
	unsigned max = 0;

	model_runs();
	for (int r = 0; r < m.nruns; r++)
		if (m.run[m.runs[r]] > max)
			max = m.run[m.runs[r]];
	assert_int_equal(vmem_size(vm, VMEM_MAXFREE), max * m.q);
}

static void
run(vmem_addr_t base, vmem_size_t q, unsigned long nops, uint64_t seed)
{
	struct vmem_stats st;
	unsigned long nfail = 0;
	vmem_t *vm;

	memset(&m, 0, sizeof(m));
	m.base = base;
	m.q = q;
	/* Spans: [0, 2048), [2048, 3072) adjacent, [3584, 4096). */
	for (int i = 0; i < NQ; i++) {
		m.span[i] = i < 2048 ? 0 : i < 3072 ? 1 : i < 3584 ? -1 : 2;
		/* (model_span_bounds() knows the same edges) */
		m.st[i] = m.span[i] < 0 ? Q_ABSENT : Q_FREE;
	}
	m.total = NQ - 512;
	model_update_runs(0, 2048);
	model_update_runs(2048, 3072);
	model_update_runs(3072, 3584);
	model_update_runs(3584, NQ);
	vm = vmem_create("random", qaddr(2048), 1024 * q, q, 0, M_WAITOK);
	assert_non_null(vm);
	assert_int_equal(vmem_add(vm, qaddr(3584), 512 * q, M_NOWAIT), 0);
	assert_int_equal(vmem_add(vm, qaddr(0), 2048 * q, M_WAITOK), 0);

	for (unsigned long op = 1; op <= nops; op++) {
		if (m.nlive == 0 ||
		    (m.nlive < MAXLIVE && rnd(&seed, 100) < 55))
			random_alloc(vm, &seed, &nfail);
		else
			random_free(vm, &seed);
		check_sizes(vm);
		if (op % 1000 == 0) {
			vmem_check(vm);
			check_maxfree(vm);
		}
	}
	/* Failures happened, but were not the rule. */
	assert_true(nfail > nops / 100 && nfail < nops / 4);

	while (m.nlive > 0)
		random_free(vm, &seed);
	check_sizes(vm);
	vmem_check(vm);
	vmem_get_stats(vm, &st);
	assert_int_equal(st.vs_nspans, 3);
	assert_int_equal(st.vs_nfree, 3); /* fully coalesced, per span */
	assert_int_equal(st.vs_nbusy, 0);
	assert_int_equal(st.vs_maxfree, 2048 * q);
	assert_int_equal(st.vs_nallocs, st.vs_nfrees);
	vmem_destroy(vm);
}

static void
test_random_q16(void **state)
{
	run(0x10000, 16, 100000, 0x5eed0001);
}

/* Quantum 1 from address 0: plain integers. */
static void
test_random_q1_base0(void **state)
{
	run(0, 1, 30000, 0x5eed0002);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_q16),
		cmocka_unit_test(test_random_q1_base0),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
