/*
 * test_hostmem.c - the host address space and the MMU notifier: first-touch
 * zero fill, read-only and huge-backed mappings, host mapping levels, unmap /
 * discard / swap-out / migrate firing paired invalidations, the KVM
 * mmu_invalidate retry pattern, page aging, and every error path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/hostmem.h"
#include "support/check.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* A fake secondary MMU: counts events and keeps KVM's invalidate bookkeeping. */
struct fake_listener {
	struct mmu_notifier mn;
	struct mmu_invalidate mi;
	unsigned starts, ends, change_ptes, releases, clears, tests;
	struct mmu_notifier_range last; /* last start */
	uint64_t in_progress_at_start;  /* mi.in_progress seen inside start */
	bool unbalanced;                /* an end without its start */
	bool young;                     /* what clear/test_young report */
};

static struct fake_listener *to_fake(struct mmu_notifier *mn)
{
	return (struct fake_listener *)((char *)mn - offsetof(struct fake_listener, mn));
}

static void fake_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	struct fake_listener *f = to_fake(mn);

	f->starts++;
	f->last = *r;
	mmu_invalidate_begin(&f->mi, r->start, r->end);
	f->in_progress_at_start = f->mi.in_progress;
}

static void fake_end(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	struct fake_listener *f = to_fake(mn);

	if (f->ends >= f->starts || r->start != f->last.start || r->end != f->last.end)
		f->unbalanced = true;
	f->ends++;
	mmu_invalidate_end(&f->mi);
}

static bool fake_clear_young(struct mmu_notifier *mn, hva_t s, hva_t e)
{
	struct fake_listener *f = to_fake(mn);
	bool y = f->young;

	f->clears++;
	f->young = false;
	return y;
}

static bool fake_test_young(struct mmu_notifier *mn, hva_t s, hva_t e)
{
	to_fake(mn)->tests++;
	return to_fake(mn)->young;
}

static void fake_release(struct mmu_notifier *mn)
{
	to_fake(mn)->releases++;
}

static const struct mmu_notifier_ops fake_ops = {
    .invalidate_range_start = fake_start,
    .invalidate_range_end = fake_end,
    .clear_young = fake_clear_young,
    .test_young = fake_test_young,
    .release = fake_release,
};

struct env {
	struct arena *arena;
	struct hostmem *hm;
	struct fake_listener fl;
};

static bool env_init(struct env *e, uint64_t arena_size)
{
	memset(e, 0, sizeof(*e));
	e->arena = arena_create(arena_size);
	e->hm = e->arena ? hostmem_create(e->arena) : NULL;
	e->fl.mn.ops = &fake_ops;
	return e->hm && hostmem_notifier_register(e->hm, &e->fl.mn) == 0;
}

static void env_fini(struct env *e)
{
	hostmem_destroy(e->hm);
	arena_destroy(e->arena);
}

/*
 * A test is `static void test_...(struct env *e)` on a hostmem over an
 * arena of the size main() names; the runner tears it down after.
 */
static void (*env_test)(struct env *e);
static uint64_t env_test_arena_size;

static void run_env_test(void)
{
	struct env e;

	REQUIRE(env_init(&e, env_test_arena_size));
	env_test(&e);
	env_fini(&e);
}

#define RUN_WITH_ARENA(size, fn)                                                                   \
	(env_test_arena_size = (size), env_test = (fn), check_run(#fn, run_env_test))
/* Most tests need no more than 16 MiB of frames. */
#define RUN_ENV(fn) RUN_WITH_ARENA(16 * MiB, fn)

static bool frame_is_zero(struct env *e, pfn_t pfn)
{
	const uint8_t *p = arena_hpa_to_ptr(e->arena, pfn << PAGE_SHIFT, PAGE_SIZE);

	for (unsigned i = 0; p && i < PAGE_SIZE; i++)
		if (p[i])
			return false;
	return p != NULL;
}

static void test_first_touch_allocates_a_zero_filled_frame(struct env *e)
{
	struct host_pfn a, b, again;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 64 * 1024, 0, &hva) == 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + 5, false, &a) == 0);
	CHECK(frame_is_zero(e, a.pfn));
	CHECK_EQ(a.level, HOSTMEM_LEVEL_4K);
	CHECK(a.writable);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + PAGE_SIZE, true, &b) == 0);
	CHECK(a.pfn != b.pfn);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + 100, true, &again) == 0);
	CHECK_EQ(again.pfn, a.pfn);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 2);
}

