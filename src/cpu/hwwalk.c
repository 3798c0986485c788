/*
 * hwwalk.c - the host "hardware" walker over shadow page tables: see
 * hwwalk.h for the contract.
 *
 * Rules followed (Intel SDM Vol. 3A):
 *  - 4.5: 4-/5-level walk, 9 index bits per level, PS selects 1 GiB
 *    (PDPTE) and 2 MiB (PDE) leaves; rights combine as the AND of R/W and
 *    U/S and the OR of XD over all levels.
 *  - 4.6.1 with CR0.WP = 1 and EFER.NXE = 1: supervisor writes need R/W;
 *    user accesses need U/S at every level; fetches need XD = 0; SMEP
 *    forbids supervisor fetches from user pages; SMAP forbids supervisor
 *    data accesses to user pages unless RFLAGS.AC = 1 (no implicit
 *    supervisor accesses exist here).
 *  - 4.6.2: with CR4.PKE, data accesses to user pages check PKRU.AD (any
 *    access) and PKRU.WD (writes, user and - as WP = 1 - supervisor).
 *  - 4.7: error code P = 0 only for a not-present entry; RSVD with P = 1
 *    for a reserved bit; W, U (CPL 3), I (fetch, since NXE = 1) from the
 *    access; PK whenever the protection-key rule denies the access, even
 *    when another rule also does.
 *  - 4.8: A in every entry used, D in the leaf on a write.
 */
#include "cpu/hwwalk.h"

#include "x86/spte.h"

#define HW_ACC_ALL (SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X)

/* The first rule (other than protection keys) that denies the access, or HWWALK_OK. */
static enum hwwalk_exit rights_violation(const struct hw_perm *p, unsigned acc,
                                         enum smmu_access_type access)
{
	bool user_page = acc & SMMU_ACC_U;

	if (p->user && !user_page)
		return HWWALK_USER_SUPERVISOR;
	if (access == SMMU_ACCESS_WRITE && !(acc & SMMU_ACC_W))
		return HWWALK_WRITE_PROTECT; /* CR0.WP = 1: supervisor writes too */
	if (access == SMMU_ACCESS_FETCH && !(acc & SMMU_ACC_X))
		return HWWALK_NX;
	if (p->user || !user_page)
		return HWWALK_OK;
	if (access == SMMU_ACCESS_FETCH)
		return p->smep ? HWWALK_SMEP : HWWALK_OK;
	return (p->smap && !p->ac) ? HWWALK_SMAP : HWWALK_OK;
}

/* PKRU bits that deny `access`: AD (even bits) for any data access, WD too for writes. */
static uint32_t pk_deny_bits(bool pke, uint32_t pkru, enum smmu_access_type access)
{
	if (!pke || access == SMMU_ACCESS_FETCH)
		return 0;
	if (access == SMMU_ACCESS_READ)
		return pkru & 0x55555555u;
	return pkru;
}

static uint32_t access_pfec(bool user, enum smmu_access_type access)
{
	uint32_t pfec = user ? X86_PFEC_U : 0;

	if (access == SMMU_ACCESS_WRITE)
		pfec |= X86_PFEC_W;
	if (access == SMMU_ACCESS_FETCH)
		pfec |= X86_PFEC_I; /* SDM 4.7: I is reported when NXE = 1, always here */
	return pfec;
}

/*
 * Masks over the eight combined-rights values acc = 0..7 (bit `acc` set when
 * the value has the property), so that a fault[] row is a few ORs instead of
 * 24 calls of rights_violation() - hw_perm_init() runs on every CPL change.
 */
#define ACC_SET_NO_W 0x55u /* acc without SMMU_ACC_W: 0, 2, 4, 6 */
#define ACC_SET_U    0xccu /* acc with SMMU_ACC_U: 2, 3, 6, 7 */
#define ACC_SET_NO_X 0x0fu /* acc without SMMU_ACC_X: 0..3 */

_Static_assert(SMMU_ACC_W == 1 && SMMU_ACC_U == 2 && SMMU_ACC_X == 4,
               "the ACC_SET_* masks assume these bit positions");

/* The row of acc values that rights_violation() denies for one access type. */
static uint8_t fault_row(const struct hw_perm *p, enum smmu_access_type access)
{
	unsigned row = p->user ? (~ACC_SET_U & 0xffu) : 0;

	if (access == SMMU_ACCESS_WRITE)
		row |= ACC_SET_NO_W; /* CR0.WP = 1: supervisor writes too */
	if (access == SMMU_ACCESS_FETCH)
		row |= ACC_SET_NO_X;
	if (!p->user && (access == SMMU_ACCESS_FETCH ? p->smep : (p->smap && !p->ac)))
		row |= ACC_SET_U; /* SMEP / SMAP on user pages */
	return (uint8_t)row;
}

