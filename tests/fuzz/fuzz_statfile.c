/*
 * fuzz_statfile.c -- the statistics-file reader (memstat_file_all(), what
 * kmemstat -M reads a file with) over any file content.
 *
 * The input is the file: it is written to a scratch file and read.  The
 * seed corpus holds a valid file whose areas have room for a few records
 * (the reader takes any kh_max_records) and truncations of it, so the
 * inputs stay small.  The reader must give an error code of its own or a
 * list whose every type has a terminated name and a known allocator; it
 * must not crash, hang or touch memory outside the file's mapping and its
 * own buffers (AddressSanitizer).
 *
 * A file that names a live process is read from the live process (the
 * reader asks it for a snapshot and waits for it up to a second): a pid
 * that names a process that exists is replaced by one that no Linux system
 * hands out, so that every input is read as a dead process's file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <kmem/memstat.h>

#include "fuzz.h"
#include "stats/kms_layout.h"

#define FS_DEAD_PID UINT64_C(99999999) /* above any pid_max */

static char fs_path[4096];

static void
fs_fail(const char *fmt, const char *arg)
{
	fz_fail(NULL, "fuzz_statfile", fmt, arg);
}

static void
fs_write(const uint8_t *data, size_t size)
{
	struct kms_header h;
	int fd;

	fd = open(fs_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fs_fail("cannot write %s", fs_path);
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		fs_fail("cannot write %s", fs_path);
	if (size >= offsetof(struct kms_header, kh_pid) + sizeof(h.kh_pid)) {
		memcpy(&h.kh_pid, data + offsetof(struct kms_header, kh_pid),
		    sizeof(h.kh_pid));
		pid_t pid = (pid_t)h.kh_pid;
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) {
			h.kh_pid = FS_DEAD_PID;
			if (pwrite(fd, &h.kh_pid, sizeof(h.kh_pid),
			    offsetof(struct kms_header, kh_pid)) !=
			    (ssize_t)sizeof(h.kh_pid))
				fs_fail("cannot write %s", fs_path);
		}
	}
	close(fd);
}

static void
fs_check_list(struct memory_type_list *list)
{
	struct memstat_kmem mk;
	size_t n = 0;

	if (memstat_mtl_geterror(list) != MEMSTAT_ERROR_UNDEFINED)
		fs_fail("a read that succeeded left an error: %s",
		    memstat_strerror(memstat_mtl_geterror(list)));
	if (memstat_get_kmem(list, &mk) != 0)
		fs_fail("a read that succeeded has no map figures%s", "");
	if (strnlen(mk.mk_command, sizeof(mk.mk_command)) >=
	    sizeof(mk.mk_command))
		fs_fail("the command name is not terminated%s", "");
	if (mk.mk_version != KMS_VERSION)
		fs_fail("a file of another layout version was read%s", "");
	if (mk.mk_live)
		fs_fail("a file of a dead process reads as live%s", "");
	for (struct memory_type *mt = memstat_mtl_first(list); mt != NULL;
	    mt = memstat_mtl_next(mt), n++) {
		const char *name = memstat_get_name(mt);
		if (strnlen(name, MEMTYPE_MAXNAME) >= MEMTYPE_MAXNAME)
			fs_fail("a type's name is not terminated%s", "");
		if (memstat_get_allocator(mt) != ALLOCATOR_MALLOC &&
		    memstat_get_allocator(mt) != ALLOCATOR_UMA)
			fs_fail("type %s has an unknown allocator", name);
		if (memstat_mtl_find(list, memstat_get_allocator(mt), name) ==
		    NULL)
			fs_fail("type %s is listed but not found", name);
		(void)memstat_get_bytes(mt);
		(void)memstat_get_pages(mt);
		if (n > (1u << 24))
			fs_fail("more types than a file can hold%s", "");
	}
}

static void
fs_check_error(struct memory_type_list *list)
{
	switch (memstat_mtl_geterror(list)) {
	case MEMSTAT_ERROR_NOMEMORY:
	case MEMSTAT_ERROR_VERSION:
	case MEMSTAT_ERROR_DATAERROR:
	case MEMSTAT_ERROR_NOTFOUND:
	case MEMSTAT_ERROR_NOTSTATS:
	case MEMSTAT_ERROR_TRUNCATED:
		break;
	default:
		fs_fail("a read that failed gave the error \"%s\"",
		    memstat_strerror(memstat_mtl_geterror(list)));
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TMPDIR");

	snprintf(fs_path, sizeof(fs_path), "%s/kmem-fuzz-statfile.%d",
	    dir != NULL && *dir != '\0' ? dir : "/tmp", (int)getpid());
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memory_type_list *list = memstat_mtl_alloc();

	if (list == NULL)
		fs_fail("memstat_mtl_alloc failed%s", "");
	fs_write(data, size);
	/* Twice: a list is reused by repeated reads (kmemstat -w). */
	for (int i = 0; i < 2; i++) {
		if (memstat_file_all(list, fs_path) == 0)
			fs_check_list(list);
		else
			fs_check_error(list);
	}
	memstat_mtl_free(list);
	unlink(fs_path);
	return (0);
}
