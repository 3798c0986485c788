/*
 * ref_walker.c - a deliberately naive reference x86 guest page walker.
 *
 * Written for clarity, not speed, straight from Intel SDM Vol. 3A ch. 4 and
 * the "Architectural details every executor follows" of trace-format.md,
 * without reading the production walker (src/x86/): differential tests are
 * only worth something if the two are independent.  One plain function per
 * paging mode (4.2 Table 4-1): paging off, 32-bit (4.3), PAE (4.4), 4- and
 * 5-level (4.5).  Each walks top-down; at every entry, in this order:
 *   1. an unbacked entry faults as not present (trace-format.md, as KVM);
 *   2. P = 0 faults as not present (4.7: error code P = 0);
 *   3. a reserved bit faults with P = RSVD = 1 (4.7); reserved bits are
 *      checked before, and instead of, any access-rights check;
 *   4. R/W, U/S and XD are folded into the rights of the translation (4.6).
 * Only once a leaf is reached are the access rights (4.6.1) and protection
 * keys (4.6.2) checked.  A walk that succeeds then sets Accessed in every
 * entry it used and Dirty in the leaf on a write (4.8) by cmpxchg; a lost
 * cmpxchg restarts the whole walk, one that hits read-only or unbacked
 * memory is skipped (trace-format.md).  A faulting walk writes nothing.
 */
#include "ref/ref_walker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_RESTARTS (1u << 20)

enum ref_result {
	REF_DONE,    /* w holds the outcome */
	REF_RESTART, /* an A/D cmpxchg lost a race: walk again from the top */
};

/* One walk's inputs and progress. */
struct ref_walk_ctx {
	const struct smmu_cpu_state *s;
	const struct smmu_cpu_model *m;
	const struct smmu_gpa_ops *mem;
	enum smmu_paging_mode mode;
	uint64_t gva;
	enum smmu_access_type access;
	struct smmu_walk *w;
	unsigned entry_size; /* 4 in 32-bit paging, else 8 */
	unsigned rights;     /* SMMU_ACC_* folded over the entries read so far */
};

/* Bits hi..lo set (empty when hi < lo). */
static uint64_t bits(unsigned hi, unsigned lo)
{
	if (hi < lo || lo > 63)
		return 0;
	return (~0ull >> (63 - hi)) & ~((1ull << lo) - 1);
}

/* SDM 4.1.1 Table 4-1: the paging mode from CR0.PG, CR4.PAE, EFER.LMA, CR4.LA57. */
static enum smmu_paging_mode ref_mode(const struct smmu_cpu_state *s)
{
	if (!(s->cr0 & X86_CR0_PG))
		return SMMU_PAGING_OFF;
	if (!(s->cr4 & X86_CR4_PAE))
		return SMMU_PAGING_32BIT;
	if (!(s->efer & X86_EFER_LMA))
		return SMMU_PAGING_PAE;
	return (s->cr4 & X86_CR4_LA57) ? SMMU_PAGING_5LEVEL : SMMU_PAGING_4LEVEL;
}

static bool ref_nxe(const struct ref_walk_ctx *c)
{
	return c->s->efer & X86_EFER_NXE;
}

/* ---- page-fault error codes (SDM 4.7) ---------------------------------- */

/* The bits that describe the access itself: W/R, U/S and I/D. */
static uint32_t ref_pfec_access_bits(const struct ref_walk_ctx *c)
{
	uint32_t ec = 0;

	if (c->access == SMMU_ACCESS_WRITE)
		ec |= X86_PFEC_W;
	/* 4.7: U/S = 1 for a user-mode access, i.e. at CPL 3 (4.6). */
	if (c->s->cpl == 3)
		ec |= X86_PFEC_U;
	/*
	 * 4.7 and trace-format.md: I/D = 1 on a fetch if CR4.SMEP = 1, or if
	 * CR4.PAE = 1 (PAE, 4- or 5-level paging) and EFER.NXE = 1.
	 */
	if (c->access == SMMU_ACCESS_FETCH &&
	    ((c->s->cr4 & X86_CR4_SMEP) || (c->mode != SMMU_PAGING_32BIT && ref_nxe(c))))
		ec |= X86_PFEC_I;
	return ec;
}

static enum ref_result ref_fault(struct ref_walk_ctx *c, unsigned level, uint32_t ec)
{
	c->w->outcome = SMMU_WALK_PF;
	c->w->error_code = ec | ref_pfec_access_bits(c);
	c->w->level = level;
	return REF_DONE;
}

