/*
 * leaks.h -- is a type's memory use growing like a leak?  The verdict behind
 * `kmemstat --leaks`.
 *
 * What a leak looks like
 * ======================
 *
 * A leak is memory that is allocated and never freed, so a leaking type's
 * use rises for as long as the program runs, with whatever the type also
 * does (caches, bursts, per-request churn) riding on top: a trend plus
 * bounded noise.  A type that only fluctuates, fills a cache to a plateau,
 * or rises and falls (sawtooth, burst, periodic load) is not a leak, and a
 * user who is sent after one of those wastes a day.  So the verdict asks
 * for more than "it went up":
 *
 * 1. Enough samples: at least LEAK_MIN_SAMPLES (8).  Fewer give no
 *    verdict: not leaking, why = "too few samples".  Non-finite samples
 *    are dropped first, and so is a sample whose time goes backwards;
 *    samples need not be evenly spaced.  Long series are reduced to at
 *    most LEAK_MAX_POINTS points, each the median of a run of consecutive
 *    samples.
 *
 * 2. A monotone upward trend: the Mann-Kendall test (S = the number of
 *    later-higher pairs minus later-lower pairs, its variance corrected
 *    for ties, a continuity correction, the normal approximation), one
 *    sided, at p < 1 - LEAK_MIN_CONFIDENCE.  It is a rank test: it needs
 *    no model of the growth (linear, stepwise or bursty growth all count)
 *    and one wild sample cannot make or break it.
 *
 * 3. A rate: the Theil-Sen slope, the median of the slopes between every
 *    pair of samples.  Up to 29% of the samples may be anything without
 *    moving it, and it is exact for a straight line, so the reported rate
 *    is that of the leak and not of a burst at one end.  The growth over
 *    the window is G = slope * (t_last - t_first).
 *
 * 4. Guards, each "x >= threshold".  Noise, give-back and "at the top"
 *    are read from the series smoothed by a running median of w points (w
 *    odd, about m/8: 1 below 16 points, 7 at 60), which takes out sample
 *    noise and short teeth but keeps what a random walk wanders or a
 *    burst gives back.
 *    - noise: G >= k * sigma, sigma being 1.4826 times the median absolute
 *      deviation of the smoothed series from the Theil-Sen line (a robust
 *      standard deviation), k = LEAK_NOISE_RATIO (20) once w >= 7 and
 *      20 * max(0.5, 0.4 sqrt(w)) below (the running median leaves about
 *      1.25 / sqrt(w) of white noise: 10 with no smoothing).  Growth that
 *      hides in the noise, or that a wandering series makes by chance, is
 *      not named; a real leak is, once the window is long enough.  Growth
 *      that is all but monotone (largest fall of the smoothed series at
 *      most LEAK_MONOTONE * G) passes too: steps, an accelerating leak, a
 *      leak under short teeth stray from a straight line without giving
 *      anything back.
 *    - level: G >= LEAK_MIN_GROWTH * the median level.  A type of 1G that
 *      gains 100K in a minute may leak, but not that anyone should chase
 *      it on this evidence.
 *    - persistence: the Theil-Sen slope of the last half of the window is
 *      at least LEAK_PERSIST times the slope of the whole.  A cache that
 *      filled and stays full, a step that happened once, a rise that
 *      turned into a fall all fail here.
 *    - no give-back: the largest drawdown (fall from the highest value
 *      seen so far) is at most LEAK_MAX_DRAWDOWN * G.  Memory that a leak
 *      takes is not given back; a sawtooth, a burst and a random walk
 *      give back what they took.
 *    - at the top: the median of the last LEAK_END_FRACTION of the window
 *      is within LEAK_MAX_DRAWDOWN * G of the highest value.
 *
 * What it finds, measured by tests/unit/test_leaks.c and over 1000 seeds
 * each: a linear leak under white noise once its growth over the window
 * is about 15 sigma of the noise (95% found at 8 to 10 samples, all at 60
 * or more); a leak under a sawtooth once it grows by about 3 tooth heights
 * over the window; steps and accelerating leaks whatever their noise
 * within those bounds.  Random walks (use that goes up or down by chance
 * each interval, no drift) are the hard case: over any finite window some
 * drift far, and a walk that has drifted up smoothly to the end is, on the
 * evidence, a leak.  About 5% of them are named at 8 to 10 samples, 2 to
 * 4% at 16 to 30, 1 to 1.5% from 40 on.  Longer windows help.
 *
 * Confidence
 * ==========
 *
 * confidence = (1 - p) * r, where p is the Mann-Kendall p-value and r is 1
 * when every guard holds, else the smallest x / threshold of the guards
 * that failed (a near miss keeps most of its confidence, a clear miss gets
 * little).  A series is leaking when every guard holds and 1 - p >=
 * LEAK_MIN_CONFIDENCE; its confidence is then at least that.  A series
 * that failed has a confidence below 1 - p, and why names the guard.
 */
#ifndef KMEM_TOOLS_LEAKS_H
#define KMEM_TOOLS_LEAKS_H

#include <stddef.h>

#define LEAK_MIN_SAMPLES 8        /* fewer: no verdict */
#define LEAK_MAX_POINTS 256       /* longer series are reduced to this */
#define LEAK_MIN_CONFIDENCE 0.99  /* 1 - p of the Mann-Kendall test */
#define LEAK_NOISE_RATIO 20.0     /* growth / robust sigma, smoothed */
#define LEAK_MONOTONE 0.05        /* or: largest fall / growth */
#define LEAK_MIN_GROWTH 0.01      /* growth / median level */
#define LEAK_PERSIST 0.5          /* late-half slope / whole slope */
#define LEAK_MAX_DRAWDOWN 0.5     /* largest fall / growth */
#define LEAK_END_FRACTION 0.2     /* the end of the window, for "at the top" */

struct leak_verdict {
	int leaking;       /* 1: grows like a leak */
	double rate;       /* Theil-Sen slope, units of y per second */
	double confidence; /* 0..1, see above */
	char why[96];      /* one line: the evidence, or the test that failed */
};

/*
 * leak_assess -- the verdict on one series.
 *
 * Arguments:
 *	t	sample times in seconds, not decreasing
 *	y	the samples (bytes in use, or any other amount)
 *	n	how many samples
 *	v	filled in
 *
 * Discussion:
 *	Never fails; a series it cannot judge (too few samples, no time span)
 *	is "not leaking" with the reason in v->why.  rate is filled in
 *	whenever there are two usable samples, leaking or not.  Allocates
 *	working space of O(min(n, LEAK_MAX_POINTS)^2) doubles; if that
 *	fails, the verdict is "not leaking", why = "out of memory".
 */
void leak_assess(const double *t, const double *y, size_t n,
    struct leak_verdict *v);

/*
 * leak_rank -- the order in which to report or draw series.
 *
 * Arguments:
 *	v	the verdicts of ns series
 *	size	a size per series (its last or largest sample, say)
 *	ns	how many series
 *	order	filled with 0..ns-1 in reporting order
 *
 * Discussion:
 *	Leaking series first, the fastest growing first (in a leak hunt the
 *	big, steadily growing type is usually the one at fault); then the
 *	rest, the largest first.  Ties keep their input order.
 */
void leak_rank(const struct leak_verdict *v, const double *size, size_t ns,
    size_t *order);

#endif /* KMEM_TOOLS_LEAKS_H */
