/*
 * test_pte_list.c - the one-word spte set behind rmaps and parent ptes,
 * checked against a naive reference set (a membership array) after every
 * operation: the 0 / 1 / many encodings and their transitions both ways,
 * removal at every position of first and later descriptors, removal while
 * iterating, large and random sets, accounting back to zero, and -ENOMEM
 * injected into the top-up that precedes each add.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmu/pte_list.h"
#include "support/check.h"

/* One list under test, its reference set, and the sptes it may hold. */
struct fixture {
	struct mmu_slab slab;
	struct mmu_cache mc;
	struct rmap_head head;
	unsigned universe;   /* sptes[0..universe) are the candidate entries */
	uint64_t *sptes;     /* stands in for shadow page table entries */
	bool *in;            /* reference: in[i] iff &sptes[i] is in the list */
	unsigned nr_in;      /* reference count */
	unsigned char *seen; /* scratch for iteration checks */
};

static unsigned ext;

static void fx_init(struct fixture *fx, unsigned universe)
{
	pte_list_slab_init(&fx->slab);
	mmu_cache_init(&fx->mc, &fx->slab);
	fx->head.val = 0;
	fx->universe = universe;
	fx->sptes = calloc(universe, sizeof(*fx->sptes));
	fx->in = calloc(universe, sizeof(*fx->in));
	fx->seen = calloc(universe, 1);
	fx->nr_in = 0;
}

static uint64_t slab_in_use(const struct fixture *fx)
{
	struct mmu_slab_stats st;

	mmu_slab_get_stats(&fx->slab, &st);
	return st.objs_in_use;
}

static uint64_t slab_live(const struct fixture *fx)
{
	struct mmu_slab_stats st;

	mmu_slab_get_stats(&fx->slab, &st);
	return st.objs_live;
}

/* Teardown must give every descriptor back (LSan double-checks). */
static void fx_fini(struct fixture *fx)
{
	CHECK_EQ(pte_list_destroy(&fx->slab, &fx->head), fx->nr_in);
	CHECK(pte_list_empty(&fx->head));
	mmu_cache_free_all(&fx->mc);
	CHECK_EQ(slab_in_use(fx), 0);
	CHECK_EQ(slab_live(fx), 0);
	free(fx->sptes);
	free(fx->in);
	free(fx->seen);
}

static void fx_add(struct fixture *fx, unsigned i)
{
	CHECK_EQ(mmu_cache_topup(&fx->mc, 1), 0);
	CHECK_EQ(pte_list_add(&fx->mc, &fx->head, &fx->sptes[i]), fx->nr_in);
	fx->in[i] = true;
	fx->nr_in++;
}

static void fx_remove(struct fixture *fx, unsigned i)
{
	CHECK_EQ(pte_list_remove(&fx->slab, &fx->head, &fx->sptes[i]), 0);
	fx->in[i] = false;
	fx->nr_in--;
}

static unsigned fx_index(const struct fixture *fx, const uint64_t *sptep)
{
	return (unsigned)(sptep - fx->sptes);
}

/* Descriptors a list of n entries needs: none inline, then one per ext. */
static uint64_t descs_for(unsigned n)
{
	return n < 2 ? 0 : (n + ext - 1) / ext;
}