static void test_write_then_read_round_trips_across_pages(struct env *e)
{
	char in[6000], out[6000];
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 4 * PAGE_SIZE, 0, &hva) == 0);
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 7);
	CHECK_EQ(hostmem_write(e->hm, hva + 3000, in, sizeof(in)), 0);
	CHECK_EQ(hostmem_read(e->hm, hva + 3000, out, sizeof(out)), 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(hostmem_write(e->hm, hva + 4 * PAGE_SIZE - 10, in, 20), -EFAULT);
}

static void test_unmapped_hvas_fault(struct env *e)
{
	struct host_pfn hp;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 2 * PAGE_SIZE, 0, &hva) == 0);
	CHECK(hva != 0);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, 0, false, &hp), -EFAULT);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva - 1, false, &hp), -EFAULT);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva + 2 * PAGE_SIZE, false, &hp), -EFAULT);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, ~0ull, true, &hp), -EFAULT);
	CHECK_EQ(hostmem_mark_dirty(e->hm, hva), -EFAULT); /* mapped but not present */
}

static void test_readonly_mapping_refuses_writes_and_reports_read_only(struct env *e)
{
	struct host_pfn hp;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, PAGE_SIZE, HOSTMEM_READONLY, &hva) == 0);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva, true, &hp), -EFAULT);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, false, &hp) == 0);
	CHECK(!hp.writable);
	CHECK_EQ(hostmem_write(e->hm, hva, "x", 1), -EFAULT);
}

static void test_bad_map_arguments_are_rejected(struct env *e)
{
	hva_t hva = 0;
	struct hostmem_stats st;

	CHECK_EQ(hostmem_map(e->hm, 0, 0, &hva), -EINVAL);
	CHECK_EQ(hostmem_map(e->hm, PAGE_SIZE + 1, 0, &hva), -EINVAL);
	CHECK_EQ(hostmem_map(e->hm, MiB, HOSTMEM_HUGE_2M, &hva), -EINVAL);
	CHECK_EQ(hostmem_map(e->hm, 2 * MiB, HOSTMEM_HUGE_1G, &hva), -EINVAL);
	CHECK_EQ(hostmem_map(e->hm, GiB, HOSTMEM_HUGE_1G | HOSTMEM_HUGE_2M, &hva), -EINVAL);
	CHECK_EQ(hostmem_map(e->hm, PAGE_SIZE, 1u << 7, &hva), -EINVAL);
	CHECK_EQ(hostmem_map(e->hm, 1ull << 50, 0, &hva), -EINVAL);
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.mappings, 0);
	CHECK_EQ(hva, 0);
}

static void test_2m_backing_is_aligned_and_reports_2m_level(struct env *e)
{
	struct host_pfn a, b;
	struct hostmem_stats st;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 4 * MiB, HOSTMEM_HUGE_2M, &hva) == 0);
	CHECK_EQ(hva & (2 * MiB - 1), 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + 2 * MiB + 5 * PAGE_SIZE, false, &a) == 0);
	CHECK_EQ(a.level, HOSTMEM_LEVEL_2M);
	CHECK_EQ((a.pfn - 5) & 511, 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + 2 * MiB + 511 * PAGE_SIZE, true, &b) == 0);
	CHECK_EQ(b.pfn, a.pfn - 5 + 511);
	CHECK(frame_is_zero(e, b.pfn));
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.huge_2m, 1);
	CHECK_EQ(st.present, 512);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 512);
}

