/*
 * notifier.c - the shadow MMU's side of host translation updates (the
 * protocol is mmu/notifier.c's): the sptes that map a gfn whose hva lies in
 * the range are found through the rmaps of every level (KVM's
 * kvm_handle_gfn_range over kvm_zap_rmap / kvm_age_rmap).
 */
#include "mmu/shadow/rmap_walk.h"
#include "mmu/shadow/shadow.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"

static bool rmap_unmap(struct mmu_vm *vm, struct rmap_head *head, void *arg)
{
	return rmap_drop_all(vm, head);
}

static bool rmap_age_one(struct mmu_vm *vm, struct rmap_head *head, void *arg)
{
	return rmap_age(head, *(bool *)arg);
}

void shadow_unmap_hva_range(struct mmu_vm *vm, hva_t start, hva_t end)
{
	if (mmu_for_each_rmap_in_hva_range(vm, start, end, rmap_unmap, NULL))
		mmu_flush_remote_tlbs(vm);
}

bool shadow_age_hva_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear)
{
	bool young = mmu_for_each_rmap_in_hva_range(vm, start, end, rmap_age_one, &clear);

	if (young && clear)
		mmu_flush_remote_tlbs(vm);
	return young;
}
