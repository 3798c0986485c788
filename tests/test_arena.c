/*
 * test_arena.c - the frame arena: natural alignment of runs, zero-filled
 * frames, per-use accounting, -ENOMEM on exhaustion, buddy merging, and
 * rejection of bad frees (unaligned, wrong order or use, double free).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"
#include "support/check.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static bool run_is_zero(struct arena *a, hpa_t hpa, unsigned order)
{
	const uint8_t *p = arena_hpa_to_ptr(a, hpa, PAGE_SIZE << order);

	if (!p)
		return false;
	for (uint64_t i = 0; i < (PAGE_SIZE << order); i++)
		if (p[i])
			return false;
	return true;
}

static void test_create_rounds_size_up_to_a_frame(void)
{
	struct arena *a = arena_create(3 * PAGE_SIZE + 1);

	REQUIRE(a);
	CHECK_EQ(a->size, 4 * PAGE_SIZE);
	CHECK_EQ(arena_nr_frames(a), 4);
	CHECK_EQ(arena_frames_free(a), 4);
	arena_destroy(a);
	CHECK(arena_create(0) == NULL);
}

static void test_runs_are_naturally_aligned_for_every_order(void)
{
	struct arena *a = arena_create(4 * GiB);
	unsigned orders[] = {0, 1, 3, 9, 0, 18, 2, 9, 18};
	hpa_t hpa[ARRAY_SIZE(orders)];

	REQUIRE(a);
	for (unsigned i = 0; i < ARRAY_SIZE(orders); i++) {
		REQUIRE(arena_alloc(a, orders[i], ARENA_USE_GUEST, &hpa[i]) == 0);
		CHECK_EQ(hpa[i] & ((PAGE_SIZE << orders[i]) - 1), 0);
		CHECK(arena_hpa_to_ptr(a, hpa[i], PAGE_SIZE << orders[i]) != NULL);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(orders); i++)
		CHECK_EQ(arena_free(a, hpa[i], orders[i], ARENA_USE_GUEST), 0);
	CHECK_EQ(arena_frames_free(a), arena_nr_frames(a));
	arena_destroy(a);
}

static void test_frames_come_back_zero_filled_after_reuse(void)
{
	struct arena *a = arena_create(64 * MiB);
	hpa_t hpa, again;

	REQUIRE(a);
	for (unsigned order = 0; order <= 10; order += 5) {
		REQUIRE(arena_alloc(a, order, ARENA_USE_GUEST, &hpa) == 0);
		CHECK(run_is_zero(a, hpa, order));
		memset(arena_hpa_to_ptr(a, hpa, PAGE_SIZE << order), 0xa5, PAGE_SIZE << order);
		CHECK_EQ(arena_free(a, hpa, order, ARENA_USE_GUEST), 0);
		REQUIRE(arena_alloc(a, order, ARENA_USE_GUEST, &again) == 0);
		CHECK_EQ(again, hpa); /* LIFO free list: the dirty run is reused */
		CHECK(run_is_zero(a, again, order));
		CHECK_EQ(arena_free(a, again, order, ARENA_USE_GUEST), 0);
	}
	arena_destroy(a);
}

static void test_small_dirty_frames_merge_into_a_zero_huge_run(void)
{
	struct arena *a = arena_create(2 * MiB);
	hpa_t hpa[512], big;

	REQUIRE(a);
	for (unsigned i = 0; i < 512; i++) {
		REQUIRE(arena_alloc(a, 0, ARENA_USE_SHADOW, &hpa[i]) == 0);
		*(uint64_t *)arena_hpa_to_ptr(a, hpa[i], 8) = ~0ull;
	}
	for (unsigned i = 0; i < 512; i++)
		CHECK_EQ(arena_free(a, hpa[(i * 7) % 512], 0, ARENA_USE_SHADOW), 0);
	REQUIRE(arena_alloc(a, ARENA_ORDER_2M, ARENA_USE_GUEST, &big) == 0);
	CHECK_EQ(big, 0);
	CHECK(run_is_zero(a, big, ARENA_ORDER_2M));
	arena_destroy(a);
}

