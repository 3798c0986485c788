/*
 * spte.h - what the MMU writes into the host's paging structures
 * (x86/spte.h gives their format, as the hardware walker reads it): leaf
 * and nonleaf sptes, and MMIO sptes.
 *
 * MMIO sptes (KVM's mmio sptes, Documentation/virt/kvm/mmu.rst "MMIO"): for
 * a gfn no memslot backs, the MMU installs a *present* spte with reserved
 * bit 51 set.  The hardware walk then stops with a reserved-bit exit and
 * the MMU recognises the spte, without a guest walk, by its marker.  Layout
 * (no bit overlaps the marker or P):
 *     bit 0        P (1)                bits 1-2   guest access W, U
 *     bits 3-10    generation[7:0]      bits 12-50 gfn[38:0]
 *     bit 51       the marker           bits 52-61 generation[17:8]
 *     bit 62       gfn[39]              bit 63     guest XD (not executable)
 * The generation is the memslot generation when the spte was made, so a
 * memslot change invalidates every MMIO spte at once (KVM's
 * kvm_mmu_invalidate_mmio_sptes).
 */
#ifndef SMMU_MMU_SPTE_H
#define SMMU_MMU_SPTE_H

#include "x86/spte.h"

/* ---- MMIO sptes ---------------------------------------------------------- */
#define SPTE_MMIO_MARKER      (1ull << 51)
#define SPTE_MMIO_ACC_SHIFT   1 /* SMMU_ACC_W -> bit 1, SMMU_ACC_U -> bit 2 */
#define SPTE_MMIO_GEN_BITS    18
#define SPTE_MMIO_GEN_MASK    ((1ull << SPTE_MMIO_GEN_BITS) - 1)
#define SPTE_MMIO_GFN_BITS    40 /* a guest MAXPHYADDR up to 52 */
#define SPTE_MMIO_GEN_LO_MASK bits_range(10, 3)
#define SPTE_MMIO_GEN_HI_MASK bits_range(61, 52)
#define SPTE_MMIO_GFN_LO_MASK bits_range(50, 12)
#define SPTE_MMIO_GFN_HI_BIT  (1ull << 62)

static inline bool is_mmio_spte(uint64_t spte)
{
	return (spte & (SPTE_P | SPTE_MMIO_MARKER)) == (SPTE_P | SPTE_MMIO_MARKER);
}

/*
 * A nonleaf spte pointing at the shadow table at `child_hpa`.  As in KVM,
 * nonleaf sptes grant every right (rights are enforced in the leaf) and
 * are made accessed.
 */
static inline uint64_t spte_make_nonleaf(hpa_t child_hpa)
{
	SMMU_ASSERT(!(child_hpa & ~SPTE_ADDR_MASK));
	return child_hpa | SPTE_P | SPTE_RW | SPTE_US | SPTE_A;
}

/* Extra bits of a leaf made by spte_make_leaf(). */
#define SPTE_MK_ACCESSED (1u << 0) /* set A (the MMU saw the guest access it) */
#define SPTE_MK_DIRTY    (1u << 1) /* set D */
#define SPTE_MK_GLOBAL   (1u << 2) /* set G (guest leaf G with CR4.PGE) */

/*
 * A leaf spte at `level` (1, 2 or 3) mapping the frame at `hpa` (aligned
 * to the level's page size) with rights `acc` (SMMU_ACC_*), protection key
 * `pkey` (0..15) and SPTE_MK_* flags.
 */
static inline uint64_t spte_make_leaf(hpa_t hpa, unsigned level, unsigned acc, unsigned pkey,
                                      unsigned flags)
{
	uint64_t spte = hpa | SPTE_P | ((uint64_t)(pkey & 0xf) << SPTE_PKEY_SHIFT);

	SMMU_ASSERT(level >= SPTE_LEVEL_4K && level <= SPTE_LEVEL_1G);
	SMMU_ASSERT(!(hpa & ~SPTE_ADDR_MASK) && !(hpa & (spte_level_size(level) - 1)));
	if (level > SPTE_LEVEL_4K)
		spte |= SPTE_PS;
	if (acc & SMMU_ACC_W)
		spte |= SPTE_RW;
	if (acc & SMMU_ACC_U)
		spte |= SPTE_US;
	if (!(acc & SMMU_ACC_X))
		spte |= SPTE_NX;
	if (flags & SPTE_MK_ACCESSED)
		spte |= SPTE_A;
	if (flags & SPTE_MK_DIRTY)
		spte |= SPTE_D;
	if (flags & SPTE_MK_GLOBAL)
		spte |= SPTE_G;
	return spte;
}

/*
 * An MMIO spte for `gfn` (below 2^40) with the guest's rights `acc`
 * (SMMU_ACC_*) and memslot generation `gen` (only its low 18 bits are
 * kept; compare with spte_mmio_gen_matches()).
 */
static inline uint64_t spte_make_mmio(gfn_t gfn, unsigned acc, uint64_t gen)
{
	uint64_t spte = SPTE_P | SPTE_MMIO_MARKER;

	SMMU_ASSERT(gfn < (1ull << SPTE_MMIO_GFN_BITS));
	spte |= (uint64_t)(acc & (SMMU_ACC_W | SMMU_ACC_U)) << SPTE_MMIO_ACC_SHIFT;
	if (!(acc & SMMU_ACC_X))
		spte |= SPTE_NX;
	spte |= (gfn << PAGE_SHIFT) & SPTE_MMIO_GFN_LO_MASK;
	spte |= (gfn >> 39) & 1 ? SPTE_MMIO_GFN_HI_BIT : 0;
	spte |= (gen << 3) & SPTE_MMIO_GEN_LO_MASK;
	spte |= ((gen >> 8) << 52) & SPTE_MMIO_GEN_HI_MASK;
	return spte;
}

static inline gfn_t spte_mmio_gfn(uint64_t spte)
{
	gfn_t gfn = (spte & SPTE_MMIO_GFN_LO_MASK) >> PAGE_SHIFT;

	if (spte & SPTE_MMIO_GFN_HI_BIT)
		gfn |= 1ull << 39;
	return gfn;
}

static inline uint64_t spte_mmio_gen(uint64_t spte)
{
	return ((spte & SPTE_MMIO_GEN_LO_MASK) >> 3) |
	       (((spte & SPTE_MMIO_GEN_HI_MASK) >> 52) << 8);
}

static inline unsigned spte_mmio_access(uint64_t spte)
{
	unsigned acc = (unsigned)(spte >> SPTE_MMIO_ACC_SHIFT) & (SMMU_ACC_W | SMMU_ACC_U);

	return (spte & SPTE_NX) ? acc : acc | SMMU_ACC_X;
}

/* True if the MMIO spte was made under memslot generation `gen`. */
static inline bool spte_mmio_gen_matches(uint64_t spte, uint64_t gen)
{
	return spte_mmio_gen(spte) == (gen & SPTE_MMIO_GEN_MASK);
}

#endif /* SMMU_MMU_SPTE_H */
