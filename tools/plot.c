/*
 * plot.c -- SVG line plots of memory use over time; see plot.h.
 *
 * The picture, in pixels:
 *
 *	+--------------------------------------------------------------+
 *	| title                                                        |
 *	|       +-----------------------------------+   legend         |
 *	| y     |                                   |   ---- name      |
 *	| ticks |        plot area (PW x PH)        |   ==== name      |
 *	|       |                                   |   suspected leak |
 *	|       +-----------------------------------+                  |
 *	|             x ticks, "time (s)"                              |
 *	+--------------------------------------------------------------+
 *
 * Values are divided by the y unit (a power of 1024) before any arithmetic
 * on them, so even values near DBL_MAX give finite ranges and coordinates.
 */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define PL_LEFT 84     /* left margin: y tick labels and axis title */
#define PL_TOP 48      /* top margin: the title */
#define PL_PW 600      /* plot area width */
#define PL_PH 360      /* plot area height */
#define PL_BOTTOM 56   /* below the plot area: x ticks and axis title */
#define PL_LEGEND 250  /* legend column, right of the plot area */
#define PL_ROW 20      /* legend line height */
#define PL_TICKS 6     /* about this many ticks per axis */

#define PL_LEAK_COLOUR "#d62728"

static const char *const pl_colours[] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
	"#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31",
	"#7b4173", "#3182bd", "#31a354", "#756bb1",
};
#define PL_NCOLOURS (sizeof(pl_colours) / sizeof(pl_colours[0]))
static const char *const pl_dashes[] = { NULL, "7 4", "2 3" };

/* An axis: [lo, hi] in display units, ticks every step from first. */
struct pl_axis {
	double pa_lo, pa_hi; /* the range drawn */
	double pa_step;      /* between ticks */
	double pa_first;     /* first tick */
	int pa_decimals;     /* for tick labels */
};

/* ---- text ------------------------------------------------------------------ */

/*
 * Length of the UTF-8 sequence at s (at most len bytes), or 0 if it is not
 * a valid, shortest-form sequence of a character XML allows.
 */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	size_t k;
	uint32_t c;

	if (s[0] < 0x80)
		return (s[0] >= 0x20 || s[0] == '\t' ? 1 : 0);
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		k = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		k = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		k = 4;
		c = s[0] & 0x07;
	} else
		return (0);
	if (len < k)
		return (0);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
		return (0);
	return (k);
}

/*
 * Writes s as XML character data, at most max characters (then an
 * ellipsis); markup characters become entities, anything that is not a
 * character XML allows becomes '?'.
 */
static void
put_text(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), chars = 0;

	for (size_t i = 0; i < len; chars++) {
		size_t k = utf8_len(p + i, len - i);

		if (chars == max) {
			fputs("\xe2\x80\xa6", out);     /* U+2026 ellipsis */
			return;
		}
		if (k == 0) {
			fputc('?', out);
			i++;
			continue;
		}
		switch (p[i]) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default: fwrite(p + i, 1, k, out); break;
		}
		i += k;
	}
}

/* ---- axes ------------------------------------------------------------------ */

/* A round step near range / PL_TICKS: 1, 2, 2.5 or 5 times a power of 10. */
static double
nice_step(double range, int *decimals)
{
	double raw = range / PL_TICKS;
	double e = floor(log10(raw));
	double mag = pow(10, e);
	double f = raw / mag;
	double m;
	int d;

	if (f < 1.5)
		m = 1;
	else if (f < 2.25)
		m = 2;
	else if (f < 3.5)
		m = 2.5;
	else if (f < 7.5)
		m = 5;
	else {
		m = 1;
		mag *= 10;
		e += 1;
	}
	d = e < 0 ? (int)-e : 0;
	if (m == 2.5)
		d++;
	*decimals = d;
	return (m * mag);
}

/* An axis over [lo, hi] (finite, lo <= hi), widened to whole ticks. */
static void
axis_make(struct pl_axis *a, double lo, double hi)
{
	if (!(hi > lo)) {
		double pad = lo == 0 ? 1 : fabs(lo) * 0.1;

		lo -= pad;
		hi += pad;
	}
	a->pa_step = nice_step(hi - lo, &a->pa_decimals);
	a->pa_lo = floor(lo / a->pa_step) * a->pa_step;
	a->pa_hi = ceil(hi / a->pa_step) * a->pa_step;
	if (!(a->pa_hi > a->pa_lo))       /* the step is lost in lo's magnitude */
		a->pa_hi = a->pa_lo + a->pa_step;
	a->pa_first = a->pa_lo;
}

static void
put_number(FILE *out, double v, int decimals)
{
	if (fabs(v) >= 1e9 || decimals > 9)
		fprintf(out, "%.4g", v);
	else
		fprintf(out, "%.*f", decimals, v);
}

/* ---- the picture ----------------------------------------------------------- */

