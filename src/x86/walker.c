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

/*
 * One descriptor per mode and large-page setting: CR4.PSE decides whether
 * bit 7 of a 32-bit PDE means anything, the model's 1 GiB-page support
 * whether PS in a PDPTE maps a page or is reserved.
 */
static const struct x86_paging_desc desc_off = {
    .mode = SMMU_PAGING_OFF,
    .va_mask = 0xffffffffull,
};

/* SDM 4.3: 2 levels of 1024 4-byte entries; without CR4.PSE bit 7 of a PDE is ignored. */
#define DESC_32BIT                                                                                 \
	.mode = SMMU_PAGING_32BIT, .root_level = 2, .pte_shift = 2, .pte_size = 4,                 \
	.index_bits = X86_PT32_INDEX_BITS, .addr_mask = X86_PTE32_ADDR_MASK,                       \
	.root_mask = X86_PTE32_ADDR_MASK, .va_mask = 0xffffffffull

static const struct x86_paging_desc desc_32bit = {DESC_32BIT};

/* ... with CR4.PSE a PDE with PS maps 4 MiB (its reserved bits depend on PSE-36). */
static const struct x86_paging_desc desc_32bit_pse = {DESC_32BIT, .ps_levels = 1u << 2};

/* SDM 4.4: 4 PDPTE registers, then PD and PT of 512 8-byte entries; PDEs may map 2 MiB. */
static const struct x86_paging_desc desc_pae = {
    .mode = SMMU_PAGING_PAE,
    .root_level = 3,
    .pte_shift = 3,
    .pte_size = 8,
    .index_bits = X86_PT64_INDEX_BITS,
    .ps_levels = 1u << 2,
    .addr_mask = X86_PTE64_ADDR_MASK,
    .root_mask = X86_PAE_CR3_MASK,
    .va_mask = 0xffffffffull,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW}},
};

/* SDM 4.5: PS is reserved in a PML4E (and PML5E); PDEs map 2 MiB, PDPTEs 1 GiB or nothing. */
#define DESC_IA32E                                                                                 \
	.pte_shift = 3, .pte_size = 8, .index_bits = X86_PT64_INDEX_BITS,                          \
	.addr_mask = X86_PTE64_ADDR_MASK, .root_mask = X86_PTE64_ADDR_MASK, .va_mask = ~0ull
#define PS_LEVELS_4 ((1u << 2) | (1u << 3) | (1u << 4))
#define PS_LEVELS_5 (PS_LEVELS_4 | (1u << 5))

static const struct x86_paging_desc desc_4level = {
    DESC_IA32E,
    .mode = SMMU_PAGING_4LEVEL,
    .root_level = 4,
    .ps_levels = PS_LEVELS_4,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW, [2] = X86_PTE_PS, [3] = X86_PTE_PS}},
};

static const struct x86_paging_desc desc_4level_1g = {
    DESC_IA32E,
    .mode = SMMU_PAGING_4LEVEL,
    .root_level = 4,
    .ps_levels = PS_LEVELS_4,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW, [2] = RSVD_1G_LOW, [3] = X86_PTE_PS}},
};

static const struct x86_paging_desc desc_5level = {
    DESC_IA32E,
    .mode = SMMU_PAGING_5LEVEL,
    .root_level = 5,
    .ps_levels = PS_LEVELS_5,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW, [2] = X86_PTE_PS, [3] = X86_PTE_PS, [4] = X86_PTE_PS}},
};

static const struct x86_paging_desc desc_5level_1g = {
    DESC_IA32E,
    .mode = SMMU_PAGING_5LEVEL,
    .root_level = 5,
    .ps_levels = PS_LEVELS_5,
    .rsvd = {[1] = {[1] = RSVD_2M_LOW, [2] = RSVD_1G_LOW, [3] = X86_PTE_PS, [4] = X86_PTE_PS}},
};

