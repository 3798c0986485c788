/*
 * bench_rmap.c - choose the entries per pte_list descriptor (PTE_LIST_EXT)
 * by measurement.
 *
 * src/mmu/pte_list.c is compiled into this file with PTE_LIST_EXT bound to
 * a run-time variable (its public names renamed so that they cannot clash
 * with the library's copy), so one binary compares every candidate on the
 * same data.  -DBENCH_FIXED_EXT=n builds it with a constant instead, to
 * check what the run-time bound costs.
 *
 * For each candidate it builds many lists, either all of one size or sized
 * by a distribution modelled on a guest (most gfns mapped once, page tables
 * and shared pages a few times, a zero page thousands of times), adding the
 * entries in a shuffled, interleaved order as faults would, then reports:
 *   add      ns per entry, including the per-fault mmu_cache top-up
 *   iterate  ns per entry visited (write-protecting a gfn)
 *   remove   ns per entry, removed one by one in random order (spte drops)
 *   zap      ns per entry, removing while iterating (zapping an rmap)
 *   bytes    descriptor bytes per entry: as laid out, and as malloc'd
 *            (glibc chunk = usable size + 8), per entry and per list;
 *            the head word is excluded: it costs 8 bytes per list (gfn)
 *            whatever the descriptor size.
 * Usage: bench_rmap [--json] [--ext=N] [--quick]   (N in 2..1024)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#ifdef BENCH_FIXED_EXT
#define PTE_LIST_EXT BENCH_FIXED_EXT
#else
static unsigned bench_ext = 14;
#define PTE_LIST_EXT bench_ext
#endif
#define pte_list_desc_size   bench_pte_list_desc_size
#define pte_list_ext         bench_pte_list_ext
#define pte_list_slab_init   bench_pte_list_slab_init
#define pte_list_add         bench_pte_list_add
#define pte_list_remove      bench_pte_list_remove
#define pte_list_destroy     bench_pte_list_destroy
#define pte_list_contains    bench_pte_list_contains
#define pte_list_check       bench_pte_list_check
#define pte_list_iter_remove bench_pte_list_iter_remove
#include "mmu/pte_list.c"

#define TARGET_ENTRIES (1u << 18) /* ~ a 1 GiB guest mapped with 4 KiB pages */

/* Lists whose sizes follow one distribution, and the orders to fill and empty them. */
struct workload {
	const char *name;
	unsigned nlists;
	size_t total; /* entries over all lists */
	struct rmap_head *heads;
	uint64_t *sptes;        /* entry e is &sptes[e] */
	uint32_t *owner;        /* list of entry e */
	uint32_t *add_order;    /* entries in fault order */
	uint32_t *remove_order; /* entries in drop order */
};

