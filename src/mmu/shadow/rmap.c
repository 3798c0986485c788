/*
 * rmap.c - the reverse map: for each (memslot, gfn, level), the leaf sptes
 * that map it (KVM's rmap; seed 000, "KVM: MMU: Implement simple reverse
 * mapping").  It answers "who maps this guest frame?", which write
 * protection of guest page tables, dirty logging and host invalidations
 * all ask (rmap_walk.c).  The heads live in the memslot's metadata,
 * reached through the slot interface.
 *
 * Invariant: every present, non-MMIO leaf spte is in exactly one rmap: the
 * one of its gfn (from sp_get_gfn) at its sp's level; no other spte is.
 * The pages_4k/2m/1g gauges count them.
 */
#include "mmu/shadow/rmap.h"
#include "mmu/shadow/sp.h"
#include "mmu/slot_iface.h"

struct rmap_head *gfn_to_rmap(struct mmu_vm *vm, gfn_t gfn, unsigned level)
{
	struct memslot *slot = mmu_gfn_to_slot(vm, gfn);

	return slot ? mmu_slot_rmap(slot, gfn, level) : NULL;
}

static void account_leaf(struct mmu_vm *vm, unsigned level, int delta)
{
	uint64_t *gauge = level == 1 ? &vm->stat.pages_4k
	                  : level == 2 ? &vm->stat.pages_2m
	                               : &vm->stat.pages_1g;

	*gauge += (uint64_t)(int64_t)delta;
}

struct rmap_head *rmap_add(struct mmu_vcpu *v, struct memslot *slot, uint64_t *sptep, gfn_t gfn,
                           unsigned level)
{
	struct rmap_head *head = slot ? mmu_slot_rmap(slot, gfn, level) : NULL;

	SMMU_ASSERT(head); /* leaves are only made for gfns in a memslot */
	if (!head)
		return NULL;
	account_leaf(v->vm, level, +1);
	return pte_list_add(&v->pte_list_desc_cache, head, sptep) >= RMAP_RECYCLE_THRESHOLD ? head
	                                                                                     : NULL;
}

void rmap_remove(struct mmu_vm *vm, uint64_t *sptep)
{
	struct sp *sp = sptep_to_sp(vm, sptep);
	unsigned idx = sptep_index(sp, sptep);
	struct rmap_head *head = gfn_to_rmap(vm, sp_get_gfn(sp, idx), sp->role.level);

	SMMU_ASSERT(head);
	if (!head)
		return;
	pte_list_remove(&vm->pte_list_desc_slab, head, sptep);
	account_leaf(vm, sp->role.level, -1);
}