/* [mode][large] */
static const struct x86_paging_desc *const descs[][2] = {
    [SMMU_PAGING_OFF] = {&desc_off, &desc_off},
    [SMMU_PAGING_32BIT] = {&desc_32bit, &desc_32bit_pse},
    [SMMU_PAGING_PAE] = {&desc_pae, &desc_pae},
    [SMMU_PAGING_4LEVEL] = {&desc_4level, &desc_4level_1g},
    [SMMU_PAGING_5LEVEL] = {&desc_5level, &desc_5level_1g},
};

const struct x86_paging_desc *x86_paging_desc_of(enum smmu_paging_mode mode, bool large)
{
	if ((unsigned)mode >= ARRAY_SIZE(descs))
		return &desc_off;
	return descs[mode][large];
}

/* ---- building the per-context configuration ----------------------------- */

/* SDM Table 4-1, as smmu_paging_mode(), inlined for the walk's hot path. */
static enum smmu_paging_mode mode_of(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	if (!(cr0 & X86_CR0_PG))
		return SMMU_PAGING_OFF;
	if (!(cr4 & X86_CR4_PAE))
		return SMMU_PAGING_32BIT;
	if (!(efer & X86_EFER_LMA))
		return SMMU_PAGING_PAE;
	return (cr4 & X86_CR4_LA57) ? SMMU_PAGING_5LEVEL : SMMU_PAGING_4LEVEL;
}

/*
 * 32-bit paging: nothing is reserved except in a 4 MiB PDE, where PSE-36
 * with M = min(MAXPHYADDR, 40) uses bits (M-20):13 and reserves 21:(M-19)
 * (SDM Table 4-4).  Without PSE-36 M is 32: bits 21:13 are all reserved.
 */
static uint64_t pse36_rsvd_mask(const struct smmu_cpu_model *m)
{
	unsigned pse36_m = m->pse36 ? (m->maxphyaddr < 40 ? m->maxphyaddr : 40) : 32;

	return bits_range(21, pse36_m - 19);
}

/*
 * PAE and IA-32e: bits from MAXPHYADDR up are reserved (to 62 in PAE, to 51
 * in 4/5-level paging, where 62:52 are ignored or the protection key), and
 * XD is reserved when EFER.NXE = 0 (SDM 4.4.2, 4.5.4).
 */
static uint64_t high_rsvd_mask(enum smmu_paging_mode mode, uint64_t efer,
                               const struct smmu_cpu_model *m)
{
	uint64_t high = bits_range(mode == SMMU_PAGING_PAE ? 62 : 51, m->maxphyaddr);

	return (efer & X86_EFER_NXE) ? high : high | X86_PTE_NX;
}

void x86_paging_init(struct x86_paging *pg, const struct smmu_cpu_state *s,
                     const struct smmu_cpu_model *m)
{
	enum smmu_paging_mode mode = mode_of(s->cr0, s->cr4, s->efer);
	bool large = mode == SMMU_PAGING_32BIT ? (s->cr4 & X86_CR4_PSE) : m->gbpages;

	pg->desc = descs[mode][large];
	pg->cr0 = s->cr0;
	pg->cr4 = s->cr4;
	pg->efer = s->efer;
	pg->pdpte_rsvd = 0;
	if (mode == SMMU_PAGING_OFF) {
		pg->rsvd_extra[0] = pg->rsvd_extra[1] = 0;
	} else if (mode == SMMU_PAGING_32BIT) {
		pg->rsvd_extra[0] = 0;
		pg->rsvd_extra[1] = pse36_rsvd_mask(m);
	} else {
		pg->rsvd_extra[0] = pg->rsvd_extra[1] = high_rsvd_mask(mode, s->efer, m);
		if (mode == SMMU_PAGING_PAE)
			pg->pdpte_rsvd = x86_pdpte_rsvd_mask(m);
	}
}

/* ---- the access rules (SDM 4.6) ------------------------------------------ */

