/* A free of the address of a local array. */
#include "misuse.h"

int
main(void)
{
	char local[64];

	memset(local, 'a', sizeof(local));
	m_free(local + 16);
	m_churn(48, 64);
	return (m_done());
}