/* A share of the lists, with sizes uniform in [lo, hi]. */
struct size_band {
	double share;
	unsigned lo, hi;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void shuffle(uint32_t *a, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_next() % (i + 1);
		uint32_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

static unsigned band_pick(const struct size_band *bands, unsigned nbands)
{
	double x = (double)(rng_next() >> 11) / (double)(1ull << 53);

	for (unsigned b = 0; b < nbands; b++) {
		if (x < bands[b].share || b == nbands - 1)
			return bands[b].lo +
			       (unsigned)(rng_next() % (bands[b].hi - bands[b].lo + 1));
		x -= bands[b].share;
	}
	return 1;
}

/* Draw list sizes until TARGET_ENTRIES entries exist; same seed, same lists. */
static void workload_init(struct workload *w, const char *name, const struct size_band *bands,
                          unsigned nbands)
{
	unsigned cap = TARGET_ENTRIES, *sizes = malloc(cap * sizeof(*sizes));
	size_t e = 0;

	rng_state = 0x2545f4914f6cdd1dull;
	w->name = name;
	w->nlists = 0;
	w->total = 0;
	while (w->total < TARGET_ENTRIES) {
		sizes[w->nlists] = band_pick(bands, nbands);
		w->total += sizes[w->nlists++];
	}
	w->heads = calloc(w->nlists, sizeof(*w->heads));
	w->sptes = calloc(w->total, sizeof(*w->sptes));
	w->owner = malloc(w->total * sizeof(*w->owner));
	w->add_order = malloc(w->total * sizeof(*w->add_order));
	w->remove_order = malloc(w->total * sizeof(*w->remove_order));
	for (unsigned l = 0; l < w->nlists; l++)
		for (unsigned k = 0; k < sizes[l]; k++)
			w->owner[e++] = l;
	for (e = 0; e < w->total; e++)
		w->add_order[e] = w->remove_order[e] = (uint32_t)e;
	shuffle(w->add_order, w->total);
	shuffle(w->remove_order, w->total);
	free(sizes);
}

static void workload_fini(struct workload *w)
{
	free(w->heads);
	free(w->sptes);
	free(w->owner);
	free(w->add_order);
	free(w->remove_order);
}

static void fill(struct workload *w, struct mmu_cache *mc)
{
	for (size_t k = 0; k < w->total; k++) {
		uint32_t e = w->add_order[k];

		if (mmu_cache_topup(mc, 1))
			abort();
		pte_list_add(mc, &w->heads[w->owner[e]], &w->sptes[e]);
	}
}

static uint64_t iterate_all(struct workload *w)
{
	struct pte_list_iter it;
	uint64_t *sptep, sum = 0;

	for (unsigned l = 0; l < w->nlists; l++)
		for_each_pte_list_entry(&w->heads[l], &it, sptep) sum += (uintptr_t)sptep;
	return sum;
}

static void remove_all(struct workload *w, struct mmu_slab *slab)
{
	for (size_t k = 0; k < w->total; k++) {
		uint32_t e = w->remove_order[k];

		if (pte_list_remove(slab, &w->heads[w->owner[e]], &w->sptes[e]))
			abort();
	}
}

static void zap_all(struct workload *w, struct mmu_slab *slab)
{
	struct pte_list_iter it;
	uint64_t *sptep;

	for (unsigned l = 0; l < w->nlists; l++)
		for_each_pte_list_entry(&w->heads[l], &it, sptep) pte_list_iter_remove(slab, &it);
}

/* Bytes the descriptors really take from glibc malloc. */
static uint64_t malloc_bytes(const struct workload *w)
{
	uint64_t bytes = 0;

	for (unsigned l = 0; l < w->nlists; l++) {
		if (!(w->heads[l].val & PTE_LIST_MANY))
			continue;
		for (struct pte_list_desc *d = pte_list_head_desc(&w->heads[l]); d; d = d->more)
			bytes += malloc_usable_size(d) + 8;
	}
	return bytes;
}

static double ns_per_entry(uint64_t t0, const struct workload *w)
{
	return (double)(bench_now_ns() - t0) / (double)w->total;
}

#define REPS     7
#define MAX_EXTS 16

/* Samples of one candidate on one workload. */
struct samples {
	double add[REPS], iter[REPS], rem[REPS], zap[REPS];
	uint64_t desc_bytes, malloc_bytes;
};

/* One repetition: fill, iterate, remove one by one, refill, zap. */
static void measure_once(struct workload *w, struct samples *s, unsigned rep)
{
	struct mmu_slab slab;
	struct mmu_cache mc;
	struct mmu_slab_stats st;
	uint64_t t0;

	pte_list_slab_init(&slab);
	mmu_cache_init(&mc, &slab);
	t0 = bench_now_ns();
	fill(w, &mc);
	s->add[rep] = ns_per_entry(t0, w);
	mmu_slab_get_stats(&slab, &st);
	s->desc_bytes = st.bytes_in_use;
	s->malloc_bytes = malloc_bytes(w);
	t0 = bench_now_ns();
	bench_sink(iterate_all(w));
	s->iter[rep] = ns_per_entry(t0, w);
	t0 = bench_now_ns();
	remove_all(w, &slab);
	s->rem[rep] = ns_per_entry(t0, w);
	fill(w, &mc);
	t0 = bench_now_ns();
	zap_all(w, &slab);
	s->zap[rep] = ns_per_entry(t0, w);
	mmu_cache_free_all(&mc);
}

static void report(const char *what, const struct workload *w, unsigned ext, const char *unit,
                   double *s, unsigned n)
{
	char name[128];

	snprintf(name, sizeof(name), "rmap_%s/%s/ext=%u", what, w->name, ext);
	if (n)
		bench_report(name, unit, s, n);
	else
		bench_report_value(name, unit, *s);
}

static void report_samples(const struct workload *w, unsigned ext, struct samples *s, unsigned n)
{
	double v;

	report("add", w, ext, "ns/entry", s->add, n);
	report("iterate", w, ext, "ns/entry", s->iter, n);
	report("remove", w, ext, "ns/entry", s->rem, n);
	report("zap", w, ext, "ns/entry", s->zap, n);
	v = (double)s->desc_bytes / (double)w->total;
	report("desc_bytes", w, ext, "B/entry", &v, 0);
	v = (double)s->malloc_bytes / (double)w->total;
	report("malloc_bytes", w, ext, "B/entry", &v, 0);
	v = (double)s->malloc_bytes / (double)w->nlists;
	report("malloc_bytes_per_list", w, ext, "B/list", &v, 0);
}

static void set_ext(unsigned ext)
{
#ifdef BENCH_FIXED_EXT
	(void)ext;
#else
	bench_ext = ext;
#endif
}

/*
 * Candidates take turns within each repetition, so that drift in the load
 * of a shared machine hits them all alike.
 */
static void run_workload(struct workload *w, const unsigned *exts, unsigned nexts, unsigned reps)
{
	static struct samples s[MAX_EXTS];

	for (unsigned c = 0; c < nexts; c++) {
		set_ext(exts[c]);
		measure_once(w, &s[c], 0); /* warm-up: arrays faulted in, malloc primed */
	}
	for (unsigned r = 0; r < reps; r++) {
		for (unsigned c = 0; c < nexts; c++) {
			set_ext(exts[c]);
			measure_once(w, &s[c], r);
		}
	}
	for (unsigned c = 0; c < nexts; c++)
		report_samples(w, exts[c], &s[c], reps);
}

/* Named distributions of entries per list (see docs/rmap.md for the reasoning). */
static const struct size_band guest_rmap[] = {
    {0.85, 1, 1},        /* private anonymous and page-cache pages */
    {0.10, 2, 4},        /* pages shared by a few processes, guest page tables */
    {0.04, 5, 32},       /* shared library text, kernel pages seen by many roots */
    {0.009, 33, 256},    /* hot shared pages */
    {0.001, 1000, 5000}, /* the zero page, hugely shared text */
};
static const struct size_band forked_rmap[] = {
    {0.55, 1, 1},
    {0.30, 2, 8}, /* pre-fork memory of a forking server */
    {0.13, 9, 64},
    {0.02, 65, 512},
};
static const struct size_band parent_ptes[] = {
    {0.92, 1, 1}, /* a shadow page linked from one parent */
    {0.07, 2, 4},
    {0.01, 16, 512}, /* kernel-half tables shared by every process root */
};

static void run_all(const unsigned *exts, unsigned nexts, unsigned reps)
{
	static const unsigned fixed_sizes[] = {2, 3, 8, 16, 64, 512, 4096};
	static const struct {
		const char *name;
		const struct size_band *bands;
		unsigned nbands;
	} mixes[] = {
	    {"guest", guest_rmap, ARRAY_SIZE(guest_rmap)},
	    {"forked", forked_rmap, ARRAY_SIZE(forked_rmap)},
	    {"parents", parent_ptes, ARRAY_SIZE(parent_ptes)},
	};
	struct workload w;
	char name[32];

	for (unsigned i = 0; i < ARRAY_SIZE(fixed_sizes); i++) {
		struct size_band band = {1.0, fixed_sizes[i], fixed_sizes[i]};

		snprintf(name, sizeof(name), "size%u", fixed_sizes[i]);
		workload_init(&w, name, &band, 1);
		run_workload(&w, exts, nexts, fixed_sizes[i] >= 512 ? (reps + 1) / 2 : reps);
		workload_fini(&w);
	}
	for (unsigned m = 0; m < ARRAY_SIZE(mixes); m++) {
		workload_init(&w, mixes[m].name, mixes[m].bands, mixes[m].nbands);
		run_workload(&w, exts, nexts, reps);
		workload_fini(&w);
	}
}

int main(int argc, char **argv)
{
	static const unsigned candidates[] = {3, 4, 6, 7, 13, 14, 15, 30, 62};
	unsigned only = 0, reps = REPS;

	bench_init(argc, argv);
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--ext=", 6))
			only = (unsigned)atoi(argv[i] + 6);
		else if (!strcmp(argv[i], "--quick"))
			reps = 3;
	}
#ifdef BENCH_FIXED_EXT
	only = BENCH_FIXED_EXT;
#endif
	if (only >= 2 && only <= 1024)
		run_all(&only, 1, reps);
	else
		run_all(candidates, ARRAY_SIZE(candidates), reps);
	return bench_finish();
}
