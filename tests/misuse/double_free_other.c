/* free(a), free(b), free(a): another block freed between the two frees. */
#include "misuse.h"

int
main(void)
{
	char *a = m_malloc(32);
	char *b = m_malloc(32);

	m_free(a);
	m_free(b);
	m_free(a);
	m_churn(32, 64);
	return (m_done());
}
