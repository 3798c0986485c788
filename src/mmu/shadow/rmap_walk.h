/*
 * rmap_walk.h - changing every spte an rmap lists: write protection,
 * dropping, aging (rmap_walk.c).
 */
#ifndef SMMU_SHADOW_RMAP_WALK_H
#define SMMU_SHADOW_RMAP_WALK_H

#include "mmu/mmu_internal.h"

/*
 * Make every spte that maps gfn read-only (KVM's rmap_write_protect); true
 * if a TLB flush is needed.
 */
bool rmap_write_protect_gfn(struct mmu_vm *vm, gfn_t gfn);
/* Take W away from the sptes of one rmap; true if a TLB flush is needed. */
bool rmap_clear_writable(struct rmap_head *head);
/* Drop every spte of an rmap; true if there was one. */
bool rmap_drop_all(struct mmu_vm *vm, struct rmap_head *head);
/* Whether an spte of the rmap is accessed; with clear, also clear A in each. */
bool rmap_age(struct rmap_head *head, bool clear);

#endif /* SMMU_SHADOW_RMAP_WALK_H */
