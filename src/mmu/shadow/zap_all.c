/*
 * zap_all.c - zap-all (KVM commit 5304b8d37c2a, "fast invalidate all shadow
 * pages", seed 001): instead of walking every shadow page under the lock,
 * bump the VM's generation.  Every existing page becomes obsolete at once:
 * lookups skip it and every vCPU drops its roots, so the hardware can no
 * longer reach it.  The obsolete pages are then freed in small batches on
 * later MMU entries (mmu_reclaim_step), so the cost the vCPUs see does not
 * grow with the number of pages.
 */
#include "mmu/shadow/shadow.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/root.h"
#include "mmu/shadow/zap.h"
#include "mmu/shadow/zap_all.h"
#include "mmu/spte_ops.h"

/* Obsolete pages freed per MMU entry after a zap-all (KVM's BATCH_ZAP_PAGES). */
#define MMU_RECLAIM_BATCH 10

void mmu_reclaim_step(struct mmu_vm *vm)
{
	if (vm->n_obsolete)
		mmu_zap_obsolete_pages(vm, MMU_RECLAIM_BATCH);
}

/* Fast zap-all: O(vCPUs) now, obsolete pages freed in batches later. */
void shadow_zap_all_fast(struct mmu_vm *vm)
{
	mmu_lock_acquire(&vm->mmu_lock);
	vm->stat.zap_all++;
	vm->mmu_valid_gen++;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			mmu_free_roots(vm->vcpus[i], true);
	/* Zapped roots died with their last reference: every page left is obsolete. */
	vm->n_obsolete = vm->n_used_mmu_pages;
	mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

/* Zap-all and free everything now (before a memslot is deleted or moved). */
void shadow_zap_all_sync(struct mmu_vm *vm)
{
	shadow_zap_all_fast(vm);
	mmu_lock_acquire(&vm->mmu_lock);
	mmu_zap_obsolete_pages(vm, 0);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}
