/*
 * test_leaks.c -- kmemstat's leak verdict (tools/leaks.c) and plots
 * (tools/plot.c).
 *
 * The verdict is checked against a labelled set of synthetic series, each
 * built from a fixed seed: leaks of many shapes (fast, slow beside their
 * level, noisy, on a sawtooth, in steps, with outliers, accelerating,
 * unevenly sampled, long) and things that are not leaks (flat, noisy,
 * caches filling to a plateau, sawtooth, rise and fall, a burst, periodic
 * load, random walks, growth too small for its level, a single step,
 * shrinking).  Every label is asserted and the whole table printed.  The
 * random walks of the set are seeds 1 to 5, taken as they come; the share
 * of walks flagged over seeds 1 to 1000 is measured and bounded.
 *
 * The plots are checked for well-formed XML (a small checker here, and
 * xmllint when it is installed), for their names, highlight and axis
 * labels, and for the awkward inputs: one sample, no series, a constant
 * series, huge values, names with markup characters and bad UTF-8.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt.h"
#include "leaks.h"
#include "plot.h"

#define NMAX 6000

/* ---- deterministic noise ------------------------------------------------- */

/* splitmix64: a fixed seed gives the same series everywhere. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* Uniform in (0, 1). */
static double
rng_unif(uint64_t *s)
{
	return (((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static double
rng_norm(uint64_t *s)
{
	double u = rng_unif(s), w = rng_unif(s);

	return (sqrt(-2 * log(u)) * cos(2 * M_PI * w));
}

/* ---- the labelled set ---------------------------------------------------- */

#define K 1024.0
#define M (1024.0 * 1024.0)
#define G (1024.0 * 1024.0 * 1024.0)

enum shape {
	LINEAR,     /* a: level, b: rate per second */
	SAWLEAK,    /* a: level, b: rate, c: amplitude, d: period (samples) */
	STEPS,      /* a: level, c: step size, d: samples between steps */
	OUTLIERS,   /* LINEAR, and every 13th sample c higher */
	QUADRATIC,  /* a: level, b: growth per second squared */
	JITTER,     /* LINEAR, sampled at uneven times */
	FILL_EXP,   /* a: level, c: cache size, d: time constant (s) */
	FILL_LIN,   /* a: level, c: cache size, d: samples to fill it */
	SAWTOOTH,   /* a: level, c: amplitude, d: period (samples) */
	TRIANGLE,   /* a: level, c: height at the middle */
	BUMP,       /* a: level, c: height, d: width (s) of a Gaussian bump */
	BURST,      /* a: level, c: height, d: samples it lasts, mid-window */
	SINE,       /* a: level, c: amplitude, d: period (samples) */
	WALK,       /* a: level; steps of sigma */
	STEP_ONCE,  /* a: level, c: one step, at d (fraction of the window) */
};

struct labelled {
	const char *l_name;    /* what it is */
	int l_leak;            /* expected verdict */
	enum shape l_shape;
	size_t l_n;            /* samples, one a second */
	double l_a, l_b, l_c, l_d;
	double l_sigma;        /* Gaussian noise added to every sample */
	uint64_t l_seed;
};

static const struct labelled set[] = {
	{ "fast linear, clean", 1, LINEAR, 60, 1 * M, 10 * K, 0, 0, 0, 1 },
	{ "slow beside level (1.2%)", 1, LINEAR, 60, 100 * M, 20 * K, 0, 0,
	  4 * K, 2 },
	{ "linear, noise G/sigma=20", 1, LINEAR, 60, 1 * M, 2 * K, 0, 0,
	  5.9 * K, 3 },
	{ "linear, noisy, n=20", 1, LINEAR, 20, 1 * M, 4 * K, 0, 0, 4 * K, 4 },
	{ "leak on a sawtooth", 1, SAWLEAK, 60, 2 * M, 8 * K, 160 * K, 10,
	  2 * K, 5 },
	{ "steps, never given back", 1, STEPS, 60, 1 * M, 0, 64 * K, 8, 0, 6 },
	{ "steps with noise", 1, STEPS, 60, 1 * M, 0, 100 * K, 6, 10 * K, 7 },
	{ "linear with outliers", 1, OUTLIERS, 60, 1 * M, 5 * K, 500 * K, 0,
	  1 * K, 8 },
	{ "accelerating", 1, QUADRATIC, 60, 1 * M, 50, 0, 0, 2 * K, 9 },
	{ "uneven sampling", 1, JITTER, 60, 1 * M, 3 * K, 0, 0, 3 * K, 10 },
	{ "slow, long window n=600", 1, LINEAR, 600, 4 * M, 100, 0, 0,
	  2 * K, 11 },
	{ "shortest verdict, n=8", 1, LINEAR, 8, 64 * K, 1 * K, 0, 0, 0, 12 },
	{ "flat", 0, LINEAR, 60, 1 * M, 0, 0, 0, 0, 13 },
	{ "flat with noise", 0, LINEAR, 60, 1 * M, 0, 0, 0, 20 * K, 14 },
	{ "cache fills (exp), plateau", 0, FILL_EXP, 60, 1 * M, 0, 4 * M, 6,
	  0, 15 },
	{ "cache fills (exp), noisy", 0, FILL_EXP, 60, 1 * M, 0, 4 * M, 8,
	  40 * K, 16 },
	{ "cache fills (lin), noisy", 0, FILL_LIN, 60, 1 * M, 0, 2 * M, 25,
	  20 * K, 17 },
	{ "sawtooth", 0, SAWTOOTH, 60, 1 * M, 0, 500 * K, 15, 0, 18 },
	{ "rise and fall", 0, TRIANGLE, 60, 1 * M, 0, 3 * M, 0, 0, 19 },
	{ "bump with noise", 0, BUMP, 60, 1 * M, 0, 2 * M, 8, 30 * K, 20 },
	{ "single burst", 0, BURST, 60, 1 * M, 0, 5 * M, 10, 10 * K, 21 },
	{ "periodic", 0, SINE, 60, 2 * M, 0, 500 * K, 20, 10 * K, 22 },
	{ "random walk, seed 1", 0, WALK, 60, 4 * M, 0, 0, 0, 20 * K, 1 },
	{ "random walk, seed 2", 0, WALK, 60, 4 * M, 0, 0, 0, 20 * K, 2 },
	{ "random walk, seed 3", 0, WALK, 60, 4 * M, 0, 0, 0, 20 * K, 3 },
	{ "random walk, seed 4", 0, WALK, 60, 4 * M, 0, 0, 0, 20 * K, 4 },
	{ "random walk, seed 5", 0, WALK, 60, 4 * M, 0, 0, 0, 20 * K, 5 },
	{ "tiny growth beside 1G", 0, LINEAR, 60, 1 * G, 10, 0, 0, 0, 23 },
	{ "one step up, then flat", 0, STEP_ONCE, 60, 1 * M, 0, 1 * M, 0.4,
	  5 * K, 24 },
	{ "shrinking", 0, LINEAR, 60, 8 * M, -20 * K, 0, 0, 10 * K, 25 },
	{ "leak, too few samples", 0, LINEAR, 5, 1 * M, 10 * K, 0, 0, 0, 26 },
};
#define NSET (sizeof(set) / sizeof(set[0]))

static double tt[NMAX], yy[NMAX];

/* Fills tt/yy with series l; returns its length. */
static size_t
make(const struct labelled *l)
{
	uint64_t seed = l->l_seed * 0x5851f42d4c957f2dULL;
	double walk = l->l_a;
	size_t n = l->l_n;

	for (size_t i = 0; i < n; i++) {
		double t = (double)i, x = (double)i, v = l->l_a;

		switch (l->l_shape) {
		case LINEAR:
			v += l->l_b * t;
			break;
		case SAWLEAK:
			v += l->l_b * t + l->l_c * fmod(x, l->l_d) / l->l_d;
			break;
		case STEPS:
			v += l->l_c * floor(x / l->l_d);
			break;
		case OUTLIERS:
			v += l->l_b * t + (i % 13 == 5 ? l->l_c : 0);
			break;
		case QUADRATIC:
			v += l->l_b * t * t;
			break;
		case JITTER:
			t = x + 0.45 * (2 * rng_unif(&seed) - 1);
			v += l->l_b * t;
			break;
		case FILL_EXP:
			v += l->l_c * (1 - exp(-t / l->l_d));
			break;
		case FILL_LIN:
			v += l->l_c * (x < l->l_d ? x / l->l_d : 1);
			break;
		case SAWTOOTH:
			v += l->l_c * fmod(x, l->l_d) / l->l_d;
			break;
		case TRIANGLE:
			v += l->l_c * (1 - fabs(x - (double)n / 2) / ((double)n / 2));
			break;
		case BUMP:
			v += l->l_c * exp(-0.5 * pow((x - (double)n / 2) / l->l_d, 2));
			break;
		case BURST:
			v += fabs(x - (double)n / 2) < l->l_d / 2 ? l->l_c : 0;
			break;
		case SINE:
			v += l->l_c * sin(2 * M_PI * x / l->l_d);
			break;
		case WALK:
			if (i > 0)
				walk += l->l_sigma * rng_norm(&seed);
			v = walk;
			break;
		case STEP_ONCE:
			v += x >= l->l_d * (double)n ? l->l_c : 0;
			break;
		}
		if (l->l_sigma > 0 && l->l_shape != WALK)
			v += l->l_sigma * rng_norm(&seed);
		tt[i] = t;
		yy[i] = v;
	}
	return (n);
}

/* "12.3K" */
static const char *
human(char *buf, size_t size, double v)
{
	static const char units[] = " KMGT";
	int u = 0;

	while (fabs(v) >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.3g", v);
	else
		snprintf(buf, size, "%.3g%c", v, units[u]);
	return (buf);
}

static void
test_labelled_set(void **state)
{
	int wrong = 0;
	char r[16];

	printf("%-28s %-8s %-8s %10s %6s  %s\n", "series", "expected", "got",
	    "rate/s", "conf", "why");
	for (size_t k = 0; k < NSET; k++) {
		struct leak_verdict v;
		size_t n = make(&set[k]);

		leak_assess(tt, yy, n, &v);
		printf("%-28s %-8s %-8s %10s %6.4f  %s%s\n", set[k].l_name,
		    set[k].l_leak ? "leak" : "-", v.leaking ? "leak" : "-",
		    human(r, sizeof(r), v.rate), v.confidence, v.why,
		    v.leaking != set[k].l_leak ? "   <-- WRONG" : "");
		if (v.leaking != set[k].l_leak)
			wrong++;
		assert_true(v.confidence >= 0 && v.confidence <= 1);
		assert_true(strlen(v.why) > 0);
		if (v.leaking)
			assert_true(v.confidence >= LEAK_MIN_CONFIDENCE);
	}
	assert_int_equal(wrong, 0);
}

/* The leak's rate is the rate of the line under the noise and outliers. */
static void
test_rate(void **state)
{
	struct leak_verdict v;

	make(&set[0]);                                  /* clean: exact */
	leak_assess(tt, yy, set[0].l_n, &v);
	assert_true(fabs(v.rate - 10 * K) < 1e-6 * 10 * K);
	make(&set[7]);                                  /* outliers */
	leak_assess(tt, yy, set[7].l_n, &v);
	assert_true(fabs(v.rate - 5 * K) < 0.05 * 5 * K);
	make(&set[10]);                                 /* long, noisy */
	leak_assess(tt, yy, set[10].l_n, &v);
	assert_true(fabs(v.rate - 100) < 0.1 * 100);
}

/*
 * Zero-drift random walks, seeds 1 to 1000, at several lengths: the share
 * named as leaks.  Those that are have drifted up, smoothly and to the end,
 * by many times their scatter: on the window's evidence, noisy leaks.
 */
static void
test_random_walks(void **state)
{
	static const size_t lengths[] = { 10, 30, 60, 240, 1200 };

	for (size_t j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
		struct labelled l = { "walk", 0, WALK, lengths[j], 4 * M, 0, 0, 0,
		    20 * K, 0 };
		int flagged = 0;

		for (uint64_t seed = 1; seed <= 1000; seed++) {
			struct leak_verdict v;

			l.l_seed = seed;
			make(&l);
			leak_assess(tt, yy, l.l_n, &v);
			flagged += v.leaking;
		}
		printf("random walks, n=%zu: %d of 1000 named as leaks\n",
		    lengths[j], flagged);
		assert_true(flagged <= 50);
	}
}

/* Noisy linear leaks: found when their growth is 15 sigma or more. */
static void
test_sensitivity(void **state)
{
	static const size_t lengths[] = { 10, 30, 60, 240 };

	for (size_t j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
		size_t n = lengths[j];
		struct labelled l = { "leak", 1, LINEAR, n, 1 * M,
		    15 * 10 * K / (double)(n - 1), 0, 0, 10 * K, 0 };
		int found = 0;

		for (uint64_t seed = 1; seed <= 200; seed++) {
			struct leak_verdict v;

			l.l_seed = seed;
			make(&l);
			leak_assess(tt, yy, n, &v);
			found += v.leaking;
		}
		printf("linear leaks of 15 sigma, n=%zu: %d of 200 found\n", n,
		    found);
		assert_true(found >= 180);
	}
}

static void
test_edges(void **state)
{
	struct leak_verdict v;
	size_t n = 60;

	/* Below the minimum: no verdict, whatever the shape. */
	for (size_t i = 0; i < n; i++) {
		tt[i] = (double)i;
		yy[i] = 1000.0 * (double)i;
	}
	for (size_t k = 0; k < LEAK_MIN_SAMPLES; k++) {
		leak_assess(tt, yy, k, &v);
		assert_int_equal(v.leaking, 0);
		assert_non_null(strstr(v.why, "too few samples"));
	}
	leak_assess(tt, yy, LEAK_MIN_SAMPLES, &v);
	assert_int_equal(v.leaking, 1);

	/* Non-finite samples are dropped, not believed. */
	yy[10] = NAN;
	yy[20] = INFINITY;
	tt[30] = NAN;
	leak_assess(tt, yy, n, &v);
	assert_int_equal(v.leaking, 1);
	assert_true(fabs(v.rate - 1000) < 1e-6);
	for (size_t i = 0; i < n; i++)
		yy[i] = i % 2 ? NAN : 1000.0 * (double)i;
	leak_assess(tt, yy, 12, &v);                    /* 6 usable */
	assert_int_equal(v.leaking, 0);
	assert_non_null(strstr(v.why, "too few samples"));

	/* No time span. */
	for (size_t i = 0; i < n; i++) {
		tt[i] = 5;
		yy[i] = (double)i;
	}
	leak_assess(tt, yy, n, &v);
	assert_int_equal(v.leaking, 0);

	/* A very long series is reduced, not refused, and keeps its rate. */
	for (size_t i = 0; i < NMAX; i++) {
		tt[i] = 0.5 * (double)i;
		yy[i] = 1e6 + 200.0 * tt[i] + (i % 7) * 100.0;
	}
	leak_assess(tt, yy, NMAX, &v);
	assert_int_equal(v.leaking, 1);
	assert_true(fabs(v.rate - 200) < 2);

	/* Huge values. */
	for (size_t i = 0; i < n; i++) {
		tt[i] = (double)i;
		yy[i] = 1e18 + 1e15 * (double)i;
	}
	leak_assess(tt, yy, n, &v);
	assert_int_equal(v.leaking, 1);
}

static void
test_rank(void **state)
{
	struct leak_verdict v[5] = {
		{ 0, 0, 0, "" }, { 1, 10, 0.99, "" }, { 0, 0, 0, "" },
		{ 1, 500, 0.999, "" }, { 1, 10, 0.999, "" },
	};
	double size[5] = { 100, 5, 900, 1, 50 };
	size_t order[5];
	static const size_t want[5] = { 3, 4, 1, 2, 0 };

	leak_rank(v, size, 5, order);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(order[i], want[i]);
	leak_rank(v, size, 0, order);
}

/* ---- plots ----------------------------------------------------------------- */

/*
 * A small XML well-formedness check: one root element, tags balanced and
 * named alike, attributes quoted, no '<' in values or text, every '&' an
 * entity, valid UTF-8 without control characters.  Returns NULL or what
 * is wrong.
 */
static const char *
xml_check(const char *s)
{
	const char *stack[64];
	size_t stacklen[64];
	int depth = 0, roots = 0;
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; u[i] != '\0'; i++) {
		if (u[i] < 0x20 && u[i] != '\n' && u[i] != '\t' && u[i] != '\r')
			return ("control character");
		if (u[i] >= 0x80) {
			size_t k = u[i] >= 0xf0 ? 3 : u[i] >= 0xe0 ? 2 :
			    u[i] >= 0xc2 ? 1 : 9;

			if (k == 9)
				return ("bad UTF-8 lead byte");
			for (size_t j = 1; j <= k; j++)
				if ((u[i + j] & 0xc0) != 0x80)
					return ("bad UTF-8 sequence");
			i += k;
		}
	}
	if (strncmp(s, "<?xml ", 6) == 0) {
		s = strstr(s, "?>");
		if (s == NULL)
			return ("unended declaration");
		s += 2;
	}
	while (*s != '\0') {
		if (*s == '&') {
			size_t len = strspn(s + 1, "#abcdefghijklmnopqrstuvwxyz"
			    "0123456789");

			if (s[1 + len] != ';' || len == 0)
				return ("bare &");
			s += len + 2;
			continue;
		}
		if (*s != '<') {
			if (depth == 0 && *s != ' ' && *s != '\n')
				return ("text outside the root");
			s++;
			continue;
		}
		if (s[1] == '/') {
			size_t len = strcspn(s + 2, "> \n");

			if (depth == 0 || len != stacklen[depth - 1] ||
			    strncmp(s + 2, stack[depth - 1], len) != 0)
				return ("mismatched end tag");
			depth--;
			s = strchr(s, '>');
			if (s == NULL)
				return ("unended end tag");
			s++;
			continue;
		}
		/* A start tag: name, then name="value" pairs, then > or />. */
		{
			const char *name = s + 1;
			size_t len = strcspn(name, " \n/>");

			if (len == 0)
				return ("empty tag name");
			s = name + len;
			for (;;) {
				s += strspn(s, " \n");
				if (*s == '>' || (s[0] == '/' && s[1] == '>'))
					break;
				s += strcspn(s, "= \n>");
				if (*s != '=' || (s[1] != '"' && s[1] != '\''))
					return ("unquoted attribute");
				{
					char q = s[1];
					const char *end = strchr(s + 2, q);

					if (end == NULL)
						return ("unended attribute");
					for (const char *p = s + 2; p < end; p++)
						if (*p == '<')
							return ("< in attribute");
					s = end + 1;
				}
			}
			if (depth == 0 && roots++ > 0)
				return ("two roots");
			if (*s == '>') {
				if (depth == 64)
					return ("too deep");
				stack[depth] = name;
				stacklen[depth++] = len;
				s++;
			} else
				s += 2;
		}
	}
	return (depth == 0 && roots == 1 ? NULL : "unclosed element");
}

/* Runs plot_svg into a string (free it); checks it is well formed. */
static char *
plot(const char *title, const double *t, size_t n,
    const struct plot_series *s, size_t ns)
{
	char *buf = NULL, path[] = "/tmp/kmem_test_leaks_XXXXXX";
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	const char *bad;
	int fd;

	assert_non_null(f);
	assert_int_equal(plot_svg(f, title, t, n, s, ns), 0);
	fclose(f);
	bad = xml_check(buf);
	if (bad != NULL)
		fail_msg("not well-formed: %s", bad);
	assert_null(strstr(buf, "nan"));
	assert_null(strstr(buf, "inf"));
	/* xmllint, when it is there, as a second opinion. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	if (system("command -v xmllint >/dev/null 2>&1") == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
		assert_int_equal(system(cmd), 0);
	}
	unlink(path);
	return (buf);
}

static void
test_plot(void **state)
{
	static double t[120], y[4][120];
	struct plot_series s[4] = {
		{ "mbuf", y[0], 0, NULL },
		{ "vnode <cache> & \"friends\"", y[1], 0, "a plateau" },
		{ "sessions", y[2], 1, "+6.8K/s" },
		{ "socket", y[3], 0, NULL },
	};
	uint64_t seed = 42;
	char *svg;
	FILE *f;

	for (size_t i = 0; i < 120; i++) {
		t[i] = 1000.0 + 0.5 * (double)i;       /* any origin */
		y[0][i] = 3 * M + 600 * K * sin((double)i / 6) +
		    30 * K * rng_norm(&seed);
		y[1][i] = 1 * M + 2 * M * (1 - exp(-(double)i / 15));
		y[2][i] = 512 * K + 6.8 * K * (t[i] - 1000) +
		    20 * K * rng_norm(&seed);
		y[3][i] = (i / 20) % 2 ? 2.2 * M : 1.4 * M;
	}
	y[3][50] = NAN;                                 /* a gap */
	svg = plot("kmemstat --leaks, pid 4242", t, 120, s, 4);
	assert_non_null(strstr(svg, ">mbuf<"));
	assert_non_null(strstr(svg,
	    "vnode &lt;cache&gt; &amp; &quot;friends&quot;"));
	assert_non_null(strstr(svg, "suspected leak"));
	assert_non_null(strstr(svg, "#d62728"));
	assert_non_null(strstr(svg, "time (s)"));
	assert_non_null(strstr(svg, "memory in use (bytes)"));
	assert_non_null(strstr(svg, "M</text>"));       /* human units */
	assert_non_null(strstr(svg, ">60</text>"));     /* seconds from 0 */
	/* A copy to look at: build/tests/test_leaks.svg. */
	f = fopen("test_leaks.svg", "w");
	if (f != NULL) {
		fputs(svg, f);
		fclose(f);
	}
	free(svg);
}

static void
test_plot_edges(void **state)
{
	static const double t1[1] = { 7 };
	static const double y1[1] = { 4096 };
	double t[10], c[10], huge[10], big[10], none[10];
	struct plot_series one = { "one sample", y1, 1, NULL };
	struct plot_series s[3] = {
		{ "constant", c, 0, NULL },
		{ "huge", huge, 1, NULL },
		{ "bad\x01utf8\xff\xfe<", big, 0, NULL },
	};
	struct plot_series empty = { NULL, none, 0, NULL };
	char *svg;
	FILE *f;

	for (size_t i = 0; i < 10; i++) {
		t[i] = (double)i;
		c[i] = 8192;
		huge[i] = 1e300 * (1 + (double)i);
		big[i] = 1.8e19;
		none[i] = NAN;
	}
	free(plot(NULL, t1, 1, &one, 1));               /* n = 1 */
	free(plot("nothing", t, 10, NULL, 0));          /* ns = 0 */
	svg = plot("no samples", NULL, 0, s, 3);        /* n = 0 */
	assert_non_null(strstr(svg, "no data"));
	free(svg);
	free(plot("all missing", t, 10, &empty, 1));
	free(plot("constant", t, 10, &s[0], 1));
	free(plot("exabytes", t, 10, &s[2], 1));
	svg = plot("huge", t, 10, s, 3);
	assert_non_null(strstr(svg, "bad?utf8??&lt;"));
	free(svg);

	assert_int_equal(plot_svg(NULL, "x", t, 10, s, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(plot_svg(stdout, "x", NULL, 10, s, 1), -1);
	assert_int_equal(errno, EINVAL);
	f = fopen("/dev/full", "w");
	if (f != NULL) {
		setvbuf(f, NULL, _IONBF, 0);
		assert_int_equal(plot_svg(f, "x", t, 10, s, 3), -1);
		fclose(f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labelled_set),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_random_walks),
		cmocka_unit_test(test_sensitivity),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_rank),
		cmocka_unit_test(test_plot),
		cmocka_unit_test(test_plot_edges),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