static void test_accounting_counts_frames_per_use(void)
{
	struct arena *a = arena_create(16 * MiB);
	hpa_t g, s1, s2;

	REQUIRE(a);
	REQUIRE(arena_alloc(a, ARENA_ORDER_2M, ARENA_USE_GUEST, &g) == 0);
	REQUIRE(arena_alloc(a, 0, ARENA_USE_SHADOW, &s1) == 0);
	REQUIRE(arena_alloc(a, 0, ARENA_USE_SHADOW, &s2) == 0);
	CHECK_EQ(arena_frames_in_use(a, ARENA_USE_GUEST), 512);
	CHECK_EQ(arena_frames_in_use(a, ARENA_USE_SHADOW), 2);
	CHECK_EQ(arena_frames_free(a), 4096 - 514);
	CHECK_EQ(arena_frames_in_use(a, ARENA_USE_NR), 0);
	CHECK_EQ(arena_free(a, s1, 0, ARENA_USE_SHADOW), 0);
	CHECK_EQ(arena_free(a, g, ARENA_ORDER_2M, ARENA_USE_GUEST), 0);
	CHECK_EQ(arena_frames_in_use(a, ARENA_USE_GUEST), 0);
	CHECK_EQ(arena_frames_in_use(a, ARENA_USE_SHADOW), 1);
	CHECK_EQ(arena_free(a, s2, 0, ARENA_USE_SHADOW), 0);
	CHECK_EQ(arena_frames_free(a), 4096);
	arena_destroy(a);
}

static void test_exhaustion_returns_enomem_and_recovers(void)
{
	struct arena *a = arena_create(64 * PAGE_SIZE);
	hpa_t hpa[64], extra;

	REQUIRE(a);
	for (unsigned i = 0; i < 64; i++)
		REQUIRE(arena_alloc(a, 0, ARENA_USE_GUEST, &hpa[i]) == 0);
	CHECK_EQ(arena_alloc(a, 0, ARENA_USE_GUEST, &extra), -ENOMEM);
	CHECK_EQ(arena_alloc(a, 7, ARENA_USE_GUEST, &extra), -ENOMEM);
	CHECK_EQ(arena_free(a, hpa[5], 0, ARENA_USE_GUEST), 0);
	CHECK_EQ(arena_alloc(a, 0, ARENA_USE_GUEST, &extra), 0);
	CHECK_EQ(extra, hpa[5]);
	arena_destroy(a);
}

static void test_odd_sized_arena_has_no_run_past_its_end(void)
{
	struct arena *a = arena_create(3 * MiB); /* 768 frames: one 2M + one 1M block */
	hpa_t h;

	REQUIRE(a);
	REQUIRE(arena_alloc(a, ARENA_ORDER_2M, ARENA_USE_GUEST, &h) == 0);
	CHECK_EQ(arena_alloc(a, ARENA_ORDER_2M, ARENA_USE_GUEST, &h), -ENOMEM);
	REQUIRE(arena_alloc(a, 8, ARENA_USE_GUEST, &h) == 0);
	CHECK_EQ(h, 2 * MiB);
	CHECK_EQ(arena_frames_free(a), 0);
	arena_destroy(a);
}

static void test_bad_order_or_use_is_rejected(void)
{
	struct arena *a = arena_create(MiB);
	hpa_t h = 0;

	REQUIRE(a);
	CHECK_EQ(arena_alloc(a, ARENA_MAX_ORDER + 1, ARENA_USE_GUEST, &h), -EINVAL);
	CHECK_EQ(arena_alloc(a, 0, ARENA_USE_NR, &h), -EINVAL);
	CHECK_EQ(arena_alloc(a, 0, (enum arena_use) - 1, &h), -EINVAL);
	CHECK_EQ(arena_frames_free(a), 256);
	arena_destroy(a);
}

