/*
 * unsync.h - letting leaf-level shadow pages go unsync, and the marks that
 * lead a sync to them (unsync.c; resynchronization is sync.h).
 */
#ifndef SMMU_SHADOW_UNSYNC_H
#define SMMU_SHADOW_UNSYNC_H

#include "mmu/mmu_internal.h"

/*
 * A writable leaf is about to map gfn, a shadowed guest table: make its
 * pages unsync if the rules allow (KVM's mmu_try_to_unsync_pages).  0 if
 * the spte may be writable, -EPERM if gfn must stay write-protected.
 */
int mmu_try_to_unsync_pages(struct mmu_vcpu *v, gfn_t gfn, bool can_unsync);
/* The spte at parent_sptep leads to a page that is unsync or has unsync children. */
void mark_unsync(struct mmu_vm *vm, uint64_t *parent_sptep);
void mark_parents_unsync(struct mmu_vm *vm, struct sp *sp);
void clear_unsync_child_bit(struct mmu_vm *vm, struct sp *parent, unsigned index);

#endif /* SMMU_SHADOW_UNSYNC_H */
