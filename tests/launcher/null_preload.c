/*
 * null_preload.c -- a preload library that does nothing, for the kmem run
 * tests that run the stand-in (standin.c), which is on kmem by itself.
 */
int kmem_null_preload(void);

int
kmem_null_preload(void)
{
	return (0);
}
