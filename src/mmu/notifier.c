/*
 * notifier.c - host translation updates (Documentation/virt/kvm/mmu.rst,
 * "Host translation updates"): the MMU listens on the host address space's
 * MMU notifier, as KVM listens on the mm of the VMM process
 * (kvm_mmu_notifier_*), and hands each range to the VM's MMU: the shadow
 * MMU finds the sptes through its rmaps, the TDP MMU walks its EPT by gfn.
 *
 *  - invalidate_range_start: the frames behind [start, end) are about to
 *    change (swap-out, migration, merging, unmap).  Every spte mapping a gfn
 *    whose hva lies in the range is dropped, the vCPU TLBs are flushed, and
 *    the gfn cache is emptied.  Until the matching _end, faults on that
 *    range retry (mmu_invalidate_retry_hva) and nothing is cached, so no
 *    spte can pick up a frame being changed.
 *  - clear_young / test_young: the host ages its pages by the accessed bits
 *    of the sptes that map them (KVM's kvm_age_gfn / kvm_test_age_gfn);
 *    clearing also flushes the TLBs, so the next access walks and sets A
 *    again (clear_flush_young).
 *  - change_pte: the new frame is picked up by the next fault; the old spte
 *    was dropped at _start, so there is nothing to do (KVM ended the same way).
 *  - release: the host address space is going away: zap everything.
 */
#include "mmu/mmu_notifier.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/shadow.h"
#include "mmu/slot_iface.h"
#include "mmu/tdp/tdp.h"

static struct mmu_vm *to_vm(struct mmu_notifier *mn)
{
	return (struct mmu_vm *)((char *)mn - offsetof(struct mmu_vm, notifier));
}

static void mn_invalidate_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct mmu_vm *vm = to_vm(mn);

	mmu_lock_acquire(&vm->mmu_lock);
	mmu_invalidate_begin(&vm->invalidate, range->start, range->end);
	mmu_gfn_cache_clear(vm);
	if (vm->tdp)
		tdp_unmap_hva_range(vm, range->start, range->end);
	else
		shadow_unmap_hva_range(vm, range->start, range->end);
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

static bool age_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear)
{
	bool young;

	mmu_lock_acquire(&vm->mmu_lock);
	if (clear) /* the MMU's own accesses must reach the host's young bits again */
		mmu_gfn_cache_clear(vm);
	young = vm->tdp ? tdp_age_hva_range(vm, start, end, clear)
	                : shadow_age_hva_range(vm, start, end, clear);
	mmu_lock_release(&vm->mmu_lock);
	return young;
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
	struct mmu_vm *vm = to_vm(mn);

	if (vm->tdp)
		tdp_zap_all(vm);
	else
		shadow_zap_all_sync(vm);
}

static const struct mmu_notifier_ops mmu_notifier_ops = {
	.invalidate_range_start = mn_invalidate_start,
	.invalidate_range_end = mn_invalidate_end,
	.clear_young = mn_clear_young,
	.test_young = mn_test_young,
	.release = mn_release,
};

int mmu_notifier_attach(struct mmu_vm *vm)
{
	vm->notifier.ops = &mmu_notifier_ops;
	return mmu_host_notifier_register(vm);
}

void mmu_notifier_detach(struct mmu_vm *vm)
{
	mmu_host_notifier_unregister(vm);
}
