/* A read of a 32-byte block after its free; the value read is printed. */
#include "misuse.h"

int
main(void)
{
	char *p = m_malloc(32);

	strcpy(p, "secret");
	m_free(p);
	unsigned char c = m_load(p, 0);
	printf("read 0x%02x after free (%s)\n", c,
	    c == 's' ? "the old contents" : "changed");
	return (m_done());
}
