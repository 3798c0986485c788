/*
 * test_memslot.c - KVM_SET_USER_MEMORY_REGION semantics: create, delete,
 * move and flags-only updates, every rejection (which must change nothing,
 * generation included), gfn lookup, per-level rmap / large-page metadata
 * (edge blocks disallowed), dirty bitmap lifetime and accounting.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memslot/memslot.h"
#include "support/check.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define HVA (1ull << 40) /* 1 GiB aligned host address */

struct change_log {
	unsigned calls;
	enum memslot_change change;
	bool had_old, had_new;
	gfn_t old_base;
	bool old_rmap_intact;
};

static void record_change(void *opaque, enum memslot_change change, const struct memslot *old,
                          const struct memslot *new_slot)
{
	struct change_log *log = opaque;

	log->calls++;
	log->change = change;
	log->had_old = old != NULL;
	log->had_new = new_slot != NULL;
	log->old_base = old ? old->base_gfn : INVALID_GFN;
	log->old_rmap_intact = old && old->rmap[0] && old->rmap[2];
}

static int set(struct memslots *ms, uint32_t slot, uint32_t flags, gpa_t gpa, uint64_t size,
               hva_t hva)
{
	struct memslot_region r = {.slot = slot,
	                           .flags = flags,
	                           .guest_phys_addr = gpa,
	                           .memory_size = size,
	                           .userspace_addr = hva};

	return memslots_set_region(ms, &r);
}

static void test_create_then_lookup_every_gfn_of_the_slot(void)
{
	struct memslots ms;
	struct memslot *s;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 3, 0, 16 * MiB, 8 * MiB, HVA) == 0);
	s = memslots_get(&ms, 3);
	REQUIRE(s);
	CHECK_EQ(s->base_gfn, 4096);
	CHECK_EQ(s->npages, 2048);
	CHECK(memslots_find(&ms, 4096) == s);
	CHECK(memslots_find(&ms, 4096 + 2047) == s);
	CHECK(memslots_find(&ms, 4095) == NULL);
	CHECK(memslots_find(&ms, 4096 + 2048) == NULL);
	CHECK_EQ(memslot_gfn_to_hva(s, 4097), HVA + PAGE_SIZE);
	CHECK_EQ(memslots_generation(&ms), 1);
	memslots_destroy(&ms);
}

static void test_lookup_finds_the_right_slot_among_many(void)
{
	struct memslots ms;

	memslots_init(&ms, NULL, NULL);
	for (unsigned i = 0; i < 300; i++) /* created out of gfn order */
		REQUIRE(set(&ms, i, 0, ((i * 7) % 300) * 4 * MiB, 2 * MiB, HVA + i * 4 * MiB) == 0);
	for (unsigned i = 0; i < 300; i++) {
		gfn_t base = ((i * 7) % 300) * 1024;

		CHECK(memslots_find(&ms, base + 17) == memslots_get(&ms, i));
		CHECK(memslots_find(&ms, base + 600) == NULL); /* the hole after it */
	}
	for (unsigned i = 1; i < ms.nr_slots; i++)
		CHECK(memslots_at(&ms, i - 1)->base_gfn < memslots_at(&ms, i)->base_gfn);
	CHECK(memslots_at(&ms, 300) == NULL);
	memslots_destroy(&ms);
}

static void test_overlapping_create_is_eexist_and_changes_nothing(void)
{
	struct memslots ms;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, 0, 4 * MiB, 4 * MiB, HVA) == 0);
	CHECK_EQ(set(&ms, 1, 0, 6 * MiB, 4 * MiB, HVA), -EEXIST);
	CHECK_EQ(set(&ms, 1, 0, 0, 4 * MiB + PAGE_SIZE, HVA), -EEXIST);
	CHECK_EQ(set(&ms, 1, 0, 5 * MiB, PAGE_SIZE, HVA), -EEXIST);
	CHECK_EQ(set(&ms, 1, 0, 0, 64 * MiB, HVA), -EEXIST); /* covers it entirely */
	CHECK_EQ(memslots_generation(&ms), 1);
	CHECK_EQ(ms.nr_slots, 1);
	CHECK(memslots_get(&ms, 1) == NULL);
	CHECK_EQ(set(&ms, 1, 0, 8 * MiB, 4 * MiB, HVA), 0); /* adjacent is fine */
	CHECK_EQ(set(&ms, 2, 0, 0, 4 * MiB, HVA), 0);
	memslots_destroy(&ms);
}