static void test_1g_backing_is_aligned_and_reports_1g_level(struct env *e)
{
	struct host_pfn a;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, GiB, HOSTMEM_HUGE_1G, &hva) == 0);
	CHECK_EQ(hva & (GiB - 1), 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + 300 * MiB, true, &a) == 0);
	CHECK_EQ(a.level, HOSTMEM_LEVEL_1G);
	CHECK_EQ((a.pfn - ((300 * MiB) >> PAGE_SHIFT)) & ((1u << 18) - 1), 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 1u << 18);
	CHECK_EQ(hostmem_unmap(e->hm, hva, GiB), 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 0);
}

static void test_huge_backing_falls_back_to_4k_when_arena_is_fragmented(struct env *e)
{
	struct host_pfn hp;
	struct hostmem_stats st;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 2 * MiB, HOSTMEM_HUGE_2M, &hva) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, true, &hp) == 0);
	CHECK_EQ(hp.level, HOSTMEM_LEVEL_4K);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + PAGE_SIZE, true, &hp) == 0);
	CHECK_EQ(hp.level, HOSTMEM_LEVEL_4K);
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.huge_fallback, 1);
	CHECK_EQ(st.present, 2);
}

static void test_arena_exhaustion_gives_enomem_not_a_crash(struct env *e)
{
	struct host_pfn hp;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 8 * PAGE_SIZE, 0, &hva) == 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva + i * PAGE_SIZE, false, &hp), 0);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva + 4 * PAGE_SIZE, false, &hp), -ENOMEM);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva, false, &hp), 0); /* present pages still work */
}

static void test_unmap_fires_one_paired_invalidation_and_frees_frames(struct env *e)
{
	struct host_pfn hp;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 8 * PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, true, &hp) == 0);
	CHECK_EQ(hostmem_unmap(e->hm, hva, 4 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(hostmem_unmap(e->hm, hva + PAGE_SIZE, 7 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(e->fl.starts, 0);
	CHECK_EQ(hostmem_unmap(e->hm, hva, 8 * PAGE_SIZE), 0);
	CHECK_EQ(e->fl.starts, 1);
	CHECK_EQ(e->fl.ends, 1);
	CHECK(!e->fl.unbalanced);
	CHECK_EQ(e->fl.last.start, hva);
	CHECK_EQ(e->fl.last.end, hva + 8 * PAGE_SIZE);
	CHECK_EQ(e->fl.last.event, MMU_NOTIFY_UNMAP);
	CHECK_EQ(e->fl.in_progress_at_start, 1);
	CHECK_EQ(e->fl.mi.in_progress, 0);
	CHECK_EQ(e->fl.mi.seq, 1);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 0);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, hva, false, &hp), -EFAULT);
	CHECK_EQ(hostmem_unmap(e->hm, hva, 8 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(e->fl.starts, 1);
}

/* KVM's pattern: seq read before hva_to_pfn, checked after "taking mmu_lock". */
static void test_fault_racing_an_invalidation_must_retry(struct env *e)
{
	struct host_pfn hp;
	hva_t hva, other;
	uint64_t seq;

	REQUIRE(hostmem_map(e->hm, 4 * PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_map(e->hm, 4 * PAGE_SIZE, 0, &other) == 0);
	seq = mmu_invalidate_seq_read(&e->fl.mi);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, true, &hp) == 0);
	CHECK(!mmu_invalidate_retry(&e->fl.mi, seq)); /* nothing happened: install */
	CHECK_EQ(hostmem_swap_out(e->hm, hva), 0);
	CHECK(mmu_invalidate_retry(&e->fl.mi, seq)); /* pfn is stale: retry */
	CHECK(mmu_invalidate_retry_hva(&e->fl.mi, seq, other));
	seq = mmu_invalidate_seq_read(&e->fl.mi);
	CHECK(!mmu_invalidate_retry_hva(&e->fl.mi, seq, hva));
}

static void test_retry_hva_ignores_in_progress_ranges_elsewhere(void)
{
	struct mmu_invalidate mi = {0};
	uint64_t seq = mmu_invalidate_seq_read(&mi);

	mmu_invalidate_begin(&mi, 0x10000, 0x20000);
	mmu_invalidate_begin(&mi, 0x40000, 0x50000); /* nested: range is the union */
	CHECK(mmu_invalidate_retry(&mi, seq));
	CHECK(mmu_invalidate_retry_hva(&mi, seq, 0x30000));
	CHECK(!mmu_invalidate_retry_hva(&mi, seq, 0x50000));
	CHECK(!mmu_invalidate_retry_hva(&mi, seq, 0x0f000));
	mmu_invalidate_end(&mi);
	CHECK_EQ(mi.in_progress, 1);
	CHECK(mmu_invalidate_retry_hva(&mi, seq, 0x50000)); /* seq moved */
	mmu_invalidate_end(&mi);
	CHECK_EQ(mi.seq, 2);
	CHECK(!mmu_invalidate_retry(&mi, mmu_invalidate_seq_read(&mi)));
}

static void test_swap_out_preserves_contents_and_swap_in_on_touch(struct env *e)
{
	struct hostmem_stats st;
	struct host_pfn hp;
	char buf[16];
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 2 * PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_write(e->hm, hva + 100, "swapped bytes!", 15) == 0);
	CHECK_EQ(hostmem_swap_out(e->hm, hva + 100), 0);
	CHECK_EQ(e->fl.last.event, MMU_NOTIFY_SWAP);
	CHECK_EQ(e->fl.last.start, hva);
	CHECK_EQ(e->fl.last.end, hva + PAGE_SIZE);
	CHECK(!e->fl.unbalanced && e->fl.ends == 1);
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.swapped, 1);
	CHECK_EQ(st.present, 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 0);
	CHECK_EQ(hostmem_swap_out(e->hm, hva), -EBUSY); /* already out */
	REQUIRE(hostmem_read(e->hm, hva + 100, buf, 15) == 0);
	CHECK(memcmp(buf, "swapped bytes!", 15) == 0);
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.swapped, 0);
	CHECK_EQ(st.present, 1);
	CHECK_EQ(hostmem_swap_out(e->hm, hva + PAGE_SIZE), -EBUSY); /* never touched */
	CHECK_EQ(hostmem_swap_out(e->hm, 0), -EFAULT);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, true, &hp) == 0);
}

