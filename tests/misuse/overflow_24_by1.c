/* A write one byte past a 24-byte block (not a kmem class size). */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(24);

	memset(p, 'a', 24);
	m_store(p, 24, 'x');
	m_free(p);
	m_churn(24, 64);
	return (m_done());
}