/* 4.7: P = 0 - no translation because an entry had P = 0 (or was unbacked). */
static enum ref_result ref_fault_not_present(struct ref_walk_ctx *c, unsigned level)
{
	return ref_fault(c, level, 0);
}

/* 4.7: RSVD = 1, and P = 1 since reserved bits are only checked when P = 1. */
static enum ref_result ref_fault_reserved(struct ref_walk_ctx *c, unsigned level)
{
	return ref_fault(c, level, X86_PFEC_P | X86_PFEC_RSVD);
}

/* ---- reading entries ---------------------------------------------------- */

/*
 * Read the entry at table_gpa[index] for `level` and record it in w.
 * Returns false if no memory backs it (trace-format.md: not present).
 */
static bool ref_read_entry(struct ref_walk_ctx *c, unsigned level, uint64_t table_gpa,
                           uint64_t index, uint64_t *entry)
{
	uint64_t gpa = table_gpa + index * c->entry_size;

	c->w->pte_gpa[level - 1] = gpa;
	c->w->gpte[level - 1] = 0;
	if (c->mem->read(c->mem->ctx, gpa, c->entry_size, entry) < 0)
		return false;
	c->w->gpte[level - 1] = *entry;
	return true;
}

/* 4.6.1: fold one entry's R/W, U/S and (with EFER.NXE in 64-bit entries) XD. */
static void ref_fold_rights(struct ref_walk_ctx *c, uint64_t entry)
{
	if (!(entry & X86_PTE_RW))
		c->rights &= ~SMMU_ACC_W;
	if (!(entry & X86_PTE_US))
		c->rights &= ~SMMU_ACC_U;
	/* 4.3: 32-bit entries have no XD bit; 4.4.2, 4.5.4: XD only with NXE. */
	if (c->entry_size == 8 && ref_nxe(c) && (entry & X86_PTE_NX))
		c->rights &= ~SMMU_ACC_X;
}

/* ---- access rights (SDM 4.6) ------------------------------------------- */

/* 4.6.1: may this access use a translation with these rights (keys aside)? */
static bool ref_rights_allow(const struct ref_walk_ctx *c)
{
	bool user_address = c->rights & SMMU_ACC_U; /* U/S = 1 at every level */
	bool writable = c->rights & SMMU_ACC_W;     /* R/W = 1 at every level */
	bool executable = c->rights & SMMU_ACC_X;   /* no XD (or NXE = 0) */
	bool supervisor = c->s->cpl < 3;
	bool smap = c->s->cr4 & X86_CR4_SMAP, smep = c->s->cr4 & X86_CR4_SMEP;
	bool wp = c->s->cr0 & X86_CR0_WP;

	switch (c->access) {
	case SMMU_ACCESS_READ:
		/* User-mode reads: user-mode addresses only. */
		if (!supervisor)
			return user_address;
		/* Supervisor reads of user-mode addresses: SMAP forbids them unless AC = 1. */
		if (user_address && smap)
			return c->s->ac;
		return true;
	case SMMU_ACCESS_WRITE:
		/* User-mode writes: user-mode addresses with R/W = 1, whatever CR0.WP. */
		if (!supervisor)
			return user_address && writable;
		/* Supervisor writes to user-mode addresses under SMAP need AC = 1 ... */
		if (user_address && smap && !c->s->ac)
			return false;
		/* ... and then, as to any address: anything if WP = 0, else R/W = 1. */
		return !wp || writable;
	case SMMU_ACCESS_FETCH:
		/* User-mode fetches: user-mode addresses only. */
		if (!supervisor && !user_address)
			return false;
		/* Supervisor fetches from user-mode addresses: never with SMEP. */
		if (supervisor && user_address && smep)
			return false;
		/* Then XD: with NXE = 1, no entry may have XD = 1. */
		return executable;
	}
	return false;
}

/*
 * 4.6.2: does the protection key of the leaf forbid this access?  Only in
 * IA-32e mode with CR4.PKE = 1, only for data accesses to user-mode
 * addresses (at any CPL).  PKRU.AD(i) forbids reads and writes; PKRU.WD(i)
 * forbids writes by user-mode accesses, and by supervisor ones if CR0.WP = 1.
 */
