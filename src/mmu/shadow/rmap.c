/*
 * rmap.c - the reverse map: for each (memslot, gfn, level), the leaf sptes
 * that map it (KVM's rmap; seed 000, "KVM: MMU: Implement simple reverse
 * mapping").  It answers "who maps this guest frame?", which write
 * protection of guest page tables, dirty logging and host invalidations
 * all ask.  Also: write tracking of shadowed gfns (KVM's account_shadowed)
 * which forbids large sptes over a guest page table.
 *
 * Invariant: every present, non-MMIO leaf spte is in exactly one rmap: the
 * one of its gfn (from sp_get_gfn) at its sp's level; no other spte is.
 */
#include "memslot/memslot.h"
#include "mmu/mmu.h"
#include "mmu/shadow/shadow.h"
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

/*
 * Removing one spte from an rmap is a linear search, so a gfn mapped by a
 * great many sptes (a shared zero page) would make zapping quadratic.  Past
 * this length the whole rmap is dropped and refilled on demand, as KVM does
 * (RMAP_RECYCLE_THRESHOLD).
 */
#define RMAP_RECYCLE_THRESHOLD 1000

static void rmap_drop_all(struct mmu_vm *vm, struct rmap_head *head)
{
	struct pte_list_iter it;
	uint64_t *sptep;

	while ((sptep = pte_list_first(head, &it)))
		mmu_drop_spte(vm, sptep);
	mmu_flush_remote_tlbs(vm);
}

/* Record that *sptep, a new leaf in a page at `level`, maps gfn. */
void rmap_add(struct mmu_vcpu *v, uint64_t *sptep, gfn_t gfn, unsigned level)
{
	rmap_add_slot(v, mmu_gfn_to_slot(v->vm, gfn), sptep, gfn, level);
}

void rmap_add_slot(struct mmu_vcpu *v, struct memslot *slot, uint64_t *sptep, gfn_t gfn,
                   unsigned level)
{
	struct rmap_head *head = slot ? mmu_slot_rmap(slot, gfn, level) : NULL;

	SMMU_ASSERT(head); /* leaves are only made for gfns in a memslot */
	if (!head)
		return;
	account_leaf(v->vm, level, +1);
	if (pte_list_add(&v->pte_list_desc_cache, head, sptep) >= RMAP_RECYCLE_THRESHOLD)
		rmap_drop_all(v->vm, head);
}

/* Forget the leaf *sptep (still holding its old value). */
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

/*
 * Make every spte that maps gfn read-only (KVM's rmap_write_protect): 4 KiB
 * leaves lose W; large leaves covering gfn are dropped, as a guest page
 * table may not lie under a large spte any more (the next fault maps the
 * range with small pages).  Returns true if a TLB flush is needed.
 */
bool rmap_write_protect_gfn(struct mmu_vm *vm, gfn_t gfn)
{
	struct pte_list_iter it;
	struct rmap_head *head;
	uint64_t *sptep;
	bool flush = false;

	head = gfn_to_rmap(vm, gfn, 1);
	if (head) {
		for_each_pte_list_entry(head, &it, sptep) {
			if (is_writable_spte(spte_get(sptep))) {
				__atomic_fetch_and(sptep, ~(uint64_t)SPTE_RW, __ATOMIC_SEQ_CST);
				flush = true;
			}
		}
	}
	for (unsigned level = 2; level <= 3; level++) {
		head = gfn_to_rmap(vm, gfn, level);
		if (!head)
			continue;
		while ((sptep = pte_list_first(head, &it))) {
			mmu_drop_spte(vm, sptep);
			flush = true;
		}
	}
	return flush;
}

/* Take W away from the 4 KiB sptes mapping gfn; true if a TLB flush is needed. */
static bool rmap_clear_writable(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn)
{
	struct rmap_head *head = mmu_slot_rmap(slot, gfn, 1);
	struct pte_list_iter it;
	uint64_t *sptep;
	bool flush = false;

	(void)vm;
	for_each_pte_list_entry(head, &it, sptep) {
		if (is_writable_spte(spte_get(sptep))) {
			__atomic_fetch_and(sptep, ~(uint64_t)SPTE_RW, __ATOMIC_SEQ_CST);
			flush = true;
		}
	}
	return flush;
}

int mmu_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out)
{
	struct memslot *slot;
	bool flush = false;
	int r;

	mmu_lock_acquire(&vm->mmu_lock);
	slot = memslots_get(vm->slots, id);
	r = memslots_get_dirty_log(vm->slots, id, out);
	for (uint64_t i = 0; !r && i < slot->npages; i++)
		if (out[i / 64] & (1ull << (i % 64)))
			flush |= rmap_clear_writable(vm, slot, slot->base_gfn + i);
	if (flush)
		mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
	return r;
}

/* True if a valid shadow page shadows gfn as a guest page table. */
bool gfn_is_write_tracked(struct mmu_vm *vm, gfn_t gfn)
{
	struct sp *sp;

	for_each_gfn_valid_indirect_sp(vm, sp, gfn)
		return true;
	return false;
}

/* A new indirect page shadows sp->gfn: keep the guest table read-only. */
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
