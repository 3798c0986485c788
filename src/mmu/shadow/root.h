/*
 * root.h - roots and the shadow-walk iterator.
 *
 * The hardware walker always walks 4- or 5-level tables.  Guests with paging
 * off, 4-level and 5-level paging have a shadow page as root.  32-bit and PAE
 * guests have four roots of level 2, one per 1 GiB quadrant (PAE: one per
 * PDPTE register), reached through two per-vCPU special tables: a PML4
 * (lm_root) whose entry 0 points at a four-entry PDPT (pae_root), as KVM
 * builds them on 64-bit hosts (mmu_alloc_shadow_roots).
 */
#ifndef SMMU_SHADOW_ROOT_H
#define SMMU_SHADOW_ROOT_H

#include "mmu/mmu_internal.h"

struct shadow_walk {
	struct sp *sp;    /* page holding the current level's sptes */
	unsigned level;   /* its level */
	uint64_t *sptep;  /* the leaf slot, once found */
};

/* Start a shadow walk for gva from root; false if the root has no table there. */
bool shadow_walk_init(struct mmu_vcpu *v, const struct mmu_root *root, gva_t gva,
                      struct shadow_walk *it);
void mmu_free_roots(struct mmu_vcpu *v, bool include_prev);
void mmu_put_root_sp(struct mmu_vm *vm, struct sp *sp);
void mmu_drop_cached_roots(struct mmu_vm *vm);
/* Build (or find) the root for the current mode and cr3 (KVM's kvm_mmu_load); 0 or -errno. */
int mmu_load_locked(struct mmu_vcpu *v);
/* Sync the current root's unsync pages (KVM's kvm_mmu_sync_roots). */
void mmu_sync_roots(struct mmu_vcpu *v);

#endif /* SMMU_SHADOW_ROOT_H */