/* Rights of the whole translation from the AND of all entries and the OR of their XD bits. */
static unsigned rights_of(uint64_t pte_and, uint64_t pte_or)
{
	unsigned acc = (pte_and & X86_PTE_RW) ? SMMU_ACC_W : 0;

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
		return !(acc & SMMU_ACC_X) || (user_page && (pg->cr4 & X86_CR4_SMEP));
	if (user_page && (pg->cr4 & X86_CR4_SMAP) && !s->ac)
		return true;
	return access == SMMU_ACCESS_WRITE && !(acc & SMMU_ACC_W) && (pg->cr0 & X86_CR0_WP);
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

	if (!(pg->cr4 & X86_CR4_PKE) || !(pg->efer & X86_EFER_LMA))
		return false;
	if (!(acc & SMMU_ACC_U) || access == SMMU_ACCESS_FETCH)
		return false;
	adwd = s->pkru >> (2 * pkey);
	if (adwd & 1)
		return true;
	return (adwd & 2) && access == SMMU_ACCESS_WRITE && (s->cpl == 3 || (pg->cr0 & X86_CR0_WP));
}

/*
 * The W, U and I/D bits of the error code: they describe the access (SDM
 * 4.7).  I/D is reported for fetches under SMEP, and in PAE/IA-32e paging
 * also under EFER.NXE.
 */
