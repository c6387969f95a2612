/*
 * plot.h -- memory use over time as an SVG picture, for `kmemstat --plot`.
 *
 * One line per series over a shared time axis, in distinct colours (the
 * sixteen of the palette, then the same again dashed), the series marked
 * as highlighted drawn thick and red on top of the others and labelled
 * "suspected leak" at its end and in the legend.  The x axis is seconds
 * since the first sample, the y axis bytes in K/M/G/T/P/E units of 1024
 * with round tick values (the unit is chosen from the largest value, the
 * ticks are 1, 2, 2.5 or 5 times a power of ten of it); the y axis starts
 * at zero unless every value is above a quarter of the largest, so that a
 * slow leak on a large base is still seen to grow.  The legend sits to the
 * right of the plot, one entry per series in the order given; names are
 * escaped for XML (and bytes that are not UTF-8 or are control characters
 * become '?'), and names longer than PLOT_NAME_MAX characters are cut.
 *
 * Missing samples (NaN or infinite values) leave a gap in their line; a
 * sample with no neighbour is drawn as a dot.  No samples, or no series,
 * still give a well-formed picture with its axes and the words "no data".
 */
#ifndef KMEM_TOOLS_PLOT_H
#define KMEM_TOOLS_PLOT_H

#include <stddef.h>
#include <stdio.h>

#define PLOT_NAME_MAX 34 /* characters of a name the legend shows */

struct plot_series {
	const char *name; /* legend label; NULL shows as "?" */
	const double *y;  /* n values, bytes; NaN or infinite: no sample */
	int highlight;    /* nonzero: thick, red, "suspected leak" */
	const char *note; /* NULL, or a few words for the legend ("+12K/s") */
};

/*
 * plot_svg -- write an SVG document of the series to out.
 *
 * Arguments:
 *	out	where the document goes
 *	title	the heading; NULL for "kmem memory use"
 *	t	n sample times, seconds (any origin: the axis starts at t[0])
 *	n	samples per series
 *	s	ns series, each with n values
 *	ns	how many series
 *
 * Returns:
 *	0, or -1 with errno set: EINVAL for a NULL out, t (with n > 0), s
 *	(with ns > 0) or series y (with n > 0); EIO if writing failed.
 */
int plot_svg(FILE *out, const char *title, const double *t, size_t n,
    const struct plot_series *s, size_t ns);

#endif /* KMEM_TOOLS_PLOT_H */