/* The list equals the reference: same count, each member visited once. */
static bool fx_matches(struct fixture *fx)
{
	struct pte_list_iter it;
	uint64_t *sptep;
	unsigned visited = 0;
	bool ok = true;

	memset(fx->seen, 0, fx->universe);
	for_each_pte_list_entry(&fx->head, &it, sptep)
	{
		unsigned i = fx_index(fx, sptep);

		if (i >= fx->universe || !fx->in[i] || fx->seen[i]++)
			ok = false;
		visited++;
	}
	ok = ok && visited == fx->nr_in && pte_list_count(&fx->head) == fx->nr_in;
	ok = ok && pte_list_check(&fx->head) == 0;
	ok = ok && slab_in_use(fx) == descs_for(fx->nr_in);
	ok = ok && ((fx->nr_in >= 2) == !!(fx->head.val & PTE_LIST_MANY));
	return ok;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fixed seeds give repeatable sequences. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void test_empty_list_has_no_entries_and_no_descriptor(void)
{
	struct fixture fx;
	struct pte_list_iter it;

	fx_init(&fx, 1);
	CHECK(pte_list_empty(&fx.head));
	CHECK_EQ(pte_list_count(&fx.head), 0);
	CHECK(pte_list_first(&fx.head, &it) == NULL);
	CHECK(!pte_list_contains(&fx.head, &fx.sptes[0]));
	CHECK_EQ(pte_list_check(&fx.head), 0);
	fx_fini(&fx);
}

static void test_one_entry_lives_in_the_head_word(void)
{
	struct fixture fx;

	fx_init(&fx, 1);
	fx_add(&fx, 0);
	CHECK_EQ(fx.head.val, (uintptr_t)&fx.sptes[0]);
	CHECK(pte_list_contains(&fx.head, &fx.sptes[0]));
	CHECK(fx_matches(&fx));
	CHECK_EQ(slab_in_use(&fx), 0);
	fx_remove(&fx, 0);
	CHECK_EQ(fx.head.val, 0);
	CHECK(fx_matches(&fx));
	fx_fini(&fx);
}

static void test_second_entry_moves_both_into_one_descriptor(void)
{
	struct fixture fx;

	fx_init(&fx, 2);
	fx_add(&fx, 0);
	fx_add(&fx, 1);
	CHECK(fx.head.val & PTE_LIST_MANY);
	CHECK_EQ(slab_in_use(&fx), 1);
	CHECK(pte_list_contains(&fx.head, &fx.sptes[0]));
	CHECK(pte_list_contains(&fx.head, &fx.sptes[1]));
	CHECK(fx_matches(&fx));
	fx_fini(&fx);
}

static void test_removal_down_to_one_entry_collapses_into_the_head_word(void)
{
	for (unsigned keep = 0; keep < 2; keep++) {
		struct fixture fx;

		fx_init(&fx, 2);
		fx_add(&fx, 0);
		fx_add(&fx, 1);
		fx_remove(&fx, 1 - keep);
		CHECK_EQ(fx.head.val, (uintptr_t)&fx.sptes[keep]);
		CHECK_EQ(slab_in_use(&fx), 0);
		CHECK(fx_matches(&fx));
		fx_fini(&fx);
	}
}

static void test_growing_and_shrinking_crosses_descriptor_boundaries(void)
{
	unsigned n = 4 * ext + 3;
	struct fixture fx;

	fx_init(&fx, n);
	for (unsigned i = 0; i < n; i++) {
		fx_add(&fx, i);
		CHECK_MSG(fx_matches(&fx), "after adding entry %u", i);
	}
	for (unsigned i = 0; i < n; i++) {
		fx_remove(&fx, i);
		CHECK_MSG(fx_matches(&fx), "after removing entry %u", i);
	}
	CHECK_EQ(fx.head.val, 0);
	fx_fini(&fx);
}

/*
 * Remove each single position of lists whose shape puts it first, in the
 * middle or last of the first (partial) descriptor or of a later full one.
 */
static void test_removal_of_every_position_keeps_the_rest(void)
{
	unsigned sizes[] = {2, 3, ext, ext + 1, 2 * ext, 2 * ext + 1, 3 * ext + ext / 2};

	for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (unsigned victim = 0; victim < sizes[s]; victim++) {
			struct fixture fx;

			fx_init(&fx, sizes[s]);
			for (unsigned i = 0; i < sizes[s]; i++)
				fx_add(&fx, i);
			fx_remove(&fx, victim);
			CHECK_MSG(fx_matches(&fx), "size %u, removed entry %u", sizes[s], victim);
			CHECK(!pte_list_contains(&fx.head, &fx.sptes[victim]));
			fx_fini(&fx);
		}
	}
}

struct absent_removal {
	struct fixture *fx;
	unsigned absent;
};

/* 0 if removing the absent spte is refused with -ENOENT and leaves the list as it was. */
static int remove_absent_spte(void *arg)
{
	struct absent_removal *ar = arg;
	struct fixture *fx = ar->fx;
	int rc = pte_list_remove(&fx->slab, &fx->head, &fx->sptes[ar->absent]);

	return rc == -ENOENT && fx_matches(fx) ? 0 : 1;
}

static void expect_removal_of_absent_spte_refused(struct fixture *fx, unsigned absent)
{
	struct absent_removal ar = {fx, absent};

	CHECK_CALLER_BUG(remove_absent_spte, &ar);
}

