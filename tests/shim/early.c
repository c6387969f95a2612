/*
 * early.c -- a library preloaded beside libkmem-preload.so whose
 * constructor allocates, calls dlsym() and starts a thread that allocates,
 * possibly before the shim's own constructor ran.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *
early_thread(void *arg)
{
	for (int i = 0; i < 1000; i++)
		free(malloc((size_t)i * 13));
	return (arg);
}

static void __attribute__((constructor))
early_ctor(void)
{
	char *p = malloc(100);
	void *sym = dlsym(RTLD_NEXT, "malloc");
	void *def = dlsym(RTLD_DEFAULT, "no_such_symbol_anywhere");
	const char *err = dlerror();
	pthread_t t;

	if (p == NULL || sym == NULL || def != NULL || err == NULL)
		abort();
	strcpy(p, "early");
	p = realloc(p, 5000);
	if (p == NULL || strcmp(p, "early") != 0)
		abort();
	if (pthread_create(&t, NULL, early_thread, p) != 0)
		abort();
	void *r;
	pthread_join(t, &r);
	if (r != p)
		abort();
	free(p);
	static const char msg[] = "early: ok\n";
	(void)!write(2, msg, sizeof(msg) - 1);
}