void hw_perm_init(struct hw_perm *p, unsigned cpl, bool smep, bool smap, bool pke, bool ac,
                  uint32_t pkru)
{
	*p = (struct hw_perm){
	    .user = cpl == 3, .smep = smep, .smap = smap, .pke = pke, .ac = ac, .pkru = pkru};
	for (unsigned access = 0; access < 3; access++) {
		p->fault[access] = fault_row(p, access);
		p->pk_deny[access] = pk_deny_bits(pke, pkru, access);
		p->pfec[access] = access_pfec(p->user, access);
#ifndef NDEBUG
		for (unsigned acc = 0; acc < 8; acc++)
			SMMU_ASSERT(((p->fault[access] >> acc) & 1) ==
			            (rights_violation(p, acc, access) != HWWALK_OK));
#endif
	}
}

enum hwwalk_exit hw_perm_reason(const struct hw_perm *p, unsigned acc, unsigned pkey,
                                enum smmu_access_type access, uint32_t *error_code)
{
	enum hwwalk_exit why = rights_violation(p, acc, access);
	uint32_t pfec = p->pfec[access] | X86_PFEC_P;

	if (hw_perm_pk_denies(p, acc, pkey, access)) {
		pfec |= X86_PFEC_PK;
		if (why == HWWALK_OK)
			why = HWWALK_PK;
	}
	*error_code = why == HWWALK_OK ? 0 : pfec;
	return why;
}

_Static_assert(SPTE_RW == 1u << 1 && SPTE_US == 1u << 2 && SPTE_NX == 1ull << 63,
               "spte_access() shifts these bits into SMMU_ACC_*");

/* Rights an spte grants, as SMMU_ACC_* bits: R/W -> W, U/S -> U, !XD -> X (branch free). */
static unsigned spte_access(uint64_t spte)
{
	return (unsigned)(((spte >> 1) & (SMMU_ACC_W | SMMU_ACC_U)) | ((~spte >> 63) << 2));
}

static enum hwwalk_exit walk_exit(struct hwwalk_result *r, enum hwwalk_exit why, uint32_t pfec,
                                  unsigned level)
{
	r->exit = why;
	r->error_code = pfec;
	r->level = level;
	return why;
}

/* The table at `hpa`, or NULL when it is outside the arena or not a shadow table. */
static uint64_t *walk_table(const struct hwwalk_env *env, hpa_t hpa)
{
	uint64_t *table = arena_hpa_to_ptr(env->arena, hpa, PAGE_SIZE);

	if (unlikely(!table))
		return NULL;
	if (env->table_ok && !env->table_ok(env->table_ok_ctx, hpa))
		return NULL;
	return table;
}

/*
 * SDM 4.8: set A (and D) only where clear, atomically, like the hardware's
 * locked update, from level `top` down to the leaf.
 */
static void walk_set_ad(uint64_t **sptep, unsigned top, unsigned leaf_level, bool write)
{
	for (unsigned level = top; level >= leaf_level; level--) {
		uint64_t want = SPTE_A;

		if (write && level == leaf_level)
			want |= SPTE_D;
		if ((__atomic_load_n(sptep[level - 1], __ATOMIC_RELAXED) & want) != want)
			__atomic_fetch_or(sptep[level - 1], want, __ATOMIC_RELAXED);
	}
}

/*
 * The leaf is found: check the data frame and the rights, then update A/D
 * from level `top` down (the levels above it are known to have A).
 */
static enum hwwalk_exit walk_finish(const struct hwwalk_env *env, gva_t gva,
                                    enum smmu_access_type access, uint64_t **sptep, unsigned top,
                                    struct hwwalk_result *r)
{
	const struct hw_perm *p = env->perm;
	uint64_t size = spte_level_size(r->level);
	uint32_t pfec;

