/*
 * tdp.h - the TDP MMU's entry points (KVM's tdp_mmu.c): what mmu_vm.c
 * calls to carry out mmu.h's events when the VM runs on two-dimensional
 * paging.  The guest walks its own tables (the vCPU's 2D walk, cpu/walk2d);
 * this MMU only maps gpa -> hpa in EPT tables, so guest page-table writes,
 * cr3 switches, INVLPG and guest TLB flushes never reach it
 * (docs/tdp.md).
 */
#ifndef SMMU_TDP_TDP_H
#define SMMU_TDP_TDP_H

#include "mmu/mmu.h"

/* An EPT violation or misconfiguration exit for f->gpa (mmu_lock not held). */
enum mmu_fault_action tdp_page_fault(struct mmu_vcpu *v, struct mmu_fault *f);
/* The EPT root for the vCPU, loading (sharing or building) one if needed; INVALID_HPA on error. */
hpa_t tdp_current_root(struct mmu_vcpu *v);
/* Give the vCPU the VM's root, made if there is none (mmu_lock held, caches topped up). */
void tdp_load_root(struct mmu_vcpu *v);
/* Drop the vCPU's reference to its root (mmu_lock held). */
void tdp_put_root(struct mmu_vcpu *v);
/* Zap everything by generation: the tables are freed later, in batches (mmu_lock not held). */
void tdp_zap_all_fast(struct mmu_vm *vm);
/* The same, with every table freed before it returns. */
void tdp_zap_all(struct mmu_vm *vm);
/* On each MMU entry (mmu_lock held): free a batch of obsolete tables, if any are left. */
void tdp_reclaim_step(struct mmu_vm *vm);
/* Dirty logging (mmu_lock not held for get; held for write_protect_slot). */
int tdp_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out);
struct memslot;
void tdp_write_protect_slot(struct mmu_vm *vm, struct memslot *slot);
/* Zap the leaves over gfns [start, end) (mmu_lock held; KVM's kvm_tdp_mmu_zap_leafs). */
void tdp_zap_gfn_range(struct mmu_vm *vm, gfn_t start, gfn_t end);
/* Host updates (mmu/notifier.c, mmu_lock held): zap the leaves over [start, end), age them. */
void tdp_unmap_hva_range(struct mmu_vm *vm, hva_t start, hva_t end);
bool tdp_age_hva_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear);
/* Invariants of the EPT tables (mmu_lock held); 0 or -EUCLEAN with msg. */
int tdp_audit(struct mmu_vm *vm, char *msg, size_t msglen);
int tdp_write_dot(struct mmu_vm *vm, FILE *out);
/* mmu_recover_nx_huge_pages in TDP mode (tdp_nx.c; mmu_lock not held). */
unsigned tdp_recover_nx_huge_pages(struct mmu_vm *vm, unsigned ratio);

#endif /* SMMU_TDP_TDP_H */
