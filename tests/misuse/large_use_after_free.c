/* A write to, then a read of, a 1 MiB block after its free. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(1 << 20);

	memset(p, 'a', 1 << 20);
	m_free(p);
	m_store(p, 4096, 'x');
	unsigned char c = m_load(p, 8192);
	printf("read 0x%02x after free (%s)\n", c,
	    c == 'a' ? "the old contents" : "changed");
	m_churn(1 << 20, 2);
	return (m_done());
}