	/* Bit 12 of a large leaf is PAT, not address: mask to the page size. */
	r->hpa = (spte_to_hpa(r->spte) & ~(size - 1)) | (gva & (size - 1));
	r->pkey = spte_pkey(r->spte);
	if (unlikely(!arena_hpa_to_ptr(env->arena, r->hpa & PAGE_MASK, PAGE_SIZE)))
		return walk_exit(r, HWWALK_BAD_HPA, p->pfec[access] | X86_PFEC_P | X86_PFEC_RSVD,
		                 r->level);
	if (unlikely(!hw_perm_allows(p, r->access, r->pkey, access))) {
		enum hwwalk_exit why = hw_perm_reason(p, r->access, r->pkey, access, &pfec);

		return walk_exit(r, why, pfec, r->level);
	}
	walk_set_ad(sptep, top, r->level, access == SMMU_ACCESS_WRITE);
	r->spte = __atomic_load_n(r->sptep, __ATOMIC_RELAXED);
	r->global = r->spte & SPTE_G;
	r->dirty = r->spte & SPTE_D;
	r->exit = HWWALK_OK;
	r->error_code = 0;
	return HWWALK_OK;
}

/* Record where a walk stopped: the rights so far and the spte it last read. */
static enum hwwalk_exit walk_stop(struct hwwalk_result *r, enum hwwalk_exit why, uint32_t pfec,
                                  unsigned level, unsigned acc, uint64_t spte, uint64_t *sptep,
                                  unsigned refs)
{
	r->refs = refs;
	r->access = acc;
	r->spte = spte;
	r->sptep = sptep;
	return walk_exit(r, why, pfec, level);
}

/*
 * The walk from `start` down, in `table`, with the rights `acc` of the
 * entries above (which all have A).  When `fill`, the level-1 table the walk
 * reaches is cached under generation `gen` if every entry above it has A.
 */
static inline __attribute__((always_inline)) enum hwwalk_exit
walk_from(const struct hwwalk_env *env, uint64_t *table, unsigned start, unsigned acc, gva_t gva,
          enum smmu_access_type access, struct hwwalk_result *r, bool fill, uint64_t gen)
{
	uint32_t pfec = env->perm->pfec[access];
	uint64_t *sptep[SMMU_MAX_LEVELS];
	uint64_t spte, *p, upper = ~0ull; /* AND of the nonleaf sptes walked */
	unsigned level = start;

	/* Locals, not *r, in the loop: the result is written once where the walk ends. */
	for (;; level--) {
		p = sptep[level - 1] = &table[spte_index(gva, level)];
		spte = __atomic_load_n(p, __ATOMIC_RELAXED);
		if (unlikely(!is_shadow_present_spte(spte)))
			return walk_stop(r, HWWALK_NOT_PRESENT, pfec, level, acc, spte, p,
			                 start - level + 1);
		if (unlikely(spte_reserved_bits(spte, level)))
			return walk_stop(r, HWWALK_RESERVED, pfec | X86_PFEC_P | X86_PFEC_RSVD,
			                 level, acc, spte, p, start - level + 1);
		acc &= spte_access(spte);
		if (is_last_spte(spte, level))
			break;
		upper &= spte;
		table = walk_table(env, spte_to_hpa(spte));
		if (unlikely(!table))
			return walk_stop(r, HWWALK_BAD_HPA, pfec | X86_PFEC_P | X86_PFEC_RSVD,
			                 level - 1, acc, spte, p, start - level + 1);
		if (level == 2 && fill && (upper & SPTE_A))
			psc_fill(env->psc, env->root, gva, table, acc, gen);
	}
	r->access = acc;
	r->spte = spte;
	r->sptep = p;
	r->level = level;
	r->refs = start - level + 1;
	/* A to set above the leaf only if some nonleaf spte lacks it (the MMU makes them with A). */
	return walk_finish(env, gva, access, sptep, (upper & SPTE_A) ? level : start, r);
}

/* A walk from the root: one function with walk_from() inlined, as the hot miss path. */
static NOINLINE enum hwwalk_exit walk_root(const struct hwwalk_env *env, gva_t gva,
                                           enum smmu_access_type access,
                                           struct hwwalk_result *r, bool fill)
{
	uint32_t pfec = env->perm->pfec[access];
	unsigned level = env->root_level;
	uint64_t gen = fill ? psc_gen(env->psc) : 0; /* before any spte is read */
	uint64_t *table;

	SMMU_ASSERT(level == 4 || level == 5);
	r->cached = false;
	if (unlikely(env->root == INVALID_HPA))
		return walk_stop(r, HWWALK_NO_ROOT, pfec, level, HW_ACC_ALL, 0, NULL, 0);
	table = walk_table(env, env->root);
	if (unlikely(!table))
		return walk_stop(r, HWWALK_BAD_HPA, pfec | X86_PFEC_P | X86_PFEC_RSVD, level,
		                 HW_ACC_ALL, 0, NULL, 0);
	return walk_from(env, table, level, HW_ACC_ALL, gva, access, r, fill, gen);
}

