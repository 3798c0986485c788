/*
 * mmu_notifier.h - the MMU on the host address space's MMU notifier
 * (notifier.c); each mode supplies the range handlers it calls
 * (shadow_unmap_hva_range / tdp_unmap_hva_range and the aging ones).
 */
#ifndef SMMU_MMU_NOTIFIER_H
#define SMMU_MMU_NOTIFIER_H

#include "mmu/mmu_internal.h"

int mmu_notifier_attach(struct mmu_vm *vm);
void mmu_notifier_detach(struct mmu_vm *vm);

#endif /* SMMU_MMU_NOTIFIER_H */
