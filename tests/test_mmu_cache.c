/*
 * test_mmu_cache.c - the per-vCPU object cache and its slab: top-up before
 * mmu_lock may fail, allocation after a covering top-up never does, objects
 * come zeroed, accounting returns to zero (KVM: kvm_mmu_memory_cache).
 */
#include <errno.h>
#include <string.h>

#include "mmu/mmu_cache.h"
#include "support/check.h"

#define OBJ_SIZE 128

static void slab_and_cache(struct mmu_slab *slab, struct mmu_cache *mc)
{
	mmu_slab_init(slab, "test", OBJ_SIZE);
	mmu_cache_init(mc, slab);
}

static struct mmu_slab_stats stats_of(const struct mmu_slab *slab)
{
	struct mmu_slab_stats st;

	mmu_slab_get_stats(slab, &st);
	return st;
}

/* mmu_cache_topup(mc, min) returns ret and leaves nr objects in the cache. */
#define CHECK_TOPUP(mc, min, ret, nr)                                                              \
	do {                                                                                       \
		CHECK_EQ(mmu_cache_topup(mc, min), (ret));                                         \
		CHECK_EQ(mmu_cache_nr_objs(mc), (nr));                                             \
	} while (0)

/*
 * A test is `static void test_...(struct mmu_slab *slab, struct mmu_cache *mc)`
 * on a fresh slab and an empty cache over it (slab_and_cache()); the test
 * itself frees what it takes.
 */
static void (*cache_test)(struct mmu_slab *slab, struct mmu_cache *mc);

static void run_cache_test(void)
{
	struct mmu_slab slab;
	struct mmu_cache mc;

	slab_and_cache(&slab, &mc);
	cache_test(&slab, &mc);
}

#define RUN_CACHE(fn) (cache_test = (fn), check_run(#fn, run_cache_test))

