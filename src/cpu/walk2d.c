/*
 * walk2d.c - the two-dimensional walk: see walk2d.h for the contract.
 *
 * Rules followed (Intel SDM):
 *  - Vol. 3C 29.3.2: with EPT on, every guest-physical address the guest
 *    walk uses - each paging-structure entry it reads or updates, then the
 *    final one - is translated through the EPT.
 *  - 29.3.3.2 and Table 28-7: an EPT violation's qualification gives the
 *    access (read / write / fetch), the rights the EPT walk found, that a
 *    guest linear address was being translated, and whether the failing
 *    gpa was the final translation (bit 8 set) or a guest paging-structure
 *    entry (bit 8 clear).  With EPT A/D on, paging-structure accesses are
 *    writes and a violation on them sets both the read and write bits.
 *  - 29.3.5: EPT A/D updates (eptwalk.c).
 *  - Vol. 3A 4.8: guest A/D, by the architectural walker, through the
 *    compare-and-exchange op below.
 */
#include "cpu/walk2d.h"

#include <errno.h>

#define WALK2D_SEEN 8 /* the last entries read: an A/D update names one of the last 5 */

/* The guest-memory ops' context for one 2D walk. */
struct walk2d_mem {
	const struct walk2d_env *env;
	const struct eptwalk_env *ept;      /* what EPT walks run against (a dry copy when checking) */
	struct nested_tlb *ntlb;            /* NULL: every EPT walk in full */
	const struct psc2d_entry *hit;      /* the upper guest entries to serve, or NULL */
	unsigned next_level;                /* hit: the level of the walker's next read */
	bool dry;                           /* no A/D update anywhere: a debug check's walk */
	const struct walk2d_slow *slow;
	struct walk2d_result *r;
	enum smmu_access_type table_access; /* READ, or WRITE under EPT A/D */
	bool failed;                        /* an EPT exit has ended the walk (r holds it) */
	unsigned refs;
	unsigned nr_seen;
	struct {
		uint64_t gpa;
		struct eptwalk_result ept;
	} seen[WALK2D_SEEN];
};

/* KVM's handle_ept_violation error code: P if some right was found, W, I. */
static uint32_t ept_pferr(uint64_t qual)
{
	uint32_t ec = (qual & (EPT_QUAL_READABLE | EPT_QUAL_WRITABLE | EPT_QUAL_EXECUTABLE))
	                  ? X86_PFEC_P
	                  : 0;

	if (qual & EPT_QUAL_WRITE)
		ec |= X86_PFEC_W;
	if (qual & EPT_QUAL_FETCH)
		ec |= X86_PFEC_I;
	return ec;
}

static enum walk2d_outcome walk2d_exit(struct walk2d_result *r, uint64_t gpa, uint64_t acc_qual,
                                       bool final, const struct eptwalk_result *e)
{
	r->outcome = WALK2D_EXIT;
	r->exit = e->exit;
	r->gpa = gpa;
	r->ept = *e;
	r->exit_qual = acc_qual | ept_qual_rights(e->rights) | EPT_QUAL_GVA_VALID |
	               (final ? EPT_QUAL_GVA_FINAL : 0);
	r->error_code = ept_pferr(r->exit_qual);
	return WALK2D_EXIT;
}

/* An EPT exit on a guest paging-structure entry: record it, fail this and every later access. */
static int table_exit(struct walk2d_mem *m, uint64_t gpa, unsigned size, uint64_t acc_qual,
                      const struct eptwalk_result *e)
{
	m->failed = true;
	m->r->pte_size = size;
	walk2d_exit(m->r, gpa, acc_qual, false, e);
	return -EFAULT;
}

/* The qualification's access bits for a paging-structure access (Table 28-7). */
static uint64_t table_qual(const struct walk2d_mem *m, bool update)
{
	if (m->env->ept->ad)
		return EPT_QUAL_READ | EPT_QUAL_WRITE;
	return update ? EPT_QUAL_WRITE : EPT_QUAL_READ;
}

/* Whether gpa is an entry read through the ordinary ops (walk2d_slow_load), and what it gave. */
static bool slow_find(const struct walk2d_slow *slow, uint64_t gpa, int *rc, uint64_t *val)
{
	for (unsigned i = 0; i < slow->n; i++) {
		if (slow->e[i].gpa == gpa) {
			*rc = slow->e[i].rc;
			*val = slow->e[i].val;
			return true;
		}
	}
	return false;
}

