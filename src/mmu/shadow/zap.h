/*
 * zap.h - zapping shadow pages in two phases, and freeing obsolete ones
 * (zap.c).
 */
#ifndef SMMU_SHADOW_ZAP_H
#define SMMU_SHADOW_ZAP_H

#include "mmu/mmu_internal.h"

bool mmu_prepare_zap_page(struct mmu_vm *vm, struct sp *sp, struct list_head *invalid_list);
void mmu_commit_zap_page(struct mmu_vm *vm, struct list_head *invalid_list);
void mmu_zap_obsolete_pages(struct mmu_vm *vm, unsigned long batch);

#endif /* SMMU_SHADOW_ZAP_H */
