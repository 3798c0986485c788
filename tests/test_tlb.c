/*
 * test_tlb.c - the software vCPU's TLB (src/x86/tlb.c): tagging by PCID and
 * global bit, INVLPG and flush scope (SDM Vol. 3A 4.10.4.1), large pages
 * cached per 4 KiB page, and set-associative replacement.
 */
#include <errno.h>

#include "support/check.h"
#include "cpu/tlb.h"

#define ACC_ALL (SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X)

static void fill(struct tlb *t, gva_t gva, unsigned pcid, hpa_t hpa, unsigned shift, bool global)
{
	struct tlb_fill_info info = {
	    .hpa = hpa, .page_shift = shift, .access = ACC_ALL, .global = global, .dirty = true};

	tlb_fill(t, gva, pcid, &info);
}

static bool hits(struct tlb *t, gva_t gva, unsigned pcid)
{
	return tlb_lookup(t, gva, pcid) != NULL;
}

/*
 * A test is `static void test_...(struct tlb *t)` on an empty TLB of the
 * sets and ways main() names; the runner destroys it after.
 */
static void (*tlb_test)(struct tlb *t);
static unsigned tlb_test_sets, tlb_test_ways;

static void run_tlb_test(void)
{
	struct tlb t;

	REQUIRE(tlb_init(&t, tlb_test_sets, tlb_test_ways) == 0);
	tlb_test(&t);
	tlb_destroy(&t);
}

