/*
 * bench_memslot.c - costs of the host layer's hot paths:
 *   gfn -> memslot lookup with 1, 32 and 512 slots, random gfns that hit a
 *   slot (worst case for the last-hit cache) and gfns clustered in one slot
 *   (the common case: a fault burst in one region);
 *   frame arena alloc/free of 4 KiB frames (in batches, as shadow pages are;
 *   free includes zeroing the frame, the arena's zero-on-free invariant)
 *   and of 2 MiB runs; hostmem first-touch and resolved hva -> pfn.
 * Figures are ns per operation, medians over REPS runs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"
#include "host/hostmem.h"
#include "memslot/memslot.h"

#define REPS     15
#define NLOOKUPS (1u << 16)
#define NGFNS    4096
#define BATCH    (1u << 16)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* nslots slots of 64 MiB each, with 64 MiB holes between them. */
static void slots_fill(struct memslots *ms, unsigned nslots)
{
	for (unsigned i = 0; i < nslots; i++) {
		struct memslot_region r = {.slot = i,
		                           .guest_phys_addr = (uint64_t)i * 128 << 20,
		                           .memory_size = 64 << 20,
		                           .userspace_addr = (1ull << 40) + ((uint64_t)i << 27)};

		if (memslots_set_region(ms, &r))
			abort();
	}
}

static void bench_lookup(unsigned nslots, bool clustered)
{
	static struct memslots ms;
	static gfn_t gfns[NGFNS];
	double samples[REPS];
	char name[64];

	memslots_init(&ms, NULL, NULL);
	slots_fill(&ms, nslots);
	for (unsigned i = 0; i < NGFNS; i++) {
		unsigned slot = clustered ? (i / 256) % nslots : rng() % nslots;

		gfns[i] = (uint64_t)slot * 32768 + rng() % 16384;
	}
	for (int rep = -2; rep < REPS; rep++) { /* two warm-up runs */
		uint64_t t0 = bench_now_ns(), sum = 0;

		for (unsigned i = 0; i < NLOOKUPS; i++)
			sum += (uintptr_t)memslots_find(&ms, gfns[i % NGFNS]);
		bench_sink(sum);
		if (rep >= 0)
			samples[rep] = (double)(bench_now_ns() - t0) / NLOOKUPS;
	}
	snprintf(name, sizeof(name), "memslot_lookup_%s_%uslots",
	         clustered ? "clustered" : "random", nslots);
	bench_report(name, "ns", samples, REPS);
	memslots_destroy(&ms);
}

static void bench_arena(unsigned order, unsigned batch)
{
	struct arena *a = arena_create(4ull << 30);
	static hpa_t hpa[BATCH];
	double alloc_s[REPS], free_s[REPS];
	char name[64];

	if (!a)
		abort();
	for (int rep = -1; rep < REPS; rep++) {
		uint64_t t0 = bench_now_ns(), t1;

		for (unsigned i = 0; i < batch; i++)
			if (arena_alloc(a, order, ARENA_USE_SHADOW, &hpa[i]))
				abort();
		t1 = bench_now_ns();
		for (unsigned i = 0; i < batch; i++) /* free in a scattered order */
			arena_free(a, hpa[(i * 7919u) % batch], order, ARENA_USE_SHADOW);
		if (rep >= 0) {
			alloc_s[rep] = (double)(t1 - t0) / batch;
			free_s[rep] = (double)(bench_now_ns() - t1) / batch;
		}
	}
	snprintf(name, sizeof(name), "arena_alloc_order%u", order);
	bench_report(name, "ns", alloc_s, REPS);
	snprintf(name, sizeof(name), "arena_free_order%u", order);
	bench_report(name, "ns", free_s, REPS);
	arena_destroy(a);
}

static void bench_hostmem(void)
{
	double touch_s[REPS], hit_s[REPS];
	const unsigned npages = 16384;

	for (int rep = 0; rep < REPS; rep++) {
		struct arena *a = arena_create(1ull << 30);
		struct hostmem *hm = a ? hostmem_create(a) : NULL;
		struct host_pfn hp;
		uint64_t t0, t1, sum = 0;
		hva_t hva;

		if (!hm || hostmem_map(hm, (uint64_t)npages << PAGE_SHIFT, 0, &hva))
			abort();
		t0 = bench_now_ns();
		for (unsigned i = 0; i < npages; i++)
			hostmem_hva_to_pfn(hm, hva + ((uint64_t)i << PAGE_SHIFT), true, &hp);
		t1 = bench_now_ns();
		for (unsigned i = 0; i < npages; i++) {
			hostmem_hva_to_pfn(hm, hva + ((rng() % npages) << PAGE_SHIFT), false, &hp);
			sum += hp.pfn;
		}
		bench_sink(sum);
		touch_s[rep] = (double)(t1 - t0) / npages;
		hit_s[rep] = (double)(bench_now_ns() - t1) / npages;
		hostmem_destroy(hm);
		arena_destroy(a);
	}
	bench_report("hostmem_first_touch_4k", "ns", touch_s, REPS);
	bench_report("hostmem_hva_to_pfn_present", "ns", hit_s, REPS);
}

int main(int argc, char **argv)
{
	static const unsigned nslots[] = {1, 32, 512};

	bench_init(argc, argv);
	for (unsigned i = 0; i < 3; i++)
		bench_lookup(nslots[i], false);
	for (unsigned i = 0; i < 3; i++)
		bench_lookup(nslots[i], true);
	bench_arena(0, BATCH);
	bench_arena(ARENA_ORDER_2M, 1024);
	bench_hostmem();
	return bench_finish();
}
