/*
 * tdp_iter.c - the pre-order walk of the EPT tree over a gfn range.  The
 * tree is at most five levels deep, so the walk recurses; it reads each
 * entry once before calling fn and again after, descending only if the
 * entry is still a present table (fn may have zapped it).
 */
#include "mmu/shadow/sp.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"

static bool walk_table(struct mmu_vm *vm, struct sp *sp, gfn_t start, gfn_t end,
                       tdp_visit_fn *fn, void *arg)
{
	unsigned level = sp->role.level;
	uint64_t step = tdp_pages_per_level(level);
	bool flush = false;
	unsigned first = start > sp->gfn ? (unsigned)((start - sp->gfn) / step) : 0;

	for (unsigned i = first; i < SPTE_ENT_PER_PAGE; i++) {
		gfn_t gfn = sp->gfn + i * step;
		uint64_t e = spte_get(&sp->spt[i]);

		if (gfn >= end)
			break;
		if (!is_tdp_present(e) && !is_tdp_mmio_spte(e))
			continue;
		flush |= fn(vm, sp, &sp->spt[i], level, gfn, arg);
		e = spte_get(&sp->spt[i]);
		if (is_tdp_present(e) && !is_ept_leaf(e, level)) {
			struct sp *child = sp_from_hpa(vm, ept_to_hpa(e));

			SMMU_ASSERT(child);
			if (child)
				flush |= walk_table(vm, child, start, end, fn, arg);
		}
	}
	return flush;
}

bool tdp_for_each_spte(struct mmu_vm *vm, struct sp *root, gfn_t start, gfn_t end,
                       tdp_visit_fn *fn, void *arg)
{
	return root ? walk_table(vm, root, start, end, fn, arg) : false;
}