static void test_bad_region_arguments_are_einval(void)
{
	struct memslots ms;

	memslots_init(&ms, NULL, NULL);
	CHECK_EQ(set(&ms, MEMSLOT_ID_LIMIT, 0, 0, MiB, HVA), -EINVAL);
	CHECK_EQ(set(&ms, 0, 1u << 5, 0, MiB, HVA), -EINVAL);           /* unknown flag */
	CHECK_EQ(set(&ms, 0, 0, 100, MiB, HVA), -EINVAL);               /* gpa unaligned */
	CHECK_EQ(set(&ms, 0, 0, 0, MiB + 1, HVA), -EINVAL);             /* size unaligned */
	CHECK_EQ(set(&ms, 0, 0, 0, MiB, HVA + 8), -EINVAL);             /* hva unaligned */
	CHECK_EQ(set(&ms, 0, 0, ~0ull & PAGE_MASK, MiB, HVA), -EINVAL); /* gpa wraps */
	CHECK_EQ(set(&ms, 0, 0, MEMSLOT_GPA_LIMIT - PAGE_SIZE, 2 * PAGE_SIZE, HVA), -EINVAL);
	CHECK_EQ(set(&ms, 0, 0, 0, MiB, ~0ull & PAGE_MASK), -EINVAL); /* hva wraps */
	CHECK_EQ(set(&ms, 0, 0, 0, (MEMSLOT_MAX_NR_PAGES + 1) << PAGE_SHIFT, HVA), -EINVAL);
	CHECK_EQ(memslots_generation(&ms), 0);
	CHECK_EQ(ms.nr_slots, 0);
	memslots_destroy(&ms);
}

static void test_delete_removes_slot_and_missing_delete_is_einval(void)
{
	struct memslots ms;
	struct change_log log = {0};

	memslots_init(&ms, record_change, &log);
	CHECK_EQ(set(&ms, 4, 0, 0, 0, 0), -EINVAL);
	CHECK_EQ(log.calls, 0);
	REQUIRE(set(&ms, 4, 0, 2 * MiB, 2 * MiB, HVA) == 0);
	CHECK_EQ(set(&ms, 4, 0, 2 * MiB, 0, HVA), 0);
	CHECK_EQ(log.change, MEMSLOT_DELETE);
	CHECK(log.had_old && !log.had_new && log.old_rmap_intact);
	CHECK(memslots_get(&ms, 4) == NULL);
	CHECK(memslots_find(&ms, 512) == NULL);
	CHECK_EQ(ms.meta_bytes, 0);
	CHECK_EQ(memslots_generation(&ms), 2);
	CHECK_EQ(set(&ms, 4, 0, 2 * MiB, 0, HVA), -EINVAL); /* already gone */
	CHECK_EQ(memslots_generation(&ms), 2);
	memslots_destroy(&ms);
}

static void test_move_changes_base_gfn_and_rebuilds_metadata(void)
{
	struct memslots ms;
	struct change_log log = {0};
	struct memslot *s;

	memslots_init(&ms, record_change, &log);
	REQUIRE(set(&ms, 1, 0, 2 * MiB, 2 * MiB, HVA) == 0);
	CHECK_EQ(memslot_lpage_disallowed(memslots_get(&ms, 1), 512, MEMSLOT_LEVEL_2M), 0);
	REQUIRE(set(&ms, 1, 0, 3 * MiB, 2 * MiB, HVA) == 0); /* now misaligned with hva */
	CHECK_EQ(log.change, MEMSLOT_MOVE);
	CHECK(log.had_old && log.had_new && log.old_rmap_intact);
	CHECK_EQ(log.old_base, 512);
	s = memslots_get(&ms, 1);
	CHECK_EQ(s->base_gfn, 768);
	CHECK(memslots_find(&ms, 600) == NULL);
	CHECK(memslots_find(&ms, 1000) == s);
	CHECK(memslot_lpage_disallowed(s, 768, MEMSLOT_LEVEL_2M) != 0);
	CHECK(memslot_lpage_disallowed(s, 1279, MEMSLOT_LEVEL_2M) != 0);
	CHECK_EQ(memslots_generation(&ms), 2);
	memslots_destroy(&ms);
}

