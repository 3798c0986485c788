/*
 * pte_write.h - an emulated guest write to a write-protected page table
 * (pte_write.c).
 */
#ifndef SMMU_SHADOW_PTE_WRITE_H
#define SMMU_SHADOW_PTE_WRITE_H

#include "mmu/mmu_internal.h"

void mmu_pte_write(struct mmu_vcpu *v, gpa_t gpa, unsigned bytes);

#endif /* SMMU_SHADOW_PTE_WRITE_H */