static void test_swap_out_refuses_huge_backed_pages(struct env *e)
{
	struct host_pfn hp;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 2 * MiB, HOSTMEM_HUGE_2M, &hva) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, true, &hp) == 0);
	CHECK_EQ(hostmem_swap_out(e->hm, hva), -EBUSY);
	CHECK_EQ(hostmem_migrate(e->hm, hva, NULL), -EBUSY);
	CHECK_EQ(e->fl.starts, 0);
}

static void test_migrate_moves_contents_to_a_new_frame(struct env *e)
{
	struct host_pfn before, after;
	pfn_t moved;
	char buf[8];
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_write(e->hm, hva, "migrant", 8) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, false, &before) == 0);
	CHECK_EQ(hostmem_migrate(e->hm, hva, &moved), 0);
	CHECK_EQ(e->fl.last.event, MMU_NOTIFY_MIGRATE);
	CHECK(!e->fl.unbalanced && e->fl.ends == 1);
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva, false, &after) == 0);
	CHECK(after.pfn != before.pfn);
	CHECK_EQ(after.pfn, moved);
	CHECK(frame_is_zero(e, before.pfn)); /* old frame freed (zeroed) */
	REQUIRE(hostmem_read(e->hm, hva, buf, 8) == 0);
	CHECK(memcmp(buf, "migrant", 8) == 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 1);
}