static void test_move_onto_another_slot_is_eexist(void)
{
	struct memslots ms;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, 0, 0, 4 * MiB, HVA) == 0);
	REQUIRE(set(&ms, 1, 0, 8 * MiB, 4 * MiB, HVA + GiB) == 0);
	CHECK_EQ(set(&ms, 1, 0, 2 * MiB, 4 * MiB, HVA + GiB), -EEXIST);
	CHECK_EQ(memslots_get(&ms, 1)->base_gfn, 2048);
	CHECK_EQ(memslots_generation(&ms), 2);
	CHECK_EQ(set(&ms, 1, 0, 6 * MiB, 4 * MiB, HVA + GiB), 0); /* overlapping itself is fine */
	CHECK_EQ(memslots_get(&ms, 1)->base_gfn, 1536);
	memslots_destroy(&ms);
}

static void test_changing_size_hva_or_readonly_of_a_slot_is_einval(void)
{
	struct memslots ms;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 2, 0, 0, 4 * MiB, HVA) == 0);
	CHECK_EQ(set(&ms, 2, 0, 0, 8 * MiB, HVA), -EINVAL);
	CHECK_EQ(set(&ms, 2, 0, 0, 4 * MiB, HVA + 2 * MiB), -EINVAL);
	CHECK_EQ(set(&ms, 2, MEMSLOT_READONLY, 0, 4 * MiB, HVA), -EINVAL);
	CHECK_EQ(memslots_generation(&ms), 1);
	CHECK_EQ(set(&ms, 2, 0, 0, 4 * MiB, HVA), 0); /* identical: no update */
	CHECK_EQ(memslots_generation(&ms), 1);
	memslots_destroy(&ms);
}

static void test_flags_change_toggles_dirty_bitmap(void)
{
	struct memslots ms;
	struct change_log log = {0};
	struct memslot *s;
	uint64_t before, words[2];

	memslots_init(&ms, record_change, &log);
	REQUIRE(set(&ms, 0, 0, 0, 100 * PAGE_SIZE, HVA) == 0);
	s = memslots_get(&ms, 0);
	before = s->meta_bytes;
	CHECK(s->dirty_bitmap == NULL);
	memslot_mark_dirty(s, 5); /* no log: ignored */
	CHECK(!memslot_test_dirty(s, 5));
	CHECK_EQ(memslots_get_dirty_log(&ms, 0, words), -ENOENT);
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, 0, 100 * PAGE_SIZE, HVA) == 0);
	CHECK_EQ(log.change, MEMSLOT_FLAGS_ONLY);
	CHECK(memslots_get(&ms, 0) == s); /* same slot, rmaps kept */
	CHECK(s->dirty_bitmap != NULL);
	CHECK_EQ(s->meta_bytes, before + 16);
	memslot_mark_dirty(s, 5);
	memslot_mark_dirty(s, 99);
	CHECK(memslot_test_dirty(s, 99) && !memslot_test_dirty(s, 6));
	CHECK_EQ(memslots_get_dirty_log(&ms, 0, words), 0);
	CHECK_EQ(words[0], 1ull << 5);
	CHECK_EQ(words[1], 1ull << 35);
	CHECK(!memslot_test_dirty(s, 5)); /* get_dirty_log cleared it */
	REQUIRE(set(&ms, 0, 0, 0, 100 * PAGE_SIZE, HVA) == 0);
	CHECK(s->dirty_bitmap == NULL);
	CHECK_EQ(s->meta_bytes, before);
	CHECK_EQ(ms.meta_bytes, before);
	CHECK_EQ(memslots_generation(&ms), 3);
	CHECK_EQ(memslots_get_dirty_log(&ms, 9, words), -EINVAL);
	memslots_destroy(&ms);
}

static void test_flags_change_on_missing_slot_creates_nothing_when_invalid(void)
{
	struct memslots ms;

	memslots_init(&ms, NULL, NULL);
	/* A flags-only request names an existing slot; on a missing id it is a
	 * create, which must still pass every check. */
	CHECK_EQ(set(&ms, 7, MEMSLOT_LOG_DIRTY_PAGES | (1u << 9), 0, MiB, HVA), -EINVAL);
	CHECK_EQ(set(&ms, 7, MEMSLOT_LOG_DIRTY_PAGES, 0, 0, HVA), -EINVAL); /* delete missing */
	CHECK(memslots_get(&ms, 7) == NULL);
	CHECK_EQ(memslots_generation(&ms), 0);
	memslots_destroy(&ms);
}

