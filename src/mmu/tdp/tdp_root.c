/*
 * tdp_root.c - EPT roots (KVM's kvm_tdp_mmu_get_vcpu_root_hpa): one valid
 * root for the VM, shared by every vCPU, each holding a reference
 * (root_count).  The guest's cr3 plays no part: a context switch changes
 * nothing here.  A zap-all takes the root away from every vCPU and frees
 * the tree; each vCPU builds or shares a new one on its next entry.
 */
#include "mmu/shadow/audit.h"
#include "mmu/shadow/sp.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_spte_change.h"

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

/* Free a root no vCPU holds any more, and everything below it. */
static void free_root(struct mmu_vm *vm, struct sp *root)
{
	struct list_head invalid_list;

	list_init(&invalid_list);
	tdp_zap_table(vm, root, &invalid_list);
	tdp_commit_zap(vm, &invalid_list, true);
}

void tdp_zap_all(struct mmu_vm *vm)
{
	struct sp *root;

	mmu_lock_acquire(&vm->mmu_lock);
	vm->stat.zap_all++;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			tdp_put_root(vm->vcpus[i]);
	root = vm->tdp_root;
	vm->tdp_root = NULL;
	if (root) {
		SMMU_ASSERT(!root->root_count);
		free_root(vm, root);
	}
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}
