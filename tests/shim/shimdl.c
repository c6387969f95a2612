/* shimdl.c -- a library, loaded with dlopen(), that allocates and holds. */
#include <stdlib.h>

void *shimdl_held[1000];
int shimdl_hold(int n);
void shimdl_release(void);

int
shimdl_hold(int n)
{
	for (int i = 0; i < n && i < 1000; i++)
		if ((shimdl_held[i] = malloc((size_t)(i % 700) + 1)) == NULL)
			return (-1);
	return (0);
}

void
shimdl_release(void)
{
	for (int i = 0; i < 1000; i++) {
		free(shimdl_held[i]);
		shimdl_held[i] = NULL;
	}
}
