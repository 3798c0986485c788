/*
 * nested_tlb.c - the nested TLB and EPT PDE cache of TDP mode; see
 * nested_tlb.h for the contract.
 *
 * Rules followed (Intel SDM Vol. 3C):
 *  - 29.4.1 / 29.4.3: a processor may cache guest-physical mappings and
 *    EPT paging-structure entries, and uses them instead of walking; it
 *    never needs to cache, so a lookup that cannot prove it gives what the
 *    walk would give (rights, A/D) walks instead.
 *  - 29.3.5: with EPT A/D on, a write needs D in the leaf: an entry filled
 *    without it never serves a write; A is set in every entry of a walk
 *    that translates, so cached paths have A.
 *  - 29.4.3.1 (INVEPT) and the MMU's flush contract: every flush empties both.
 * Debug builds (t->check) repeat every cached translation as a full EPT walk
 * without A/D updates and assert that both agree.
 */
#include "cpu/nested_tlb.h"

#include <string.h>

void ntlb_init(struct nested_tlb *t, bool on, bool check)
{
	memset(t, 0, sizeof(*t));
	t->epoch = 1;
	t->on = on;
#ifndef NDEBUG
	t->check = check;
#endif
}

void ntlb_flush(struct nested_tlb *t)
{
	if (++t->epoch == 0) { /* wrapped: entries of older epochs could come back */
		memset(t->e, 0, sizeof(t->e));
		memset(t->pde, 0, sizeof(t->pde));
		t->epoch = 1;
	}
}

static inline struct ntlb_entry *ntlb_slot(struct nested_tlb *t, uint64_t gfn)
{
	return &t->e[gfn % NTLB_ENTRIES];
}

static inline struct ntlb_pde *ntlb_pde_slot(struct nested_tlb *t, uint64_t region)
{
	return &t->pde[region % NTLB_PDE_ENTRIES];
}

void ntlb_commit(struct nested_tlb *t)
{
	for (unsigned i = 0; i < t->nr_pending; i++) {
		const struct ntlb_pde *p = &t->pending[i];

		if (p->epoch == t->epoch) /* no flush since the walk that found it */
			*ntlb_pde_slot(t, p->region) = *p;
	}
	t->nr_pending = 0;
}

/* Whether the cached rights and D let this access through exactly as a walk would. */
static inline bool ntlb_allows(const struct ntlb_entry *e, bool ad, enum smmu_access_type access)
{
	if (access == SMMU_ACCESS_WRITE)
		return (e->rights & EPT_W) && (!ad || e->dirty);
	return e->rights & (access == SMMU_ACCESS_FETCH ? EPT_X : EPT_R);
}

#ifndef NDEBUG
/* The full walk, without A/D updates, must give what the cache gave (rights: at least). */
static void ntlb_check(const struct eptwalk_env *env, uint64_t gpa, enum smmu_access_type access,
                       const struct eptwalk_result *r)
{
	struct eptwalk_env dry = *env;
	struct eptwalk_result full;

	dry.ad = false;
	SMMU_ASSERT(eptwalk(&dry, gpa, access, &full) == r->exit);
	/*
	 * The MMU widens rights without a flush (a write fault making a leaf
	 * writable), so the cache may hold fewer rights than the walk finds, never
	 * more; everything else changes only through a zap and its flush.
	 */
	SMMU_ASSERT(!(r->rights & ~full.rights) && full.level == r->level);
	SMMU_ASSERT(r->exit != HWWALK_OK || full.hpa == r->hpa);
	SMMU_ASSERT(r->exit != HWWALK_OK || !r->dirty || (full.entry & EPT_D));
}
#else
static inline void ntlb_check(const struct eptwalk_env *env, uint64_t gpa,
                              enum smmu_access_type access, const struct eptwalk_result *r)
{
}
#endif

static enum hwwalk_exit ntlb_hit(const struct ntlb_entry *e, uint64_t gpa,
                                 struct eptwalk_result *r)
{
	*r = (struct eptwalk_result){.exit = HWWALK_OK,
	                             .hpa = e->hpa | (gpa & ~PAGE_MASK),
	                             .rights = e->rights,
	                             .level = e->level,
	                             .dirty = e->dirty};
	return HWWALK_OK;
}

static void ntlb_fill(struct nested_tlb *t, uint64_t gpa, const struct eptwalk_result *r)
{
	*ntlb_slot(t, gpa >> PAGE_SHIFT) = (struct ntlb_entry){.gfn = gpa >> PAGE_SHIFT,
	                                                        .hpa = r->hpa & PAGE_MASK,
	                                                        .epoch = t->epoch,
	                                                        .rights = (uint8_t)r->rights,
	                                                        .level = (uint8_t)r->level,
	                                                        .dirty = r->dirty};
}

/* A full walk that ended at a level-1 leaf names that leaf's table: remember it, later. */
static void ntlb_pde_fill(struct nested_tlb *t, uint64_t gpa, const struct eptwalk_result *r)
{
	if (r->level != 1 || t->nr_pending == NTLB_PENDING)
		return;
	t->pending[t->nr_pending++] = (struct ntlb_pde){
	    .region = gpa >> 21,
	    .table = (uint64_t *)((uintptr_t)r->entryp & ~(uintptr_t)(PAGE_SIZE - 1)),
	    .epoch = t->epoch,
	    .rights = (uint8_t)r->rights_above};
}

/* The nested TLB missed: the EPT PDE cache and one entry, or the full walk. */
static enum hwwalk_exit ntlb_walk(struct nested_tlb *t, const struct eptwalk_env *env,
                                  uint64_t gpa, enum smmu_access_type access,
                                  struct eptwalk_result *r)
{
	const struct ntlb_pde *p = ntlb_pde_slot(t, gpa >> 21);
	enum hwwalk_exit x;

	/* The gpa-width check of a full walk: a region above the EPT's reach is never filled. */
	if (p->epoch == t->epoch && p->region == gpa >> 21 && env->root != INVALID_HPA) {
		t->pde_hits++;
		x = eptwalk_from_table(env, gpa, access, p->table, p->rights, r);
		if (t->check)
			ntlb_check(env, gpa, access, r);
	} else {
		x = eptwalk(env, gpa, access, r);
		if (x == HWWALK_OK)
			ntlb_pde_fill(t, gpa, r);
	}
	if (x == HWWALK_OK)
		ntlb_fill(t, gpa, r);
	return x;
}

enum hwwalk_exit ntlb_translate(struct nested_tlb *t, const struct eptwalk_env *env, uint64_t gpa,
                                enum smmu_access_type access, struct eptwalk_result *r)
{
	const struct ntlb_entry *e;

	if (!t->on)
		return eptwalk(env, gpa, access, r);
	e = ntlb_slot(t, gpa >> PAGE_SHIFT);
	if (e->epoch == t->epoch && e->gfn == gpa >> PAGE_SHIFT && ntlb_allows(e, env->ad, access)) {
		t->hits++;
		ntlb_hit(e, gpa, r);
		if (t->check)
			ntlb_check(env, gpa, access, r);
		return HWWALK_OK;
	}
	t->misses++;
	return ntlb_walk(t, env, gpa, access, r);
}
