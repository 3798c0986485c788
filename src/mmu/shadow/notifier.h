/*
 * notifier.h - the shadow MMU on the host address space's MMU notifier
 * (notifier.c).
 */
#ifndef SMMU_SHADOW_NOTIFIER_H
#define SMMU_SHADOW_NOTIFIER_H

#include "mmu/mmu_internal.h"

int mmu_notifier_attach(struct mmu_vm *vm);
void mmu_notifier_detach(struct mmu_vm *vm);

#endif /* SMMU_SHADOW_NOTIFIER_H */
