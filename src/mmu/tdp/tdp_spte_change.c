/*
 * tdp_spte_change.c - changing EPT entries with their bookkeeping (see
 * tdp_spte_change.h).  Invariants, checked by tdp_audit: every present
 * entry of a table at level L > 1 that is not a leaf points at a live
 * table of level L - 1 covering the same gfns; the gauges count the
 * present leaves by level; every table is on the active list.
 *
 * A freed table is unlinked first, so no walk that starts afterwards can
 * reach it; sp_free bumps the table generation and returns the frame to
 * the arena, which zeroes it.  The vCPUs walk the EPT without mmu_lock, so
 * a zap is followed by a remote TLB flush, which waits until every vCPU
 * has left guest mode (vcpu_cpu_kick_tlb_flush) - after that no walk still
 * holds a pointer into a freed table.  Tables are therefore freed by the
 * zap paths only after their flush: zapping collects them on an
 * invalid_list, as the shadow MMU's two-phase zap does (KVM frees them
 * after an RCU grace period).
 */
#include "mmu/shadow/sp.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"
#include "mmu/tdp/tdp_spte_change.h"

struct sp *tdp_alloc_table(struct mmu_vcpu *v, unsigned level, gfn_t gfn)
{
	union sp_role role = {.word = 0};

	role.level = level;
	role.direct = 1;
	role.access = ACC_ALL;
	return sp_alloc(v, gfn, role);
}

void tdp_link_table(struct mmu_vm *vm, uint64_t *sptep, struct sp *child)
{
	child->tdp.parent_sptep = sptep;
	mmu_spte_set(sptep, tdp_make_nonleaf(child->spt_hpa, vm->ept_ad));
}

void tdp_account_leaf(struct mmu_vm *vm, unsigned level, int delta)
{
	uint64_t *gauge = level == 1 ? &vm->stat.pages_4k
	                  : level == 2 ? &vm->stat.pages_2m
	                               : &vm->stat.pages_1g;

	*gauge += (uint64_t)(int64_t)delta;
}

void tdp_set_leaf(struct mmu_vm *vm, uint64_t *sptep, unsigned level, uint64_t leaf)
{
	uint64_t old = spte_get(sptep);

	SMMU_ASSERT(!is_tdp_present(old) || is_ept_leaf(old, level));
	if (!is_tdp_present(old))
		tdp_account_leaf(vm, level, +1);
	mmu_spte_set(sptep, leaf);
}

void tdp_track_nx_split(struct mmu_vm *vm, struct sp *sp)
{
	SMMU_ASSERT(!sp->tdp.nx_huge_page_disallowed);
	sp->tdp.nx_huge_page_disallowed = true;
	list_add(&sp->tdp.nx_link, vm->nx_huge_pages.prev); /* at the tail: newest last */
	vm->stat.nx_lpage_splits++;
}

void tdp_untrack_nx_split(struct mmu_vm *vm, struct sp *sp)
{
	if (!sp->tdp.nx_huge_page_disallowed)
		return;
	sp->tdp.nx_huge_page_disallowed = false;
	list_del(&sp->tdp.nx_link);
	vm->stat.nx_lpage_splits--;
}

void tdp_zap_table(struct mmu_vm *vm, struct sp *sp, struct list_head *invalid_list)
{
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		tdp_zap_spte(vm, &sp->spt[i], sp->role.level, invalid_list);
	tdp_untrack_nx_split(vm, sp);
	sp_hash_del(vm, sp);
	list_move(&sp->link, invalid_list);
}

bool tdp_zap_spte(struct mmu_vm *vm, uint64_t *sptep, unsigned level,
                  struct list_head *invalid_list)
{
	uint64_t old = spte_get(sptep);

	if (is_tdp_mmio_spte(old)) {
		mmu_spte_clear(sptep);
		return false; /* never cached in a TLB: nothing to flush */
	}
	if (!is_tdp_present(old))
		return false;
	mmu_spte_clear(sptep);
	if (is_ept_leaf(old, level)) {
		tdp_account_leaf(vm, level, -1);
	} else {
		struct sp *child = sp_from_hpa(vm, ept_to_hpa(old));

		mmu_tables_changed(vm);
		SMMU_ASSERT(child);
		if (child)
			tdp_zap_table(vm, child, invalid_list);
	}
	return true;
}

void tdp_commit_zap(struct mmu_vm *vm, struct list_head *invalid_list, bool flush)
{
	if (flush || !list_empty(invalid_list))
		mmu_flush_remote_tlbs(vm);
	while (!list_empty(invalid_list)) {
		struct sp *sp = list_entry(invalid_list->next, struct sp, link);

		sp_free(vm, sp);
	}
}
