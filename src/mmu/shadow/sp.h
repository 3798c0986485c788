/*
 * sp.h - shadow page headers: allocation from the vCPU's caches, the gfn
 * hash, and the map from a table's frame back to its header (sp.c).
 */
#ifndef SMMU_SHADOW_SP_H
#define SMMU_SHADOW_SP_H

#include "mmu/mmu_internal.h"

struct sp *sp_from_hpa(const struct mmu_vm *vm, hpa_t hpa);
struct sp *sptep_to_sp(const struct mmu_vm *vm, const uint64_t *sptep);
unsigned sptep_index(const struct sp *sp, const uint64_t *sptep);
hpa_t sptep_to_hpa(const struct mmu_vm *vm, const uint64_t *sptep);
uint64_t *hpa_to_sptes(const struct mmu_vm *vm, hpa_t hpa);
bool sp_is_obsolete(const struct mmu_vm *vm, const struct sp *sp);
gfn_t sp_get_gfn(const struct sp *sp, unsigned index);
unsigned sp_get_access(const struct sp *sp, unsigned index);
void sp_set_shadowed(struct sp *sp, unsigned index, gfn_t gfn, unsigned access);
struct sp *sp_alloc(struct mmu_vcpu *v, gfn_t gfn, union sp_role role);
void sp_free(struct mmu_vm *vm, struct sp *sp);
void sp_hash_del(struct mmu_vm *vm, struct sp *sp);
struct sp *sp_hash_first(const struct mmu_vm *vm, gfn_t gfn);
int mmu_topup_caches(struct mmu_vcpu *v);
/* Give back the shadow frames a vCPU reserved (teardown). */
void mmu_release_reserved_frames(struct mmu_vcpu *v);
int mmu_vm_sp_map_init(struct mmu_vm *vm);
void mmu_vm_sp_map_destroy(struct mmu_vm *vm);

/* Iterate the valid (not obsolete) pages shadowing gfn as a guest table. */
#define for_each_gfn_valid_indirect_sp(vm, sp, gfn_)                                   \
	for ((sp) = sp_hash_first((vm), (gfn_)); (sp); (sp) = (sp)->hash_next)          \
		if ((sp)->gfn != (gfn_) || (sp)->role.direct || (sp)->role.invalid ||   \
		    sp_is_obsolete((vm), (sp))) {                                       \
		} else

#endif /* SMMU_SHADOW_SP_H */