/* One gpa through the nested TLB (when on) or the EPT. */
static enum hwwalk_exit mem_ept(struct walk2d_mem *m, uint64_t gpa, enum smmu_access_type access,
                                struct eptwalk_result *e)
{
	if (m->ntlb)
		return ntlb_translate(m->ntlb, m->ept, gpa, access, e);
	return eptwalk(m->ept, gpa, access, e);
}

/*
 * The walker's reads come top-down, one per level: the cached entry of the
 * level it is at, if psc2d has one there (for the same gpa, as it must).
 */
static bool mem_served(struct walk2d_mem *m, uint64_t gpa, uint64_t *val)
{
	const struct psc2d_entry *h = m->hit;
	unsigned level;

	if (!h || !m->next_level)
		return false;
	level = m->next_level--;
	if (level < h->low || h->pte_gpa[level - 1] != gpa)
		return false;
	*val = h->gpte[level - 1];
	return true;
}

static void remember(struct walk2d_mem *m, uint64_t gpa, const struct eptwalk_result *e)
{
	unsigned i = m->nr_seen++ % WALK2D_SEEN;

	m->seen[i].gpa = gpa;
	m->seen[i].ept = *e;
}

static const struct eptwalk_result *seen_find(const struct walk2d_mem *m, uint64_t gpa)
{
	unsigned n = m->nr_seen < WALK2D_SEEN ? m->nr_seen : WALK2D_SEEN;

	for (unsigned i = 0; i < n; i++) {
		unsigned k = (m->nr_seen - 1 - i) % WALK2D_SEEN; /* newest first */

		if (m->seen[k].gpa == gpa)
			return &m->seen[k].ept;
	}
	return NULL;
}

static void *guest_ptr(const struct walk2d_mem *m, hpa_t hpa, unsigned size)
{
	return arena_hpa_to_ptr(m->env->ept->arena, hpa, size);
}

/* smmu_gpa_ops.read: one guest paging-structure entry, through the EPT. */
static int mem_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	struct walk2d_mem *m = ctx;
	struct eptwalk_result e;
	void *p;
	int rc;

	if (m->failed)
		return -EFAULT;
	if (mem_served(m, gpa, val))
		return 0; /* no memory reference: the cache holds it */
	if (slow_find(m->slow, gpa, &rc, val)) {
		m->refs++;
		return rc;
	}
	if (mem_ept(m, gpa, m->table_access, &e) != HWWALK_OK) {
		m->refs += e.refs;
		return table_exit(m, gpa, size, table_qual(m, false), &e);
	}
	m->refs += e.refs + 1;
	p = guest_ptr(m, e.hpa, size);
	if (unlikely(!p)) /* eptwalk checked the frame; an aligned entry lies within it */
		return -EFAULT;
	*val = size == 4 ? __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED)
	                 : __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
	remember(m, gpa, &e);
	return 0;
}

/* The EPT translation for an A/D update of the entry at gpa: the read's, or a new walk. */
static int update_target(struct walk2d_mem *m, uint64_t gpa, unsigned size, hpa_t *hpa)
{
	const struct eptwalk_result *seen = seen_find(m, gpa);
	struct eptwalk_result e;

	if (!seen) {
		if (mem_ept(m, gpa, SMMU_ACCESS_WRITE, &e) != HWWALK_OK) {
			m->refs += e.refs;
			return table_exit(m, gpa, size, table_qual(m, true), &e);
		}
		m->refs += e.refs;
		seen = &e;
	} else if (!(seen->rights & EPT_W) && !seen->entryp) {
		/* A nested-TLB hit without W: the update is a write, which walks (and may find W). */
		if (mem_ept(m, gpa, SMMU_ACCESS_WRITE, &e) != HWWALK_OK) {
			m->refs += e.refs;
			return table_exit(m, gpa, size, table_qual(m, true), &e);
		}
		m->refs += e.refs;
		seen = &e;
	} else if (!(seen->rights & EPT_W)) {
		e = *seen;
		e.exit = HWWALK_EPT_VIOLATION;
		return table_exit(m, gpa, size, table_qual(m, true), &e);
	}
	*hpa = seen->hpa;
	return 0;
}

