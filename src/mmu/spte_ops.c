/*
 * spte_ops.c - the out-of-line part of the spte floor (spte_ops.h).
 */
#include "mmu/spte_ops.h"

void mmu_flush_remote_tlbs(struct mmu_vm *vm)
{
	vm->stat.remote_tlb_flush++;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->flush_vcpu_tlb)
			vm->flush_vcpu_tlb(vm->flush_ctx, i);
}