static void test_topup_fills_cache_to_capacity(struct mmu_slab *slab, struct mmu_cache *mc)
{
	CHECK_TOPUP(mc, 1, 0, MMU_CACHE_CAPACITY);
	CHECK_EQ(stats_of(slab).objs_live, MMU_CACHE_CAPACITY);
	CHECK_EQ(stats_of(slab).bytes_live, MMU_CACHE_CAPACITY * OBJ_SIZE);
	CHECK_EQ(stats_of(slab).objs_in_use, 0);
	mmu_cache_free_all(mc);
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

static void test_topup_with_enough_objects_allocates_nothing(struct mmu_slab *slab,
                                                             struct mmu_cache *mc)
{
	CHECK_EQ(mmu_cache_topup(mc, 5), 0);
	for (int i = 0; i < MMU_CACHE_CAPACITY - 5; i++)
		mmu_slab_free(slab, mmu_cache_alloc(mc));
	CHECK_EQ(mmu_cache_nr_objs(mc), 5);
	uint64_t allocs = stats_of(slab).allocs;
	CHECK_EQ(mmu_cache_topup(mc, 5), 0);
	CHECK_EQ(stats_of(slab).allocs, allocs);
	CHECK_EQ(mmu_cache_nr_objs(mc), 5);
	CHECK_EQ(mmu_cache_topup(mc, 0), 0);
	CHECK_EQ(stats_of(slab).allocs, allocs);
	mmu_cache_free_all(mc);
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

static void test_topup_rejects_min_outside_capacity(struct mmu_slab *slab, struct mmu_cache *mc)
{
	CHECK_EQ(mmu_cache_topup(mc, MMU_CACHE_CAPACITY + 1), -EINVAL);
	CHECK_TOPUP(mc, -1, -EINVAL, 0);
	CHECK_EQ(stats_of(slab).allocs, 0);
	CHECK_EQ(mmu_cache_topup(mc, MMU_CACHE_CAPACITY), 0);
	mmu_cache_free_all(mc);
}

static void test_alloc_returns_zeroed_objects(struct mmu_slab *slab, struct mmu_cache *mc)
{
	static const uint8_t zero[OBJ_SIZE];

	for (int round = 0; round < 3; round++) {
		void *objs[MMU_CACHE_CAPACITY];

		REQUIRE(mmu_cache_topup(mc, MMU_CACHE_CAPACITY) == 0);
		for (int i = 0; i < MMU_CACHE_CAPACITY; i++) {
			objs[i] = mmu_cache_alloc(mc);
			CHECK(memcmp(objs[i], zero, OBJ_SIZE) == 0);
			memset(objs[i], 0xa5, OBJ_SIZE); /* dirty it before it goes back */
		}
		for (int i = 0; i < MMU_CACHE_CAPACITY; i++)
			mmu_slab_free(slab, objs[i]);
	}
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

static void
test_alloc_after_covering_topup_succeeds_even_when_system_is_out_of_memory(struct mmu_slab *slab,
                                                                           struct mmu_cache *mc)
{
	void *objs[MMU_CACHE_CAPACITY];

	REQUIRE(mmu_cache_topup(mc, MMU_CACHE_CAPACITY) == 0);
	mmu_slab_inject_enomem(slab, 1, UINT64_MAX);
	for (int i = 0; i < MMU_CACHE_CAPACITY; i++) {
		objs[i] = mmu_cache_alloc(mc);
		CHECK(objs[i] != NULL);
	}
	CHECK_EQ(stats_of(slab).objs_in_use, MMU_CACHE_CAPACITY);
	CHECK_EQ(stats_of(slab).bytes_in_use, MMU_CACHE_CAPACITY * OBJ_SIZE);
	CHECK_EQ(mmu_cache_topup(mc, 1), -ENOMEM);
	for (int i = 0; i < MMU_CACHE_CAPACITY; i++)
		mmu_slab_free(slab, objs[i]);
	CHECK_EQ(stats_of(slab).objs_in_use, 0);
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

static void test_topup_fails_with_enomem_when_nothing_can_be_allocated(struct mmu_slab *slab,
                                                                       struct mmu_cache *mc)
{
	mmu_slab_inject_enomem(slab, 1, 1);
	CHECK_TOPUP(mc, 1, -ENOMEM, 0);
	CHECK_EQ(stats_of(slab).objs_live, 0);
	CHECK_EQ(stats_of(slab).alloc_failures, 1);
	/* A single injected failure: the retry succeeds. */
	CHECK_TOPUP(mc, 1, 0, MMU_CACHE_CAPACITY);
	mmu_cache_free_all(mc);
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

static void test_partial_topup_keeps_objects_and_succeeds_iff_it_covers_min(struct mmu_slab *slab,
                                                                            struct mmu_cache *mc)
{
	mmu_slab_inject_enomem(slab, 5, UINT64_MAX); /* four allocations succeed */
	CHECK_TOPUP(mc, 4, 0, 4);
	CHECK_TOPUP(mc, 10, -ENOMEM, 4);
	CHECK_EQ(stats_of(slab).objs_live, 4);
	mmu_slab_inject_enomem(slab, 1, 0); /* off */
	CHECK_TOPUP(mc, 10, 0, MMU_CACHE_CAPACITY);
	mmu_cache_free_all(mc);
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

static void test_inject_enomem_fails_exactly_the_nth_allocation(struct mmu_slab *slab,
                                                                struct mmu_cache *mc)
{
	mmu_slab_inject_enomem(slab, 3, 1);
	CHECK_TOPUP(mc, 2, 0, 2); /* stops at the 3rd, 2 cover min */
	CHECK_EQ(stats_of(slab).allocs, 3);
	CHECK_EQ(stats_of(slab).alloc_failures, 1);
	CHECK_TOPUP(mc, 3, 0, MMU_CACHE_CAPACITY); /* the 4th onwards succeed */
	mmu_cache_free_all(mc);
}

static void test_caches_of_two_vcpus_share_slab_accounting(void)
{
	struct mmu_slab slab;
	struct mmu_cache a, b;
	void *x, *y;

	mmu_slab_init(&slab, "shared", 40);
	mmu_cache_init(&a, &slab);
	mmu_cache_init(&b, &slab);
	REQUIRE(mmu_cache_topup(&a, 1) == 0 && mmu_cache_topup(&b, 1) == 0);
	CHECK_EQ(stats_of(&slab).objs_live, 2 * MMU_CACHE_CAPACITY);
	x = mmu_cache_alloc(&a);
	y = mmu_cache_alloc(&b);
	CHECK_EQ(stats_of(&slab).objs_in_use, 2);
	CHECK_EQ(stats_of(&slab).bytes_in_use, 80);
	/* An object may be freed by whoever holds mmu_lock, not only its vCPU. */
	mmu_slab_free(&slab, y);
	mmu_slab_free(&slab, x);
	mmu_slab_free(&slab, NULL);
	mmu_cache_free_all(&a);
	mmu_cache_free_all(&b);
	CHECK_EQ(stats_of(&slab).objs_in_use, 0);
	CHECK_EQ(stats_of(&slab).objs_live, 0);
}

static void test_free_all_on_empty_cache_is_harmless(struct mmu_slab *slab, struct mmu_cache *mc)
{
	mmu_cache_free_all(mc);
	mmu_cache_free_all(mc);
	CHECK_EQ(mmu_cache_nr_objs(mc), 0);
	CHECK_EQ(stats_of(slab).objs_live, 0);
}

struct slab_cache_pair {
	struct mmu_slab slab;
	struct mmu_cache mc;
};

static int alloc_from_empty_cache(void *arg)
{
	struct slab_cache_pair *sc = arg;
	void *obj = mmu_cache_alloc(&sc->mc); /* empty cache */

	mmu_slab_free(&sc->slab, obj);
	return 0;
}

/* Allocating past the top-up is a caller bug: debug builds stop on it. */
static void test_alloc_beyond_topup_asserts_in_debug_builds(void)
{
	struct slab_cache_pair sc;

	slab_and_cache(&sc.slab, &sc.mc);
	CHECK_CALLER_BUG(alloc_from_empty_cache, &sc);
}

int main(void)
{
	RUN_CACHE(test_topup_fills_cache_to_capacity);
	RUN_CACHE(test_topup_with_enough_objects_allocates_nothing);
	RUN_CACHE(test_topup_rejects_min_outside_capacity);
	RUN_CACHE(test_alloc_returns_zeroed_objects);
	RUN_CACHE(test_alloc_after_covering_topup_succeeds_even_when_system_is_out_of_memory);
	RUN_CACHE(test_topup_fails_with_enomem_when_nothing_can_be_allocated);
	RUN_CACHE(test_partial_topup_keeps_objects_and_succeeds_iff_it_covers_min);
	RUN_CACHE(test_inject_enomem_fails_exactly_the_nth_allocation);
	RUN(test_caches_of_two_vcpus_share_slab_accounting);
	RUN_CACHE(test_free_all_on_empty_cache_is_harmless);
	RUN(test_alloc_beyond_topup_asserts_in_debug_builds);
	return check_finish();
}
