/*
 * live.c -- a kmem process for the kmemstat tests: three blocks of the
 * malloc type "kslive" (100 bytes each: class 112) stay allocated; prints
 * "ready" and waits for its standard input to close, then frees them and
 * exits normally.
 */
#include <stdio.h>

#include <kmem/malloc.h>

MALLOC_DEFINE(M_KSLIVE, "kslive", "kmemstat test blocks");

int
main(void)
{
	void *p[3];
	char buf[64];

	for (int i = 0; i < 3; i++)
		if ((p[i] = kmalloc(100, M_KSLIVE, M_WAITOK)) == NULL)
			return (1);
	printf("ready\n");
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin) != NULL)
		;
	for (int i = 0; i < 3; i++)
		kfree(p[i], M_KSLIVE);
	return (0);
}
