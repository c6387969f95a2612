/* badfree.c -- a misuse of free() or realloc(), named by argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*volatile p_free)(void *) = free;
static void *(*volatile p_realloc)(void *, size_t) = realloc;

int
main(int argc, char **argv)
{
	static char not_heap[64];
	char *p = malloc(100);
	char *big = malloc(1 << 20);

	if (argc != 2 || p == NULL || big == NULL)
		return (2);
	if (strcmp(argv[1], "interior") == 0)
		p_free(p + 16);
	else if (strcmp(argv[1], "double") == 0) {
		p_free(p);
		p_free(p);
	} else if (strcmp(argv[1], "foreign") == 0)
		p_free(not_heap);
	else if (strcmp(argv[1], "large-interior") == 0)
		p_free(big + 4096);
	else if (strcmp(argv[1], "realloc-freed") == 0) {
		p_free(p);
		p = p_realloc(p, 200);
	}
	return (0);
}
