/*
 * walker.c - the guest page walker: translate a guest virtual address
 * through the guest's own page tables, exactly as the processor would (SDM
 * Vol. 3A ch. 4), for the shadow MMU's page-fault path.
 *
 * One loop serves every mode; the mode's shape (levels, entry size, index
 * width, where bit 7 means "page", the reserved bits of each level) comes
 * from a struct x86_paging built once per control-register setting
 * (paging.h).  Per level the walk reads the entry, stops on not-present
 * (#PF, P=0), then on a reserved bit (#PF, P=1 RSVD=1), and accumulates the
 * rights (AND of R/W and U/S, OR of XD).  At the leaf it applies the access
 * rules of SDM 4.6 (U/S, R/W with CR0.WP, XD with EFER.NXE, SMEP, SMAP with
 * RFLAGS.AC, protection keys), and only a walk that succeeds sets Accessed
 * flags in every entry used and Dirty in the leaf of a write, each with a
 * compare-and-exchange: if the guest changed an entry under us the walk
 * starts again from the root (KVM's paging_tmpl.h walk_addr_generic does
 * the same).  A faulting walk writes nothing.
 *
 * Invariants: a walk never reads more than root_level entries, never loops
 * more than X86_WALK_MAX_RESTARTS times, and leaves w->gpte[] / pte_gpa[]
 * filled from root_level down to w->level.
 */
#include "x86/paging.h"

/*
 * A guest that rewrites its page tables faster than we can walk them would
 * keep us here forever; after this many restarts the last pass completes
 * without A/D updates (as when the tables sit in read-only memory).
 */
#define X86_WALK_MAX_RESTARTS 64

/* ---- mode descriptors ---------------------------------------------------- */

/* Bits 20:13 of a 2 MiB entry and 29:13 of a 1 GiB entry must be zero (SDM Tables 4-17/4-9). */
#define RSVD_2M_LOW 0x1fe000ull   /* bits 20:13 */
#define RSVD_1G_LOW 0x3fffe000ull /* bits 29:13 */

static const struct x86_paging_desc desc_off = {
    .mode = SMMU_PAGING_OFF,
};

/* SDM 4.3: 2 levels of 1024 4-byte entries; a PDE with PS (CR4.PSE=1) maps 4 MiB. */
static const struct x86_paging_desc desc_32bit = {
    .mode = SMMU_PAGING_32BIT,
    .root_level = 2,
    .pte_shift = 2,
    .index_bits = X86_PT32_INDEX_BITS,
    .ps_levels = 1u << 2,
    .addr_mask = X86_PTE32_ADDR_MASK,
};

/* SDM 4.4: 4 PDPTE registers, then PD and PT of 512 8-byte entries; PDEs may map 2 MiB. */
static const struct x86_paging_desc desc_pae = {
    .mode = SMMU_PAGING_PAE,
    .root_level = 3,
    .pte_shift = 3,
    .index_bits = X86_PT64_INDEX_BITS,
    .ps_levels = 1u << 2,
    .addr_mask = X86_PTE64_ADDR_MASK,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW}},
};

/* SDM 4.5: PS is reserved in a PML4E (and PML5E); PDPTEs map 1 GiB, PDEs 2 MiB. */
static const struct x86_paging_desc desc_4level = {
    .mode = SMMU_PAGING_4LEVEL,
    .root_level = 4,
    .pte_shift = 3,
    .index_bits = X86_PT64_INDEX_BITS,
    .ps_levels = (1u << 2) | (1u << 3) | (1u << 4),
    .addr_mask = X86_PTE64_ADDR_MASK,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW, [2] = RSVD_1G_LOW, [3] = X86_PTE_PS}},
};

static const struct x86_paging_desc desc_5level = {
    .mode = SMMU_PAGING_5LEVEL,
    .root_level = 5,
    .pte_shift = 3,
    .index_bits = X86_PT64_INDEX_BITS,
    .ps_levels = (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5),
    .addr_mask = X86_PTE64_ADDR_MASK,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW, [2] = RSVD_1G_LOW, [3] = X86_PTE_PS, [4] = X86_PTE_PS}},
};

