/*
 * tdp_spte_change.h - the TDP MMU's floor (KVM's handle_changed_spte): an
 * EPT entry and what depends on it change together - the pages_4k/2m/1g
 * gauges for leaves, the table below a nonleaf entry, which is freed when
 * the entry goes.  Stores go through mmu/spte_ops.h.
 */
#ifndef SMMU_TDP_SPTE_CHANGE_H
#define SMMU_TDP_SPTE_CHANGE_H

#include "mmu/mmu_internal.h"

/* A new, empty EPT table at `level` covering gfns from `gfn`, from the vCPU's caches. */
struct sp *tdp_alloc_table(struct mmu_vcpu *v, unsigned level, gfn_t gfn);
/* A present leaf at `level` appears (+1) or goes (-1): the pages_4k/2m/1g gauges. */
void tdp_account_leaf(struct mmu_vm *vm, unsigned level, int delta);
/* Point *sptep at table `child` (the entry was not present, or MMIO). */
void tdp_link_table(struct mmu_vm *vm, uint64_t *sptep, struct sp *child);
/* Install a leaf at `level` in place of whatever *sptep held (a leaf or nothing). */
void tdp_set_leaf(struct mmu_vm *vm, uint64_t *sptep, unsigned level, uint64_t leaf);
/*
 * Clear *sptep (an entry of a table at `level`): a leaf leaves the gauges,
 * the tables below a nonleaf entry are emptied the same way and moved to
 * invalid_list, to be freed by tdp_commit_zap after the remote TLB flush.
 * True if the entry was present (a TLB may hold what it mapped).
 */
bool tdp_zap_spte(struct mmu_vm *vm, uint64_t *sptep, unsigned level,
                  struct list_head *invalid_list);
/* Flush remote TLBs if `flush` or tables wait on invalid_list, then free those tables. */
void tdp_commit_zap(struct mmu_vm *vm, struct list_head *invalid_list, bool flush);
/* Empty a table that is already unlinked (a root) onto invalid_list. */
void tdp_zap_table(struct mmu_vm *vm, struct sp *sp, struct list_head *invalid_list);

/* NX huge pages: a table made in place of a huge page because of a fetch (tdp_nx.c). */
void tdp_track_nx_split(struct mmu_vm *vm, struct sp *sp);
/* The table is going away: off the NX split list (no-op for an untracked table). */
void tdp_untrack_nx_split(struct mmu_vm *vm, struct sp *sp);

#endif /* SMMU_TDP_SPTE_CHANGE_H */