static bool ref_pkey_blocks(const struct ref_walk_ctx *c, unsigned pkey)
{
	bool ad = (c->s->pkru >> (2 * pkey)) & 1;
	bool wd = (c->s->pkru >> (2 * pkey + 1)) & 1;

	if (c->mode != SMMU_PAGING_4LEVEL && c->mode != SMMU_PAGING_5LEVEL)
		return false;
	if (!(c->s->cr4 & X86_CR4_PKE) || c->access == SMMU_ACCESS_FETCH)
		return false;
	if (!(c->rights & SMMU_ACC_U))
		return false;
	if (ad)
		return true;
	return wd && c->access == SMMU_ACCESS_WRITE && (c->s->cpl == 3 || (c->s->cr0 & X86_CR0_WP));
}

/*
 * 4.6.2 / 4.5: bits 62:59 of a 4/5-level leaf are its protection key.  They
 * only take effect with CR4.PKE = 1 (ref_pkey_blocks), but x86.h reports
 * the leaf's key in 4/5-level paging whatever CR4.PKE, as KVM's walker does.
 */
static unsigned ref_leaf_pkey(const struct ref_walk_ctx *c, uint64_t leaf)
{
	if (c->mode != SMMU_PAGING_4LEVEL && c->mode != SMMU_PAGING_5LEVEL)
		return 0;
	return (unsigned)((leaf >> X86_PTE_PKEY_SHIFT) & 0xf);
}

/* ---- Accessed and Dirty (SDM 4.8) --------------------------------------- */

/*
 * 4.8: set A in every entry used, and D in the leaf on a write, each with a
 * locked compare-and-exchange.  The PAE PDPTE register is not written back
 * (4.4.1: PDPTEs have no A bit).  A lost race restarts the walk; memory the
 * guest cannot write (read-only, unbacked) keeps its entry unchanged.
 */
static enum ref_result ref_set_accessed_dirty(struct ref_walk_ctx *c, unsigned leaf_level)
{
	struct smmu_walk *w = c->w;

	for (unsigned level = w->root_level; level >= leaf_level; level--) {
		uint64_t old = w->gpte[level - 1], new_val = old | X86_PTE_A;
		int ret;

		if (c->mode == SMMU_PAGING_PAE && level == 3)
			continue;
		if (level == leaf_level && c->access == SMMU_ACCESS_WRITE)
			new_val |= X86_PTE_D;
		if (new_val == old)
			continue;
		ret = c->mem->cmpxchg(c->mem->ctx, w->pte_gpa[level - 1], c->entry_size, old,
		                      new_val);
		if (ret == 1)
			return REF_RESTART;
		if (ret == 0)
			w->gpte[level - 1] = new_val;
	}
	return REF_DONE;
}

/*
 * The common end of every paging mode once a leaf maps the address: check
 * the access (4.6), set A/D (4.8), report the translation.
 */
static enum ref_result ref_finish(struct ref_walk_ctx *c, unsigned level, uint64_t leaf,
                                  uint64_t gpa, uint64_t page_size)
{
	struct smmu_walk *w = c->w;
	unsigned pkey = ref_leaf_pkey(c, leaf);
	bool rights_ok = ref_rights_allow(c);
	bool pkey_blocks = ref_pkey_blocks(c, pkey);

	if (!rights_ok || pkey_blocks)
		/* 4.7: P = 1 (protection violation); PK = 1 if the key forbade it. */
		return ref_fault(c, level, X86_PFEC_P | (pkey_blocks ? X86_PFEC_PK : 0));
	if (ref_set_accessed_dirty(c, level) == REF_RESTART)
		return REF_RESTART;
	w->outcome = SMMU_WALK_OK;
	w->gpa = gpa;
	w->level = level;
	w->page_size = page_size;
	w->access = c->rights;
	w->pkey = pkey;
	/* 4.10.2.4: G matters only in a leaf and only with CR4.PGE = 1. */
	w->global = (leaf & X86_PTE_G) && (c->s->cr4 & X86_CR4_PGE);
	return REF_DONE;
}

/* ---- paging off (SDM 4.1.1) -------------------------------------------- */

/* With CR0.PG = 0 a linear address is the physical address; nothing faults. */
static enum ref_result ref_walk_off(struct ref_walk_ctx *c)
{
	c->w->outcome = SMMU_WALK_OK;
	c->w->gpa = c->gva & 0xffffffffull;
	c->w->page_size = 4096;
	c->w->access = SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X;
	return REF_DONE;
}

/* ---- 32-bit paging (SDM 4.3) ------------------------------------------- */

/*
 * trace-format.md / SDM 4.3: with PSE-36, M = min(MAXPHYADDR, 40).  Without
 * PSE-36 no physical address bit lies above 31, as if M were 32.
 */
