/*
 * mmu_cache.h - preallocated MMU objects: the per-vCPU object cache (KVM's
 * kvm_mmu_memory_cache) and the per-VM slab it draws from (KVM's kmem_caches
 * pte_list_desc_cache / mmu_page_header_cache).
 *
 * The MMU may not fail or sleep once it holds mmu_lock, yet the fault path
 * needs new objects (rmap descriptors, shadow-page headers) in the middle of
 * its work.  KVM's answer, followed here: before taking the lock a vCPU tops
 * its cache up to the worst case the operation can need
 * (mmu_cache_topup: may allocate, may fail with -ENOMEM, then the fault is
 * retried or the error returned); under the lock mmu_cache_alloc only pops a
 * zeroed object and cannot fail.  Objects are returned with mmu_slab_free,
 * from any context holding mmu_lock (as KVM frees to the kmem_cache, not to
 * a vCPU's cache).
 *
 * Invariants: every object of a slab is either held by a cache (live, not
 * in use) or handed out (live and in use); objs_live == 0 once every cache
 * has been emptied and every object freed.  The slab's counters are atomic
 * because caches of different vCPUs top up concurrently outside the lock.
 *
 * Test hook: mmu_slab_inject_enomem makes chosen system allocations fail so
 * that every caller's -ENOMEM path can be exercised (as SQLite's and the
 * kernel's fault injection do).  It hangs off the slab: no global state.
 */
#ifndef SMMU_MMU_MMU_CACHE_H
#define SMMU_MMU_MMU_CACHE_H

#include <stdatomic.h>

#include "common.h"

/* Objects a cache can hold (KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE). */
#define MMU_CACHE_CAPACITY 40

/* One kind of object, shared by the caches of every vCPU of a VM. */
struct mmu_slab {
	const char *name;                /* for statistics and messages */
	size_t obj_size;                 /* bytes per object, > 0 */
	_Atomic uint64_t objs_live;      /* allocated from the system, not yet freed */
	_Atomic uint64_t objs_in_use;    /* handed out by mmu_cache_alloc, not yet freed */
	_Atomic uint64_t allocs;         /* system allocations attempted */
	_Atomic uint64_t alloc_failures; /* of which failed (real or injected) */
	_Atomic uint64_t fail_from;      /* test hook: allocs ordinals [fail_from, */
	_Atomic uint64_t fail_end;       /*   fail_end) fail; empty range = off */
};

/* A snapshot of a slab's accounting. */
struct mmu_slab_stats {
	uint64_t objs_live;      /* objects allocated (cached + in use) */
	uint64_t bytes_live;     /* objs_live * obj_size */
	uint64_t objs_in_use;    /* objects handed out */
	uint64_t bytes_in_use;   /* objs_in_use * obj_size */
	uint64_t allocs;         /* system allocations attempted */
	uint64_t alloc_failures; /* system allocations failed */
};

/* A vCPU's stock of preallocated, zeroed objects of one slab. */
struct mmu_cache {
	struct mmu_slab *slab;          /* where objects come from and go back */
	int nobjs;                      /* objects held, objs[0..nobjs) */
	void *objs[MMU_CACHE_CAPACITY]; /* zeroed objects, ready to hand out */
};

void mmu_slab_init(struct mmu_slab *slab, const char *name, size_t obj_size);
/* Return an object obtained from mmu_cache_alloc (NULL is ignored). */
void mmu_slab_free(struct mmu_slab *slab, void *obj);
void mmu_slab_get_stats(const struct mmu_slab *slab, struct mmu_slab_stats *st);
/*
 * Test hook: the nth system allocation from now (1 = the next one) and the
 * (times - 1) after it fail as if the system were out of memory.  times = 0
 * turns injection off; UINT64_MAX makes every allocation from the nth fail.
 */
void mmu_slab_inject_enomem(struct mmu_slab *slab, uint64_t nth, uint64_t times);

void mmu_cache_init(struct mmu_cache *mc, struct mmu_slab *slab);
/*
 * Make sure the cache holds at least `min` objects; call it before taking
 * mmu_lock.  Fills the cache to capacity when it has to allocate at all, so
 * that most faults find it full.  0, -ENOMEM (fewer than min objects could be
 * had; those allocated stay cached) or -EINVAL (min outside [0, capacity]).
 */
int mmu_cache_topup(struct mmu_cache *mc, int min);
/*
 * A zeroed object.  Never fails when the preceding mmu_cache_topup covered
 * this allocation; asking for more is a bug (asserts in debug builds).
 */
void *mmu_cache_alloc(struct mmu_cache *mc);
/* Objects currently held. */
int mmu_cache_nr_objs(const struct mmu_cache *mc);
/* Give every held object back to the system (vCPU teardown, memory shrink). */
void mmu_cache_free_all(struct mmu_cache *mc);

#endif /* SMMU_MMU_MMU_CACHE_H */