/* smmu_gpa_ops.cmpxchg: the guest walker's A/D update, through the EPT. */
static int mem_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	struct walk2d_mem *m = ctx;
	uint64_t dummy;
	hpa_t hpa;
	void *p;
	int rc;

	if (m->failed)
		return -EFAULT;
	m->next_level = m->hit ? m->hit->top : 0; /* a lost race restarts the walk at the top */
	if (m->dry)
		return -EFAULT; /* keeps the flags, as memory we may not write */
	/* An entry the MMU calls MMIO keeps its flags, as a read-only slot's in shadow mode. */
	if (slow_find(m->slow, gpa, &rc, &dummy))
		return -EFAULT;
	rc = update_target(m, gpa, size, &hpa);
	if (rc)
		return rc;
	p = guest_ptr(m, hpa, size);
	if (unlikely(!p))
		return -EFAULT;
	return smmu_cmpxchg_entry(p, size, old, new_val);
}

static unsigned page_shift_of(uint64_t page_size)
{
	return (unsigned)__builtin_ctzll(page_size);
}

/*
 * The combined TLB entry: guest rights AND EPT rights.  W stays only with
 * EPT W, X only with EPT X; the entry is dirty (a write may hit it) only
 * when the guest leaf has D and, under EPT A/D, the EPT leaf too.
 */
static void walk2d_fill(const struct walk2d_env *env, struct walk2d_result *r)
{
	const struct smmu_walk *g = &r->guest;
	unsigned acc = g->access;
	bool guest_dirty = g->level == 0 || (g->gpte[g->level - 1] & X86_PTE_D);

	if (!(r->ept.rights & EPT_W))
		acc &= ~SMMU_ACC_W;
	if (!(r->ept.rights & EPT_X))
		acc &= ~SMMU_ACC_X;
	r->cacheable = r->ept.rights & EPT_R;
	r->fill = (struct tlb_fill_info){
	    .hpa = r->hpa & PAGE_MASK,
	    .page_shift = page_shift_of(g->page_size),
	    .access = acc,
	    .pkey = g->pkey,
	    .global = g->global,
	    .dirty = guest_dirty && (!env->ept->ad || r->ept.dirty),
	};
}

/* The guest walk succeeded: translate the final gpa. */
static enum walk2d_outcome walk2d_final(struct walk2d_mem *m, enum smmu_access_type access,
                                        struct walk2d_result *r)
{
	const struct walk2d_env *env = m->env;
	uint64_t gpa = r->guest.gpa;

	r->gpa = gpa;
	if (mem_ept(m, gpa, access, &r->ept) != HWWALK_OK) {
		struct eptwalk_result e = r->ept;

		r->refs += e.refs;
		return walk2d_exit(r, gpa, ept_qual_access(access), true, &e);
	}
	r->refs += r->ept.refs;
	r->outcome = WALK2D_OK;
	r->hpa = r->ept.hpa;
	walk2d_fill(env, r);
	return WALK2D_OK;
}

/* The architectural guest walk, under the cached paging configuration when there is one. */
static enum smmu_walk_outcome walk_guest(const struct walk2d_env *env, const struct smmu_gpa_ops *ops,
                                         gva_t gva, enum smmu_access_type access,
                                         struct smmu_walk *w)
{
	const struct smmu_cpu_state *s = env->state;
	struct x86_paging *pg = env->paging;

	if (!pg)
		return smmu_x86_walk(s, env->model, ops, gva, access, w);
	if (unlikely(!pg->desc || pg->cr0 != s->cr0 || pg->cr4 != s->cr4 || pg->efer != s->efer))
		x86_paging_init(pg, s, env->model);
	return x86_walk_gva(pg, s, ops, gva, access, w);
}

/* One walk with the caches `m` names. */
static enum walk2d_outcome walk2d_run(struct walk2d_mem *m, gva_t gva, enum smmu_access_type access,
                                      struct walk2d_result *r)
{
	const struct walk2d_env *env = m->env;
	struct smmu_gpa_ops ops = {.read = mem_read, .cmpxchg = mem_cmpxchg, .ctx = m};
	enum smmu_walk_outcome g;

	m->r = r;
	m->table_access = env->ept->ad ? SMMU_ACCESS_WRITE : SMMU_ACCESS_READ;
	m->next_level = m->hit ? m->hit->top : 0;
	r->outcome = WALK2D_OK;
	r->exit = HWWALK_OK;
	r->error_code = 0;
	r->exit_qual = 0;
	r->pte_size = 0;
	r->cacheable = false;
	r->psc2d_hit = m->hit != NULL;
	g = walk_guest(env, &ops, gva, access, &r->guest);
	r->refs = m->refs;
	if (m->failed)
		return WALK2D_EXIT;
	if (g == SMMU_WALK_GP)
		return r->outcome = WALK2D_GUEST_GP;
	if (g == SMMU_WALK_PF) {
		r->error_code = r->guest.error_code;
		return r->outcome = WALK2D_GUEST_PF;
	}
	return walk2d_final(m, access, r);
}

