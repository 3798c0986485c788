/*
 * shadow.h - the shadow MMU's entry points: what mmu_vm.c calls to carry
 * out mmu.h's events when the VM runs on shadow paging.  Each has the
 * meaning of the mmu.h function of the same name without the prefix.
 */
#ifndef SMMU_SHADOW_SHADOW_H
#define SMMU_SHADOW_SHADOW_H

#include "mmu/mmu.h"

enum mmu_fault_action shadow_page_fault(struct mmu_vcpu *v, struct mmu_fault *f);
hpa_t shadow_current_root(struct mmu_vcpu *v);
void shadow_cr3_changed(struct mmu_vcpu *v, bool noflush);
void shadow_context_changed(struct mmu_vcpu *v);
void shadow_invlpg(struct mmu_vcpu *v, gva_t gva);
void shadow_guest_tlb_flush(struct mmu_vcpu *v, bool all_roots);
void shadow_zap_all_fast(struct mmu_vm *vm);
void shadow_zap_all_sync(struct mmu_vm *vm);
int shadow_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out);
int shadow_write_dot(struct mmu_vm *vm, FILE *out);
/* Host updates (mmu/notifier.c, mmu_lock held): drop the sptes over [start, end), age them. */
void shadow_unmap_hva_range(struct mmu_vm *vm, hva_t start, hva_t end);
bool shadow_age_hva_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear);

#endif /* SMMU_SHADOW_SHADOW_H */
