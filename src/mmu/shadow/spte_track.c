/*
 * spte_track.c - the shadow MMU's floor: an spte and the structures that
 * name it change together, so that every present leaf spte is in exactly
 * one rmap and every present nonleaf spte in its child's parent_ptes
 * (audit.c, A1 and A4).  Stores go through mmu/spte_ops.h; a nonleaf link
 * that goes away bumps the table generation there, since a vCPU's
 * paging-structure cache may name the table below it.
 */
#include "mmu/shadow/unsync.h"
#include "mmu/shadow/rmap.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/spte_ops.h"

void link_child_sp(struct mmu_vcpu *v, uint64_t *sptep, struct sp *child)
{
	mmu_spte_set(sptep, spte_make_nonleaf(child->spt_hpa));
	pte_list_add(&v->pte_list_desc_cache, &child->parent_ptes, sptep);
	if (child->unsync_children || child->unsync)
		mark_unsync(v->vm, sptep);
}

void drop_parent_pte(struct mmu_vm *vm, struct sp *child, uint64_t *parent_sptep)
{
	struct sp *parent = sptep_to_sp(vm, parent_sptep);

	pte_list_remove(&vm->pte_list_desc_slab, &child->parent_ptes, parent_sptep);
	if (parent)
		clear_unsync_child_bit(vm, parent, sptep_index(parent, parent_sptep));
	mmu_spte_clear(parent_sptep);
	mmu_tables_changed(vm);
}

void mmu_drop_spte(struct mmu_vm *vm, uint64_t *sptep)
{
	uint64_t old = spte_get(sptep);

	if (is_shadow_present_spte(old) && !is_mmio_spte(old))
		rmap_remove(vm, sptep);
	mmu_spte_clear(sptep);
}

bool mmu_zap_spte(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep)
{
	uint64_t spte = spte_get(sptep);
	struct sp *child;

	if (!is_shadow_present_spte(spte))
		return false;
	if (is_mmio_spte(spte) || is_last_spte(spte, sp->role.level)) {
		mmu_drop_spte(vm, sptep);
		return true;
	}
	child = sp_from_hpa(vm, spte_to_hpa(spte));
	SMMU_ASSERT(child);
	if (child) {
		drop_parent_pte(vm, child, sptep);
	} else {
		mmu_spte_clear(sptep);
		mmu_tables_changed(vm);
	}
	return true;
}
