/*
 * tdp_iter.h - walking the EPT tree (KVM's tdp_iter.c): every operation of
 * the TDP MMU - a fault, a zap, write protection, aging, the audit - is a
 * walk over the entries that cover a gfn range.
 */
#ifndef SMMU_TDP_ITER_H
#define SMMU_TDP_ITER_H

#include "mmu/mmu_internal.h"

/*
 * Called on an entry of `sp` at `level` covering gfns from `gfn`.  Returns
 * true if it changed something the caller must flush for.  It may zap the
 * entry (then the walk does not descend below it).
 */
typedef bool tdp_visit_fn(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, unsigned level,
                          gfn_t gfn, void *arg);

/*
 * Pre-order over the present entries under root that overlap [start, end),
 * leaves and tables alike (fn sees a table before what lies below it);
 * true if any fn returned true.
 */
bool tdp_for_each_spte(struct mmu_vm *vm, struct sp *root, gfn_t start, gfn_t end,
                       tdp_visit_fn *fn, void *arg);

/* gfns one entry at `level` covers. */
static inline uint64_t tdp_pages_per_level(unsigned level)
{
	return 1ull << (9 * (level - 1));
}

#endif /* SMMU_TDP_ITER_H */