/* A caller bug: asserts in debug builds; -ENOENT and no change in release. */
static void test_removing_an_absent_spte_is_refused_without_corruption(void)
{
	unsigned sizes[] = {0, 1, 2, 2 * ext + 1};

	for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct fixture fx;

		fx_init(&fx, sizes[s] + 1);
		for (unsigned i = 0; i < sizes[s]; i++)
			fx_add(&fx, i);
		expect_removal_of_absent_spte_refused(&fx, sizes[s]);
		CHECK(fx_matches(&fx));
		fx_fini(&fx);
	}
}

/* Walk the list removing entries for which remove_it says so. */
static void iterate_removing(struct fixture *fx, bool (*remove_it)(unsigned nth, uint64_t *rng),
                             uint64_t seed)
{
	struct pte_list_iter it;
	uint64_t *sptep;
	unsigned nth = 0;
	unsigned visited = 0, before = fx->nr_in;

	memset(fx->seen, 0, fx->universe);
	for_each_pte_list_entry(&fx->head, &it, sptep)
	{
		unsigned i = fx_index(fx, sptep);

		CHECK_MSG(i < fx->universe && fx->in[i] && !fx->seen[i]++,
		          "entry %u visited wrongly", i);
		visited++;
		if (remove_it(nth++, &seed)) {
			pte_list_iter_remove(&fx->slab, &it);
			fx->in[i] = false;
			fx->nr_in--;
			CHECK_EQ(pte_list_check(&fx->head), 0);
		}
	}
	CHECK_EQ(visited, before);
}

static bool remove_all(unsigned nth, uint64_t *rng)
{
	return true;
}

static bool remove_even(unsigned nth, uint64_t *rng)
{
	return nth % 2 == 0;
}

static bool remove_odd(unsigned nth, uint64_t *rng)
{
	return nth % 2 == 1;
}

static bool remove_at_random(unsigned nth, uint64_t *rng)
{
	return rng_next(rng) & 1;
}

static void test_removing_while_iterating_visits_each_entry_once(void)
{
	bool (*policies[])(unsigned, uint64_t *) = {remove_all, remove_even, remove_odd,
	                                            remove_at_random};

	for (unsigned p = 0; p < ARRAY_SIZE(policies); p++) {
		for (unsigned n = 0; n <= 3 * ext + 2; n++) {
			struct fixture fx;

			fx_init(&fx, n);
			for (unsigned i = 0; i < n; i++)
				fx_add(&fx, i);
			iterate_removing(&fx, policies[p], 0x9e3779b97f4a7c15ull + n);
			CHECK_MSG(fx_matches(&fx), "policy %u, size %u", p, n);
			if (policies[p] == remove_all)
				CHECK(pte_list_empty(&fx.head) && slab_in_use(&fx) == 0);
			if (policies[p] == remove_even || policies[p] == remove_odd)
				CHECK_EQ(fx.nr_in,
				         policies[p] == remove_even ? n / 2 : (n + 1) / 2);
			fx_fini(&fx);
		}
	}
}

static void test_ten_thousand_entries_match_the_reference(void)
{
	const unsigned n = 10000;
	uint64_t rng = 42;
	struct fixture fx;

	fx_init(&fx, n);
	for (unsigned i = 0; i < n; i++)
		fx_add(&fx, i);
	CHECK(fx_matches(&fx));
	CHECK_EQ(slab_in_use(&fx), (n + ext - 1) / ext);
	for (unsigned i = 0; i < n; i += 97)
		CHECK(pte_list_contains(&fx.head, &fx.sptes[i]));
	/* Remove a random half, then remove-while-iterating every other one. */
	for (unsigned k = 0; k < n / 2; k++) {
		unsigned i = (unsigned)(rng_next(&rng) % n);

		if (fx.in[i])
			fx_remove(&fx, i);
	}
	CHECK(fx_matches(&fx));
	iterate_removing(&fx, remove_even, 0);
	CHECK(fx_matches(&fx));
	fx_fini(&fx);
}

