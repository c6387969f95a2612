/* A realloc() of a 32-byte block already freed. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	memset(p, 'a', 32);
	m_free(p);
	p = m_realloc(p, 64);
	m_churn(32, 64);
	return (m_done());
}