#ifndef NDEBUG
/*
 * The cached walk's fill against the full walk's: the same translation, with
 * rights and dirty state no wider.  The nested TLB may hold fewer EPT rights
 * or a clear D where the EPT now grants more (the MMU widens without a
 * flush); such a fill only makes a later write walk again.
 */
static bool fill_no_wider(const struct tlb_fill_info *c, const struct tlb_fill_info *f)
{
	return c->hpa == f->hpa && c->page_shift == f->page_shift && !(c->access & ~f->access) &&
	       c->pkey == f->pkey && c->global == f->global && (!c->dirty || f->dirty);
}

/* Whether the full walk `full` read, at the levels `hit` caches, what `hit` holds. */
static bool hit_still_current(const struct psc2d_entry *hit, const struct walk2d_result *full)
{
	if (full->outcome == WALK2D_GUEST_GP || full->guest.root_level == 0)
		return false;
	if (full->outcome != WALK2D_OK && full->guest.level >= hit->low)
		return false; /* it stopped at a cached level: what is below was not read */
	for (unsigned level = hit->low; level <= hit->top; level++) {
		if (full->guest.gpte[level - 1] != hit->gpte[level - 1] ||
		    full->guest.pte_gpa[level - 1] != hit->pte_gpa[level - 1])
			return false;
	}
	return true;
}

/*
 * Debug builds, unthreaded vCPUs: repeat a walk that started from psc2d
 * without caches and without A/D updates.  While the cached entries are
 * still what memory holds, both walks must agree (the cached walk has
 * done its A/D updates, so the repeat sees them).  And no EPT exit may
 * hide behind a cached table: the MMU flushes before narrowing one.
 */
static void walk2d_check(const struct walk2d_env *env, const struct walk2d_slow *slow, gva_t gva,
                         enum smmu_access_type access, const struct walk2d_result *r,
                         const struct psc2d_entry *hit)
{
	struct eptwalk_env dry_ept = *env->ept;
	struct walk2d_mem m = {.env = env, .ept = &dry_ept, .slow = slow, .dry = true};
	struct walk2d_result full;

	dry_ept.ad = false;
	walk2d_run(&m, gva, access, &full);
	for (unsigned level = hit->low; full.outcome == WALK2D_EXIT && level <= hit->top; level++)
		SMMU_ASSERT(full.gpa != hit->pte_gpa[level - 1]);
	if (!hit_still_current(hit, &full))
		return;
	/*
	 * The repeat makes no A/D update, so it cannot meet the exit of one: the
	 * cached walk's write to a guest table the EPT maps read-only (a merged
	 * page, a logged slot) - reported as a write not to the final gpa.
	 */
	if (r->outcome == WALK2D_EXIT && (r->exit_qual & EPT_QUAL_WRITE) &&
	    !(r->exit_qual & EPT_QUAL_GVA_FINAL) && full.outcome == WALK2D_OK)
		return;
	SMMU_ASSERT(full.outcome == r->outcome);
	SMMU_ASSERT(r->outcome != WALK2D_GUEST_PF || full.error_code == r->error_code);
	SMMU_ASSERT(r->outcome != WALK2D_EXIT ||
	            (full.exit == r->exit && full.gpa == r->gpa && full.exit_qual == r->exit_qual));
	SMMU_ASSERT(r->outcome != WALK2D_OK ||
	            (full.hpa == r->hpa && full.cacheable == r->cacheable &&
	             fill_no_wider(&r->fill, &full.fill)));
}
#else
static inline void walk2d_check(const struct walk2d_env *env, const struct walk2d_slow *slow,
                                gva_t gva, enum smmu_access_type access,
                                const struct walk2d_result *r, const struct psc2d_entry *hit)
{
}
#endif

enum walk2d_outcome walk2d(const struct walk2d_env *env, const struct walk2d_slow *slow, gva_t gva,
                           enum smmu_access_type access, struct walk2d_result *r)
{
	struct psc2d *c = env->psc2d && env->psc2d->on ? env->psc2d : NULL;
	struct walk2d_mem m;
	enum walk2d_outcome out;

