/*
 * write_track.h - write tracking of the gfns that shadow pages shadow
 * (KVM's account_shadowed and page_track): their sptes stay read-only
 * and no large spte covers them (write_track.c).
 */
#ifndef SMMU_SHADOW_WRITE_TRACK_H
#define SMMU_SHADOW_WRITE_TRACK_H

#include "mmu/mmu_internal.h"

/* True if a valid shadow page shadows gfn as a guest page table. */
bool gfn_is_write_tracked(struct mmu_vm *vm, gfn_t gfn);
/* A new indirect page shadows sp->gfn: keep the guest table read-only. */
void account_shadowed(struct mmu_vm *vm, struct sp *sp);
void unaccount_shadowed(struct mmu_vm *vm, struct sp *sp);

#endif /* SMMU_SHADOW_WRITE_TRACK_H */
