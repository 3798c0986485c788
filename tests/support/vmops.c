/*
 * vmops.c - see vmops.h.
 */
#include <string.h>

#include "support/vmops.h"

enum smmu_result vm_w8(struct smmu_vm *vm, uint64_t gva, uint64_t val)
{
	struct smmu_outcome o;

	smmu_vcpu_write(vm, 0, gva, 8, val, &o);
	return o.result;
}

uint64_t vm_r8(struct smmu_vm *vm, uint64_t gva)
{
	struct smmu_outcome o;

	smmu_vcpu_read(vm, 0, gva, 8, &o);
	return o.result == SMMU_OK ? o.value : ~0ull;
}

uint64_t vm_fetch(struct smmu_vm *vm, uint64_t gva)
{
	struct smmu_outcome o;

	smmu_vcpu_fetch(vm, 0, gva, &o);
	return o.result == SMMU_OK ? o.value : ~0ull;
}

struct smmu_stats vm_stats(struct smmu_vm *vm)
{
	struct smmu_stats st;

	memset(&st, 0, sizeof(st));
	smmu_vm_get_stats(vm, &st);
	return st;
}