	/*
	 * Field by field: an initializer would also zero seen[] (~600 bytes) on
	 * every TLB miss, and nr_seen = 0 already says none of it is valid.
	 */
	m.env = env;
	m.ept = env->ept;
	m.ntlb = env->ntlb && env->ntlb->on ? env->ntlb : NULL;
	m.hit = c ? psc2d_lookup(c, env->state, env->pcid, gva) : NULL;
	m.next_level = 0;
	m.dry = false;
	m.slow = slow;
	m.r = r;
	m.table_access = SMMU_ACCESS_READ;
	m.failed = false;
	m.refs = 0;
	m.nr_seen = 0;
	out = walk2d_run(&m, gva, access, r);

	if (m.ntlb)
		ntlb_commit(m.ntlb);
	if (c && (out == WALK2D_OK || (out == WALK2D_EXIT && (r->exit_qual & EPT_QUAL_GVA_FINAL))))
		psc2d_fill(c, env->state, env->pcid, gva, &r->guest, m.hit, slow->n > 0);
	if (m.hit && env->check)
		walk2d_check(env, slow, gva, access, r, m.hit);
	return out;
}

#ifndef NDEBUG
/* Debug builds, unthreaded vCPUs: a completed walk must be what a dry full walk finds. */
static void walk2d_check_complete(const struct walk2d_env *env, const struct walk2d_slow *slow,
                                  gva_t gva, enum smmu_access_type access,
                                  const struct walk2d_result *r)
{
	struct eptwalk_env dry_ept = *env->ept;
	struct walk2d_mem m = {.env = env, .ept = &dry_ept, .slow = slow, .dry = true};
	struct walk2d_result full;

	if (!env->check)
		return;
	dry_ept.ad = false;
	SMMU_ASSERT(walk2d_run(&m, gva, access, &full) == WALK2D_OK);
	SMMU_ASSERT(full.hpa == r->hpa && full.cacheable == r->cacheable &&
	            fill_no_wider(&r->fill, &full.fill) && fill_no_wider(&full.fill, &r->fill));
}
#else
static inline void walk2d_check_complete(const struct walk2d_env *env,
                                         const struct walk2d_slow *slow, gva_t gva,
                                         enum smmu_access_type access,
                                         const struct walk2d_result *r)
{
}
#endif

/* What an EPT leaf must grant for `access` to go through without a walk (x86/ept.h). */
static bool leaf_allows(const struct walk2d_env *env, uint64_t leaf, enum smmu_access_type access)
{
	if (access == SMMU_ACCESS_WRITE)
		return (leaf & EPT_W) && (!env->ept->ad || (leaf & EPT_D));
	return leaf & (access == SMMU_ACCESS_FETCH ? EPT_X : EPT_R);
}

bool walk2d_complete(const struct walk2d_env *env, const struct walk2d_slow *slow, gva_t gva,
                     enum smmu_access_type access, struct walk2d_result *r, uint64_t leaf,
                     unsigned level)
{
	uint64_t size = 1ull << (12 + 9 * (level - 1));
	hpa_t hpa;

	if (r->outcome != WALK2D_EXIT || r->exit != HWWALK_EPT_VIOLATION ||
	    !(r->exit_qual & EPT_QUAL_GVA_FINAL) || level < 1 || level > 3 ||
	    !is_ept_present(leaf) || !is_ept_leaf(leaf, level) || is_ept_misconfig(leaf, level) ||
	    !leaf_allows(env, leaf, access))
		return false;
	hpa = (ept_to_hpa(leaf) & ~(size - 1)) | (r->gpa & (size - 1));
	if (!arena_hpa_to_ptr(env->ept->arena, hpa & PAGE_MASK, PAGE_SIZE))
		return false; /* never a frame outside the arena */
	r->ept = (struct eptwalk_result){.exit = HWWALK_OK,
	                                 .hpa = hpa,
	                                 .rights = leaf & EPT_RWX,
	                                 .level = level,
	                                 .entry = leaf,
	                                 .dirty = leaf & EPT_D,
	                                 .rights_above = EPT_RWX};
	r->outcome = WALK2D_OK;
	r->exit = HWWALK_OK;
	r->exit_qual = 0;
	r->hpa = hpa;
	walk2d_fill(env, r);
	walk2d_check_complete(env, slow, gva, access, r);
	return true;
}

void walk2d_slow_load(struct walk2d_slow *slow, const struct smmu_gpa_ops *ops, uint64_t gpa,
                      unsigned size)
{
	unsigned i = slow->n < SMMU_MAX_LEVELS ? slow->n++ : SMMU_MAX_LEVELS - 1;

	slow->e[i].gpa = gpa;
	slow->e[i].val = 0;
	slow->e[i].rc = ops->read(ops->ctx, gpa, size, &slow->e[i].val);
}
