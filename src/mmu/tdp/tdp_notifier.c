/*
 * tdp_notifier.c - host translation updates in TDP mode (KVM's
 * kvm_tdp_mmu_unmap_gfn_range, kvm_tdp_mmu_age_gfn_range): the same
 * protocol as the shadow MMU's (shadow/notifier.c), over the EPT tree by
 * gfn range instead of rmaps.
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
#include "mmu/shadow/audit.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"
#include "mmu/tdp/tdp_spte_change.h"

static struct mmu_vm *to_vm(struct mmu_notifier *mn)
{
	return (struct mmu_vm *)((char *)mn - offsetof(struct mmu_vm, notifier));
}

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

static void mn_invalidate_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct mmu_vm *vm = to_vm(mn);
	struct list_head invalid_list;
	bool flush;

	list_init(&invalid_list);
	mmu_lock_acquire(&vm->mmu_lock);
	mmu_invalidate_begin(&vm->invalidate, range->start, range->end);
	mmu_gfn_cache_clear(vm);
	flush = mmu_for_each_gfn_range_in_hva_range(vm, range->start, range->end, unmap_range,
	                                            &invalid_list);
	tdp_commit_zap(vm, &invalid_list, flush);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

static void mn_invalidate_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct mmu_vm *vm = to_vm(mn);

	(void)range;
	mmu_lock_acquire(&vm->mmu_lock);
	mmu_invalidate_end(&vm->invalidate);
	mmu_lock_release(&vm->mmu_lock);
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

static bool age_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear)
{
	struct age a = {.clear = clear};
	bool flush;

	list_init(&a.invalid_list);
	mmu_lock_acquire(&vm->mmu_lock);
	if (clear) /* the MMU's own accesses must reach the host's young bits again */
		mmu_gfn_cache_clear(vm);
	flush = mmu_for_each_gfn_range_in_hva_range(vm, start, end, age_gfns, &a);
	tdp_commit_zap(vm, &a.invalid_list, flush);
	mmu_lock_release(&vm->mmu_lock);
	return a.young;
}

static bool mn_clear_young(struct mmu_notifier *mn, hva_t start, hva_t end)
{
	return age_range(to_vm(mn), start, end, true);
}

static bool mn_test_young(struct mmu_notifier *mn, hva_t start, hva_t end)
{
	return age_range(to_vm(mn), start, end, false);
}

static void mn_release(struct mmu_notifier *mn)
{
	tdp_zap_all(to_vm(mn));
}

static const struct mmu_notifier_ops tdp_notifier_ops = {
	.invalidate_range_start = mn_invalidate_start,
	.invalidate_range_end = mn_invalidate_end,
	.clear_young = mn_clear_young,
	.test_young = mn_test_young,
	.release = mn_release,
};

int tdp_notifier_attach(struct mmu_vm *vm)
{
	vm->notifier.ops = &tdp_notifier_ops;
	return mmu_host_notifier_register(vm);
}