static void test_discard_drops_pages_and_next_touch_reads_zero(struct env *e)
{
	char buf[4] = {1, 1, 1, 1};
	hva_t hva, huge;

	REQUIRE(hostmem_map(e->hm, 4 * PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_write(e->hm, hva + PAGE_SIZE, "abcd", 4) == 0);
	CHECK_EQ(hostmem_discard(e->hm, hva + 1, hva + PAGE_SIZE), -EINVAL);
	CHECK_EQ(hostmem_discard(e->hm, hva, hva), -EINVAL);
	CHECK_EQ(hostmem_discard(e->hm, hva, hva + 5 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(e->fl.starts, 0);
	CHECK_EQ(hostmem_discard(e->hm, hva + PAGE_SIZE, hva + 2 * PAGE_SIZE), 0);
	CHECK_EQ(e->fl.last.event, MMU_NOTIFY_DISCARD);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 0);
	REQUIRE(hostmem_read(e->hm, hva + PAGE_SIZE, buf, 4) == 0);
	CHECK(buf[0] == 0 && buf[3] == 0);
	REQUIRE(hostmem_map(e->hm, 4 * MiB, HOSTMEM_HUGE_2M, &huge) == 0);
	REQUIRE(hostmem_write(e->hm, huge, "x", 1) == 0);
	CHECK_EQ(hostmem_discard(e->hm, huge, huge + PAGE_SIZE), -EINVAL);
	CHECK_EQ(hostmem_discard(e->hm, huge, huge + 2 * MiB), 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 1); /* the 4K page above */
}

static void test_aging_clears_young_in_host_and_listener(struct env *e)
{
	struct host_pfn hp;
	hva_t hva;

	REQUIRE(hostmem_map(e->hm, 4 * PAGE_SIZE, 0, &hva) == 0);
	CHECK(!hostmem_test_young(e->hm, hva, hva + 4 * PAGE_SIZE));
	REQUIRE(hostmem_hva_to_pfn(e->hm, hva + 2 * PAGE_SIZE, false, &hp) == 0);
	CHECK(!hostmem_test_young(e->hm, hva, hva + 2 * PAGE_SIZE));
	CHECK(hostmem_test_young(e->hm, hva, hva + 4 * PAGE_SIZE));
	CHECK(hostmem_test_young(e->hm, hva, hva + 4 * PAGE_SIZE)); /* test does not clear */
	CHECK(hostmem_clear_young(e->hm, hva, hva + 4 * PAGE_SIZE));
	CHECK(!hostmem_clear_young(e->hm, hva, hva + 4 * PAGE_SIZE));
	e->fl.young = true; /* the secondary MMU saw an access (spte A bit) */
	CHECK(hostmem_test_young(e->hm, hva, hva + PAGE_SIZE));
	CHECK(hostmem_clear_young(e->hm, hva, hva + PAGE_SIZE));
	CHECK(!hostmem_test_young(e->hm, hva, hva + PAGE_SIZE));
	CHECK(e->fl.clears == 3 && e->fl.tests == 6);
}

static void test_notifier_registration_and_release(void)
{
	struct env e;
	struct fake_listener second = {.mn.ops = &fake_ops};
	struct mmu_notifier no_ops = {0};
	hva_t hva;

	REQUIRE(env_init(&e, 16 * MiB));
	CHECK_EQ(hostmem_notifier_register(e.hm, &e.fl.mn), -EINVAL);
	CHECK_EQ(hostmem_notifier_register(e.hm, &no_ops), -EINVAL);
	CHECK_EQ(hostmem_notifier_register(e.hm, NULL), -EINVAL);
	CHECK_EQ(hostmem_notifier_register(e.hm, &second.mn), 0);
	REQUIRE(hostmem_map(e.hm, PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_unmap(e.hm, hva, PAGE_SIZE) == 0);
	CHECK(e.fl.starts == 1 && second.starts == 1 && second.ends == 1);
	CHECK_EQ(hostmem_notifier_unregister(e.hm, &second.mn), 0);
	CHECK_EQ(hostmem_notifier_unregister(e.hm, &second.mn), -EINVAL);
	REQUIRE(hostmem_map(e.hm, PAGE_SIZE, 0, &hva) == 0);
	REQUIRE(hostmem_unmap(e.hm, hva, PAGE_SIZE) == 0);
	CHECK(e.fl.starts == 2 && second.starts == 1);
	env_fini(&e);
	CHECK_EQ(e.fl.releases, 1);
	CHECK_EQ(second.releases, 0);
}

static void test_stats_account_pages_and_table_bytes(struct env *e)
{
	struct hostmem_stats st;
	struct host_pfn hp;
	hva_t a, b;

	REQUIRE(hostmem_map(e->hm, 16 * MiB, 0, &a) == 0);
	REQUIRE(hostmem_map(e->hm, 4 * MiB, HOSTMEM_HUGE_2M, &b) == 0);
	CHECK(b > a + 16 * MiB); /* a guard gap keeps mappings apart */
	REQUIRE(hostmem_hva_to_pfn(e->hm, a, true, &hp) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, b, true, &hp) == 0);
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.mappings, 2);
	CHECK_EQ(st.present, 513);
	CHECK_EQ(st.faults, 2);
	CHECK_EQ(st.table_bytes, 4096 * 8 + 1024 * 8 + 2);
	REQUIRE(hostmem_unmap(e->hm, a, 16 * MiB) == 0);
	hostmem_get_stats(e->hm, &st);
	CHECK_EQ(st.mappings, 1);
	CHECK_EQ(st.present, 512);
	CHECK_EQ(st.table_bytes, 1024 * 8 + 2);
}

/* Two pages holding the same bytes, touched; returns their hvas. */
static bool map_twins(struct env *e, hva_t *a, hva_t *b)
{
	return hostmem_map(e->hm, PAGE_SIZE, 0, a) == 0 &&
	       hostmem_map(e->hm, PAGE_SIZE, 0, b) == 0 &&
	       hostmem_write(e->hm, *a, "twins!!", 8) == 0 &&
	       hostmem_write(e->hm, *b, "twins!!", 8) == 0;
}

static void test_merge_shares_one_read_only_frame_and_frees_the_other(struct env *e)
{
	struct host_pfn pa, pb;
	hva_t a, b;

	REQUIRE(map_twins(e, &a, &b));
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 2);
	CHECK_EQ(hostmem_merge(e->hm, a, b), 0);
	CHECK_EQ(e->fl.starts, 2); /* both translations lose write access */
	CHECK_EQ(e->fl.ends, 2);
	CHECK_EQ(e->fl.mi.in_progress, 0);
	CHECK_EQ(e->fl.last.event, MMU_NOTIFY_PROTECT);
	REQUIRE(hostmem_hva_to_pfn(e->hm, a, false, &pa) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, b, false, &pb) == 0);
	CHECK_EQ(pa.pfn, pb.pfn);
	CHECK(!pa.writable && !pb.writable);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 1);
}

