/*
 * mmu_cache.c - per-vCPU caches of preallocated MMU objects and their slab
 * (see mmu_cache.h; KVM: kvm_mmu_topup_memory_cache, kvm_mmu_memory_cache_alloc
 * in virt/kvm/kvm_main.c, mmu_topup_memory_caches in arch/x86/kvm/mmu/mmu.c).
 *
 * Objects are plain calloc'd blocks: the slab only counts them.  A cache
 * holds zeroed objects only (fresh from calloc), so mmu_cache_alloc has
 * nothing to clear and no failure path.
 */
#include "mmu/mmu_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void mmu_slab_init(struct mmu_slab *slab, const char *name, size_t obj_size)
{
	SMMU_ASSERT(obj_size > 0);
	slab->name = name;
	slab->obj_size = obj_size;
	atomic_init(&slab->objs_live, 0);
	atomic_init(&slab->objs_in_use, 0);
	atomic_init(&slab->allocs, 0);
	atomic_init(&slab->alloc_failures, 0);
	atomic_init(&slab->fail_from, 0);
	atomic_init(&slab->fail_end, 0);
}

static uint64_t load_relaxed(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void add_relaxed(_Atomic uint64_t *v, int64_t delta)
{
	atomic_fetch_add_explicit(v, (uint64_t)delta, memory_order_relaxed);
}

void mmu_slab_inject_enomem(struct mmu_slab *slab, uint64_t nth, uint64_t times)
{
	uint64_t from = load_relaxed(&slab->allocs) + (nth ? nth : 1);
	uint64_t end = times > UINT64_MAX - from ? UINT64_MAX : from + times;

	atomic_store_explicit(&slab->fail_from, from, memory_order_relaxed);
	atomic_store_explicit(&slab->fail_end, end, memory_order_relaxed);
}

/* True when the allocation with this 1-based ordinal is to fail (test hook). */
static bool slab_should_fail(const struct mmu_slab *slab, uint64_t ordinal)
{
	return ordinal >= load_relaxed(&slab->fail_from) && ordinal < load_relaxed(&slab->fail_end);
}

/* One zeroed object from the system, counted live; NULL when out of memory. */
static void *slab_alloc(struct mmu_slab *slab)
{
	uint64_t ordinal = atomic_fetch_add_explicit(&slab->allocs, 1, memory_order_relaxed) + 1;
	void *obj = slab_should_fail(slab, ordinal) ? NULL : calloc(1, slab->obj_size);

	if (unlikely(!obj)) {
		add_relaxed(&slab->alloc_failures, 1);
		return NULL;
	}
	add_relaxed(&slab->objs_live, 1);
	return obj;
}

/* Give a live object that is not in use back to the system. */
static void slab_release(struct mmu_slab *slab, void *obj)
{
	SMMU_ASSERT(load_relaxed(&slab->objs_live) > 0);
	add_relaxed(&slab->objs_live, -1);
	free(obj);
}

void mmu_slab_free(struct mmu_slab *slab, void *obj)
{
	if (!obj)
		return;
	SMMU_ASSERT(load_relaxed(&slab->objs_in_use) > 0);
	add_relaxed(&slab->objs_in_use, -1);
	slab_release(slab, obj);
}

void mmu_slab_get_stats(const struct mmu_slab *slab, struct mmu_slab_stats *st)
{
	st->objs_live = load_relaxed(&slab->objs_live);
	st->bytes_live = st->objs_live * slab->obj_size;
	st->objs_in_use = load_relaxed(&slab->objs_in_use);
	st->bytes_in_use = st->objs_in_use * slab->obj_size;
	st->allocs = load_relaxed(&slab->allocs);
	st->alloc_failures = load_relaxed(&slab->alloc_failures);
}

void mmu_cache_init(struct mmu_cache *mc, struct mmu_slab *slab)
{
	mc->slab = slab;
	mc->nobjs = 0;
}

int mmu_cache_topup(struct mmu_cache *mc, int min)
{
	if (min < 0 || min > MMU_CACHE_CAPACITY)
		return -EINVAL;
	if (mc->nobjs >= min)
		return 0;
	while (mc->nobjs < MMU_CACHE_CAPACITY) {
		void *obj = slab_alloc(mc->slab);

		/* A partial fill that still covers min is as good as a full one. */
		if (!obj)
			return mc->nobjs >= min ? 0 : -ENOMEM;
		mc->objs[mc->nobjs++] = obj;
	}
	return 0;
}

/*
 * The cache ran dry: the caller's top-up did not cover its worst case, a bug
 * that debug builds stop at.  Release builds limp on with a direct allocation
 * (KVM does the same with GFP_ATOMIC and a WARN), and stop only if even that
 * fails, since the caller has no failure path to take.
 */
static NOINLINE void *cache_alloc_emergency(struct mmu_cache *mc)
{
	void *obj;

	SMMU_ASSERT(!"mmu_cache_alloc: cache empty, top-up too small");
	obj = slab_alloc(mc->slab);
	if (!obj) {
		fprintf(stderr, "shadowmmu: %s cache empty and out of memory\n", mc->slab->name);
		abort();
	}
	return obj;
}

void *mmu_cache_alloc(struct mmu_cache *mc)
{
	void *obj;

	if (likely(mc->nobjs > 0))
		obj = mc->objs[--mc->nobjs];
	else
		obj = cache_alloc_emergency(mc);
	add_relaxed(&mc->slab->objs_in_use, 1);
	return obj;
}

int mmu_cache_nr_objs(const struct mmu_cache *mc)
{
	return mc->nobjs;
}

void mmu_cache_free_all(struct mmu_cache *mc)
{
	while (mc->nobjs > 0)
		slab_release(mc->slab, mc->objs[--mc->nobjs]);
}