static double
px(const struct pl_axis *a, double v)
{
	return (PL_LEFT + (v - a->pa_lo) / (a->pa_hi - a->pa_lo) * PL_PW);
}

static double
py(const struct pl_axis *a, double v)
{
	return (PL_TOP + PL_PH - (v - a->pa_lo) / (a->pa_hi - a->pa_lo) * PL_PH);
}

static int
usable(const double *t, const double *y, size_t i)
{
	return (isfinite(t[i]) && isfinite(y[i]));
}

/* Draws series k: its line (with gaps), dots for lone samples. */
static void
put_series(FILE *out, const struct pl_axis *ax, const struct pl_axis *ay,
    double t0, double unit, const double *t, size_t n,
    const struct plot_series *sp, size_t k)
{
	const char *colour = sp->highlight ? PL_LEAK_COLOUR :
	    pl_colours[k % PL_NCOLOURS];
	const char *dash = sp->highlight ? NULL :
	    pl_dashes[(k / PL_NCOLOURS) % 3];
	double width = sp->highlight ? 3.5 : 1.6;
	int pen = 0;

	fprintf(out, "<g><path fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\""
	    " stroke-linejoin=\"round\"", colour, width);
	if (dash != NULL)
		fprintf(out, " stroke-dasharray=\"%s\"", dash);
	fputs(" d=\"", out);
	for (size_t i = 0; i < n; i++) {
		if (!usable(t, sp->y, i)) {
			pen = 0;
			continue;
		}
		fprintf(out, "%c%.1f %.1f ", pen ? 'L' : 'M',
		    px(ax, t[i] - t0), py(ay, sp->y[i] / unit));
		pen = 1;
	}
	fputs("\"/>\n", out);
	for (size_t i = 0; i < n; i++) {
		if (!usable(t, sp->y, i) || (i > 0 && usable(t, sp->y, i - 1)) ||
		    (i + 1 < n && usable(t, sp->y, i + 1)))
			continue;
		fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
		    "fill=\"%s\"/>\n", px(ax, t[i] - t0),
		    py(ay, sp->y[i] / unit), width + 1.5, colour);
	}
	if (sp->highlight) {
		/* "suspected leak" by the last sample, inside the plot area. */
		for (size_t i = n; i-- > 0;) {
			double x, y;

			if (!usable(t, sp->y, i))
				continue;
			x = px(ax, t[i] - t0);
			y = py(ay, sp->y[i] / unit) - 10;
			if (y < PL_TOP + 14)
				y = PL_TOP + 14;
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
			    "font-weight=\"bold\" fill=\"%s\">suspected leak</text>\n",
			    x, y, x > PL_LEFT + PL_PW / 2 ? "end" : "start",
			    PL_LEAK_COLOUR);
			break;
		}
	}
	fputs("</g>\n", out);
}