const struct x86_paging_desc *x86_paging_desc_of(enum smmu_paging_mode mode)
{
	switch (mode) {
	case SMMU_PAGING_32BIT:
		return &desc_32bit;
	case SMMU_PAGING_PAE:
		return &desc_pae;
	case SMMU_PAGING_4LEVEL:
		return &desc_4level;
	case SMMU_PAGING_5LEVEL:
		return &desc_5level;
	case SMMU_PAGING_OFF:
		break;
	}
	return &desc_off;
}

/* ---- building the per-context configuration ----------------------------- */

/*
 * 32-bit paging: nothing is reserved except in a 4 MiB PDE, where PSE-36
 * with M = min(MAXPHYADDR, 40) uses bits (M-20):13 and reserves 21:(M-19)
 * (SDM Table 4-4).  Without PSE-36 M is 32: bits 21:13 are all reserved.
 * Without CR4.PSE bit 7 of a PDE is ignored (SDM Table 4-6).
 */
static void init_rsvd_32bit(struct x86_paging *pg, const struct smmu_cpu_state *s,
                            const struct smmu_cpu_model *m)
{
	unsigned pse36_m = m->pse36 ? (m->maxphyaddr < 40 ? m->maxphyaddr : 40) : 32;

	pg->rsvd[1][1] = bits_range(21, pse36_m - 19);
	if (!(s->cr4 & X86_CR4_PSE))
		pg->ps_levels &= ~(1u << 2);
}

/*
 * PAE and IA-32e: bits from MAXPHYADDR up are reserved (to 62 in PAE, to 51
 * in 4/5-level paging, where 62:52 are ignored or the protection key), XD is
 * reserved when EFER.NXE = 0 (SDM 4.4.2, 4.5.4), and without 1 GiB page
 * support PS is reserved in a PDPTE.
 */
static void init_rsvd_64bit(struct x86_paging *pg, const struct smmu_cpu_state *s,
                            const struct smmu_cpu_model *m)
{
	unsigned top = pg->mode == SMMU_PAGING_PAE ? 62 : 51;
	uint64_t high = bits_range(top, m->maxphyaddr);

	if (!(s->efer & X86_EFER_NXE))
		high |= X86_PTE_NX;
	for (unsigned i = 0; i < pg->root_level; i++) {
		pg->rsvd[0][i] |= high;
		pg->rsvd[1][i] |= high;
	}
	if (pg->mode != SMMU_PAGING_PAE && !m->gbpages)
		pg->rsvd[1][2] = high | X86_PTE_PS;
	pg->pdpte_rsvd = x86_pdpte_rsvd_mask(m);
}

void x86_paging_init(struct x86_paging *pg, const struct smmu_cpu_state *s,
                     const struct smmu_cpu_model *m)
{
	const struct x86_paging_desc *d = x86_paging_desc_of(smmu_paging_mode(s));

	*pg = (struct x86_paging){
	    .desc = d,
	    .mode = d->mode,
	    .root_level = d->root_level,
	    .pte_size = 1u << d->pte_shift,
	    .ps_levels = d->ps_levels | 1u << 1,
	    .addr_mask = d->addr_mask,
	    .root_mask = d->mode == SMMU_PAGING_PAE ? X86_PAE_CR3_MASK : d->addr_mask,
	    .va_mask = (s->efer & X86_EFER_LMA) ? ~0ull : 0xffffffffull,
	    .wp = s->cr0 & X86_CR0_WP,
	    .smep = s->cr4 & X86_CR4_SMEP,
	    .smap = s->cr4 & X86_CR4_SMAP,
	    .pge = s->cr4 & X86_CR4_PGE,
	    .lma = s->efer & X86_EFER_LMA,
	    .la57 = s->cr4 & X86_CR4_LA57,
	};
	for (unsigned i = 0; i < SMMU_MAX_LEVELS; i++) {
		pg->rsvd[0][i] = d->rsvd[0][i];
		pg->rsvd[1][i] = d->rsvd[1][i];
	}
	/* Level 1 has no PS: bit 7 is PAT, so both indexes see the same mask. */
	if (d->mode == SMMU_PAGING_32BIT) {
		init_rsvd_32bit(pg, s, m);
		pg->fetch_pfec_i = pg->smep; /* SDM 4.7: only SMEP makes I/D visible */
	} else if (d->mode != SMMU_PAGING_OFF) {
		init_rsvd_64bit(pg, s, m);
		pg->fetch_pfec_i = pg->smep || (s->efer & X86_EFER_NXE);
		pg->pke = pg->lma && (s->cr4 & X86_CR4_PKE);
	}
	pg->rsvd[1][0] = pg->rsvd[0][0];
}

