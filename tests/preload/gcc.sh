#!/bin/sh
# gcc compiling and linking a C file under kmem run (the driver, cc1, as,
# collect2 and ld all on kmem); the program it made runs as the one that
# gcc made without kmem.
name=preload_gcc
. "$(dirname "$0")/common.sh"
need /usr/bin/gcc gcc
cat > "$tmp/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	int value;
};

int
main(void)
{
	struct node *head = NULL;
	long sum = 0;

	for (int i = 0; i < 1000; i++) {
		struct node *n = malloc(sizeof(*n));
		n->value = i;
		n->next = head;
		head = n;
	}
	while (head != NULL) {
		struct node *n = head->next;
		sum += head->value;
		free(head);
		head = n;
	}
	printf("hello, world: %ld, %zu\n", sum, strlen("kmem"));
	return (0);
}
C
with_glibc build /usr/bin/gcc -O2 -Wall -o "$tmp/prog-glibc" "$tmp/hello.c"
[ $glibc_rc -eq 0 ] || fail "gcc fails under glibc: $(tail -5 "$tmp/build.glibc.err")"
with_kmem build -- /usr/bin/gcc -O2 -Wall -o "$tmp/prog-kmem" "$tmp/hello.c"
same build
[ -x "$tmp/prog-kmem" ] || fail "gcc under kmem made no program"
with_glibc hello "$tmp/prog-glibc"
with_kmem hello -- "$tmp/prog-kmem"
same hello
grep -qx "hello, world: 499500, 4" "$tmp/hello.kmem" ||
	fail "hello: printed $(cat "$tmp/hello.kmem")"
names build '^ *libc\.so\.6 +[0-9]+ ' "libc.so.6"
names build '^processes it started on kmem:$' "the compiler's processes"
names build '^  cc1 \(pid [0-9]+, exited\): most held: ' "cc1"
finish
