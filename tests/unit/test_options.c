/*
 * test_options.c -- the tunables table and its parser (src/platform/options.c)
 * and kmem_setopt()/KMEM_OPTIONS precedence.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"
#include "kmem/kmem_int.h"
#include "platform/options.h"

static int
setup(void **state)
{
	kopt_reset();
	return (0);
}

static void
test_parse_size(void **state)
{
	uint64_t v = 0;

	assert_int_equal(kopt_parse_size("64M", 3, &v), 0);
	assert_int_equal(v, UINT64_C(64) << 20);
	assert_int_equal(kopt_parse_size("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(kopt_parse_size("1k", 2, &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(kopt_parse_size("3G", 2, &v), 0);
	assert_int_equal(v, UINT64_C(3) << 30);
	assert_int_equal(kopt_parse_size("2T", 2, &v), 0);
	assert_int_equal(v, UINT64_C(2) << 40);
	assert_int_equal(kopt_parse_size("12345", 5, &v), 0);
	assert_int_equal(v, 12345);
	/* Only the first n characters count. */
	assert_int_equal(kopt_parse_size("64M,junk", 3, &v), 0);
	assert_int_equal(v, UINT64_C(64) << 20);

	assert_int_equal(kopt_parse_size("", 0, &v), EINVAL);
	assert_int_equal(kopt_parse_size("M", 1, &v), EINVAL);
	assert_int_equal(kopt_parse_size("12x", 3, &v), EINVAL);
	assert_int_equal(kopt_parse_size("12MB", 4, &v), EINVAL);
	assert_int_equal(kopt_parse_size("-1", 2, &v), EINVAL);
	assert_int_equal(kopt_parse_size("99999999999999999999", 20, &v), ERANGE);
	assert_int_equal(kopt_parse_size("16777216T", 9, &v), ERANGE);
}

static void
test_set_and_format(void **state)
{
	size_t n, row = SIZE_MAX;
	const struct kopt_desc *t = kopt_table(&n);
	char buf[64];

	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].kd_name, "kmem_size") == 0)
			row = i;
	assert_true(row != SIZE_MAX);
	assert_int_equal(kopt_source_of(row), KOPT_SRC_DEFAULT);
	assert_int_equal(kopt_set("kmem_size", "64M", KOPT_SRC_SETOPT, "test"), 0);
	assert_int_equal(kopt.kmem_size, UINT64_C(64) << 20);
	assert_int_equal(kopt_source_of(row), KOPT_SRC_SETOPT);
	kopt_format(row, buf, sizeof(buf));
	assert_string_equal(buf, "64M");
	assert_int_equal(kopt_set("kmem_size", "1000", KOPT_SRC_SETOPT, "test"), 0);
	kopt_format(row, buf, sizeof(buf));
	assert_string_equal(buf, "1000");

	assert_int_equal(kopt_set("verbose", "yes", KOPT_SRC_SETOPT, "t"), 0);
	assert_true(kopt.verbose);
	assert_int_equal(kopt_set("verbose", "off", KOPT_SRC_SETOPT, "t"), 0);
	assert_false(kopt.verbose);
	assert_int_equal(kopt_set("wait_warn_ms", "250", KOPT_SRC_SETOPT, "t"), 0);
	assert_int_equal(kopt.wait_warn_ms, 250);
}

static void
test_every_default_parses(void **state)
{
	size_t n;
	const struct kopt_desc *t = kopt_table(&n);

	assert_true(n >= 6);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].kd_desc);
		assert_true(strlen(t[i].kd_desc) > 10);
		assert_int_equal(kopt_set(t[i].kd_name, t[i].kd_default,
		    KOPT_SRC_DEFAULT, "test"), 0);
	}
}

static void
child_unknown(void *arg)
{
	KT_CHECK(kopt_set("kmem_sise", "64M", KOPT_SRC_SETOPT, "kmem_setopt") ==
	    EINVAL);
}

