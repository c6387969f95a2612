/*
 * leaks.c -- the leak verdict: Mann-Kendall trend test, Theil-Sen slope and
 * the guards against plateaus, give-backs and noise described in leaks.h.
 *
 * Working space, for a series reduced to m <= LEAK_MAX_POINTS points: the
 * points (2m), the smoothed series and scratch (2m), and the pairwise
 * slopes (m(m-1)/2), one allocation.  Everything else is O(m^2) time over
 * that, about 33000 pairs at most.
 */
#include "leaks.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the guards measured, for the verdict and its one-line reason. */
struct leak_fit {
	size_t lf_m;         /* points after reduction */
	double lf_span;      /* t_last - t_first, seconds */
	double lf_slope;     /* Theil-Sen slope, whole window */
	double lf_late;      /* Theil-Sen slope, last half */
	double lf_growth;    /* slope * span */
	double lf_sigma;     /* robust sigma of the smoothed series' residuals */
	double lf_level;     /* median |y| */
	double lf_drawdown;  /* largest fall from the running maximum */
	double lf_endgap;    /* maximum - median of the end of the window */
	double lf_z;         /* Mann-Kendall z */
	double lf_p;         /* its one-sided p-value (upward) */
};

/* ---- order statistics ---------------------------------------------------- */

/* The k-th smallest of a[0..n) (0-based), Hoare's selection; reorders a. */
static double
select_kth(double *a, size_t n, size_t k)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;

	while (lo < hi) {
		double pivot = a[lo + (hi - lo) / 2];
		ptrdiff_t i = lo, j = hi;

		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				double tmp = a[i];

				a[i++] = a[j];
				a[j--] = tmp;
			}
		}
		/* [lo, j] <= pivot <= [i, hi]; between them, the pivot. */
		if (kk <= j)
			hi = j;
		else if (kk >= i)
			lo = i;
		else
			break;
	}
	return (a[k]);
}

/* The median of a[0..n), n > 0; reorders a. */
static double
median(double *a, size_t n)
{
	double hi = select_kth(a, n, n / 2);
	double lo;

	if (n % 2 == 1)
		return (hi);
	/* Everything below index n/2 is <= hi now: its largest is the other. */
	lo = a[0];
	for (size_t i = 1; i < n / 2; i++)
		if (a[i] > lo)
			lo = a[i];
	return (lo / 2 + hi / 2);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

/* ---- the statistics ------------------------------------------------------ */

/*
 * Theil-Sen slope of points [lo, hi): the median of (y_j - y_i) / (t_j -
 * t_i) over pairs i < j with t_j > t_i.  NAN if there is no such pair.
 */
static double
theil_sen(const double *t, const double *y, size_t lo, size_t hi,
    double *scratch)
{
	size_t k = 0;

	for (size_t i = lo; i < hi; i++)
		for (size_t j = i + 1; j < hi; j++)
			if (t[j] > t[i])
				scratch[k++] = (y[j] - y[i]) / (t[j] - t[i]);
	return (k == 0 ? NAN : median(scratch, k));
}

/*
 * Mann-Kendall: S = sum over i < j of sign(y_j - y_i); under "no trend"
 * (independent, identically distributed samples) S has mean 0 and variance
 * [m(m-1)(2m+5) - sum over tie groups of g(g-1)(2g+5)] / 18, and is close
 * to normal from m = 8 or so.  Sets z (continuity corrected) and the
 * one-sided upward p-value.  scratch holds m doubles.
 */
static void
mann_kendall(const double *y, size_t m, double *scratch, double *z,
    double *p)
{
	double s = 0, var;
	double dm = (double)m;

	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			s += (y[j] > y[i]) - (y[j] < y[i]);
	var = dm * (dm - 1) * (2 * dm + 5);
	memcpy(scratch, y, m * sizeof(*scratch));
	qsort(scratch, m, sizeof(*scratch), cmp_double);
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;
		double g;

		while (j < m && scratch[j] == scratch[i])
			j++;
		g = (double)(j - i);
		var -= g * (g - 1) * (2 * g + 5);
		i = j;
	}
	var /= 18;
	if (var <= 0) {         /* every sample equal */
		*z = 0;
		*p = 1;
		return;
	}
	*z = (s > 0 ? s - 1 : s < 0 ? s + 1 : 0) / sqrt(var);
	*p = 0.5 * erfc(*z / sqrt(2.0));
}

/*
 * Drops non-finite samples and samples whose time goes backwards, then
 * reduces to at most LEAK_MAX_POINTS points: runs of b consecutive samples
 * become one point at their mean time and median value.  Returns m.
 */