static void test_write_to_a_shared_page_asks_for_a_copy_that_keeps_the_other_intact(struct env *e)
{
	struct host_pfn pa, pb, p;
	char buf[8];
	hva_t a, b;

	REQUIRE(map_twins(e, &a, &b));
	REQUIRE(hostmem_merge(e->hm, a, b) == 0);
	CHECK_EQ(hostmem_hva_to_pfn(e->hm, b, true, &p), -EAGAIN);
	CHECK_EQ(hostmem_break_cow(e->hm, b), 0);
	CHECK_EQ(e->fl.last.event, MMU_NOTIFY_COW);
	CHECK_EQ(e->fl.starts, e->fl.ends);
	REQUIRE(hostmem_hva_to_pfn(e->hm, b, true, &pb) == 0);
	REQUIRE(hostmem_hva_to_pfn(e->hm, a, false, &pa) == 0);
	CHECK(pb.writable && pa.pfn != pb.pfn);
	REQUIRE(hostmem_write(e->hm, b, "changed", 8) == 0);
	REQUIRE(hostmem_read(e->hm, a, buf, 8) == 0);
	CHECK(memcmp(buf, "twins!!", 8) == 0);
	/* a is now the frame's last user: a write takes it back without a copy. */
	REQUIRE(hostmem_hva_to_pfn(e->hm, a, true, &p) == 0);
	CHECK_EQ(p.pfn, pa.pfn);
	CHECK(p.writable);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 2);
}

static void test_hostmem_write_breaks_the_share_itself(struct env *e)
{
	char buf[8];
	hva_t a, b;

	REQUIRE(map_twins(e, &a, &b));
	REQUIRE(hostmem_merge(e->hm, a, b) == 0);
	CHECK_EQ(hostmem_write(e->hm, a, "written", 8), 0);
	REQUIRE(hostmem_read(e->hm, b, buf, 8) == 0);
	CHECK(memcmp(buf, "twins!!", 8) == 0);
	REQUIRE(hostmem_read(e->hm, a, buf, 8) == 0);
	CHECK(memcmp(buf, "written", 8) == 0);
}

