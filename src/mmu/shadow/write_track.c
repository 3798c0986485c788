/*
 * write_track.c - write tracking of shadowed gfns (KVM's account_shadowed /
 * unaccount_shadowed over its page-track counts).  While a valid indirect
 * shadow page shadows gfn as a guest page table, every spte mapping gfn is
 * read-only (so guest writes to the table exit and are emulated, or make
 * the page unsync) and no large spte covers it (the slot's large-page
 * disallow count, which the mapping-level query reads).
 */
#include "mmu/shadow/rmap_walk.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/write_track.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"

bool gfn_is_write_tracked(struct mmu_vm *vm, gfn_t gfn)
{
	struct sp *sp;

	for_each_gfn_valid_indirect_sp(vm, sp, gfn)
		return true;
	return false;
}

void account_shadowed(struct mmu_vm *vm, struct sp *sp)
{
	struct memslot *slot = mmu_gfn_to_slot(vm, sp->gfn);

	if (slot)
		mmu_slot_disallow_lpage(slot, sp->gfn, +1);
	if (rmap_write_protect_gfn(vm, sp->gfn))
		mmu_flush_remote_tlbs(vm);
}

void unaccount_shadowed(struct mmu_vm *vm, struct sp *sp)
{
	struct memslot *slot = mmu_gfn_to_slot(vm, sp->gfn);

	if (slot)
		mmu_slot_disallow_lpage(slot, sp->gfn, -1);
}
