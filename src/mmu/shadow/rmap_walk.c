/*
 * rmap_walk.c - changing every spte an rmap lists (KVM's rmap_write_protect,
 * kvm_zap_rmap, kvm_age_rmap): write protection of a gfn (a guest page
 * table being shadowed, a page whose dirty bit was harvested), dropping an
 * rmap (host invalidation, an rmap grown too long) and aging.  Each spte
 * changes through the floor (spte_track.c, spte_ops.h); the caller flushes
 * remote TLBs once for the whole walk when one of these says it must.
 */
#include "mmu/shadow/rmap.h"
#include "mmu/shadow/rmap_walk.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/spte_ops.h"

bool rmap_clear_writable(struct rmap_head *head)
{
	struct pte_list_iter it;
	uint64_t *sptep;
	bool flush = false;

	for_each_pte_list_entry(head, &it, sptep) {
		if (is_writable_spte(spte_get(sptep))) {
			mmu_spte_clear_bits(sptep, SPTE_RW);
			flush = true;
		}
	}
	return flush;
}

bool rmap_drop_all(struct mmu_vm *vm, struct rmap_head *head)
{
	struct pte_list_iter it;
	uint64_t *sptep;
	bool any = false;

	while ((sptep = pte_list_first(head, &it))) {
		mmu_drop_spte(vm, sptep);
		any = true;
	}
	return any;
}

/*
 * 4 KiB leaves lose W; large leaves covering gfn are dropped, as a guest
 * page table may not lie under a large spte any more (the next fault maps
 * the range with small pages).
 */
bool rmap_write_protect_gfn(struct mmu_vm *vm, gfn_t gfn)
{
	struct rmap_head *head = gfn_to_rmap(vm, gfn, 1);
	bool flush = head && rmap_clear_writable(head);

	for (unsigned level = 2; level <= 3; level++) {
		head = gfn_to_rmap(vm, gfn, level);
		if (head)
			flush |= rmap_drop_all(vm, head);
	}
	return flush;
}

bool rmap_age(struct rmap_head *head, bool clear)
{
	struct pte_list_iter it;
	uint64_t *sptep;
	bool young = false;

	for_each_pte_list_entry(head, &it, sptep) {
		if (!is_accessed_spte(spte_get(sptep)))
			continue;
		young = true;
		if (clear)
			mmu_spte_clear_bits(sptep, SPTE_A);
	}
	return young;
}
