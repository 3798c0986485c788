/*
 * spte_make.h - installing the leaf spte of a guest translation
 * (spte_make.c).
 */
#ifndef SMMU_SHADOW_SPTE_MAKE_H
#define SMMU_SHADOW_SPTE_MAKE_H

#include "mmu/mmu_internal.h"

enum set_spte_result {
	SET_SPTE_OK,
	SET_SPTE_WRITE_PROTECTED, /* a write to a shadowed table: emulate */
	SET_SPTE_MMIO,            /* no memslot: MMIO spte installed */
	SET_SPTE_NOMEM,
	SET_SPTE_RETRY,           /* the frame must be unshared first (cow_pending) */
};

enum set_spte_result mmu_set_spte(struct mmu_vcpu *v, struct sp *sp, uint64_t *sptep,
                                  const struct leaf_request *req);

#endif /* SMMU_SHADOW_SPTE_MAKE_H */
