/*
 * tdp_nx.h - NX huge pages, the iTLB-multihit mitigation (tdp_nx.c).
 */
#ifndef SMMU_TDP_NX_H
#define SMMU_TDP_NX_H

#include "mmu/mmu_internal.h"

/* A table made in place of a huge page because of an instruction fetch. */
void tdp_track_nx_split(struct mmu_vm *vm, struct sp *sp);
/* The table is going away: forget it (no-op for an untracked table). */
void tdp_untrack_nx_split(struct mmu_vm *vm, struct sp *sp);

#endif /* SMMU_TDP_NX_H */
