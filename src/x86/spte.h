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
 * What the MMU puts in these entries (its leaf and nonleaf encodings, MMIO
 * sptes) is the MMU's business: src/mmu/spte.h.
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

#endif /* SMMU_X86_SPTE_H */