static unsigned ref_pse36_m(const struct smmu_cpu_model *m)
{
	if (!m->pse36)
		return 32;
	return m->maxphyaddr < 40 ? m->maxphyaddr : 40;
}

/*
 * 4.3, Table 4-4: a PDE with PS = 1 under CR4.PSE = 1 maps a 4 MiB page.
 * Bits 31:22 are physical bits 31:22, bits (M-20):13 are physical bits
 * (M-1):32, and bits 21:(M-19) are reserved.
 */
static enum ref_result ref_map_4m(struct ref_walk_ctx *c, uint64_t pde, uint32_t va)
{
	unsigned m = ref_pse36_m(c->m);
	uint64_t high = (pde >> 13) & ((1ull << (m - 32)) - 1);
	uint64_t gpa = (pde & bits(31, 22)) | (high << 32) | (va & bits(21, 0));

	if (pde & bits(21, m - 19))
		return ref_fault_reserved(c, 2);
	return ref_finish(c, 2, pde, gpa, 4ull << 20);
}

static enum ref_result ref_walk_32bit(struct ref_walk_ctx *c)
{
	uint32_t va = (uint32_t)c->gva;
	uint64_t pde, pte;

	c->w->root_level = 2;
	/* 4.3: CR3[31:12] locates the page directory; va[31:22] selects the PDE. */
	if (!ref_read_entry(c, 2, c->s->cr3 & bits(31, 12), va >> 22, &pde))
		return ref_fault_not_present(c, 2);
	if (!(pde & X86_PTE_P))
		return ref_fault_not_present(c, 2);
	ref_fold_rights(c, pde);
	if ((pde & X86_PTE_PS) && (c->s->cr4 & X86_CR4_PSE))
		return ref_map_4m(c, pde, va);
	/* Table 4-5: otherwise PS is ignored and PDE[31:12] locates a page table. */
	if (!ref_read_entry(c, 1, pde & bits(31, 12), (va >> 12) & 0x3ff, &pte))
		return ref_fault_not_present(c, 1);
	if (!(pte & X86_PTE_P))
		return ref_fault_not_present(c, 1);
	/* Table 4-6: a 32-bit PTE has no reserved bit. */
	ref_fold_rights(c, pte);
	return ref_finish(c, 1, pte, (pte & bits(31, 12)) | (va & 0xfff), 4096);
}

/* ---- PAE paging (SDM 4.4) ---------------------------------------------- */

/*
 * Tables 4-9..4-11: in every PAE PDE and PTE bits 62:MAXPHYADDR are
 * reserved, and bit 63 (XD) too unless EFER.NXE = 1; a 2 MiB PDE also
 * reserves bits 20:13.
 */
static bool ref_pae_reserved(const struct ref_walk_ctx *c, uint64_t entry, bool large)
{
	uint64_t rsvd = bits(62, c->m->maxphyaddr);

	if (!ref_nxe(c))
		rsvd |= X86_PTE_NX;
	if (large)
		rsvd |= bits(20, 13);
	return entry & rsvd;
}

static enum ref_result ref_walk_pae(struct ref_walk_ctx *c)
{
	uint32_t va = (uint32_t)c->gva;
	uint64_t addr_mask = bits(c->m->maxphyaddr - 1, 12);
	uint64_t pdpte, pde, pte;

	c->w->root_level = 3;
	/*
	 * 4.4.1: va[31:30] selects one of the four PDPTE registers loaded at
	 * the last CR3 write; it was validated then and has no R/W, U/S or XD.
	 */
	pdpte = c->s->pdptrs[va >> 30];
	c->w->gpte[2] = pdpte;
	c->w->pte_gpa[2] = 0;
	if (!(pdpte & X86_PTE_P))
		return ref_fault_not_present(c, 3);
	/* 4.4.2: PDPTE[M-1:12] locates the page directory; va[29:21] the PDE. */
	if (!ref_read_entry(c, 2, pdpte & addr_mask, (va >> 21) & 0x1ff, &pde))
		return ref_fault_not_present(c, 2);
	if (!(pde & X86_PTE_P))
		return ref_fault_not_present(c, 2);
	if (ref_pae_reserved(c, pde, pde & X86_PTE_PS))
		return ref_fault_reserved(c, 2);
	ref_fold_rights(c, pde);
	/* Table 4-9: PS = 1 maps a 2 MiB page (CR4.PSE plays no part in PAE paging). */
	if (pde & X86_PTE_PS)
		return ref_finish(c, 2, pde,
		                  (pde & bits(c->m->maxphyaddr - 1, 21)) | (va & bits(20, 0)),
		                  2ull << 20);
	if (!ref_read_entry(c, 1, pde & addr_mask, (va >> 12) & 0x1ff, &pte))
		return ref_fault_not_present(c, 1);
	if (!(pte & X86_PTE_P))
		return ref_fault_not_present(c, 1);
	if (ref_pae_reserved(c, pte, false))
		return ref_fault_reserved(c, 1);
	ref_fold_rights(c, pte);
	return ref_finish(c, 1, pte, (pte & addr_mask) | (va & 0xfff), 4096);
}