static void test_bad_free_is_rejected_and_changes_nothing(void)
{
	struct arena *a = arena_create(MiB);
	hpa_t h, h2;

	REQUIRE(a);
	REQUIRE(arena_alloc(a, 2, ARENA_USE_GUEST, &h) == 0);
	CHECK_EQ(arena_free(a, h + 8, 2, ARENA_USE_GUEST), -EINVAL);         /* unaligned */
	CHECK_EQ(arena_free(a, h + PAGE_SIZE, 0, ARENA_USE_GUEST), -EINVAL); /* interior */
	CHECK_EQ(arena_free(a, h, 1, ARENA_USE_GUEST), -EINVAL);             /* wrong order */
	CHECK_EQ(arena_free(a, h, 2, ARENA_USE_SHADOW), -EINVAL);            /* wrong use */
	CHECK_EQ(arena_free(a, a->size, 0, ARENA_USE_GUEST), -EINVAL);       /* past the end */
	CHECK_EQ(arena_free(a, h, ARENA_MAX_ORDER + 1, ARENA_USE_GUEST), -EINVAL);
	CHECK_EQ(arena_frames_in_use(a, ARENA_USE_GUEST), 4);
	CHECK_EQ(arena_free(a, h, 2, ARENA_USE_GUEST), 0);
	CHECK_EQ(arena_free(a, h, 2, ARENA_USE_GUEST), -EINVAL); /* double free */
	CHECK_EQ(arena_free(a, 0, 8, ARENA_USE_GUEST), -EINVAL); /* a free block */
	CHECK_EQ(arena_frames_free(a), 256);
	REQUIRE(arena_alloc(a, 8, ARENA_USE_GUEST, &h2) == 0); /* still one whole block */
	arena_destroy(a);
}

static void test_hpa_to_ptr_refuses_ranges_leaving_the_arena(void)
{
	struct arena *a = arena_create(MiB);

	REQUIRE(a);
	CHECK(arena_hpa_to_ptr(a, MiB - 8, 8) != NULL);
	CHECK(arena_hpa_to_ptr(a, MiB - 8, 9) == NULL);
	CHECK(arena_hpa_to_ptr(a, MiB, 0) == NULL);
	CHECK(arena_hpa_to_ptr(a, ~0ull, 2) == NULL);
	arena_destroy(a);
}

/* Random alloc/free mix against a shadow bitmap: no frame is ever handed out twice. */
static void test_random_mix_never_hands_out_a_live_frame(void)
{
	enum { NFRAMES = 4096, NLIVE = 600 };
	struct arena *a = arena_create(NFRAMES * PAGE_SIZE);
	static uint8_t owned[NFRAMES];
	hpa_t live[NLIVE];
	unsigned order[NLIVE], n = 0;
	uint64_t seed = 12345;

	REQUIRE(a);
	memset(owned, 0, sizeof(owned));
	for (unsigned step = 0; step < 20000; step++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		if (n < NLIVE && (seed >> 60) < 9) {
			unsigned o = (seed >> 33) % 4;

			if (arena_alloc(a, o, ARENA_USE_GUEST, &live[n]) != 0)
				continue;
			for (unsigned i = 0; i < (1u << o); i++) {
				CHECK(!owned[(live[n] >> PAGE_SHIFT) + i]);
				owned[(live[n] >> PAGE_SHIFT) + i] = 1;
			}
			order[n++] = o;
		} else if (n) {
			unsigned k = (seed >> 20) % n;

			for (unsigned i = 0; i < (1u << order[k]); i++)
				owned[(live[k] >> PAGE_SHIFT) + i] = 0;
			CHECK_EQ(arena_free(a, live[k], order[k], ARENA_USE_GUEST), 0);
			live[k] = live[--n];
			order[k] = order[n];
		}
	}
	while (n--)
		CHECK_EQ(arena_free(a, live[n], order[n], ARENA_USE_GUEST), 0);
	CHECK_EQ(arena_frames_free(a), NFRAMES);
	arena_destroy(a);
}

int main(void)
{
	RUN(test_create_rounds_size_up_to_a_frame);
	RUN(test_runs_are_naturally_aligned_for_every_order);
	RUN(test_frames_come_back_zero_filled_after_reuse);
	RUN(test_small_dirty_frames_merge_into_a_zero_huge_run);
	RUN(test_accounting_counts_frames_per_use);
	RUN(test_exhaustion_returns_enomem_and_recovers);
	RUN(test_odd_sized_arena_has_no_run_past_its_end);
	RUN(test_bad_order_or_use_is_rejected);
	RUN(test_bad_free_is_rejected_and_changes_nothing);
	RUN(test_hpa_to_ptr_refuses_ranges_leaving_the_arena);
	RUN(test_random_mix_never_hands_out_a_live_frame);
	return check_finish();
}
