/*
 * dlopen.c -- loads LIB (argv[1]) with dlopen(), unloads it, loads it again
 * and has it allocate N (argv[2]) blocks, which it holds: its type, named
 * after the library's file, holds N blocks when READY is printed.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	if (argc != 3)
		return (2);
	int n = atoi(argv[2]);
	for (int round = 0; round < 2; round++) {
		void *h = dlopen(argv[1], RTLD_NOW);
		if (h == NULL) {
			fprintf(stderr, "%s\n", dlerror());
			return (1);
		}
		int (*hold)(int) = (int (*)(int))dlsym(h, "shimdl_hold");
		void (*release)(void) = (void (*)(void))dlsym(h, "shimdl_release");
		if (hold == NULL || release == NULL || hold(n) != 0)
			return (1);
		if (round == 1) {
			printf("READY\n");
			fflush(stdout);
			while (getchar() != EOF)
				;
		}
		release();
		if (dlclose(h) != 0)
			return (1);
	}
	return (0);
}