/* ---- the access rules (SDM 4.6) ------------------------------------------ */

/* Rights of the whole translation from the AND of all entries and the OR of their XD bits. */
static unsigned rights_of(uint64_t pte_and, uint64_t pte_or)
{
	unsigned acc = 0;

	if (pte_and & X86_PTE_RW)
		acc |= SMMU_ACC_W;
	if (pte_and & X86_PTE_US)
		acc |= SMMU_ACC_U;
	if (!(pte_or & X86_PTE_NX))
		acc |= SMMU_ACC_X;
	return acc;
}

/*
 * SDM 4.6.1.  CPL 3 needs a user page and, for a write or fetch, W or X.
 * A supervisor fetch needs X and, under SMEP, a supervisor page; a
 * supervisor data access to a user page faults under SMAP unless
 * RFLAGS.AC = 1 (accesses here are explicit); a supervisor write needs W
 * only when CR0.WP = 1.
 */
static bool rights_fault(const struct x86_paging *pg, const struct smmu_cpu_state *s, unsigned acc,
                         enum smmu_access_type access)
{
	bool user_page = acc & SMMU_ACC_U;

	if (s->cpl == 3) {
		if (!user_page)
			return true;
		if (access == SMMU_ACCESS_WRITE)
			return !(acc & SMMU_ACC_W);
		return access == SMMU_ACCESS_FETCH && !(acc & SMMU_ACC_X);
	}
	if (access == SMMU_ACCESS_FETCH)
		return !(acc & SMMU_ACC_X) || (user_page && pg->smep);
	if (user_page && pg->smap && !s->ac)
		return true;
	return access == SMMU_ACCESS_WRITE && !(acc & SMMU_ACC_W) && pg->wp;
}

/*
 * SDM 4.6.2: with CR4.PKE in IA-32e mode, a data access to a user page is
 * checked against PKRU[2k] (AD: no data access) and PKRU[2k+1] (WD: no
 * write from CPL 3, nor from supervisor mode when CR0.WP = 1).
 */
static bool pkey_fault(const struct x86_paging *pg, const struct smmu_cpu_state *s, unsigned acc,
                       unsigned pkey, enum smmu_access_type access)
{
	uint32_t adwd;

	if (!pg->pke || !(acc & SMMU_ACC_U) || access == SMMU_ACCESS_FETCH)
		return false;
	adwd = s->pkru >> (2 * pkey);
	if (adwd & 1)
		return true;
	return (adwd & 2) && access == SMMU_ACCESS_WRITE && (s->cpl == 3 || pg->wp);
}

/* The W, U and I/D bits of the error code: they describe the access (SDM 4.7). */
static uint32_t access_pfec(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                            enum smmu_access_type access)
{
	uint32_t pfec = 0;

	if (access == SMMU_ACCESS_WRITE)
		pfec |= X86_PFEC_W;
	if (s->cpl == 3)
		pfec |= X86_PFEC_U;
	if (access == SMMU_ACCESS_FETCH && pg->fetch_pfec_i)
		pfec |= X86_PFEC_I;
	return pfec;
}

