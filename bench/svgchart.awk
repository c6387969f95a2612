# bench/svgchart.awk -- a grouped bar chart of ratios, as SVG:
#
#   awk -f svgchart.awk -v title=TEXT -v ref=ALLOC [-v note=TEXT] DATA >FILE.svg
#
# DATA has lines "GROUP ALLOCATOR RATIO" (bench/report.awk writes them):
# one group of bars per GROUP, one bar per allocator, in the order they
# first appear; the reference allocator REF (whose ratio is 1 by
# definition) is drawn as the line at 1 instead.  The scale is
# logarithmic, so that 2 x slower and 2 x faster are bars of one length;
# bars start at 1 and go up (more than REF) or down (less).  Ratios
# outside 1/64..256 are drawn to the edge and labelled.  A malformed line
# ends the run with status 1 and a message naming it.
function fail(msg) {
	printf "svgchart: %s:%d: %s\n", FILENAME, FNR, msg >"/dev/stderr"
	bad = 1
	exit 1
}
function esc(s) {
	gsub(/&/, "\\&amp;", s)
	gsub(/</, "\\&lt;", s)
	gsub(/>/, "\\&gt;", s)
	return (s)
}
function l2(v) {
	return (log(v) / log(2))
}
function ypos(v) {
	return (top + (l2(ymax) - l2(v)) / (l2(ymax) - l2(ymin)) * plot_h)
}
/^[ \t]*$/ { next }
{
	if (NF != 3)
		fail("want \"GROUP ALLOCATOR RATIO\", got \"" $0 "\"")
	if ($3 !~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ || $3 + 0 <= 0)
		fail("ratio \"" $3 "\" is not a positive number")
	if ($1 == "" || $2 == "")
		fail("empty name")
	if (!($1 in gi)) {
		gi[$1] = ++ng
		G[ng] = $1
	}
	if ($2 == ref)
		next
	if (!($2 in ai)) {
		ai[$2] = ++na
		A[na] = $2
	}
	v[$1, $2] = $3 + 0
	nv++
}
END {
	if (bad)
		exit 1
	if (nv == 0) {
		printf "svgchart: %s: no ratios to draw\n",
		    (FILENAME == "" ? "-" : FILENAME) >"/dev/stderr"
		exit 1
	}
	palette["glibc"] = "#8c8c8c"
	palette["jemalloc"] = "#4e79a7"
	palette["mimalloc"] = "#59a14f"
	palette["tcmalloc"] = "#f28e2b"
	palette["kmem"] = "#e15759"
	palette["kmem-single"] = "#b07aa1"
	spare[1] = "#76b7b2"
	spare[2] = "#edc948"
	spare[3] = "#9c755f"
	spare[4] = "#bab0ac"
	# The scale: powers of 2 around every value, at least 1/2..2.
	lo = 1 / 2
	hi = 2
	for (k in v) {
		if (v[k] < lo)
			lo = v[k]
		if (v[k] > hi)
			hi = v[k]
	}
	ymin = 2 ^ int(l2(lo) - 0.999999)
	ymax = 2 ^ int(l2(hi) + 0.999999)
	if (ymin < 1 / 64)
		ymin = 1 / 64
	if (ymax > 256)
		ymax = 256
	barw = 11
	gap = 16
	groupw = na * barw + gap
	left = 64
	top = 56
	plot_h = 300
	width = left + ng * groupw + 24
	if (width < 520)
		width = 520
	height = top + plot_h + 96
	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
	    width, height, width, height
	printf "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height
	printf "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">%s</text>\n",
	    left, esc(title)
	if (note != "")
		printf "<text x=\"%d\" y=\"34\" fill=\"#555555\">%s</text>\n", left, esc(note)
	# Grid lines at the powers of 2, the reference's line at 1.
	for (p = ymin; p <= ymax * 1.0001; p *= 2) {
		y = ypos(p)
		printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
		    left, y, left + ng * groupw, y, (p == 1 ? "#000000" : "#dddddd"),
		    (p == 1 ? "1.5" : "1")
		lab = p >= 1 ? sprintf("%g", p) : sprintf("1/%g", 1 / p)
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
		    left - 6, y + 4, lab
	}
	printf "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">ratio to %s (log scale)</text>\n",
	    top + plot_h / 2, top + plot_h / 2, esc(ref)
	y1 = ypos(1)
	for (i = 1; i <= ng; i++) {
		x0 = left + (i - 1) * groupw + gap / 2
		if (i > 1 && G[i] == "geo-mean")
			printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#999999\" stroke-dasharray=\"3,3\"/>\n",
			    x0 - gap / 2, top, x0 - gap / 2, top + plot_h
		for (j = 1; j <= na; j++) {
			a = A[j]
			if (!((G[i], a) in v))
				continue
			r = v[G[i], a]
			c = r
			if (c < ymin)
				c = ymin
			if (c > ymax)
				c = ymax
			y = ypos(c)
			ya = y < y1 ? y : y1
			h = y < y1 ? y1 - y : y - y1
			if (h < 1)
				h = 1
			col = (a in palette) ? palette[a] : spare[(j - 1) % 4 + 1]
			printf "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s, %s: %.2f x %s</title></rect>\n",
			    x0 + (j - 1) * barw, ya, barw - 1, h, col, esc(G[i]), esc(a), r, esc(ref)
			if (c != r)
				printf "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">%.0f</text>\n",
				    x0 + (j - 0.5) * barw, (r > 1 ? y - 3 : y + 10), r
		}
		xl = x0 + na * barw / 2
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" transform=\"rotate(-35 %.1f %d)\">%s</text>\n",
		    xl, top + plot_h + 14, xl, top + plot_h + 14, esc(G[i])
	}
	# The legend.
	x = left
	y = height - 14
	for (j = 1; j <= na; j++) {
		a = A[j]
		col = (a in palette) ? palette[a] : spare[(j - 1) % 4 + 1]
		printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", x, y - 9, col
		printf "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 14, y, esc(a)
		x += 24 + 7 * length(a)
	}
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000000\" stroke-width=\"1.5\"/>\n",
	    x, y - 4, x + 16, y - 4
	printf "<text x=\"%d\" y=\"%d\">%s = 1</text>\n", x + 20, y, esc(ref)
	print "</svg>"
}