static void test_merge_refuses_different_absent_or_identical_pages(struct env *e)
{
	hva_t a, b, c;

	REQUIRE(map_twins(e, &a, &b));
	REQUIRE(hostmem_write(e->hm, b, "other!!", 8) == 0);
	CHECK_EQ(hostmem_merge(e->hm, a, b), -EINVAL);
	CHECK_EQ(hostmem_merge(e->hm, a, a), -EINVAL);
	REQUIRE(hostmem_map(e->hm, PAGE_SIZE, 0, &c) == 0);
	CHECK_EQ(hostmem_merge(e->hm, a, c), -EBUSY); /* c never touched */
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 2);
}

static void test_unmapping_shared_pages_frees_the_frame_with_its_last_user(struct env *e)
{
	hva_t a, b, c;

	REQUIRE(map_twins(e, &a, &b));
	REQUIRE(hostmem_map(e->hm, PAGE_SIZE, 0, &c) == 0);
	REQUIRE(hostmem_write(e->hm, c, "twins!!", 8) == 0);
	REQUIRE(hostmem_merge(e->hm, a, b) == 0);
	REQUIRE(hostmem_merge(e->hm, a, c) == 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 1);
	CHECK_EQ(hostmem_swap_out(e->hm, b), -EBUSY); /* merged pages are not swapped */
	CHECK_EQ(hostmem_unmap(e->hm, a, PAGE_SIZE), 0);
	CHECK_EQ(hostmem_unmap(e->hm, b, PAGE_SIZE), 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 1);
	CHECK_EQ(hostmem_unmap(e->hm, c, PAGE_SIZE), 0);
	CHECK_EQ(arena_frames_in_use(e->arena, ARENA_USE_GUEST), 0);
}

int main(void)
{
	RUN_ENV(test_first_touch_allocates_a_zero_filled_frame);
	RUN_ENV(test_write_then_read_round_trips_across_pages);
	RUN_ENV(test_unmapped_hvas_fault);
	RUN_ENV(test_readonly_mapping_refuses_writes_and_reports_read_only);
	RUN_ENV(test_bad_map_arguments_are_rejected);
	RUN_WITH_ARENA(64 * MiB, test_2m_backing_is_aligned_and_reports_2m_level);
	RUN_WITH_ARENA(2 * GiB, test_1g_backing_is_aligned_and_reports_1g_level);
	/* An arena of 1 MiB: no 2 MiB run exists. */
	RUN_WITH_ARENA(MiB, test_huge_backing_falls_back_to_4k_when_arena_is_fragmented);
	RUN_WITH_ARENA(4 * PAGE_SIZE, test_arena_exhaustion_gives_enomem_not_a_crash);
	RUN_ENV(test_unmap_fires_one_paired_invalidation_and_frees_frames);
	RUN_ENV(test_fault_racing_an_invalidation_must_retry);
	RUN(test_retry_hva_ignores_in_progress_ranges_elsewhere);
	RUN_ENV(test_swap_out_preserves_contents_and_swap_in_on_touch);
	RUN_ENV(test_swap_out_refuses_huge_backed_pages);
	RUN_ENV(test_migrate_moves_contents_to_a_new_frame);
	RUN_ENV(test_discard_drops_pages_and_next_touch_reads_zero);
	RUN_ENV(test_aging_clears_young_in_host_and_listener);
	RUN(test_notifier_registration_and_release);
	RUN_WITH_ARENA(64 * MiB, test_stats_account_pages_and_table_bytes);
	RUN_ENV(test_merge_shares_one_read_only_frame_and_frees_the_other);
	RUN_ENV(test_write_to_a_shared_page_asks_for_a_copy_that_keeps_the_other_intact);
	RUN_ENV(test_hostmem_write_breaks_the_share_itself);
	RUN_ENV(test_merge_refuses_different_absent_or_identical_pages);
	RUN_ENV(test_unmapping_shared_pages_frees_the_frame_with_its_last_user);
	return check_finish();
}
