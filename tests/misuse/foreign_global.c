/* A free of the address of a global array. */
#include "misuse.h"

static char global[64];

int
main(void)
{
	memset(global, 'a', sizeof(global));
	m_free(global + 16);
	m_churn(48, 64);
	return (m_done());
}
