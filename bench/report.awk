# bench/report.awk -- the tables of bench/preload.sh for one figure:
#
#   awk -f report.awk -v fig=FIGURE -v works="W ..." -v whos="A ..." \
#       -v ref=ALLOC -v threaded="W ..." [-v chart=FILE] [-v values_only=1] \
#       RESULTS
#
# RESULTS has lines "FIGURE WORKLOAD ALLOCATOR VALUE ROUND"; FIGURE is a
# memory figure ("rss", "frss": KiB) or any other ("time": seconds, or a
# ratio).  Prints two Markdown tables (the first only, with values_only): the median of each workload and allocator with the
# min-max range beside (MB of 10^6 bytes for memory), and each median's
# ratio to the reference allocator's; the last row of each is the
# geometric mean over the workloads that every allocator ran.  Workloads
# in THREADED are marked with "*".  With CHART, the ratios also go to
# that file as "WORKLOAD ALLOCATOR RATIO" lines (bench/svgchart.awk), the
# geometric mean as the workload "geo-mean".
function median(k, n, i, j, t, a) {
	n = cnt[k]
	for (i = 1; i <= n; i++)
		a[i] = val[k, i]
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	lo[k] = a[1]
	hi[k] = a[n]
	return (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
}
function num(v) {
	if (fig == "rss" || fig == "frss")
		return (sprintf("%.1f", v * 1024 / 1e6))
	return (sprintf("%.3f", v))
}
function cell(k) {
	if (!(k in med))
		return ("-")
	if (cnt[k] == 1)
		return (num(med[k]))
	return (num(med[k]) " (" num(lo[k]) "-" num(hi[k]) ")")
}
$1 == fig {
	k = $2 SUBSEP $3
	cnt[k]++
	val[k, cnt[k]] = $4 + 0
}
END {
	nw = split(works, W, " ")
	na = split(whos, A, " ")
	nt = split(threaded, T, " ")
	for (i = 1; i <= nt; i++)
		isthr[T[i]] = 1
	for (k in cnt)
		med[k] = median(k)
	# The workloads every allocator ran (and with a value above 0) make
	# the geometric means.
	for (i = 1; i <= nw; i++) {
		full[W[i]] = 1
		for (j = 1; j <= na; j++)
			if (!((W[i], A[j]) in med) || med[W[i], A[j]] <= 0)
				full[W[i]] = 0
	}
	hdr = "| workload |"
	sep = "|---|"
	for (j = 1; j <= na; j++) {
		hdr = hdr " " A[j] " |"
		sep = sep "---:|"
	}
	unit = fig == "time" ? ", s" : (fig == "rss" || fig == "frss") ? ", MB" : ""
	print "Median (min-max)" unit ":"
	print ""
	print hdr
	print sep
	for (i = 1; i <= nw; i++) {
		w = W[i]
		row = "| " w (isthr[w] ? " *" : "") " |"
		for (j = 1; j <= na; j++)
			row = row " " cell(w SUBSEP A[j]) " |"
		print row
	}
	row = "| geometric mean |"
	for (j = 1; j <= na; j++) {
		s = 0
		n = 0
		for (i = 1; i <= nw; i++)
			if (full[W[i]]) {
				s += log(med[W[i], A[j]])
				n++
			}
		row = row " " (n ? num(exp(s / n)) : "-") " |"
	}
	print row
	if (values_only)
		exit
	print ""
	print "Ratio to " ref " (below 1: less than " ref "):"
	print ""
	print hdr
	print sep
	for (i = 1; i <= nw; i++) {
		w = W[i]
		row = "| " w (isthr[w] ? " *" : "") " |"
		r = w SUBSEP ref
		for (j = 1; j <= na; j++) {
			k = w SUBSEP A[j]
			if (!(k in med) || !(r in med) || med[r] <= 0) {
				row = row " - |"
				continue
			}
			row = row sprintf(" %.2f |", med[k] / med[r])
			if (chart != "")
				printf "%s%s %s %.4f\n", w, (isthr[w] ? "*" : ""),
				    A[j], med[k] / med[r] >chart
		}
		print row
	}
	row = "| geometric mean |"
	for (j = 1; j <= na; j++) {
		s = 0
		n = 0
		for (i = 1; i <= nw; i++)
			if (full[W[i]]) {
				s += log(med[W[i], A[j]] / med[W[i], ref])
				n++
			}
		if (n == 0) {
			row = row " - |"
			continue
		}
		row = row sprintf(" %.2f |", exp(s / n))
		if (chart != "")
			printf "geo-mean %s %.4f\n", A[j], exp(s / n) >chart
	}
	print row
}