int
plot_svg(FILE *out, const char *title, const double *t, size_t n,
    const struct plot_series *s, size_t ns)
{
	static const char units[] = "KMGTPE";
	double tlo = INFINITY, thi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
	double unit = 1, big;
	struct pl_axis ax, ay;
	char unitname[2] = "";
	int width, height, legend, nodata;

	if (out == NULL || (n > 0 && t == NULL) || (ns > 0 && s == NULL)) {
		errno = EINVAL;
		return (-1);
	}
	for (size_t k = 0; k < ns; k++)
		if (n > 0 && s[k].y == NULL) {
			errno = EINVAL;
			return (-1);
		}
	if (title == NULL)
		title = "kmem memory use";

	/* The data's extent. */
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(t[i]))
			continue;
		for (size_t k = 0; k < ns; k++) {
			double v = s[k].y[i];

			if (!isfinite(v))
				continue;
			if (t[i] < tlo)
				tlo = t[i];
			if (t[i] > thi)
				thi = t[i];
			if (v < ylo)
				ylo = v;
			if (v > yhi)
				yhi = v;
		}
	}
	nodata = !(tlo <= thi);
	if (nodata) {
		tlo = thi = 0;
		ylo = yhi = 0;
	}
	big = fmax(fabs(ylo), fabs(yhi));
	for (int u = 0; u < 6 && big >= 1024 * unit; u++) {
		unit *= 1024;
		unitname[0] = units[u];
	}
	ylo /= unit;
	yhi /= unit;
	if (ylo >= 0 && ylo <= 0.25 * yhi)
		ylo = 0;
	axis_make(&ay, ylo, yhi);
	if (!nodata && thi > tlo)
		axis_make(&ax, 0, thi - tlo);
	else
		axis_make(&ax, 0, 1);

	/* The legend decides the height when there are many series. */
	legend = PL_TOP + 4 + 16;
	for (size_t k = 0; k < ns; k++)
		legend += PL_ROW + (s[k].highlight || s[k].note != NULL ?
		    PL_ROW - 4 : 0);
	width = PL_LEFT + PL_PW + 24 + PL_LEGEND;
	height = PL_TOP + PL_PH + PL_BOTTOM;
	if (legend > height)
		height = legend;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
	    " viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial,"
	    " sans-serif\" font-size=\"12\">\n<title>", width, height, width,
	    height);
	put_text(out, title, SIZE_MAX);
	fputs("</title>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
	    "fill=\"white\"/>\n", width, height);
	fprintf(out, "<text x=\"%d\" y=\"28\" font-size=\"16\" "
	    "font-weight=\"bold\">", PL_LEFT);
	put_text(out, title, 90);
	fputs("</text>\n", out);

	/* Grid, ticks and their labels. */
	fputs("<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n", out);
	for (int i = 0; i <= 100; i++) {
		double v = ay.pa_first + i * ay.pa_step;

		if (v > ay.pa_hi + ay.pa_step / 2)
			break;
		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
		    PL_LEFT, py(&ay, v), PL_LEFT + PL_PW, py(&ay, v));
	}
	for (int i = 0; i <= 100; i++) {
		double v = ax.pa_first + i * ax.pa_step;

		if (v > ax.pa_hi + ax.pa_step / 2)
			break;
		fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
		    px(&ax, v), PL_TOP, px(&ax, v), PL_TOP + PL_PH);
	}
	fputs("</g>\n<g fill=\"#333333\">\n", out);
	for (int i = 0; i <= 100; i++) {
		double v = ay.pa_first + i * ay.pa_step;

		if (v > ay.pa_hi + ay.pa_step / 2)
			break;
		if (fabs(v) < ay.pa_step * 1e-9)
			v = 0;
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
		    PL_LEFT - 6, py(&ay, v) + 4);
		put_number(out, v, ay.pa_decimals);
		if (v != 0)
			fputs(unitname, out);
		fputs("</text>\n", out);
	}
	for (int i = 0; i <= 100; i++) {
		double v = ax.pa_first + i * ax.pa_step;

		if (v > ax.pa_hi + ax.pa_step / 2)
			break;
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
		    px(&ax, v), PL_TOP + PL_PH + 18);
		put_number(out, v, ax.pa_decimals);
		fputs("</text>\n", out);
	}
	fputs("</g>\n", out);
	fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"none\" stroke=\"#333333\"/>\n", PL_LEFT, PL_TOP, PL_PW, PL_PH);
	fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
	    "time (s)</text>\n", PL_LEFT + PL_PW / 2, PL_TOP + PL_PH + 42);
	fprintf(out, "<text transform=\"translate(20 %d) rotate(-90)\" "
	    "text-anchor=\"middle\">memory in use (bytes)</text>\n",
	    PL_TOP + PL_PH / 2);
	if (nodata || ns == 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		    "font-size=\"16\" fill=\"#999999\">no data</text>\n",
		    PL_LEFT + PL_PW / 2, PL_TOP + PL_PH / 2);

	/* The lines: the highlighted ones last, on top. */
	for (int pass = 0; pass < 2 && !nodata; pass++)
		for (size_t k = 0; k < ns; k++)
			if ((s[k].highlight != 0) == pass)
				put_series(out, &ax, &ay, tlo, unit, t, n, &s[k], k);

	/* The legend. */
	if (ns > 0) {
		int x = PL_LEFT + PL_PW + 24, y = PL_TOP + 4;

		fputs("<g>\n", out);
		for (size_t k = 0; k < ns; k++) {
			const struct plot_series *sp = &s[k];
			const char *dash = sp->highlight ? NULL :
			    pl_dashes[(k / PL_NCOLOURS) % 3];

			y += PL_ROW;
			fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			    "stroke=\"%s\" stroke-width=\"%.1f\"", x, y - 4, x + 26,
			    y - 4, sp->highlight ? PL_LEAK_COLOUR :
			    pl_colours[k % PL_NCOLOURS], sp->highlight ? 3.5 : 2.0);
			if (dash != NULL)
				fprintf(out, " stroke-dasharray=\"%s\"", dash);
			fprintf(out, "/>\n<text x=\"%d\" y=\"%d\"%s>", x + 34, y,
			    sp->highlight ? " font-weight=\"bold\"" : "");
			put_text(out, sp->name != NULL ? sp->name : "?",
			    PLOT_NAME_MAX);
			fputs("</text>\n", out);
			if (sp->highlight || sp->note != NULL) {
				y += PL_ROW - 4;
				fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
				    "fill=\"%s\">", x + 34, y,
				    sp->highlight ? PL_LEAK_COLOUR : "#555555");
				if (sp->highlight)
					fputs("suspected leak", out);
				if (sp->highlight && sp->note != NULL)
					fputs(", ", out);
				if (sp->note != NULL)
					put_text(out, sp->note, PLOT_NAME_MAX);
				fputs("</text>\n", out);
			}
		}
		fputs("</g>\n", out);
	}
	fputs("</svg>\n", out);
	if (fflush(out) != 0 || ferror(out)) {
		errno = EIO;
		return (-1);
	}
	return (0);
}
