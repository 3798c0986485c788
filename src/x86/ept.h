/*
 * ept.h - extended page tables (EPT), the second dimension of TDP mode: the
 * host-owned tables that map a guest-physical address to a host-physical
 * one (SDM Vol. 3C 29.3, "The extended page table mechanism").
 *
 * Entry format (4-level EPT, or 5-level when the guest's physical width
 * needs more than 48 bits; KVM's tdp_root_level):
 *     bit 0      read            bit 1      write          bit 2    execute
 *     bits 5:3   memory type (leaf only; 6 = write-back)
 *     bit 6      ignore PAT (leaf only)
 *     bit 7      page size: a 2 MiB (level 2) or 1 GiB (level 3) leaf
 *     bit 8      accessed, bit 9 dirty (leaf only) - when EPT A/D is on
 *     bits 51:12 the physical address of the next table or of the page
 *     bit 63     suppress #VE
 * An entry with R = W = X = 0 is not present: using it is an EPT
 * violation.  A present entry is an EPT misconfiguration (SDM 29.3.3.1) if
 * it is writable but not readable, if it sets a reserved bit - bits
 * 51:EPT_HOST_MAXPHYADDR, bits 7:3 of a non-leaf entry (PS in a level-4 or
 * level-5 entry included), address bits 29:12 of a 1 GiB and 20:12 of a
 * 2 MiB leaf - or if a leaf's memory type is 2, 3 or 7.  KVM encodes MMIO
 * sptes as misconfigurations (W without R), so that an access to an
 * unbacked gpa exits differently from a missing mapping.
 *
 * The exit qualification of an EPT violation (SDM 28.2.1, Table 28-7) says
 * what was attempted, what the entry allowed, and whether the access was
 * to the final gpa of a guest walk or to one of the guest's own paging
 * structures during it.
 */
#ifndef SMMU_X86_EPT_H
#define SMMU_X86_EPT_H

#include "common.h"

/* The host processor's physical width, as for sptes (x86/spte.h). */
#define EPT_HOST_MAXPHYADDR 46

#define EPT_R          (1ull << 0)
#define EPT_W          (1ull << 1)
#define EPT_X          (1ull << 2)
#define EPT_RWX        (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT   3
#define EPT_MT_MASK    (7ull << EPT_MT_SHIFT)
#define EPT_MT_WB      6ull
#define EPT_IGNORE_PAT (1ull << 6)
#define EPT_PS         (1ull << 7)
#define EPT_A          (1ull << 8)
#define EPT_D          (1ull << 9)
#define EPT_SUPPRESS_VE (1ull << 63)

#define EPT_ADDR_MASK bits_range(EPT_HOST_MAXPHYADDR - 1, 12)
#define EPT_RSVD_HIGH bits_range(51, EPT_HOST_MAXPHYADDR)
#define EPT_RSVD_NONLEAF bits_range(7, 3)
#define EPT_RSVD_1G bits_range(29, 12)
#define EPT_RSVD_2M bits_range(20, 12)

/* Exit qualification of an EPT violation (SDM Table 28-7). */
#define EPT_QUAL_READ        (1ull << 0) /* the access was a data read */
#define EPT_QUAL_WRITE       (1ull << 1) /* a data write */
#define EPT_QUAL_FETCH       (1ull << 2) /* an instruction fetch */
#define EPT_QUAL_READABLE    (1ull << 3) /* the gpa was readable (AND over the EPT walk) */
#define EPT_QUAL_WRITABLE    (1ull << 4)
#define EPT_QUAL_EXECUTABLE  (1ull << 5)
#define EPT_QUAL_GVA_VALID   (1ull << 7) /* a guest linear address is known */
#define EPT_QUAL_GVA_FINAL   (1ull << 8) /* 1: the final gpa; 0: a guest paging structure */

/* Whether an entry maps anything (R, W or X set): else an EPT violation. */
static inline bool is_ept_present(uint64_t e)
{
	return e & EPT_RWX;
}

/* A leaf maps a page: always at level 1, at levels 2-3 when PS = 1. */
static inline bool is_ept_leaf(uint64_t e, unsigned level)
{
	return level == 1 || (level <= 3 && (e & EPT_PS));
}

static inline hpa_t ept_to_hpa(uint64_t e)
{
	return e & EPT_ADDR_MASK;
}

/*
 * Whether a present entry at `level` is an EPT misconfiguration (the
 * header comment lists the rules).
 */
static inline bool is_ept_misconfig(uint64_t e, unsigned level)
{
	uint64_t mt = (e & EPT_MT_MASK) >> EPT_MT_SHIFT;

	if ((e & (EPT_R | EPT_W)) == EPT_W || (e & EPT_RSVD_HIGH))
		return true;
	if (!is_ept_leaf(e, level))
		return (e & EPT_RSVD_NONLEAF) != 0;
	if ((level == 3 && (e & EPT_RSVD_1G)) || (level == 2 && (e & EPT_RSVD_2M)))
		return true;
	return mt == 2 || mt == 3 || mt == 7;
}

/* Index of gpa's entry in an EPT table at `level` (9 bits per level). */
static inline unsigned ept_index(uint64_t gpa, unsigned level)
{
	return (unsigned)(gpa >> (12 + 9 * (level - 1))) & 511;
}

#endif /* SMMU_X86_EPT_H */
