/*
 * tdp_spte.h - what the TDP MMU writes into EPT entries (x86/ept.h gives
 * the format the vCPU's EPT walk reads).  As in KVM's spte.h for EPT:
 *  - a nonleaf entry grants R/W/X (rights live in the leaf);
 *  - a leaf is always readable and executable (guest NX is the guest's own
 *    business, applied by its page walk) - but for a huge leaf under the NX
 *    huge page mitigation (tdp_nx.c) -, writable unless the host page,
 *    the slot or dirty logging forbid it; memory type write-back with
 *    ignore-PAT; accessed and dirty set by the fault itself when EPT A/D is
 *    on (bits 8 and 9, ignored otherwise);
 *  - software bits, ignored by the hardware: host-writable (57: the host
 *    lets the page be written) and mmu-writable (58: the MMU does; always
 *    set in TDP mode, which write-tracks nothing), so that "W clear but
 *    both set" means write-protected for dirty logging only;
 *  - an MMIO spte is an EPT misconfiguration (W and X without R), carrying
 *    the gfn and the memslot generation in the bits shadow MMIO sptes use
 *    (mmu/spte.h), so that the next access to the gpa exits as a
 *    misconfiguration and is answered without a walk.
 */
#ifndef SMMU_TDP_SPTE_H
#define SMMU_TDP_SPTE_H

#include "mmu/spte.h"
#include "x86/ept.h"

#define TDP_SPTE_HOST_WRITABLE (1ull << 57)
#define TDP_SPTE_MMU_WRITABLE  (1ull << 58)
#define TDP_MMIO_VALUE         (EPT_W | EPT_X) /* bits 2:0 = 110: a misconfiguration */

static inline uint64_t tdp_make_nonleaf(hpa_t child_hpa, bool ad)
{
	return child_hpa | EPT_RWX | (ad ? EPT_A : 0);
}

struct tdp_leaf {
	hpa_t hpa;          /* the frame (aligned to the level) */
	unsigned level;     /* 1, 2 or 3 */
	bool writable;      /* W now */
	bool host_writable; /* the host page may be written */
	bool accessed, dirty;
	bool nx;            /* not executable (a huge page under the NX huge page mitigation) */
};

static inline uint64_t tdp_make_leaf(const struct tdp_leaf *l)
{
	uint64_t e = l->hpa | EPT_R | (EPT_MT_WB << EPT_MT_SHIFT) | EPT_IGNORE_PAT |
	             TDP_SPTE_MMU_WRITABLE;

	SMMU_ASSERT(!(l->hpa & (spte_level_size(l->level) - 1)));
	if (l->level > 1)
		e |= EPT_PS;
	if (l->writable)
		e |= EPT_W;
	if (!l->nx)
		e |= EPT_X;
	if (l->host_writable)
		e |= TDP_SPTE_HOST_WRITABLE;
	if (l->accessed)
		e |= EPT_A;
	if (l->dirty)
		e |= EPT_D;
	return e;
}

static inline bool is_tdp_mmio_spte(uint64_t e)
{
	return (e & EPT_RWX) == TDP_MMIO_VALUE;
}

/* A present leaf or table (R set; MMIO sptes are not present). */
static inline bool is_tdp_present(uint64_t e)
{
	return e & EPT_R;
}

static inline uint64_t tdp_make_mmio(gfn_t gfn, uint64_t gen)
{
	/* The shadow MMIO layout, with bits 2:0 made W|X and the marker and NX dropped. */
	uint64_t e = spte_make_mmio(gfn, 0, gen) & ~(SPTE_P | SPTE_MMIO_MARKER | SPTE_NX | 6ull);

	return e | TDP_MMIO_VALUE;
}

static inline gfn_t tdp_mmio_gfn(uint64_t e)
{
	return spte_mmio_gfn(e);
}

static inline bool tdp_mmio_gen_matches(uint64_t e, uint64_t gen)
{
	return spte_mmio_gen_matches(e, gen);
}

#endif /* SMMU_TDP_SPTE_H */
