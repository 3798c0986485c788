/* test_guestmem.c - the test guest memory: bounds, read-only, holes, races. */
#include "support/check.h"
#include "support/guestmem.h"

#include <errno.h>

/* One read or cmpxchg through the walker's view of gm, smmu_gpa_ops. */
static int ops_read(struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t *val)
{
	struct smmu_gpa_ops ops = guestmem_ops(gm);

	return ops.read(ops.ctx, gpa, size, val);
}

static int ops_cmpxchg(struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t old,
                       uint64_t new_val)
{
	struct smmu_gpa_ops ops = guestmem_ops(gm);

	return ops.cmpxchg(ops.ctx, gpa, size, old, new_val);
}

static void test_guestmem_rejects_bad_sizes(void)
{
	CHECK(guestmem_create(0) == NULL);
	CHECK(guestmem_create(4095) == NULL);
}

static void test_guestmem_reads_back_little_endian_values(void)
{
	struct guestmem *gm = guestmem_create(0x2000);
	uint64_t v = 0;

	CHECK_EQ(guestmem_write64(gm, 0x1008, 0x1122334455667788ull), 0);
	CHECK_EQ(ops_read(gm, 0x1008, 4, &v), 0);
	CHECK_EQ(v, 0x55667788);
	CHECK_EQ(ops_read(gm, 0x100c, 4, &v), 0);
	CHECK_EQ(v, 0x11223344);
	CHECK_EQ(*(uint8_t *)guestmem_hva(gm, 0x1008), 0x88);
	guestmem_destroy(gm);
}

static void test_guestmem_rejects_unaligned_odd_size_and_out_of_range(void)
{
	struct guestmem *gm = guestmem_create(0x2000);
	uint64_t v;

	CHECK_EQ(ops_read(gm, 0x1004, 8, &v), -EINVAL);
	CHECK_EQ(ops_read(gm, 0x1000, 2, &v), -EINVAL);
	CHECK_EQ(ops_read(gm, 0x2000, 8, &v), -EFAULT);
	CHECK_EQ(ops_read(gm, ~7ull, 8, &v), -EFAULT);
	CHECK_EQ(ops_cmpxchg(gm, 0x2000, 8, 0, 1), -EFAULT);
	CHECK_EQ(guestmem_write64(gm, 0x1ff8 + 8, 1), -EFAULT);
	CHECK_EQ(guestmem_set_hole(gm, 0x1000, 0x2000), -EINVAL);
	CHECK_EQ(guestmem_set_readonly(gm, 0x800, 0x1000), -EINVAL);
	CHECK(guestmem_hva(gm, 0x2000) == NULL);
	guestmem_destroy(gm);
}

static void test_guestmem_cmpxchg_swaps_only_on_match(void)
{
	struct guestmem *gm = guestmem_create(0x1000);

	guestmem_write32(gm, 0x10, 5);
	CHECK_EQ(ops_cmpxchg(gm, 0x10, 4, 4, 9), 1);
	CHECK_EQ(guestmem_peek(gm, 0x10, 4), 5);
	CHECK_EQ(ops_cmpxchg(gm, 0x10, 4, 5, 9), 0);
	CHECK_EQ(guestmem_peek(gm, 0x10, 4), 9);
	CHECK_EQ(guestmem_stats(gm).cmpxchg_writes, 1);
	guestmem_destroy(gm);
}

static void test_guestmem_readonly_page_refuses_cmpxchg_but_not_host_writes(void)
{
	struct guestmem *gm = guestmem_create(0x2000);
	uint64_t v;

	CHECK_EQ(guestmem_set_readonly(gm, 0x1000, 0x1000), 0);
	CHECK_EQ(guestmem_write64(gm, 0x1000, 7), 0);
	CHECK_EQ(ops_cmpxchg(gm, 0x1000, 8, 7, 8), -EROFS);
	CHECK_EQ(ops_read(gm, 0x1000, 8, &v), 0);
	CHECK_EQ(v, 7);
	guestmem_destroy(gm);
}

static void test_guestmem_hole_is_unbacked(void)
{
	struct guestmem *gm = guestmem_create(0x3000);
	uint64_t v;

	CHECK_EQ(guestmem_set_hole(gm, 0x1000, 0x1000), 0);
	CHECK_EQ(ops_read(gm, 0x1ff8, 8, &v), -EFAULT);
	CHECK_EQ(ops_read(gm, 0x2000, 8, &v), 0);
	CHECK_EQ(guestmem_write64(gm, 0x1000, 1), -EFAULT);
	guestmem_destroy(gm);
}

static void test_guestmem_injected_races_fail_then_succeed(void)
{
	struct guestmem *gm = guestmem_create(0x1000);

	guestmem_inject_races(gm, 2);
	CHECK_EQ(ops_cmpxchg(gm, 0, 8, 0, 1), 1);
	CHECK_EQ(ops_cmpxchg(gm, 0, 8, 0, 1), 1);
	CHECK_EQ(guestmem_peek(gm, 0, 8), 0);
	CHECK_EQ(ops_cmpxchg(gm, 0, 8, 0, 1), 0);
	CHECK_EQ(guestmem_stats(gm).races, 2);
	/* A racing guest store lands just before the next cmpxchg. */
	CHECK_EQ(guestmem_race_store(gm, 8, 8, 0x55), 0);
	CHECK_EQ(ops_cmpxchg(gm, 8, 8, 0, 1), 1);
	CHECK_EQ(guestmem_peek(gm, 8, 8), 0x55);
	CHECK_EQ(guestmem_race_store(gm, 0x1000, 8, 0), -EFAULT);
	guestmem_destroy(gm);
}

static void test_guestmem_copy_clone_and_compare(void)
{
	struct guestmem *a = guestmem_create(0x2000), *b, *c = guestmem_create(0x1000);
	uint64_t diff = 0;

	guestmem_set_readonly(a, 0x1000, 0x1000);
	guestmem_write64(a, 0x1100, 3);
	b = guestmem_clone(a);
	CHECK(guestmem_equal(a, b, NULL));
	CHECK_EQ(guestmem_ops(b).cmpxchg(b, 0x1100, 8, 3, 4), -EROFS);
	guestmem_write32(b, 0x1104, 1);
	CHECK(!guestmem_equal(a, b, &diff));
	CHECK_EQ(diff, 0x1104);
	CHECK_EQ(guestmem_copy(b, a), 0);
	CHECK(guestmem_equal(a, b, NULL));
	CHECK_EQ(guestmem_copy(c, a), -EINVAL);
	CHECK(!guestmem_equal(a, c, NULL));
	guestmem_destroy(a);
	guestmem_destroy(b);
	guestmem_destroy(c);
}

int main(void)
{
	RUN(test_guestmem_rejects_bad_sizes);
	RUN(test_guestmem_reads_back_little_endian_values);
	RUN(test_guestmem_rejects_unaligned_odd_size_and_out_of_range);
	RUN(test_guestmem_cmpxchg_swaps_only_on_match);
	RUN(test_guestmem_readonly_page_refuses_cmpxchg_but_not_host_writes);
	RUN(test_guestmem_hole_is_unbacked);
	RUN(test_guestmem_injected_races_fail_then_succeed);
	RUN(test_guestmem_copy_clone_and_compare);
	return check_finish();
}