static void test_dirty_log_survives_a_move(void)
{
	struct memslots ms;
	uint64_t words[1];

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, 0, 32 * PAGE_SIZE, HVA) == 0);
	memslot_mark_dirty(memslots_get(&ms, 0), 3);
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, MiB, 32 * PAGE_SIZE, HVA) == 0);
	CHECK_EQ(memslots_get_dirty_log(&ms, 0, words), 0);
	CHECK_EQ(words[0], 1ull << 3);
	memslots_destroy(&ms);
}

static void test_edge_blocks_of_unaligned_slot_disallow_large_pages(void)
{
	struct memslots ms;
	struct memslot *s;
	gfn_t base = 512 + 16; /* 2M-unaligned start */

	memslots_init(&ms, NULL, NULL);
	/* gfn and hva share the same offset within 2M and 1G: only edges matter. */
	REQUIRE(set(&ms, 0, 0, gfn_to_gpa(base), 3 * 512 * PAGE_SIZE, HVA + (base << 12)) == 0);
	s = memslots_get(&ms, 0);
	CHECK_EQ(memslot_level_entries(s, MEMSLOT_LEVEL_4K), 1536);
	CHECK_EQ(memslot_level_entries(s, MEMSLOT_LEVEL_2M), 4);
	CHECK_EQ(memslot_level_entries(s, MEMSLOT_LEVEL_1G), 1);
	CHECK_EQ(memslot_lpage_disallowed(s, base, MEMSLOT_LEVEL_2M), 1);
	CHECK_EQ(memslot_lpage_disallowed(s, 1024, MEMSLOT_LEVEL_2M), 0);
	CHECK_EQ(memslot_lpage_disallowed(s, 1536, MEMSLOT_LEVEL_2M), 0);
	CHECK_EQ(memslot_lpage_disallowed(s, base + 1535, MEMSLOT_LEVEL_2M), 1);
	CHECK_EQ(memslot_lpage_disallowed(s, 1024, MEMSLOT_LEVEL_1G), 1);
	CHECK_EQ(memslot_gfn_to_index(s, 1024, MEMSLOT_LEVEL_2M), 1);
	CHECK(memslot_rmap(s, 1025, MEMSLOT_LEVEL_2M) == memslot_rmap(s, 1535, MEMSLOT_LEVEL_2M));
	CHECK(memslot_rmap(s, 1025, MEMSLOT_LEVEL_4K) != memslot_rmap(s, 1026, MEMSLOT_LEVEL_4K));
	memslots_destroy(&ms);
}

static void test_hva_misaligned_with_gfn_disallows_every_large_page(void)
{
	struct memslots ms;
	struct memslot *s;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, 0, 0, 8 * MiB, HVA + PAGE_SIZE) == 0);
	s = memslots_get(&ms, 0);
	for (gfn_t g = 0; g < 2048; g += 512)
		CHECK_EQ(memslot_lpage_disallowed(s, g, MEMSLOT_LEVEL_2M), 1);
	memslots_destroy(&ms);
}

static void test_aligned_gig_slot_allows_1g_and_shadowing_disallows_it(void)
{
	struct memslots ms;
	struct memslot *s;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, 0, GiB, GiB, HVA) == 0);
	s = memslots_get(&ms, 0);
	CHECK_EQ(memslot_lpage_disallowed(s, 1ull << 18, MEMSLOT_LEVEL_1G), 0);
	memslot_disallow_lpage_inc(s, (1ull << 18) + 700); /* a shadowed guest page table */
	CHECK_EQ(memslot_lpage_disallowed(s, (1ull << 18) + 513, MEMSLOT_LEVEL_2M), 1);
	CHECK_EQ(memslot_lpage_disallowed(s, (1ull << 18), MEMSLOT_LEVEL_2M), 0);
	CHECK_EQ(memslot_lpage_disallowed(s, (1ull << 18), MEMSLOT_LEVEL_1G), 1);
	memslot_disallow_lpage_dec(s, (1ull << 18) + 700);
	CHECK_EQ(memslot_lpage_disallowed(s, (1ull << 18), MEMSLOT_LEVEL_1G), 0);
	memslots_destroy(&ms);
}

