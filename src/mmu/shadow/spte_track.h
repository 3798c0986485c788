/*
 * spte_track.h - the shadow MMU's floor: sptes changed together with the
 * bookkeeping that names them (rmaps for leaves, parent ptes and unsync
 * marks for nonleaf sptes), over mmu/spte_ops.h (spte_track.c).
 */
#ifndef SMMU_SHADOW_SPTE_TRACK_H
#define SMMU_SHADOW_SPTE_TRACK_H

#include "mmu/mmu_internal.h"

/* Point *sptep (in a page of the vCPU's tables) at child (KVM's link_shadow_page). */
void link_child_sp(struct mmu_vcpu *v, uint64_t *sptep, struct sp *child);
/* Undo link_child_sp(): the parent spte no longer points at child. */
void drop_parent_pte(struct mmu_vm *vm, struct sp *child, uint64_t *parent_sptep);
/* Remove a leaf spte from its rmap and clear it (KVM's drop_spte). */
void mmu_drop_spte(struct mmu_vm *vm, uint64_t *sptep);
/*
 * Clear one spte of sp: a leaf leaves its rmap, a nonleaf unlinks the
 * child, which stays cached for reuse (KVM's mmu_page_zap_pte).  Returns
 * true if it was present.
 */
bool mmu_zap_spte(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep);

#endif /* SMMU_SHADOW_SPTE_TRACK_H */