enum hwwalk_exit hwwalk_full(const struct hwwalk_env *env, gva_t gva,
                             enum smmu_access_type access, struct hwwalk_result *r)
{
	return walk_root(env, gva, access, r, false);
}

/* The exact outcome of a cached walk that did not end in a plain translation. */
static NOINLINE enum hwwalk_exit walk_level1(const struct hwwalk_env *env,
                                             const struct psc_entry *e, gva_t gva,
                                             enum smmu_access_type access,
                                             struct hwwalk_result *r)
{
	return walk_from(env, e->table, 1, e->acc, gva, access, r, false, 0);
}

/*
 * A walk from a cached level-1 table: the common TLB miss.  The translation
 * is finished inline when the spte allows the access outright (present, no
 * reserved bit - MMIO sptes have one -, rights, frame in the arena); every
 * other case takes walk_from(), which reports the exit exactly.
 */
static enum hwwalk_exit walk_cached(const struct hwwalk_env *env, const struct psc_entry *e,
                                    gva_t gva, enum smmu_access_type access,
                                    struct hwwalk_result *r)
{
	uint64_t *p = &e->table[spte_index(gva, 1)];
	uint64_t spte = __atomic_load_n(p, __ATOMIC_RELAXED);
	uint64_t want = access == SMMU_ACCESS_WRITE ? SPTE_A | SPTE_D : SPTE_A;
	unsigned acc = e->acc & spte_access(spte);
	hpa_t hpa = spte_to_hpa(spte);

	r->cached = true;
	if (!is_shadow_present_spte(spte)) /* the usual exit: a page not mapped yet */
		return walk_stop(r, HWWALK_NOT_PRESENT, env->perm->pfec[access], 1, e->acc, spte, p,
		                 1);
	if (unlikely(spte_reserved_bits(spte, 1) ||
	             !hw_perm_allows(env->perm, acc, spte_pkey(spte), access) ||
	             !arena_hpa_to_ptr(env->arena, hpa, PAGE_SIZE)))
		return walk_level1(env, e, gva, access, r);
	if ((spte & want) != want) /* SDM 4.8, as walk_set_ad() */
		spte = __atomic_or_fetch(p, want, __ATOMIC_RELAXED);
	r->exit = HWWALK_OK;
	r->error_code = 0;
	r->level = 1;
	r->refs = 1;
	r->hpa = hpa | (gva & ~PAGE_MASK);
	r->access = acc;
	r->pkey = spte_pkey(spte);
	r->global = spte & SPTE_G;
	r->dirty = spte & SPTE_D;
	r->spte = spte;
	r->sptep = p;
	return HWWALK_OK;
}

enum hwwalk_exit hwwalk(const struct hwwalk_env *env, gva_t gva, enum smmu_access_type access,
                        struct hwwalk_result *r)
{
	struct psc *c = env->psc;
	const struct psc_entry *e;

	if (!c || !c->gen)
		return walk_root(env, gva, access, r, false);
	e = psc_lookup(c, env->root, gva);
	if (!e)
		return walk_root(env, gva, access, r, true);
	return walk_cached(env, e, gva, access, r);
}

bool hwwalk_leaf(const struct hwwalk_env *env, gva_t gva, enum smmu_access_type access,
                 uint64_t spte, unsigned level, struct hwwalk_result *r)
{
	uint64_t need = access == SMMU_ACCESS_WRITE ? SPTE_A | SPTE_D : SPTE_A;
	uint64_t size;

	if (level < SPTE_LEVEL_4K || level > SPTE_LEVEL_1G || !is_shadow_present_spte(spte) ||
	    spte_reserved_bits(spte, level) || !is_last_spte(spte, level) || (spte & need) != need)
		return false;
	size = spte_level_size(level);
	r->level = level;
	r->refs = 0;
	r->spte = spte;
	r->sptep = NULL;
	r->access = spte_access(spte);
	r->pkey = spte_pkey(spte);
	r->hpa = (spte_to_hpa(spte) & ~(size - 1)) | (gva & (size - 1));
	if (!arena_hpa_to_ptr(env->arena, r->hpa & PAGE_MASK, PAGE_SIZE) ||
	    !hw_perm_allows(env->perm, r->access, r->pkey, access))
		return false;
	r->global = spte & SPTE_G;
	r->dirty = spte & SPTE_D;
	r->exit = HWWALK_OK;
	r->error_code = 0;
	return true;
}