static void
child_bad_value(void *arg)
{
	KT_CHECK(kopt_set("kmem_size", "64Q", KOPT_SRC_SETOPT, "kmem_setopt") ==
	    EINVAL);
	KT_CHECK(kopt.kmem_size == 0); /* unchanged */
}

static void
child_out_of_range(void *arg)
{
	KT_CHECK(kopt_set("kmem_size_scale", "0", KOPT_SRC_SETOPT,
	    "kmem_setopt") == EINVAL);
	KT_CHECK(kopt.kmem_size_scale == 1);
}

static void
child_list(void *arg)
{
	int refused = kopt_parse_list(
	    "kmem_size=32M,,wait_warn_ms=5,bogus=1,verbose,verbose=yes,",
	    KOPT_SRC_ENV, "KMEM_OPTIONS");
	KT_CHECK(refused == 2);
	KT_CHECK(kopt.kmem_size == (UINT64_C(32) << 20));
	KT_CHECK(kopt.wait_warn_ms == 5);
	KT_CHECK(kopt.verbose);
}

static void
test_messages(void **state)
{
	struct kt_result r;

	kt_child(child_unknown, NULL, &r);
	assert_int_equal(r.kr_exited, 1);
	assert_int_equal(r.kr_status, 0);
	assert_string_equal(r.kr_err,
	    "kmem: kmem_setopt: unknown option 'kmem_sise'\n");

	kt_child(child_bad_value, NULL, &r);
	assert_int_equal(r.kr_status, 0);
	assert_string_equal(r.kr_err, "kmem: kmem_setopt: kmem_size=64Q: bad "
	    "value (expected a size such as 64M)\n");

	kt_child(child_out_of_range, NULL, &r);
	assert_int_equal(r.kr_status, 0);
	assert_non_null(strstr(r.kr_err, "kmem_size_scale=0: out of range (1 to"));

	kt_child(child_list, NULL, &r);
	assert_int_equal(r.kr_status, 0);
	assert_non_null(strstr(r.kr_err,
	    "kmem: KMEM_OPTIONS: unknown option 'bogus' (in 'bogus=1')\n"));
	assert_non_null(strstr(r.kr_err,
	    "kmem: KMEM_OPTIONS: 'verbose': expected name=value\n"));
}

/* KMEM_OPTIONS applies after kmem_setopt() and freezes boot-only rows. */
static void
child_precedence(void *arg)
{
	setenv("KMEM_OPTIONS", "kmem_size=8M,kmem_bogus=3,stats=0", 1);
	KT_CHECK(kmem_setopt("kmem_size", "4M") == 0);
	KT_CHECK(kmem_setopt("wait_warn_ms", "7") == 0);
	KT_CHECK(kmem_init() == 0);
	KT_CHECK(kmem_size() == (size_t)8 << 20);
	KT_CHECK(kopt.wait_warn_ms == 7);
	KT_CHECK(kmem_setopt("kmem_size", "16M") == EBUSY);
	KT_CHECK(kmem_size() == (size_t)8 << 20);
	KT_CHECK(kmem_setopt("wait_warn_ms", "9") == 0); /* run-time tunable */
	KT_CHECK(kopt.wait_warn_ms == 9);
}

static void
test_precedence(void **state)
{
	struct kt_result r;

	kt_child(child_precedence, NULL, &r);
	assert_int_equal(r.kr_exited, 1);
	if (r.kr_status != 0)
		fail_msg("child failed:\n%s", r.kr_err);
	assert_non_null(strstr(r.kr_err, "unknown option 'kmem_bogus'"));
	assert_non_null(strstr(r.kr_err,
	    "kmem_setopt: kmem_size can only be set before kmem is first used"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_parse_size, setup),
		cmocka_unit_test_setup(test_set_and_format, setup),
		cmocka_unit_test_setup(test_every_default_parses, setup),
		cmocka_unit_test_setup(test_messages, setup),
		cmocka_unit_test_setup(test_precedence, setup),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
