/*
 * zap_all.h - generation-number zap-all and the batched freeing after it
 * (zap_all.c; the entry points are in mmu.h).
 */
#ifndef SMMU_SHADOW_ZAP_ALL_H
#define SMMU_SHADOW_ZAP_ALL_H

#include "mmu/mmu_internal.h"

/* On each MMU entry: free a batch of obsolete pages, if any are left. */
void mmu_reclaim_step(struct mmu_vm *vm);

#endif /* SMMU_SHADOW_ZAP_ALL_H */
