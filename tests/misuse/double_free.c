/* The same 32-byte block freed twice in a row. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	m_free(p);
	m_free(p);
	m_churn(32, 64);
	return (m_done());
}
