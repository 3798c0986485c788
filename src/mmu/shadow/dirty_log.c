/*
 * dirty_log.c - dirty logging (KVM_GET_DIRTY_LOG; mmu.rst, "Dirty
 * tracking"): while a slot logs, a leaf is writable only after a write
 * fault, which marks the page in the slot's bitmap (spte_make.c).  Fetching
 * the log copies and clears the bitmap and takes W away from each page that
 * was dirty again, so its next write is seen.  Turning logging on
 * write-protects the whole slot the same way, large leaves included, and
 * zaps nothing (KVM's kvm_mmu_slot_remove_write_access): the next write
 * through a large leaf faults, and the fault maps 4 KiB under it, as
 * logging allows no larger level (mmu_max_mapping_level).
 */
#include "mmu/shadow/shadow.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/dirty_log.h"
#include "mmu/shadow/rmap_walk.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"

static bool clear_writable(struct mmu_vm *vm, struct rmap_head *head, void *arg)
{
	return rmap_clear_writable(head);
}

int shadow_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out)
{
	bool flush;
	int r;

	mmu_lock_acquire(&vm->mmu_lock);
	r = mmu_harvest_dirty_log(vm, id, out, clear_writable, NULL, &flush);
	if (flush)
		mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
	return r;
}

void mmu_slot_write_protect(struct mmu_vm *vm, struct memslot *slot)
{
	bool flush = false;

	for (unsigned level = 1; level <= 3; level++)
		flush |= mmu_for_each_rmap_in_slot(vm, slot, level, clear_writable, NULL);
	if (flush)
		mmu_flush_remote_tlbs(vm);
}
