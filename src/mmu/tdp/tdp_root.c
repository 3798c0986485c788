/*
 * tdp_root.c - EPT roots (KVM's kvm_tdp_mmu_get_vcpu_root_hpa): one valid
 * root for the VM, shared by every vCPU, each holding a reference
 * (root_count).  The guest's cr3 plays no part: a context switch changes
 * nothing here.  A zap-all takes the root away from every vCPU and frees
 * the tree by generation (tdp_zap_all_fast); each vCPU builds or shares a
 * new one on its next entry.
 */
#include "mmu/shadow/audit.h"
#include "mmu/shadow/sp.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_spte.h"
#include "mmu/tdp/tdp_spte_change.h"

/* Obsolete tables freed per MMU entry after a zap-all (KVM's BATCH_ZAP_PAGES). */
#define TDP_RECLAIM_BATCH 10

void tdp_load_root(struct mmu_vcpu *v)
{
	struct mmu_vm *vm = v->vm;

	if (!vm->tdp_root) {
		vm->tdp_root = tdp_alloc_table(v, vm->tdp_level, 0);
		vm->stat.root_load++;
	}
	vm->tdp_root->root_count++;
	v->root.hpa = vm->tdp_root->spt_hpa;
	v->root.pgd = 0;
	v->root.role = vm->tdp_root->role;
}

hpa_t tdp_current_root(struct mmu_vcpu *v)
{
	struct mmu_vm *vm = v->vm;
	hpa_t hpa;

	if (v->root.hpa != INVALID_HPA)
		return v->root.hpa;
	if (mmu_topup_caches(v))
		return INVALID_HPA;
	mmu_lock_acquire(&vm->mmu_lock);
	if (v->root.hpa == INVALID_HPA)
		tdp_load_root(v);
	hpa = v->root.hpa;
	mmu_lock_release(&vm->mmu_lock);
	return hpa;
}

void tdp_put_root(struct mmu_vcpu *v)
{
	struct sp *root;

	if (v->root.hpa == INVALID_HPA)
		return;
	root = sp_from_hpa(v->vm, v->root.hpa);
	v->root.hpa = INVALID_HPA;
	SMMU_ASSERT(root && root->root_count > 0);
	if (root)
		root->root_count--;
}

/*
 * Free one obsolete table: its leaves leave the gauges, its entries are
 * cleared without following them (every table of an obsolete tree is
 * itself obsolete and freed on its own turn, in any order: nothing walks
 * an obsolete tree any more, see tdp_zap_all_fast).
 */
static void free_obsolete_table(struct mmu_vm *vm, struct sp *sp)
{
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		uint64_t e = spte_get(&sp->spt[i]);

		if (is_tdp_present(e) && is_ept_leaf(e, sp->role.level))
			tdp_account_leaf(vm, sp->role.level, -1);
		mmu_spte_clear(&sp->spt[i]);
	}
	tdp_untrack_nx_split(vm, sp);
	sp_hash_del(vm, sp);
	sp_free(vm, sp);
}

/*
 * Free up to `batch` obsolete tables, oldest first (0: all).  New tables go
 * to the head of the active list, so obsolete ones gather at its tail.
 */
static void free_obsolete_tables(struct mmu_vm *vm, unsigned long batch)
{
	unsigned long done = 0;

	while (vm->n_obsolete && (!batch || done < batch)) {
		struct sp *sp = list_entry(vm->active_list.prev, struct sp, link);

		SMMU_ASSERT(sp_is_obsolete(vm, sp) && !sp->root_count);
		free_obsolete_table(vm, sp);
		vm->n_obsolete--;
		vm->stat.obsolete_freed++;
		done++;
	}
}

void tdp_reclaim_step(struct mmu_vm *vm)
{
	if (vm->n_obsolete)
		free_obsolete_tables(vm, TDP_RECLAIM_BATCH);
}

/*
 * Zap-all by generation (seed 001 for TDP roots; KVM's
 * kvm_tdp_mmu_invalidate_all_roots): the root is dropped by every vCPU, the
 * generation bumped so that every existing table is obsolete, and the
 * remote flush waits until no vCPU is inside the old tree.  O(vCPUs) now;
 * the tables are freed in batches on later MMU entries.
 */
void tdp_zap_all_fast(struct mmu_vm *vm)
{
	mmu_lock_acquire(&vm->mmu_lock);
	vm->stat.zap_all++;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			tdp_put_root(vm->vcpus[i]);
	SMMU_ASSERT(!vm->tdp_root || !vm->tdp_root->root_count);
	vm->tdp_root = NULL;
	vm->mmu_valid_gen++;
	vm->n_obsolete = vm->n_used_mmu_pages;
	mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

/* The same, freeing everything now (before a memslot is deleted or moved). */
void tdp_zap_all(struct mmu_vm *vm)
{
	tdp_zap_all_fast(vm);
	mmu_lock_acquire(&vm->mmu_lock);
	free_obsolete_tables(vm, 0);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}
