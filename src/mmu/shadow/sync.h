/*
 * sync.h - resynchronizing unsync pages (sync.c).
 */
#ifndef SMMU_SHADOW_SYNC_H
#define SMMU_SHADOW_SYNC_H

#include "mmu/mmu_internal.h"

bool mmu_sync_page(struct mmu_vcpu *v, struct sp *sp, struct list_head *invalid_list);
void mmu_sync_children(struct mmu_vcpu *v, struct sp *parent);
void mmu_sync_pages_of_gfn(struct mmu_vcpu *v, gfn_t gfn);

#endif /* SMMU_SHADOW_SYNC_H */
