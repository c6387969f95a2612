/* A 1 MiB block freed twice in a row. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(1 << 20);

	memset(p, 'a', 1 << 20);
	m_free(p);
	m_free(p);
	m_churn(1 << 20, 2);
	return (m_done());
}