/* ---- the walk -------------------------------------------------------------- */

static enum smmu_walk_outcome walk_fault(struct smmu_walk *w, unsigned level, uint32_t pfec)
{
	w->outcome = SMMU_WALK_PF;
	w->error_code = pfec;
	w->level = level;
	return SMMU_WALK_PF;
}

/* Paging off: the linear address is the physical address (32 bits outside IA-32e). */
static enum smmu_walk_outcome walk_unpaged(const struct x86_paging *pg, uint64_t gva,
                                           struct smmu_walk *w)
{
	*w = (struct smmu_walk){
	    .outcome = SMMU_WALK_OK,
	    .gpa = gva & pg->va_mask,
	    .page_size = PAGE_SIZE,
	    .access = SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X,
	};
	return SMMU_WALK_OK;
}

/* Guest-physical address of the leaf's frame, plus the offset from gva. */
static uint64_t leaf_gpa(const struct x86_paging *pg, uint64_t pte, unsigned level, uint64_t gva,
                         uint64_t page_size)
{
	uint64_t gpa = (pte & pg->addr_mask & ~(page_size - 1)) | (gva & (page_size - 1));

	/* SDM Table 4-4: a 4 MiB PDE's bits 20:13 give PA bits 39:32 (PSE-36). */
	if (pg->pte_size == 4 && level == 2)
		gpa |= (pte & X86_PDE32_PSE36_MASK) << X86_PDE32_PSE36_SHIFT;
	return gpa;
}

/*
 * Set A in every entry from the root down to the leaf and D in the leaf of a
 * write (SDM 4.8).  Returns false if the guest changed an entry since we read
 * it (the caller walks again); an entry in memory we may not write (no slot,
 * read-only slot) keeps its flags, as the trace format requires.
 */
static bool update_accessed_dirty(const struct x86_paging *pg, const struct smmu_gpa_ops *mem,
                                  struct smmu_walk *w, bool write)
{
	unsigned top = pg->mode == SMMU_PAGING_PAE ? 2 : pg->root_level;

	for (unsigned level = top; level >= w->level; level--) {
		uint64_t old = w->gpte[level - 1];
		uint64_t want = (write && level == w->level) ? X86_PTE_AD : X86_PTE_A;
		int r;

		if ((old & want) == want)
			continue;
		r = mem->cmpxchg(mem->ctx, w->pte_gpa[level - 1], pg->pte_size, old, old | want);
		if (r > 0)
			return false;
		if (r == 0)
			w->gpte[level - 1] = old | want;
	}
	return true;
}

/* Record a successful translation ending at `pte` on `level`. */
static void fill_leaf(const struct x86_paging *pg, struct smmu_walk *w, uint64_t pte,
                      unsigned level, unsigned shift, uint64_t gva, unsigned acc)
{
	w->outcome = SMMU_WALK_OK;
	w->error_code = 0;
	w->level = level;
	w->page_size = 1ull << shift;
	w->gpa = leaf_gpa(pg, pte, level, gva, w->page_size);
	w->access = acc;
	w->pkey = pg->pte_size == 8 && pg->mode != SMMU_PAGING_PAE
	              ? (unsigned)(pte >> X86_PTE_PKEY_SHIFT) & X86_PKEY_MASK
	              : 0;
	w->global = pg->pge && (pte & X86_PTE_G);
}

/*
 * One pass from the root to the leaf.  Returns the outcome, or -1 when an
 * A/D update lost a race with the guest and the walk must restart.
 */
static int walk_once(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                     const struct smmu_gpa_ops *mem, uint64_t gva, enum smmu_access_type access,
                     struct smmu_walk *w, bool update_ad)
{
	unsigned level = pg->root_level;
	unsigned shift = PAGE_SHIFT + (level - 1) * pg->desc->index_bits;
	unsigned index_mask = (1u << pg->desc->index_bits) - 1;
	uint64_t table = s->cr3 & pg->root_mask;
	uint64_t pte, pte_and = ~0ull, pte_or = 0;
	unsigned acc, ps;