/* SDM 4.4.1, Table 4-8: PDPTE bits 2:1, 8:5 and 63:MAXPHYADDR are reserved. */
bool ref_pae_pdpte_valid(const struct smmu_cpu_model *m, uint64_t pdpte)
{
	uint64_t rsvd = bits(2, 1) | bits(8, 5) | bits(63, m->maxphyaddr);

	return !(pdpte & X86_PTE_P) || !(pdpte & rsvd);
}

int ref_pae_load_pdptrs(const struct smmu_cpu_model *m, const struct smmu_gpa_ops *mem,
                        uint64_t cr3, uint64_t pdptrs[4])
{
	/* 4.4.1: in PAE paging CR3[31:5] is the 32-byte aligned PDPT address. */
	uint64_t pdpt = cr3 & bits(31, 5), loaded[4];

	for (unsigned i = 0; i < 4; i++) {
		/* trace-format.md: unbacked memory reads as all ones. */
		if (mem->read(mem->ctx, pdpt + 8 * i, 8, &loaded[i]) < 0)
			loaded[i] = ~0ull;
		if (!ref_pae_pdpte_valid(m, loaded[i]))
			return -EINVAL;
	}
	memcpy(pdptrs, loaded, sizeof(loaded));
	return 0;
}

/* ---- 4-level and 5-level paging (SDM 4.5) ------------------------------- */

/*
 * Tables 4-14..4-20: every entry reserves bits 51:MAXPHYADDR, and bit 63
 * (XD) unless EFER.NXE = 1.  PML5Es and PML4Es reserve PS (bit 7).  A
 * PDPTE with PS = 1 needs 1 GiB page support (else PS is reserved) and
 * reserves bits 29:13; a PDE with PS = 1 reserves bits 20:13.  Bit 8 of a
 * non-leaf entry is ignored (Intel).
 */
static bool ref_ia32e_reserved(const struct ref_walk_ctx *c, uint64_t entry, unsigned level)
{
	uint64_t rsvd = bits(51, c->m->maxphyaddr);
	bool ps = entry & X86_PTE_PS;

	if (!ref_nxe(c))
		rsvd |= X86_PTE_NX;
	if (level >= 4)
		rsvd |= X86_PTE_PS;
	else if (level == 3 && ps)
		rsvd |= c->m->gbpages ? bits(29, 13) : X86_PTE_PS;
	else if (level == 2 && ps)
		rsvd |= bits(20, 13);
	return entry & rsvd;
}

/*
 * 4.5.1: with EFER.LMA = 1 a linear address must be canonical: bits 63:47
 * (4-level) or 63:56 (5-level) all equal.  Otherwise the access is #GP,
 * before any paging-structure entry is read.
 */
static bool ref_canonical(const struct ref_walk_ctx *c)
{
	unsigned top = c->mode == SMMU_PAGING_5LEVEL ? 56 : 47;
	uint64_t upper = c->gva & bits(63, top);

	return upper == 0 || upper == bits(63, top);
}

static enum ref_result ref_walk_ia32e(struct ref_walk_ctx *c, unsigned root_level)
{
	uint64_t addr_mask = bits(c->m->maxphyaddr - 1, 12);
	uint64_t table = c->s->cr3 & addr_mask; /* 4.5.2: CR3[M-1:12] */
	uint64_t entry = 0;

	c->w->root_level = root_level;
	for (unsigned level = root_level; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1); /* va bits this level's index starts at */

