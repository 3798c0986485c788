/*
 * paging.h - guest paging-structure layouts and the per-mode paging
 * configuration the guest walker runs from (SDM Vol. 3A 4.3-4.6).
 *
 * A paging mode is described twice:
 *   - statically, by a struct x86_paging_desc (one per mode and large-page
 *     setting): how many levels, the entry size, the index width, the
 *     address field, the structural reserved bits of each level (PS where a
 *     level can never map a page, bits 20:13 of a 2 MiB entry ...);
 *   - dynamically, by a struct x86_paging: the descriptor chosen by
 *     CR0/CR4/EFER and the model, plus the reserved bits that depend on them
 *     (MAXPHYADDR, XD without EFER.NXE, PSE-36) and the control registers
 *     whose bits the access rules test.
 *
 * A struct x86_paging depends only on CR0/CR4/EFER and the model, never on
 * CR3, CPL, RFLAGS.AC, PKRU or the address, so the shadow MMU can keep one
 * per paging context (as KVM keeps reset_rsvds_bits_mask's result in its
 * struct kvm_mmu) and rebuild it only when one of those registers changes.
 *
 * Reserved masks are indexed [ps][level - 1]: ps is bit 7 of the entry
 * where that bit selects "maps a page" (or is reserved), 0 elsewhere.
 */
#ifndef SMMU_X86_PAGING_H
#define SMMU_X86_PAGING_H

#include <shadowmmu/x86.h>

#include "common.h"

/* ---- entry layouts ------------------------------------------------------ */
#define X86_PTE32_ADDR_MASK   0xfffff000ull         /* 32-bit paging: bits 31:12 */
#define X86_PDE32_PSE36_MASK  0x001fe000ull         /* 4 MiB PDE bits 20:13 (PSE-36) */
#define X86_PDE32_PSE36_SHIFT 19                    /* bits 20:13 -> PA bits 39:32 */
#define X86_PTE64_ADDR_MASK   0x000ffffffffff000ull /* bits 51:12 */
#define X86_PAE_CR3_MASK      0xffffffe0ull         /* PAE: CR3 bits 31:5 locate the PDPT */
#define X86_PDPTE_RSVD_LOW    0x1e6ull              /* PAE PDPTE bits 8:5 and 2:1 */
#define X86_PKEY_MASK         0xfu

#define X86_PT32_INDEX_BITS 10
#define X86_PT64_INDEX_BITS 9

/* What a successful walk marks: A everywhere, D in the leaf on writes. */
#define X86_PTE_AD (X86_PTE_A | X86_PTE_D)

/* ---- per-mode descriptors ---------------------------------------------- */
/*
 * The static shape of a paging mode.  rsvd[ps][level - 1] holds the
 * reserved bits that do not depend on the model or EFER: PS where a level
 * can never map a page, the low must-be-zero bits of a large-page entry.
 * ps is bit 7 of the entry at levels listed in ps_levels, 0 elsewhere
 * (level 1, where bit 7 is PAT; a 32-bit PDE without CR4.PSE).
 */
struct x86_paging_desc {
	enum smmu_paging_mode mode;
	uint8_t root_level; /* levels walked: 2, 3 (PAE, top one is a register), 4, 5 */
	uint8_t pte_shift;  /* log2 of the entry size: 2 or 3 */
	uint8_t pte_size;   /* 4 or 8 bytes */
	uint8_t index_bits; /* linear-address bits per level: 10 or 9 */
	uint8_t ps_levels;  /* bit n: bit 7 of a level-n entry is PS (maps or reserved) */
	uint64_t addr_mask; /* next-table / frame address field */
	uint64_t root_mask; /* bits of CR3 that locate the root table */
	uint64_t va_mask;   /* linear-address width: 32 bits outside IA-32e */
	uint64_t rsvd[2][SMMU_MAX_LEVELS]; /* structural reserved bits [ps][level-1] */
};

/*
 * The descriptor of a paging mode; `large` is CR4.PSE for 32-bit paging and
 * the model's 1 GiB-page support for 4/5-level paging (ignored otherwise).
 * Never NULL; SMMU_PAGING_OFF has 0 levels.
 */
const struct x86_paging_desc *x86_paging_desc_of(enum smmu_paging_mode mode, bool large);

/* ---- the per-context configuration ------------------------------------- */
/*
 * The reserved bits of an entry at `level` with bit-7 index `ps` are
 * desc->rsvd[ps][level - 1] | rsvd_extra[ps]: the model- and EFER-dependent
 * part is the same at every level (MAXPHYADDR and up, XD without NXE),
 * except PSE-36's, which only concern 4 MiB PDEs (ps = 1 in 32-bit paging).
 */
struct x86_paging {
	const struct x86_paging_desc *desc; /* the mode's shape */
	uint64_t rsvd_extra[2];             /* dynamic reserved bits, by bit-7 index */
	uint64_t pdpte_rsvd;                /* PAE: reserved bits of a PDPTE register */
	uint64_t cr0, cr4, efer;            /* the registers this was built from */
};

/* Build the configuration for the current control registers and model. */
void x86_paging_init(struct x86_paging *pg, const struct smmu_cpu_state *s,
                     const struct smmu_cpu_model *m);

/*
 * Walk `gva` under a configuration built by x86_paging_init() for the same
 * CR0/CR4/EFER.  CR3, the PDPTE registers, CPL, RFLAGS.AC and PKRU come from
 * `s`.  Same contract as smmu_x86_walk().
 */
enum smmu_walk_outcome x86_walk_gva(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                                    const struct smmu_gpa_ops *mem, uint64_t gva,
                                    enum smmu_access_type access, struct smmu_walk *w);

/* Reserved bits of a paging-structure entry under a configuration. */
static inline uint64_t x86_gpte_rsvd_mask(const struct x86_paging *pg, unsigned level, unsigned ps)
{
	return pg->desc->rsvd[ps][level - 1] | pg->rsvd_extra[ps];
}

/* Reserved bits of a PAE PDPTE for a model (SDM 4.4.1, Table 4-8). */
static inline uint64_t x86_pdpte_rsvd_mask(const struct smmu_cpu_model *m)
{
	return bits_range(63, m->maxphyaddr) | X86_PDPTE_RSVD_LOW;
}

/* Is gva canonical for a linear-address width of 48 or 57 bits? */
static inline bool x86_is_canonical(uint64_t gva, bool la57)
{
	unsigned shift = la57 ? 64 - 57 : 64 - 48;

	return (uint64_t)((int64_t)(gva << shift) >> shift) == gva;
}

#endif /* SMMU_X86_PAGING_H */