#define RUN_SIZED_TLB(sets, ways, fn)                                                              \
	(tlb_test_sets = (sets), tlb_test_ways = (ways), tlb_test = (fn),                          \
	 check_run(#fn, run_tlb_test))
/* 16 sets of 4 ways, for the tests that do not depend on the shape of the TLB. */
#define RUN_TLB(fn) RUN_SIZED_TLB(16, 4, fn)

static void test_init_rejects_sizes_that_are_not_powers_of_two(void)
{
	struct tlb t;

	CHECK_EQ(tlb_init(&t, 3, 4), -EINVAL);
	CHECK_EQ(tlb_init(&t, 4, 0), -EINVAL);
	CHECK_EQ(tlb_init(&t, 8192, 4), -EINVAL);
	CHECK_EQ(tlb_init(&t, 16, 128), -EINVAL);
	REQUIRE(tlb_init(&t, 1, 1) == 0);
	tlb_destroy(&t);
}

static void test_lookup_misses_until_filled_then_hits_with_hpa(struct tlb *t)
{
	struct tlb_entry *e;

	CHECK(!hits(t, 0x5000, 0));
	fill(t, 0x5abc, 0, 0x9000, 12, false);
	e = tlb_lookup(t, 0x5fff, 0);
	REQUIRE(e);
	CHECK_EQ(e->hpa, 0x9000);
	CHECK_EQ(e->access, ACC_ALL);
	CHECK(!hits(t, 0x6000, 0));
	CHECK_EQ(t->stats.hits, 1);
	CHECK_EQ(t->stats.misses, 2);
	CHECK_EQ(t->stats.fills, 1);
}

static void test_entry_of_one_pcid_does_not_hit_in_another(struct tlb *t)
{
	fill(t, 0x5000, 1, 0x9000, 12, false);
	CHECK(hits(t, 0x5000, 1));
	CHECK(!hits(t, 0x5000, 2));
	fill(t, 0x5000, 2, 0xa000, 12, false);
	CHECK_EQ(tlb_lookup(t, 0x5000, 1)->hpa, 0x9000);
	CHECK_EQ(tlb_lookup(t, 0x5000, 2)->hpa, 0xa000);
}

static void test_global_entry_hits_in_every_pcid(struct tlb *t)
{
	fill(t, 0x5000, 1, 0x9000, 12, true);
	CHECK(hits(t, 0x5000, 7));
}

static void test_refill_of_same_page_replaces_the_entry(struct tlb *t)
{
	fill(t, 0x5000, 0, 0x9000, 12, false);
	fill(t, 0x5000, 0, 0xa000, 12, false);
	CHECK_EQ(tlb_count_valid(t), 1);
	CHECK_EQ(tlb_lookup(t, 0x5000, 0)->hpa, 0xa000);
}

/*
 * Three 4 KiB entries - 0x1000 in PCID 1, 0x2000 global (filled from
 * global_pcid), 0x3000 in PCID 2 - then a flush of `scope` from PCID 1.
 */
static void fill_three_then_flush(struct tlb *t, unsigned global_pcid, enum smmu_tlb_flush scope)
{
	fill(t, 0x1000, 1, 0x9000, 12, false);
	fill(t, 0x2000, global_pcid, 0x9000, 12, true);
	fill(t, 0x3000, 2, 0x9000, 12, false);
	tlb_flush(t, scope, 1);
}

static void test_cr3_flush_keeps_global_and_other_pcids(struct tlb *t)
{
	fill_three_then_flush(t, 1, SMMU_FLUSH_PCID_NONGLOBAL);
	CHECK(!hits(t, 0x1000, 1));
	CHECK(hits(t, 0x2000, 1));
	CHECK(hits(t, 0x3000, 2));
	CHECK_EQ(t->stats.flushes, 1);
	tlb_flush(t, SMMU_FLUSH_NONE, 2);
	CHECK_EQ(tlb_count_valid(t), 2);
	CHECK_EQ(t->stats.flushes, 1);
}

static void test_pcid_all_flush_drops_globals_but_keeps_other_pcids(struct tlb *t)
{
	fill_three_then_flush(t, 3, SMMU_FLUSH_PCID_ALL);
	CHECK(!hits(t, 0x1000, 1));
	CHECK(!hits(t, 0x2000, 1));
	CHECK(hits(t, 0x3000, 2));
}

static void test_flush_all_drops_global_entries_too(struct tlb *t)
{
	fill(t, 0x1000, 1, 0x9000, 12, true);
	fill(t, 0x3000, 2, 0x9000, 21, false);
	tlb_flush(t, SMMU_FLUSH_ALL, 0);
	CHECK_EQ(tlb_count_valid(t), 0);
	CHECK_EQ(t->nr_large, 0);
}

static void test_invlpg_drops_current_pcid_and_global_but_not_other_pcid(struct tlb *t)
{
	fill(t, 0x5000, 1, 0x9000, 12, false);
	fill(t, 0x5000, 2, 0xa000, 12, false);
	fill(t, 0x6000, 2, 0xb000, 12, true);
	tlb_invlpg(t, 0x5123, 1);
	CHECK(!hits(t, 0x5000, 1));
	CHECK(hits(t, 0x5000, 2)); /* SDM 4.10.4.1: INVLPG acts on the current PCID */
	tlb_invlpg(t, 0x6000, 1);
	CHECK(!hits(t, 0x6000, 2)); /* ... and on global entries whatever their PCID */
	CHECK_EQ(t->stats.invlpgs, 2);
}

static void test_invlpg_anywhere_in_a_2m_page_drops_all_its_entries(struct tlb *t)
{
	fill(t, 0x200000, 0, 0x400000, 21, false);
	fill(t, 0x3ff000, 0, 0x5ff000, 21, false);
	fill(t, 0x400000, 0, 0x600000, 21, false); /* the next 2 MiB page */
	fill(t, 0x1ff000, 0, 0x9000, 12, false);   /* a 4 KiB page below it */
	CHECK_EQ(t->nr_large, 3);
	tlb_invlpg(t, 0x234567, 0);
	CHECK(!hits(t, 0x200000, 0));
	CHECK(!hits(t, 0x3ff000, 0));
	CHECK(hits(t, 0x400000, 0));
	CHECK(hits(t, 0x1ff000, 0));
	CHECK_EQ(t->nr_large, 1);
}

static void test_invlpg_in_a_1g_page_drops_its_global_entries_in_any_pcid(struct tlb *t)
{
	fill(t, 0x40001000, 5, 0x1000, 30, true);
	fill(t, 0x7ffff000, 5, 0x3ffff000, 30, false);
	tlb_invlpg(t, 0x50000000, 9);
	CHECK(!hits(t, 0x40001000, 9));
	CHECK(hits(t, 0x7ffff000, 5)); /* non-global, PCID 5: not INVLPG'd from PCID 9 */
}

static void test_full_set_evicts_round_robin(struct tlb *t)
{
	unsigned present = 0;

	/* vpns 0, 4, 8 share set 0 of 4 sets. */
	fill(t, 0x0000, 0, 0x1000, 12, false);
	fill(t, 0x4000, 0, 0x2000, 12, false);
	CHECK_EQ(t->stats.evictions, 0);
	fill(t, 0x8000, 0, 0x3000, 12, false);
	CHECK_EQ(t->stats.evictions, 1);
	CHECK_EQ(tlb_count_valid(t), 2);
	CHECK(hits(t, 0x8000, 0));
	present += hits(t, 0x0000, 0);
	present += hits(t, 0x4000, 0);
	CHECK_EQ(present, 1);
	fill(t, 0x1000, 0, 0x3000, 12, false); /* set 1: no eviction */
	CHECK_EQ(t->stats.evictions, 1);
}

static void test_evicting_a_large_entry_keeps_the_large_count_exact(struct tlb *t)
{
	fill(t, 0x200000, 0, 0x200000, 21, false);
	CHECK_EQ(t->nr_large, 1);
	fill(t, 0x1000, 0, 0x1000, 12, false);
	CHECK_EQ(t->nr_large, 0);
	fill(t, 0x40000000, 0, 0x0, 30, false);
	tlb_drop(t, tlb_lookup(t, 0x40000000, 0));
	CHECK_EQ(t->nr_large, 0);
	CHECK_EQ(tlb_count_valid(t), 0);
}

int main(void)
{
	RUN(test_init_rejects_sizes_that_are_not_powers_of_two);
	RUN_TLB(test_lookup_misses_until_filled_then_hits_with_hpa);
	RUN_TLB(test_entry_of_one_pcid_does_not_hit_in_another);
	RUN_TLB(test_global_entry_hits_in_every_pcid);
	RUN_TLB(test_refill_of_same_page_replaces_the_entry);
	RUN_TLB(test_cr3_flush_keeps_global_and_other_pcids);
	RUN_TLB(test_pcid_all_flush_drops_globals_but_keeps_other_pcids);
	RUN_TLB(test_flush_all_drops_global_entries_too);
	RUN_TLB(test_invlpg_drops_current_pcid_and_global_but_not_other_pcid);
	RUN_SIZED_TLB(64, 4, test_invlpg_anywhere_in_a_2m_page_drops_all_its_entries);
	RUN_SIZED_TLB(64, 4, test_invlpg_in_a_1g_page_drops_its_global_entries_in_any_pcid);
	RUN_SIZED_TLB(4, 2, test_full_set_evicts_round_robin);
	RUN_SIZED_TLB(1, 1, test_evicting_a_large_entry_keeps_the_large_count_exact);
	return check_finish();
}
