/*
 * human.h -- byte counts for people, as kmem_report() writes them: "512 B",
 * "8.00 MiB", "80.0 MiB", "512 MiB".  Shared by the tools.
 */
#ifndef KMEM_TOOLS_HUMAN_H
#define KMEM_TOOLS_HUMAN_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static inline void
tool_human(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB",
		"PiB", "EiB"};
	double d = (double)v;
	int u = 0;

	while (d >= 1024.0 && u < 6) {
		d /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.*f %s", d < 10.0 ? 2 : d < 100.0 ? 1 : 0, d,
		    unit[u]);
}

#endif /* KMEM_TOOLS_HUMAN_H */