	if (pg->mode == SMMU_PAGING_PAE) {
		/* SDM 4.4.1: the PDPTE registers; their R/W, U/S and XD do not exist. */
		pte = s->pdptrs[(gva >> 30) & 3];
		w->gpte[2] = pte;
		w->pte_gpa[2] = 0;
		if (unlikely(!(pte & X86_PTE_P)))
			return walk_fault(w, 3, access_pfec(pg, s, access));
		if (unlikely(pte & pg->pdpte_rsvd))
			return walk_fault(w, 3,
			                  access_pfec(pg, s, access) | X86_PFEC_P | X86_PFEC_RSVD);
		table = pte & pg->addr_mask;
		level = 2;
		shift -= pg->desc->index_bits;
	}
	for (;;) {
		uint64_t pte_gpa = table + (((gva >> shift) & index_mask) << pg->desc->pte_shift);

		if (unlikely(mem->read(mem->ctx, pte_gpa, pg->pte_size, &pte) < 0))
			return walk_fault(w, level, access_pfec(pg, s, access));
		w->gpte[level - 1] = pte;
		w->pte_gpa[level - 1] = pte_gpa;
		if (unlikely(!(pte & X86_PTE_P)))
			return walk_fault(w, level, access_pfec(pg, s, access));
		ps = (pte >> 7) & (pg->ps_levels >> level) & 1;
		if (unlikely(pte & pg->rsvd[ps][level - 1]))
			return walk_fault(w, level,
			                  access_pfec(pg, s, access) | X86_PFEC_P | X86_PFEC_RSVD);
		pte_and &= pte;
		pte_or |= pte;
		if (ps || level == 1)
			break;
		table = pte & pg->addr_mask;
		level--;
		shift -= pg->desc->index_bits;
	}

	acc = rights_of(pte_and, pte_or);
	fill_leaf(pg, w, pte, level, shift, gva, acc);
	{
		bool rf = rights_fault(pg, s, acc, access);
		bool pk = pkey_fault(pg, s, acc, w->pkey, access);

		if (unlikely(rf || pk))
			return walk_fault(w, level,
			                  access_pfec(pg, s, access) | X86_PFEC_P |
			                      (pk ? X86_PFEC_PK : 0));
	}
	if (update_ad && !update_accessed_dirty(pg, mem, w, access == SMMU_ACCESS_WRITE))
		return -1;
	return SMMU_WALK_OK;
}

enum smmu_walk_outcome x86_walk_gva(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                                    const struct smmu_gpa_ops *mem, uint64_t gva,
                                    enum smmu_access_type access, struct smmu_walk *w)
{
	int r;

	if (unlikely(pg->lma && !x86_is_canonical(gva, pg->la57))) {
		*w = (struct smmu_walk){.outcome = SMMU_WALK_GP};
		return SMMU_WALK_GP;
	}
	gva &= pg->va_mask;
	if (pg->mode == SMMU_PAGING_OFF)
		return walk_unpaged(pg, gva, w);
	w->root_level = pg->root_level;
	for (unsigned tries = 0;; tries++) {
		r = walk_once(pg, s, mem, gva, access, w, tries < X86_WALK_MAX_RESTARTS);
		if (likely(r >= 0))
			return (enum smmu_walk_outcome)r;
	}
}

enum smmu_walk_outcome smmu_x86_walk(const struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                     const struct smmu_gpa_ops *mem, uint64_t gva,
                                     enum smmu_access_type access, struct smmu_walk *w)
{
	struct x86_paging pg;

	x86_paging_init(&pg, s, m);
	return x86_walk_gva(&pg, s, mem, gva, access, w);
}

bool smmu_x86_gva_canonical(const struct smmu_cpu_state *s, uint64_t gva)
{
	if (!(s->efer & X86_EFER_LMA))
		return true;
	return x86_is_canonical(gva, s->cr4 & X86_CR4_LA57);
}
