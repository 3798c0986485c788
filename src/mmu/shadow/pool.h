/*
 * pool.h - keeping the number of shadow pages under n_max_mmu_pages
 * (pool.c).
 */
#ifndef SMMU_SHADOW_POOL_H
#define SMMU_SHADOW_POOL_H

#include "mmu/mmu_internal.h"

/* Recycle pages until a fault's worth is free (KVM's make_mmu_pages_available); 0 or -ENOSPC. */
int mmu_make_pages_available(struct mmu_vcpu *v);

#endif /* SMMU_SHADOW_POOL_H */
