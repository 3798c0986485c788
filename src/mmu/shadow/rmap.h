/*
 * rmap.h - the reverse map as a data structure: which leaf sptes map
 * (memslot, gfn, level) (rmap.c).  Walks that change the sptes an rmap
 * lists are rmap_walk.h.
 */
#ifndef SMMU_SHADOW_RMAP_H
#define SMMU_SHADOW_RMAP_H

#include "mmu/mmu_internal.h"

/*
 * Removing one spte from an rmap is a linear search, so a gfn mapped by a
 * great many sptes (a shared zero page) would make zapping quadratic.  Past
 * this length the whole rmap is dropped and refilled on demand, as KVM does
 * (RMAP_RECYCLE_THRESHOLD).
 */
#define RMAP_RECYCLE_THRESHOLD 1000

struct rmap_head *gfn_to_rmap(struct mmu_vm *vm, gfn_t gfn, unsigned level);
/*
 * Record that *sptep, a new leaf in a page at `level`, maps gfn of slot.
 * Returns the rmap if that made it RMAP_RECYCLE_THRESHOLD entries long (the
 * caller then drops them all, rmap_drop_all), else NULL.
 */
struct rmap_head *rmap_add(struct mmu_vcpu *v, struct memslot *slot, uint64_t *sptep, gfn_t gfn,
                           unsigned level);
/* Forget the leaf *sptep (still holding its old value). */
void rmap_remove(struct mmu_vm *vm, uint64_t *sptep);

#endif /* SMMU_SHADOW_RMAP_H */
