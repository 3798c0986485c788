/*
 * spte_ops.h - the floor every spte change goes through.
 *
 * Shadow tables are read concurrently by the vCPUs' hardware walkers,
 * which may be on other threads and which set A/D bits themselves (one
 * relaxed atomic load or compare-and-exchange per entry, cpu/hwwalk.c).  So
 * the MMU changes an spte only through these primitives: a release store
 * of a new value or of zero, or an atomic clear of bits that keeps the
 * walker's concurrent A/D updates.  Above them:
 *  - mmu_flush_remote_tlbs: after an spte lost rights or went away, no vCPU
 *    may keep a TLB entry made from the old value (KVM's
 *    kvm_flush_remote_tlbs);
 *  - mmu_tables_changed: after a present nonleaf spte or a special root
 *    entry is cleared or replaced, or a table frame is freed, no vCPU
 *    paging-structure cache (cpu/psc.h) may keep an entry older than that.
 * The shadow MMU's bookkeeping on top of these (rmaps, parent ptes) is
 * shadow/spte_track.c; nothing else in src/mmu stores into an spte.
 */
#ifndef SMMU_MMU_SPTE_OPS_H
#define SMMU_MMU_SPTE_OPS_H

#include "mmu/mmu_internal.h"

/* Install spte in *sptep (empty before, or a value the walker may hold). */
static inline void mmu_spte_set(uint64_t *sptep, uint64_t spte)
{
	__atomic_store_n(sptep, spte, __ATOMIC_RELEASE);
}

/* Make *sptep not present. */
static inline void mmu_spte_clear(uint64_t *sptep)
{
	__atomic_store_n(sptep, 0, __ATOMIC_RELEASE);
}

/* Clear `bits` (W, A) without losing A/D bits the walker sets meanwhile; returns the old value. */
static inline uint64_t mmu_spte_clear_bits(uint64_t *sptep, uint64_t bits)
{
	return __atomic_fetch_and(sptep, ~bits, __ATOMIC_SEQ_CST);
}

/* The shadow hierarchy lost or changed a nonleaf link: see mmu_vm.table_gen. */
static inline void mmu_tables_changed(struct mmu_vm *vm)
{
	__atomic_fetch_add(&vm->table_gen, 1, __ATOMIC_RELEASE);
}

/* Flush every vCPU's TLB (KVM's kvm_flush_remote_tlbs). */
void mmu_flush_remote_tlbs(struct mmu_vm *vm);

#endif /* SMMU_MMU_SPTE_OPS_H */
