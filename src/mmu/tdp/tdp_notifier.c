/*
 * tdp_notifier.c - the TDP MMU's side of host translation updates (KVM's
 * kvm_tdp_mmu_unmap_gfn_range, kvm_tdp_mmu_age_gfn_range; the protocol is
 * mmu/notifier.c's), over the EPT tree by gfn range instead of rmaps.
 *
 *  - invalidate_range_start: every leaf overlapping the gfns whose hvas
 *    lie in the range is zapped (a huge leaf that overlaps in part goes
 *    whole); the tables stay.
 *  - aging with EPT A/D on reads and clears the leaves' accessed bits;
 *    with it off there is no accessed bit, so a mapped page counts as
 *    young and clearing zaps the leaf, making the next access fault (KVM's
 *    access tracking marks the entry instead and restores it in the fast
 *    page fault, which this MMU does not have yet).
 */
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"
#include "mmu/tdp/tdp_spte_change.h"

static bool zap_leaf(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, unsigned level, gfn_t gfn,
                     void *arg)
{
	uint64_t e = spte_get(sptep);

	if (!is_ept_leaf(e, level) || (!is_tdp_present(e) && !is_tdp_mmio_spte(e)))
		return false;
	return tdp_zap_spte(vm, sptep, level, arg);
}

static bool unmap_range(struct mmu_vm *vm, gfn_t start, gfn_t end, void *arg)
{
	return tdp_for_each_spte(vm, vm->tdp_root, start, end, zap_leaf, arg);
}

void tdp_zap_gfn_range(struct mmu_vm *vm, gfn_t start, gfn_t end)
{
	struct list_head invalid_list;
	bool flush;

	list_init(&invalid_list);
	flush = unmap_range(vm, start, end, &invalid_list);
	tdp_commit_zap(vm, &invalid_list, flush);
}

void tdp_unmap_hva_range(struct mmu_vm *vm, hva_t start, hva_t end)
{
	struct list_head invalid_list;
	bool flush;

	list_init(&invalid_list);
	flush = mmu_for_each_gfn_range_in_hva_range(vm, start, end, unmap_range, &invalid_list);
	tdp_commit_zap(vm, &invalid_list, flush);
}

struct age {
	bool clear;
	bool young;
	struct list_head invalid_list;
};

static bool age_leaf(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, unsigned level, gfn_t gfn,
                     void *arg)
{
	struct age *a = arg;
	uint64_t e = spte_get(sptep);

	if (!is_tdp_present(e) || !is_ept_leaf(e, level))
		return false;
	if (!vm->ept_ad) {
		a->young = true;
		return a->clear && tdp_zap_spte(vm, sptep, level, &a->invalid_list);
	}
	if (!(e & EPT_A))
		return false;
	a->young = true;
	if (a->clear)
		mmu_spte_clear_bits(sptep, EPT_A);
	return a->clear;
}

static bool age_gfns(struct mmu_vm *vm, gfn_t start, gfn_t end, void *arg)
{
	return tdp_for_each_spte(vm, vm->tdp_root, start, end, age_leaf, arg);
}

bool tdp_age_hva_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear)
{
	struct age a = {.clear = clear};
	bool flush;

	list_init(&a.invalid_list);
	flush = mmu_for_each_gfn_range_in_hva_range(vm, start, end, age_gfns, &a);
	tdp_commit_zap(vm, &a.invalid_list, flush);
	return a.young;
}
