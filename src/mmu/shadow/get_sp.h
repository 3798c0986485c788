/*
 * get_sp.h - the shadow page for (gfn, role), found or made (get_sp.c).
 */
#ifndef SMMU_SHADOW_GET_SP_H
#define SMMU_SHADOW_GET_SP_H

#include "mmu/mmu_internal.h"

struct sp *mmu_get_sp(struct mmu_vcpu *v, gfn_t gfn, union sp_role role);

#endif /* SMMU_SHADOW_GET_SP_H */