static uint32_t access_pfec(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                            enum smmu_access_type access)
{
	uint32_t pfec = 0;
	bool id_visible =
	    (pg->cr4 & X86_CR4_SMEP) || (pg->desc->pte_size == 8 && (pg->efer & X86_EFER_NXE));

	if (access == SMMU_ACCESS_WRITE)
		pfec |= X86_PFEC_W;
	if (s->cpl == 3)
		pfec |= X86_PFEC_U;
	if (access == SMMU_ACCESS_FETCH && id_visible)
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

/* The error code of a fault found at `level` while walking: not present or reserved. */
static NOINLINE enum smmu_walk_outcome
walk_table_fault(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                 enum smmu_access_type access, struct smmu_walk *w, unsigned level, uint32_t kind)
{
	return walk_fault(w, level, access_pfec(pg, s, access) | kind);
}

/* Paging off: the linear address is the physical address (32 bits outside IA-32e). */
static enum smmu_walk_outcome walk_unpaged(uint64_t gva, struct smmu_walk *w)
{
	*w = (struct smmu_walk){
	    .outcome = SMMU_WALK_OK,
	    .gpa = gva,
	    .page_size = PAGE_SIZE,
	    .access = SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X,
	};
	return SMMU_WALK_OK;
}

/* Guest-physical address of the leaf's frame, plus the offset from gva. */
static uint64_t leaf_gpa(const struct x86_paging_desc *d, uint64_t pte, unsigned level,
                         uint64_t gva, uint64_t page_size)
{
	uint64_t gpa = (pte & d->addr_mask & ~(page_size - 1)) | (gva & (page_size - 1));

	/* SDM Table 4-4: a 4 MiB PDE's bits 20:13 give PA bits 39:32 (PSE-36). */
	if (d->pte_size == 4 && level == 2)
		gpa |= (pte & X86_PDE32_PSE36_MASK) << X86_PDE32_PSE36_SHIFT;
	return gpa;
}

/*
 * Set A in every entry from the root down to the leaf and D in the leaf of a
 * write (SDM 4.8).  Returns false if the guest changed an entry since we read
 * it (the caller walks again); an entry in memory we may not write (no slot,
 * read-only slot) keeps its flags, as the trace format requires.
 */
static NOINLINE bool update_accessed_dirty(const struct x86_paging *pg,
                                           const struct smmu_gpa_ops *mem, struct smmu_walk *w,
                                           bool write)
{
	const struct x86_paging_desc *d = pg->desc;
	unsigned top = d->mode == SMMU_PAGING_PAE ? 2 : d->root_level;

	for (unsigned level = top; level >= w->level; level--) {
		uint64_t old = w->gpte[level - 1];
		uint64_t want = (write && level == w->level) ? X86_PTE_AD : X86_PTE_A;
		int r;

		if ((old & want) == want)
			continue;
		r = mem->cmpxchg(mem->ctx, w->pte_gpa[level - 1], d->pte_size, old, old | want);
		if (r > 0)
			return false;
		if (r == 0)
			w->gpte[level - 1] = old | want;
	}
	return true;
}

/* Record a translation ending at `pte` on `level`. */
static void fill_leaf(const struct x86_paging *pg, struct smmu_walk *w, uint64_t pte,
                      unsigned level, unsigned shift, uint64_t gva, unsigned acc)
{
	w->outcome = SMMU_WALK_OK;
	w->error_code = 0;
	w->level = level;
	w->page_size = 1ull << shift;
	w->gpa = leaf_gpa(pg->desc, pte, level, gva, w->page_size);
	w->access = acc;
	/* 4/5-level paging (IA-32e) only: elsewhere bits 62:59 are reserved or absent. */
	w->pkey =
	    (pg->efer & X86_EFER_LMA) ? (unsigned)(pte >> X86_PTE_PKEY_SHIFT) & X86_PKEY_MASK : 0;
	w->global = (pg->cr4 & X86_CR4_PGE) && (pte & X86_PTE_G);
}

/*
 * SDM 4.4.1: PAE paging starts from the PDPTE register that gva bits 31:30
 * select; it has no R/W, U/S or XD to combine.  Returns 0 and the page
 * directory's address, or the fault.
 */
static int walk_pdpte(const struct x86_paging *pg, const struct smmu_cpu_state *s, uint64_t gva,
                      enum smmu_access_type access, struct smmu_walk *w, uint64_t *table)
{
	uint64_t pte = s->pdptrs[(gva >> 30) & 3];

	w->gpte[2] = pte;
	w->pte_gpa[2] = 0;
	if (unlikely(!(pte & X86_PTE_P)))
		return walk_table_fault(pg, s, access, w, 3, 0);
	if (unlikely(pte & pg->pdpte_rsvd))
		return walk_table_fault(pg, s, access, w, 3, X86_PFEC_P | X86_PFEC_RSVD);
	*table = pte & pg->desc->addr_mask;
	return 0;
}

/* The access rules at the leaf: #PF (P=1, PK if a key said no) or 0. */
static int check_access(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                        enum smmu_access_type access, struct smmu_walk *w)
{
	bool rf = rights_fault(pg, s, w->access, access);
	bool pk = pkey_fault(pg, s, w->access, w->pkey, access);

	if (likely(!rf && !pk))
		return 0;
	return walk_table_fault(pg, s, access, w, w->level, X86_PFEC_P | (pk ? X86_PFEC_PK : 0));
}

/*
 * One pass from the root to the leaf.  Returns the outcome, or -1 when an
 * A/D update lost a race with the guest and the walk must restart.  The
 * entry geometry comes in as arguments so that the two instances below
 * (8-byte and 4-byte entries) fold it into constants.
 */
static inline __attribute__((always_inline)) int
walk_once_geometry(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                   const struct smmu_gpa_ops *mem, uint64_t gva, enum smmu_access_type access,
                   struct smmu_walk *w, bool update_ad, const unsigned index_bits,
                   const unsigned pte_shift, const unsigned pte_size)
{
	const struct x86_paging_desc *d = pg->desc;
	const unsigned ps_levels = d->ps_levels;
	const uint64_t index_mask = (1u << index_bits) - 1, addr_mask = d->addr_mask;
	unsigned level = d->root_level, ps;
	unsigned shift = PAGE_SHIFT + (level - 1) * index_bits;
	uint64_t table = s->cr3 & d->root_mask, pte, pte_gpa, pte_and = ~0ull, pte_or = 0;
	bool write = access == SMMU_ACCESS_WRITE;

	if (d->mode == SMMU_PAGING_PAE) {
		if (walk_pdpte(pg, s, gva, access, w, &table))
			return SMMU_WALK_PF;
		level = 2;
		shift -= index_bits;
	}
	for (;;) {
		pte_gpa = table + (((gva >> shift) & index_mask) << pte_shift);
		if (unlikely(mem->read(mem->ctx, pte_gpa, pte_size, &pte) < 0))
			return walk_table_fault(pg, s, access, w, level, 0);
		w->gpte[level - 1] = pte;
		w->pte_gpa[level - 1] = pte_gpa;
		if (unlikely(!(pte & X86_PTE_P)))
			return walk_table_fault(pg, s, access, w, level, 0);
		ps = (pte >> 7) & (ps_levels >> level) & 1;
		if (unlikely(pte & x86_gpte_rsvd_mask(pg, level, ps)))
			return walk_table_fault(pg, s, access, w, level,
			                        X86_PFEC_P | X86_PFEC_RSVD);
		pte_and &= pte;
		pte_or |= pte;
		if (ps || level == 1)
			break;
		table = pte & addr_mask;
		level--;
		shift -= index_bits;
	}
	fill_leaf(pg, w, pte, level, shift, gva, rights_of(pte_and, pte_or));
	if (check_access(pg, s, access, w))
		return SMMU_WALK_PF;
	/* Nothing to write when every entry has A and a written leaf has D. */
	if (likely((pte_and & X86_PTE_A) && (!write || (pte & X86_PTE_D))))
		return SMMU_WALK_OK;
	if (update_ad && !update_accessed_dirty(pg, mem, w, write))
		return -1;
	return SMMU_WALK_OK;
}

/* PAE, 4- and 5-level paging: 512 8-byte entries per table (SDM 4.4, 4.5). */
static NOINLINE int walk_once_64(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                                 const struct smmu_gpa_ops *mem, uint64_t gva,
                                 enum smmu_access_type access, struct smmu_walk *w, bool update_ad)
{
	return walk_once_geometry(pg, s, mem, gva, access, w, update_ad, X86_PT64_INDEX_BITS, 3, 8);
}

/* 32-bit paging: 1024 4-byte entries per table (SDM 4.3). */
static NOINLINE int walk_once_32(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                                 const struct smmu_gpa_ops *mem, uint64_t gva,
                                 enum smmu_access_type access, struct smmu_walk *w, bool update_ad)
{
	return walk_once_geometry(pg, s, mem, gva, access, w, update_ad, X86_PT32_INDEX_BITS, 2, 4);
}

static int walk_once(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                     const struct smmu_gpa_ops *mem, uint64_t gva, enum smmu_access_type access,
                     struct smmu_walk *w, bool update_ad)
{
	SMMU_ASSERT(pg->desc->pte_size == 8 || pg->desc->pte_size == 4);
	if (pg->desc->pte_size == 8)
		return walk_once_64(pg, s, mem, gva, access, w, update_ad);
	return walk_once_32(pg, s, mem, gva, access, w, update_ad);
}

enum smmu_walk_outcome x86_walk_gva(const struct x86_paging *pg, const struct smmu_cpu_state *s,
                                    const struct smmu_gpa_ops *mem, uint64_t gva,
                                    enum smmu_access_type access, struct smmu_walk *w)
{
	const struct x86_paging_desc *d = pg->desc;
	int r;

	/* SDM 3.3.7.1: in 64-bit mode a non-canonical address is #GP, not #PF. */
	if (unlikely(d->va_mask == ~0ull && !x86_is_canonical(gva, pg->cr4 & X86_CR4_LA57))) {
		*w = (struct smmu_walk){.outcome = SMMU_WALK_GP};
		return SMMU_WALK_GP;
	}
	gva &= d->va_mask;
	if (d->mode == SMMU_PAGING_OFF)
		return walk_unpaged(gva, w);
	w->root_level = d->root_level;
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
