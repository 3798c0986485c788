/*
 * spte.h - shadow page-table entries as the host "hardware" sees them.
 *
 * Shadow tables are real x86-64 paging structures (4- or 5-level, SDM Vol.
 * 3A 4.5) living in arena frames; their physical-address field holds an
 * arena offset (an hpa).  The host processor they are built for has
 * MAXPHYADDR = SPTE_HOST_MAXPHYADDR, CR0.WP = 1, EFER.NXE = 1 and 1 GiB
 * pages, so for the hardware walker (hwwalk.c):
 *   - bits 51:SPTE_HOST_MAXPHYADDR are reserved at every level;
 *   - PS is reserved in PML5Es and PML4Es;
 *   - bits 29:13 of a 1 GiB leaf and 20:13 of a 2 MiB leaf are reserved
 *     (the page frame must be aligned);
 *   - bit 63 is XD, bits 62:59 the protection key of a leaf.
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
#ifndef SMMU_X86_SPTE_H
#define SMMU_X86_SPTE_H

#include <shadowmmu/x86.h>

#include "common.h"

#define SPTE_HOST_MAXPHYADDR 46

#define SPTE_P          X86_PTE_P
#define SPTE_RW         X86_PTE_RW
#define SPTE_US         X86_PTE_US
#define SPTE_PWT        X86_PTE_PWT
#define SPTE_PCD        X86_PTE_PCD
#define SPTE_A          X86_PTE_A
#define SPTE_D          X86_PTE_D
#define SPTE_PS         X86_PTE_PS
#define SPTE_G          X86_PTE_G
#define SPTE_NX         X86_PTE_NX
#define SPTE_PKEY_SHIFT X86_PTE_PKEY_SHIFT
#define SPTE_PKEY_MASK  (0xfull << SPTE_PKEY_SHIFT)

/* Physical-address field: bits (SPTE_HOST_MAXPHYADDR-1):12. */
#define SPTE_ADDR_MASK bits_range(SPTE_HOST_MAXPHYADDR - 1, PAGE_SHIFT)

/* Bits above the host's MAXPHYADDR, reserved at every level (SDM 4.5). */
#define SPTE_RSVD_HIGH bits_range(51, SPTE_HOST_MAXPHYADDR)
/* Address bits that must be zero in large leaves (SDM 4.5, Tables 4-16/4-18). */
#define SPTE_RSVD_1G bits_range(29, 13)
#define SPTE_RSVD_2M bits_range(20, 13)

/* Levels: 1 = PTE (4 KiB), 2 = PDE (2 MiB leaf possible), 3 = PDPTE (1 GiB). */
#define SPTE_LEVEL_4K     1
#define SPTE_LEVEL_2M     2
#define SPTE_LEVEL_1G     3
#define SPTE_ENT_PER_PAGE 512

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

/* Bytes mapped by one entry at `level` (1..5). */
static inline uint64_t spte_level_size(unsigned level)
{
	return 1ull << (PAGE_SHIFT + 9 * (level - 1));
}

/* Index of gva's entry in a table at `level` (SDM 4.5: 9 bits per level). */
static inline unsigned spte_index(gva_t gva, unsigned level)
{
	return (unsigned)(gva >> (PAGE_SHIFT + 9 * (level - 1))) & (SPTE_ENT_PER_PAGE - 1);
}

/*
 * Read an spte the hardware walker may be updating (A/D bits) on another
 * thread: one relaxed atomic load, as the walker's own reads and updates.
 */
static inline uint64_t spte_get(const uint64_t *sptep)
{
	return __atomic_load_n(sptep, __ATOMIC_RELAXED);
}

static inline bool is_shadow_present_spte(uint64_t spte)
{
	return spte & SPTE_P;
}

static inline bool is_mmio_spte(uint64_t spte)
{
	return (spte & (SPTE_P | SPTE_MMIO_MARKER)) == (SPTE_P | SPTE_MMIO_MARKER);
}

/* A leaf maps a page: always at level 1, at levels 2-3 when PS = 1. */
static inline bool is_last_spte(uint64_t spte, unsigned level)
{
	return level == SPTE_LEVEL_4K || (level <= SPTE_LEVEL_1G && (spte & SPTE_PS));
}

static inline bool is_large_spte(uint64_t spte, unsigned level)
{
	return level > SPTE_LEVEL_4K && is_last_spte(spte, level);
}

static inline bool is_writable_spte(uint64_t spte)
{
	return spte & SPTE_RW;
}

static inline bool is_accessed_spte(uint64_t spte)
{
	return spte & SPTE_A;
}

static inline bool is_dirty_spte(uint64_t spte)
{
	return spte & SPTE_D;
}

/* The hpa an spte points to (a table or a page frame). */
static inline hpa_t spte_to_hpa(uint64_t spte)
{
	return spte & SPTE_ADDR_MASK;
}

static inline pfn_t spte_to_pfn(uint64_t spte)
{
	return spte_to_hpa(spte) >> PAGE_SHIFT;
}

static inline unsigned spte_pkey(uint64_t spte)
{
	return (unsigned)((spte & SPTE_PKEY_MASK) >> SPTE_PKEY_SHIFT);
}

/*
 * Reserved bits of a present spte at `level` for the host walker (the
 * header comment lists them).  A nonzero result makes the walk exit with
 * a reserved-bit fault.
 */
static inline uint64_t spte_reserved_bits(uint64_t spte, unsigned level)
{
	uint64_t rsvd = spte & SPTE_RSVD_HIGH;

	if (level >= 4)
		return rsvd | (spte & SPTE_PS);
	if (level == SPTE_LEVEL_1G && (spte & SPTE_PS))
		return rsvd | (spte & SPTE_RSVD_1G);
	if (level == SPTE_LEVEL_2M && (spte & SPTE_PS))
		return rsvd | (spte & SPTE_RSVD_2M);
	return rsvd;
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

#endif /* SMMU_X86_SPTE_H */