		if (!ref_read_entry(c, level, table, (c->gva >> shift) & 0x1ff, &entry))
			return ref_fault_not_present(c, level);
		if (!(entry & X86_PTE_P))
			return ref_fault_not_present(c, level);
		if (ref_ia32e_reserved(c, entry, level))
			return ref_fault_reserved(c, level);
		ref_fold_rights(c, entry);
		/* A PTE, or a PDPTE/PDE with PS = 1 (legal by now), maps a page. */
		if (level == 1 || (entry & X86_PTE_PS))
			return ref_finish(c, level, entry,
			                  (entry & bits(c->m->maxphyaddr - 1, shift)) |
			                      (c->gva & bits(shift - 1, 0)),
			                  1ull << shift);
		table = entry & addr_mask;
	}
	return REF_DONE; /* not reached: level 1 always maps */
}

/* 4.5: 4-level paging, PML4 at the root, 48-bit linear addresses. */
static enum ref_result ref_walk_4level(struct ref_walk_ctx *c)
{
	return ref_walk_ia32e(c, 4);
}

/* 4.5: 5-level paging (CR4.LA57 = 1), PML5 at the root, 57-bit linear addresses. */
static enum ref_result ref_walk_5level(struct ref_walk_ctx *c)
{
	return ref_walk_ia32e(c, 5);
}

/* ---- the entry point ------------------------------------------------------ */

static enum ref_result ref_walk_once(struct ref_walk_ctx *c)
{
	memset(c->w, 0, sizeof(*c->w));
	c->rights = SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X;
	switch (c->mode) {
	case SMMU_PAGING_OFF:
		return ref_walk_off(c);
	case SMMU_PAGING_32BIT:
		return ref_walk_32bit(c);
	case SMMU_PAGING_PAE:
		return ref_walk_pae(c);
	case SMMU_PAGING_4LEVEL:
		return ref_walk_4level(c);
	case SMMU_PAGING_5LEVEL:
		return ref_walk_5level(c);
	}
	return REF_DONE;
}

enum smmu_walk_outcome ref_walk(const struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                const struct smmu_gpa_ops *mem, uint64_t gva,
                                enum smmu_access_type access, struct smmu_walk *w)
{
	struct ref_walk_ctx c = {
	    .s = s,
	    .m = m,
	    .mem = mem,
	    .mode = ref_mode(s),
	    .gva = gva,
	    .access = access,
	    .w = w,
	};

	c.entry_size = c.mode == SMMU_PAGING_32BIT ? 4 : 8;
	if ((c.mode == SMMU_PAGING_4LEVEL || c.mode == SMMU_PAGING_5LEVEL) && !ref_canonical(&c)) {
		memset(w, 0, sizeof(*w));
		w->outcome = SMMU_WALK_GP;
		return w->outcome;
	}
	for (unsigned restarts = 0; ref_walk_once(&c) == REF_RESTART; restarts++) {
		if (restarts >= REF_MAX_RESTARTS) {
			fprintf(stderr, "ref_walk: gva 0x%" PRIx64 " restarted %u times\n", gva,
			        restarts);
			abort();
		}
	}
	return w->outcome;
}

/* ---- descriptions for failure messages ---------------------------------- */

const char *ref_paging_mode_name(enum smmu_paging_mode mode)
{
	static const char *const names[] = {"off", "32bit", "pae", "4level", "5level"};

	return (unsigned)mode < 5 ? names[mode] : "?";
}

const char *ref_access_name(enum smmu_access_type access)
{
	static const char *const names[] = {"read", "write", "fetch"};

	return (unsigned)access < 3 ? names[access] : "?";
}

void ref_walk_describe(const struct smmu_walk *w, char *buf, size_t len)
{
	static const char *const outcomes[] = {"ok", "pf", "gp"};
	int n = snprintf(buf, len,
	                 "%s ec=0x%x gpa=0x%" PRIx64 " level=%u size=0x%" PRIx64
	                 " access=%c%c%c pkey=%u global=%d root=%u gptes:",
	                 (unsigned)w->outcome < 3 ? outcomes[w->outcome] : "?", w->error_code,
	                 w->gpa, w->level, w->page_size, (w->access & SMMU_ACC_W) ? 'W' : '-',
	                 (w->access & SMMU_ACC_U) ? 'U' : '-', (w->access & SMMU_ACC_X) ? 'X' : '-',
	                 w->pkey, w->global, w->root_level);

	for (unsigned l = w->root_level; l >= 1 && l <= SMMU_MAX_LEVELS && n > 0 && (size_t)n < len;
	     l--)
		n += snprintf(buf + n, len - (size_t)n, " L%u[0x%" PRIx64 "]=0x%" PRIx64, l,
		              w->pte_gpa[l - 1], w->gpte[l - 1]);
}
