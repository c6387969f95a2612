/* A write one byte past a 1 MiB block. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(1 << 20);

	memset(p, 'a', 1 << 20);
	m_store(p, 1 << 20, 'x');
	m_free(p);
	m_churn(1 << 20, 2);
	return (m_done());
}
