/*
 * vmops.h - one-line guest operations for tests that drive a VM through the
 * public API on vCPU 0: the result of a write, the value of a read or
 * fetch (~0 when it did not complete with SMMU_OK), the statistics now.
 */
#ifndef SMMU_TEST_VMOPS_H
#define SMMU_TEST_VMOPS_H

#include <shadowmmu/shadowmmu.h>

enum smmu_result vm_w8(struct smmu_vm *vm, uint64_t gva, uint64_t val);
uint64_t vm_r8(struct smmu_vm *vm, uint64_t gva);
uint64_t vm_fetch(struct smmu_vm *vm, uint64_t gva);
struct smmu_stats vm_stats(struct smmu_vm *vm);

#endif /* SMMU_TEST_VMOPS_H */