static size_t
reduce(const double *t, const double *y, size_t n, double *rt, double *ry,
    double *scratch)
{
	size_t nf = 0, m = 0, b, inrun = 0;
	double last = -INFINITY, tsum = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(t[i]) || !isfinite(y[i]) || t[i] < last)
			continue;
		last = t[i];
		nf++;
	}
	b = (nf + LEAK_MAX_POINTS - 1) / LEAK_MAX_POINTS;
	last = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(t[i]) || !isfinite(y[i]) || t[i] < last)
			continue;
		last = t[i];
		tsum += t[i];
		scratch[inrun++] = y[i];
		if (inrun == b) {
			rt[m] = tsum / (double)inrun;
			ry[m++] = median(scratch, inrun);
			inrun = 0;
			tsum = 0;
		}
	}
	if (inrun > 0) {
		rt[m] = tsum / (double)inrun;
		ry[m++] = median(scratch, inrun);
	}
	return (m);
}

/*
 * out[i] = the median of y over a window of w = smooth_width(m) points
 * centred on i (w odd, about m/8; narrower at the ends, where the window
 * is cut to stay centred).  scratch holds w doubles.
 */
static size_t
smooth_width(size_t m)
{
	return (2 * (m / 16) + 1);
}

static void
smooth(const double *y, size_t m, double *out, double *scratch)
{
	size_t h = smooth_width(m) / 2;

	for (size_t i = 0; i < m; i++) {
		size_t r = h;

		if (r > i)
			r = i;
		if (r > m - 1 - i)
			r = m - 1 - i;
		memcpy(scratch, y + i - r, (2 * r + 1) * sizeof(*scratch));
		out[i] = median(scratch, 2 * r + 1);
	}
}

static void
fit(const double *t, const double *y, size_t m, double *work,
    double *smoothed, double *pairs, struct leak_fit *f)
{
	double a, runmax, end;
	size_t nend;

	f->lf_m = m;
	f->lf_span = t[m - 1] - t[0];
	f->lf_slope = theil_sen(t, y, 0, m, pairs);
	f->lf_late = theil_sen(t, y, m / 2, m, pairs);
	f->lf_growth = f->lf_slope * f->lf_span;

	for (size_t i = 0; i < m; i++)
		work[i] = fabs(y[i]);
	f->lf_level = median(work, m);

	/*
	 * Noise, drawdown and the end of the window are read from the series
	 * smoothed by a running median over about m/8 points: sample noise and
	 * short teeth (high frequency) mostly go, while what a random walk
	 * wanders or a burst gives back (low frequency) stays.
	 */
	smooth(y, m, smoothed, work);

	/* Residuals from the line; its intercept is their median. */
	for (size_t i = 0; i < m; i++)
		work[i] = smoothed[i] - f->lf_slope * (t[i] - t[0]);
	a = median(work, m);
	for (size_t i = 0; i < m; i++)
		work[i] = fabs(smoothed[i] - f->lf_slope * (t[i] - t[0]) - a);
	f->lf_sigma = 1.4826 * median(work, m);

	f->lf_drawdown = 0;
	runmax = smoothed[0];
	for (size_t i = 1; i < m; i++) {
		if (smoothed[i] > runmax)
			runmax = smoothed[i];
		else if (runmax - smoothed[i] > f->lf_drawdown)
			f->lf_drawdown = runmax - smoothed[i];
	}
	nend = (size_t)ceil(LEAK_END_FRACTION * (double)m);
	if (nend < 2)
		nend = 2;
	memcpy(work, smoothed + m - nend, nend * sizeof(*work));
	end = median(work, nend);
	f->lf_endgap = runmax - end;

	mann_kendall(y, m, work, &f->lf_z, &f->lf_p);
}

/* ---- the verdict --------------------------------------------------------- */