static void test_metadata_bytes_account_every_array(void)
{
	struct memslots ms;
	struct memslot *s;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, 0, 4 * MiB, HVA) == 0);
	s = memslots_get(&ms, 0);
	/* rmaps 1024 + 2 + 1 heads, disallow 2 + 1 counts, bitmap 1024 bits */
	CHECK_EQ(s->meta_bytes, (1024 + 2 + 1) * 8 + (2 + 1) * 4 + 128);
	CHECK_EQ(ms.meta_bytes, s->meta_bytes);
	REQUIRE(set(&ms, 1, 0, 64 * MiB, 2 * MiB, HVA) == 0);
	CHECK_EQ(ms.meta_bytes, s->meta_bytes + (512 + 1 + 1) * 8 + (1 + 1) * 4);
	memslots_destroy(&ms);
}

static void test_hva_range_maps_to_gfns_of_the_slot(void)
{
	struct memslots ms;
	struct memslot *s;
	gfn_t a, b;

	memslots_init(&ms, NULL, NULL);
	REQUIRE(set(&ms, 0, 0, 16 * MiB, 16 * PAGE_SIZE, HVA) == 0);
	s = memslots_get(&ms, 0);
	CHECK(memslot_hva_range_to_gfns(s, HVA + PAGE_SIZE + 8, HVA + 3 * PAGE_SIZE + 1, &a, &b));
	CHECK_EQ(a, 4096 + 1);
	CHECK_EQ(b, 4096 + 4);
	CHECK(memslot_hva_range_to_gfns(s, 0, ~0ull, &a, &b));
	CHECK(a == 4096 && b == 4096 + 16);
	CHECK(!memslot_hva_range_to_gfns(s, HVA + 16 * PAGE_SIZE, HVA + GiB, &a, &b));
	CHECK(!memslot_hva_range_to_gfns(s, 0, HVA, &a, &b));
	memslots_destroy(&ms);
}

static void test_generation_counts_only_successful_updates(void)
{
	struct memslots ms;
	struct change_log log = {0};

	memslots_init(&ms, record_change, &log);
	REQUIRE(set(&ms, 0, 0, 0, MiB, HVA) == 0);                             /* 1 */
	CHECK(set(&ms, 1, 0, 0, MiB, HVA) != 0);                               /* overlap */
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, 0, MiB, HVA) == 0);       /* 2 */
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, 2 * MiB, MiB, HVA) == 0); /* 3 */
	REQUIRE(set(&ms, 0, MEMSLOT_LOG_DIRTY_PAGES, 2 * MiB, MiB, HVA) == 0); /* no-op */
	REQUIRE(set(&ms, 0, 0, 0, 0, 0) == 0);                                 /* 4 */
	CHECK_EQ(memslots_generation(&ms), 4);
	CHECK_EQ(log.calls, 4);
	memslots_destroy(&ms);
}

int main(void)
{
	RUN(test_create_then_lookup_every_gfn_of_the_slot);
	RUN(test_lookup_finds_the_right_slot_among_many);
	RUN(test_overlapping_create_is_eexist_and_changes_nothing);
	RUN(test_bad_region_arguments_are_einval);
	RUN(test_delete_removes_slot_and_missing_delete_is_einval);
	RUN(test_move_changes_base_gfn_and_rebuilds_metadata);
	RUN(test_move_onto_another_slot_is_eexist);
	RUN(test_changing_size_hva_or_readonly_of_a_slot_is_einval);
	RUN(test_flags_change_toggles_dirty_bitmap);
	RUN(test_flags_change_on_missing_slot_creates_nothing_when_invalid);
	RUN(test_dirty_log_survives_a_move);
	RUN(test_edge_blocks_of_unaligned_slot_disallow_large_pages);
	RUN(test_hva_misaligned_with_gfn_disallows_every_large_page);
	RUN(test_aligned_gig_slot_allows_1g_and_shadowing_disallows_it);
	RUN(test_metadata_bytes_account_every_array);
	RUN(test_hva_range_maps_to_gfns_of_the_slot);
	RUN(test_generation_counts_only_successful_updates);
	return check_finish();
}