/* 100k random adds and removes on lists of several sizes, checked after each. */
static void test_random_operations_match_the_reference_after_each_one(void)
{
	const unsigned universes[] = {3, 2 * ext, 5 * ext};
	const uint64_t seeds[] = {1, 0xdeadbeef, 20070104};

	for (unsigned u = 0; u < ARRAY_SIZE(universes); u++) {
		struct fixture fx;
		uint64_t rng = seeds[u];
		unsigned mismatches = 0;

		fx_init(&fx, universes[u]);
		for (unsigned op = 0; op < 100000 / ARRAY_SIZE(universes); op++) {
			unsigned i = (unsigned)(rng_next(&rng) % universes[u]);

			if (fx.in[i])
				fx_remove(&fx, i);
			else
				fx_add(&fx, i);
			mismatches += !fx_matches(&fx);
		}
		CHECK_EQ(mismatches, 0);
		fx_fini(&fx);
	}
}

static void test_destroy_frees_every_descriptor(void)
{
	unsigned sizes[] = {0, 1, 2, ext, 5 * ext + 1};

	for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct fixture fx;

		fx_init(&fx, sizes[s]);
		for (unsigned i = 0; i < sizes[s]; i++)
			fx_add(&fx, i);
		CHECK_EQ(pte_list_destroy(&fx.slab, &fx.head), sizes[s]);
		CHECK_EQ(fx.head.val, 0);
		CHECK_EQ(slab_in_use(&fx), 0);
		fx.nr_in = 0;
		memset(fx.in, 0, sizes[s] * sizeof(*fx.in));
		fx_fini(&fx);
	}
}

static void test_add_reports_the_count_before_it(void)
{
	struct fixture fx;
	struct mmu_slab_stats st;

	fx_init(&fx, 3 * ext);
	for (unsigned i = 0; i < 3 * ext; i++) {
		CHECK_EQ(mmu_cache_topup(&fx.mc, 1), 0);
		CHECK_EQ(pte_list_add(&fx.mc, &fx.head, &fx.sptes[i]), i);
		fx.in[i] = true;
		fx.nr_in++;
	}
	mmu_slab_get_stats(&fx.slab, &st);
	CHECK_EQ(st.bytes_in_use, 3 * pte_list_desc_size());
	CHECK_EQ(pte_list_desc_size(), 16 + 8 * ext);
	fx_fini(&fx);
}

/*
 * The fault path tops up before each add and backs out on -ENOMEM; with
 * failures injected at every possible allocation the list must stay equal
 * to the reference, and nothing may leak.
 */
static void test_enomem_in_topup_leaves_lists_consistent(void)
{
	const unsigned n = 3 * ext + 1;

	for (unsigned nth = 1; nth <= 4; nth++) {
		struct fixture fx;
		unsigned refused = 0;

		fx_init(&fx, n);
		for (unsigned i = 0; i < n; i++) {
			/* An empty cache at each add forces a top-up that can fail. */
			mmu_cache_free_all(&fx.mc);
			mmu_slab_inject_enomem(&fx.slab, nth, 1);
			if (mmu_cache_topup(&fx.mc, 1)) {
				refused++;
				CHECK(fx_matches(&fx));
				continue;
			}
			CHECK_EQ(pte_list_add(&fx.mc, &fx.head, &fx.sptes[i]), fx.nr_in);
			fx.in[i] = true;
			fx.nr_in++;
			CHECK(fx_matches(&fx));
		}
		CHECK_EQ(refused, nth == 1 ? n : 0);
		fx_fini(&fx);
	}
}

int main(void)
{
	ext = pte_list_ext();
	RUN(test_empty_list_has_no_entries_and_no_descriptor);
	RUN(test_one_entry_lives_in_the_head_word);
	RUN(test_second_entry_moves_both_into_one_descriptor);
	RUN(test_removal_down_to_one_entry_collapses_into_the_head_word);
	RUN(test_growing_and_shrinking_crosses_descriptor_boundaries);
	RUN(test_removal_of_every_position_keeps_the_rest);
	RUN(test_removing_an_absent_spte_is_refused_without_corruption);
	RUN(test_removing_while_iterating_visits_each_entry_once);
	RUN(test_ten_thousand_entries_match_the_reference);
	RUN(test_random_operations_match_the_reference_after_each_one);
	RUN(test_destroy_frees_every_descriptor);
	RUN(test_add_reports_the_count_before_it);
	RUN(test_enomem_in_topup_leaves_lists_consistent);
	return check_finish();
}