/* v in K/M/G/T units of 1024, as "12.3M". */
static void
human(char *buf, size_t size, double v)
{
	static const char units[] = " KMGTPE";
	double a = fabs(v);
	int u = 0;

	while (a >= 1024 && u < 6) {
		a /= 1024;
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.3g", v);
	else
		snprintf(buf, size, "%.3g%c", v, units[u]);
}

/*
 * The noise guard's ratio for m points: LEAK_NOISE_RATIO once the running
 * median spans 7 points or more, less below that, in proportion to the
 * white noise the window of w points leaves (about 1.25 / sqrt(w) of it),
 * and never below half.
 */
static double
noise_ratio(size_t m)
{
	double f = 0.4 * sqrt((double)smooth_width(m));

	return (LEAK_NOISE_RATIO * (f < 0.5 ? 0.5 : f > 1 ? 1 : f));
}

/* x / threshold for a guard "x >= threshold"; 1 or more when it holds. */
static double
ratio(double x, double threshold)
{
	if (threshold <= 0 || x >= threshold)
		return (x >= threshold ? 1 : 0);
	return (x > 0 ? x / threshold : 0);
}

static void
judge(const struct leak_fit *f, struct leak_verdict *v)
{
	char g[16], s[16], l[16], r[16];
	double trend = 1 - f->lf_p;
	double worst = 1, q;
	const char *why = NULL;
	double G = f->lf_growth;

	human(g, sizeof(g), G);
	human(r, sizeof(r), f->lf_slope);
	v->rate = f->lf_slope;

	/* Each guard, in the order a reader would want to hear them. */
	if (!(f->lf_slope > 0) || !(G > 0)) {
		v->confidence = 0;
		snprintf(v->why, sizeof(v->why),
		    "no growth (slope %s/s)", r);
		return;
	}
	/*
	 * Growth may stand out from the noise, or be (after smoothing) all but
	 * monotone: steps, an accelerating leak, a leak under short teeth
	 * deviate from a straight line without giving anything back.
	 */
	q = ratio(G, noise_ratio(f->lf_m) * f->lf_sigma);
	if (q < 1 && f->lf_drawdown <= LEAK_MONOTONE * G)
		q = 1;
	if (q < worst) {
		worst = q;
		human(s, sizeof(s), f->lf_sigma);
		snprintf(v->why, sizeof(v->why),
		    "growth %s within noise (sigma %s)", g, s);
		why = v->why;
	}
	q = ratio(G, LEAK_MIN_GROWTH * f->lf_level);
	if (q < worst) {
		worst = q;
		human(l, sizeof(l), f->lf_level);
		snprintf(v->why, sizeof(v->why),
		    "growth %s is small beside level %s", g, l);
		why = v->why;
	}
	q = ratio(f->lf_late, LEAK_PERSIST * f->lf_slope);
	if (q < worst) {
		worst = q;
		human(s, sizeof(s), f->lf_late);
		snprintf(v->why, sizeof(v->why),
		    "growth stopped or slowed: late slope %s/s of %s/s", s, r);
		why = v->why;
	}
	q = ratio(LEAK_MAX_DRAWDOWN * G, f->lf_drawdown);
	if (q < worst) {
		worst = q;
		human(s, sizeof(s), f->lf_drawdown);
		snprintf(v->why, sizeof(v->why),
		    "gives back: fell %s after a high, growth %s", s, g);
		why = v->why;
	}
	q = ratio(LEAK_MAX_DRAWDOWN * G, f->lf_endgap);
	if (q < worst) {
		worst = q;
		human(s, sizeof(s), f->lf_endgap);
		snprintf(v->why, sizeof(v->why),
		    "ends %s below its high, growth %s", s, g);
		why = v->why;
	}
	v->confidence = trend * worst;
	if (trend < LEAK_MIN_CONFIDENCE) {
		snprintf(v->why, sizeof(v->why),
		    "no significant trend (Mann-Kendall p=%.2g)", f->lf_p);
		return;
	}
	if (why != NULL)
		return;
	v->leaking = 1;
	snprintf(v->why, sizeof(v->why),
	    "grows %s/s, %s over %.3gs (Mann-Kendall p=%.2g)", r, g,
	    f->lf_span, f->lf_p);
}

void
leak_assess(const double *t, const double *y, size_t n,
    struct leak_verdict *v)
{
	size_t cap = n < LEAK_MAX_POINTS ? n : LEAK_MAX_POINTS;
	size_t m, npairs;
	double *mem, *rt, *ry, *work, *smoothed, *pairs;
	struct leak_fit f;

	memset(v, 0, sizeof(*v));
	if (n < LEAK_MIN_SAMPLES) {
		snprintf(v->why, sizeof(v->why), "too few samples (%zu < %d)",
		    n, LEAK_MIN_SAMPLES);
		return;
	}
	/*
	 * work holds a run of samples while reducing: up to n / cap + 1, not
	 * more than cap + 1 for any n <= cap^2; size it for the general case.
	 */
	npairs = cap * (cap - 1) / 2;
	{
		size_t run = n / LEAK_MAX_POINTS + 1;
		size_t nwork = cap > run ? cap : run;

		mem = malloc((3 * cap + nwork + npairs) * sizeof(*mem));
		if (mem == NULL) {
			snprintf(v->why, sizeof(v->why), "out of memory");
			return;
		}
		rt = mem;
		ry = rt + cap;
		smoothed = ry + cap;
		work = smoothed + cap;
		pairs = work + nwork;
	}
	m = reduce(t, y, n, rt, ry, work);
	if (m < LEAK_MIN_SAMPLES) {
		snprintf(v->why, sizeof(v->why),
		    "too few samples (%zu usable < %d)", m, LEAK_MIN_SAMPLES);
		free(mem);
		return;
	}
	if (!(rt[m - 1] > rt[0])) {
		snprintf(v->why, sizeof(v->why), "too few samples (no time span)");
		free(mem);
		return;
	}
	fit(rt, ry, m, work, smoothed, pairs, &f);
	judge(&f, v);
	free(mem);
}

/* ---- ranking --------------------------------------------------------------- */

/* 1 if series a is reported before series b. */
static int
ranks_before(const struct leak_verdict *v, const double *size, size_t a,
    size_t b)
{
	if (v[a].leaking != v[b].leaking)
		return (v[a].leaking > v[b].leaking);
	if (v[a].leaking && v[a].rate != v[b].rate)
		return (v[a].rate > v[b].rate);
	return (size[a] > size[b]);
}

void
leak_rank(const struct leak_verdict *v, const double *size, size_t ns,
    size_t *order)
{
	/* Insertion sort: stable, and a few hundred series at most. */
	for (size_t i = 0; i < ns; i++) {
		size_t j = i;

		while (j > 0 && ranks_before(v, size, i, order[j - 1])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}
