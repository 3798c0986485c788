/*
 * vcpu_cpu.c - the software vCPU's architectural core: see vcpu_cpu.h.
 *
 * The fast path (TLB hit, rights allowed, host frame in the arena) is kept
 * short and inline; misses, exits and the MMU conversation live in the
 * NOINLINE slow path, after SQLite's pcache1 habit.
 *
 * Rules followed:
 *  - trace-format.md: accesses of 1/2/4/8 bytes within one 4 KiB page;
 *    non-canonical gva in IA-32e mode is #GP; outside IA-32e mode a gva
 *    wider than 32 bits is a malformed request; MMIO reads give all ones.
 *  - SDM Vol. 3A 4.10.2.4: a TLB hit is checked against the current CPL,
 *    AC, CR4 and PKRU (they change without a flush); a write through an
 *    entry filled without D re-walks so that D gets set (4.8).
 *  - SDM 4.10.4.1: a #PF invalidates the TLB entry for its address (a hit
 *    that fails the rights check is dropped before the walk); INVLPG is
 *    privileged (#GP at CPL 3) and a no-op on a non-canonical address.
 *  - Guest paging off: CR4.SMEP/SMAP/PKE do not apply (KVM runs the guest's
 *    unpaged mode on shadow tables with them off); PKE applies only with
 *    4- or 5-level guest paging (SDM 4.6.2).
 *  - TDP mode (SDM Vol. 3C 29.3): a miss is a 2D walk (walk2d.h); guest
 *    faults are delivered at once, EPT violations and misconfigurations
 *    exit to the MMU with the gpa and qualification (Table 28-7); the TLB
 *    holds guest AND EPT rights.  The one branch on v->tdp is in the slow
 *    path: TLB hits run the same code in both modes.
 */
#include "cpu/vcpu_cpu.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "guest memory is little-endian and is copied as is");

#define DEFAULT_TLB_SETS 64
#define DEFAULT_TLB_WAYS 4

/* Guest memory reads for PDPTE loads when the embedder supplies none: no memslot. */
static int no_gpa_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	return -EFAULT;
}

static int no_gpa_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	return -EFAULT;
}

static const struct smmu_gpa_ops no_gpa_ops = {.read = no_gpa_read, .cmpxchg = no_gpa_cmpxchg};

/*
 * Rebuild the rights rules when one of their inputs changed; a MOV to CR3
 * (every context switch) changes none, so it keeps both CPLs' cached rules.
 */
static void vcpu_refresh_perm(struct vcpu_cpu *v, bool smep, bool smap, bool pke)
{
	const struct smmu_cpu_state *s = &v->state;
	const struct hw_perm *p = &v->perm;

	if (v->perm_valid && p->user == (s->cpl == 3) && p->smep == smep && p->smap == smap &&
	    p->pke == pke && p->ac == s->ac && p->pkru == s->pkru)
		return;
	hw_perm_init(&v->perm, s->cpl, smep, smap, pke, s->ac, s->pkru);
	/* The other CPL's rules are stale now; this CPL's are v->perm. */
	v->perm_by_cpl[s->cpl == 3] = v->perm;
	v->perm_valid = 1u << (s->cpl == 3);
}

/* Derive everything the fast path caches from the register state. */
static void vcpu_refresh_mode(struct vcpu_cpu *v)
{
	const struct smmu_cpu_state *s = &v->state;
	enum smmu_paging_mode mode = smmu_paging_mode(s);
	bool paging = mode != SMMU_PAGING_OFF;
	/* SDM 4.6.2: protection keys apply only to 4- and 5-level paging. */
	bool pke = mode >= SMMU_PAGING_4LEVEL && (s->cr4 & X86_CR4_PKE);

	v->long_mode = s->efer & X86_EFER_LMA;
	v->va_bits = !v->long_mode ? 32 : (s->cr4 & X86_CR4_LA57) ? 57 : 48;
	v->pcid = (s->cr4 & X86_CR4_PCIDE) ? (unsigned)(s->cr3 & X86_CR3_PCID_MASK) : 0;
	v->pge = paging && (s->cr4 & X86_CR4_PGE);
	vcpu_refresh_perm(v, paging && (s->cr4 & X86_CR4_SMEP), paging && (s->cr4 & X86_CR4_SMAP),
	                  pke);
}

/*
 * Only the CPL changed (user/kernel transitions, constantly in the
 * workloads): reuse the rules built for that CPL under the same AC, CR4 and
 * PKRU, else build them from the current rules' other inputs.
 */
static void vcpu_refresh_cpl(struct vcpu_cpu *v)
{
	unsigned user = v->state.cpl == 3;
	const struct hw_perm *p = &v->perm;

	if (!(v->perm_valid & (1u << user))) {
		hw_perm_init(&v->perm_by_cpl[user], v->state.cpl, p->smep, p->smap, p->pke, p->ac,
		             p->pkru);
		v->perm_valid |= 1u << user;
	}
	v->perm = v->perm_by_cpl[user];
}

int vcpu_cpu_init(struct vcpu_cpu *v, const struct vcpu_cpu_config *cfg)
{
	unsigned sets = cfg->tlb_sets ? cfg->tlb_sets : DEFAULT_TLB_SETS;
	unsigned ways = cfg->tlb_ways ? cfg->tlb_ways : DEFAULT_TLB_WAYS;
	int err;

	memset(v, 0, sizeof(*v));
	if (!cfg->arena || !cfg->model || !cfg->mmu_ops || !cfg->mmu_ops->page_fault)
		return -EINVAL;
	err = tlb_init(&v->tlb, sets, ways);
	if (err)
		return err;
	v->model = *cfg->model;
	v->gpa_ops = cfg->gpa_ops ? cfg->gpa_ops : &no_gpa_ops;
	v->mmu_ops = cfg->mmu_ops;
	v->mmu_ctx = cfg->mmu_ctx;
	v->threaded = cfg->threaded;
	v->shortcuts = cfg->shortcuts;
	/*
	 * Without a generation to check entries against there is no cache:
	 * every walk starts at the root.  TDP walks have their own caches.
	 */
	v->psc.gen = (v->shortcuts & SMMU_SHORTCUT_PSC) && !cfg->tdp ? cfg->table_gen : NULL;
	v->tdp = cfg->tdp;
	ntlb_init(&v->ntlb, cfg->tdp && (v->shortcuts & SMMU_SHORTCUT_NESTED_TLB), !cfg->threaded);
	psc2d_init(&v->psc2d, cfg->tdp && (v->shortcuts & SMMU_SHORTCUT_PSC_2D));
	v->ept = (struct eptwalk_env){
	    .arena = cfg->arena, .root = INVALID_HPA, .level = 4, .ad = cfg->ept_ad};
	v->walk = (struct hwwalk_env){.arena = cfg->arena,
	                              .root = INVALID_HPA,
	                              .root_level = 4,
	                              .perm = &v->perm,
	                              .psc = &v->psc};
	smmu_cpu_state_reset(&v->state);
	vcpu_refresh_mode(v);
	return 0;
}

void vcpu_cpu_destroy(struct vcpu_cpu *v)
{
	tlb_destroy(&v->tlb);
}

/* ---- requests from other threads ------------------------------------------ */

void vcpu_cpu_request_tlb_flush(struct vcpu_cpu *v)
{
	__atomic_fetch_or(&v->requests, VCPU_REQ_TLB_FLUSH, __ATOMIC_RELEASE);
}

void vcpu_cpu_kick_tlb_flush(struct vcpu_cpu *v)
{
	__atomic_fetch_or(&v->requests, VCPU_REQ_TLB_FLUSH, __ATOMIC_SEQ_CST);
	if (!v->threaded)
		return;
	/* Dekker with vcpu_enter_guest(): it stores mode, then loads requests. */
	while (__atomic_load_n(&v->mode, __ATOMIC_SEQ_CST) == VCPU_IN_GUEST_MODE &&
	       (__atomic_load_n(&v->requests, __ATOMIC_SEQ_CST) & VCPU_REQ_TLB_FLUSH))
		sched_yield();
}

/*
 * TDP mode: an MMU flush (EPT entries narrowed or removed, tables freed) or
 * a new EPT root empties the nested TLB and the guest paging-structure
 * cache, as INVEPT empties guest-physical and combined mappings (SDM Vol.
 * 3C 29.4.3.1).
 */
static void vcpu_flush_2d_caches(struct vcpu_cpu *v)
{
	ntlb_flush(&v->ntlb);
	psc2d_flush(&v->psc2d);
}

/* Honour pending requests; true if the TLB was flushed. */
static NOINLINE bool vcpu_service_requests(struct vcpu_cpu *v)
{
	unsigned req = __atomic_exchange_n(&v->requests, 0, __ATOMIC_ACQUIRE);

	if (!(req & VCPU_REQ_TLB_FLUSH))
		return false;
	tlb_flush(&v->tlb, SMMU_FLUSH_ALL, 0);
	if (v->tdp)
		vcpu_flush_2d_caches(v);
	return true;
}

static inline void vcpu_check_requests(struct vcpu_cpu *v)
{
	if (unlikely(__atomic_load_n(&v->requests, __ATOMIC_RELAXED)))
		vcpu_service_requests(v);
}

/*
 * Enter guest mode, then honour requests: a flusher either sees us in guest
 * mode and waits, or we see its request and flush before walking (the order
 * of KVM's vcpu_enter_guest: mode = IN_GUEST_MODE, smp_mb, check requests).
 */
static inline bool vcpu_enter_guest(struct vcpu_cpu *v)
{
	if (v->threaded) {
		__atomic_store_n(&v->mode, VCPU_IN_GUEST_MODE, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&v->requests, __ATOMIC_SEQ_CST))
			return vcpu_service_requests(v);
		return false;
	}
	if (unlikely(__atomic_load_n(&v->requests, __ATOMIC_RELAXED)))
		return vcpu_service_requests(v);
	return false;
}

static inline void vcpu_exit_guest(struct vcpu_cpu *v)
{
	if (v->threaded)
		__atomic_store_n(&v->mode, VCPU_OUTSIDE_GUEST_MODE, __ATOMIC_RELEASE);
}

/* ---- the access path ------------------------------------------------------- */

static inline enum vcpu_result vcpu_finish(struct vcpu_cpu *v, struct vcpu_outcome *out,
                                           enum vcpu_result r)
{
	vcpu_exit_guest(v);
	out->result = r;
	v->stats.results[r]++;
	return r;
}

/* trace-format.md: size and page rules, canonical check in IA-32e mode. */
static inline enum vcpu_result vcpu_check_access(const struct vcpu_cpu *v, gva_t gva, unsigned size)
{
	unsigned shift = 64 - v->va_bits;

	if (unlikely((size & (size - 1)) || size - 1 > 7 || (gva & ~PAGE_MASK) + size > PAGE_SIZE))
		return VCPU_INVALID;
	if (v->long_mode)
		return ((uint64_t)((int64_t)(gva << shift) >> shift) == gva) ? VCPU_OK : VCPU_GP;
	return (gva >> 32) ? VCPU_INVALID : VCPU_OK;
}

static void vcpu_fill_tlb(struct vcpu_cpu *v, gva_t gva, const struct hwwalk_result *w)
{
	struct tlb_fill_info info = {
	    .hpa = w->hpa & PAGE_MASK,
	    .page_shift = PAGE_SHIFT + 9 * (w->level - 1),
	    .access = w->access,
	    .pkey = w->pkey,
	    .global = w->global && v->pge,
	    .dirty = w->dirty,
	};

	tlb_fill(&v->tlb, gva, v->pcid, &info);
}

static enum vcpu_pf_action vcpu_call_page_fault(struct vcpu_cpu *v, gva_t gva,
                                                enum smmu_access_type access,
                                                const struct hwwalk_result *w, unsigned size,
                                                uint64_t value, unsigned retry,
                                                struct vcpu_pf_reply *reply)
{
	struct vcpu_exit exit = {
	    .reason = w->exit,
	    .error_code = w->error_code,
	    .level = w->level,
	    .spte = w->spte,
	    .size = size,
	    .value = value,
	    .retry = retry,
	};

	enum vcpu_pf_action act;

	*reply = (struct vcpu_pf_reply){0};
	v->stats.exits[w->exit]++;
	vcpu_exit_guest(v); /* the MMU may change tables and kick the other vCPUs */
	act = v->mmu_ops->page_fault(v->mmu_ctx, gva, access, &exit, reply);
	/*
	 * A flush requested since the MMU installed the leaf may be for that
	 * very spte (zapped by another vCPU, or by this fault's own zaps): then
	 * only a fresh walk may decide.  Without a flush, any later change to
	 * the path only granted more, so the leaf is still a translation the
	 * hardware could hold in its TLB (SDM 4.10.4.3).
	 */
	if (vcpu_enter_guest(v))
		reply->leaf_level = 0;
	return act;
}

/*
 * Fill the TLB from the leaf the MMU handed back, as the walk it saves
 * would have.  Debug builds of single-threaded vCPUs also walk and compare.
 */
static bool vcpu_take_leaf(struct vcpu_cpu *v, gva_t gva, enum smmu_access_type access,
                           const struct vcpu_pf_reply *reply, hpa_t *hpa)
{
	struct hwwalk_result w;

	if (!hwwalk_leaf(&v->walk, gva, access, reply->leaf_spte, reply->leaf_level, &w))
		return false;
#ifndef NDEBUG
	if (!v->threaded) {
		struct hwwalk_result full;

		SMMU_ASSERT(hwwalk_full(&v->walk, gva, access, &full) == HWWALK_OK);
		SMMU_ASSERT(full.hpa == w.hpa && full.level == w.level && full.access == w.access &&
		            full.pkey == w.pkey && full.global == w.global && full.dirty == w.dirty);
	}
#endif
	v->stats.leaf_handbacks++;
	vcpu_fill_tlb(v, gva, &w);
	*hpa = w.hpa;
	return true;
}

/* Turn the MMU's final answer into the access's result. */
static enum vcpu_result vcpu_resolve(struct vcpu_cpu *v, enum vcpu_pf_action act, gva_t gva,
                                     enum smmu_access_type access, unsigned size,
                                     const struct vcpu_pf_reply *reply, struct vcpu_outcome *out,
                                     hpa_t *hpa)
{
	switch (act) {
	case VCPU_PF_INJECT:
		out->error_code = reply->error_code;
		out->cr2 = v->cr2 = gva;
		return VCPU_PF;
	case VCPU_PF_MMIO:
		if (access == SMMU_ACCESS_WRITE) {
			v->stats.mmio_writes++;
		} else {
			v->stats.mmio_reads++;
			out->value = ~0ull >> (64 - 8 * size);
		}
		return VCPU_MMIO;
	case VCPU_PF_EMULATED:
		v->stats.emulated++;
		out->value = reply->value;
		*hpa = INVALID_HPA;
		return VCPU_OK;
	default:
		return VCPU_EMUL_FAIL;
	}
}

/* A hardware walk of `refs` memory references (walk_refs, walk_refs_max). */
static inline void vcpu_count_walk(struct vcpu_cpu *v, unsigned refs)
{
	v->stats.walks++;
	v->stats.walk_refs += refs;
	if (refs > v->stats.walk_refs_max)
		v->stats.walk_refs_max = refs;
}

/*
 * One shadow walk.  Debug builds of unthreaded vCPUs repeat a walk that
 * started from the paging-structure cache from the root and assert that
 * both agree (a cached walk that succeeded has set the leaf's A/D already,
 * so the repeat changes nothing).
 */
static enum hwwalk_exit vcpu_walk(struct vcpu_cpu *v, gva_t gva, enum smmu_access_type access,
                                  struct hwwalk_result *w)
{
	enum hwwalk_exit r = hwwalk(&v->walk, gva, access, w);

	vcpu_count_walk(v, w->refs);
	if (!w->cached)
		return r;
	v->stats.cached_walks++;
#ifndef NDEBUG
	if (!v->threaded) {
		struct hwwalk_result full;

		SMMU_ASSERT(hwwalk_full(&v->walk, gva, access, &full) == r);
		SMMU_ASSERT(full.error_code == w->error_code && full.level == w->level &&
		            full.access == w->access && full.spte == w->spte &&
		            full.sptep == w->sptep);
		SMMU_ASSERT(r != HWWALK_OK || (full.hpa == w->hpa && full.pkey == w->pkey &&
		                               full.global == w->global && full.dirty == w->dirty));
	}
#endif
	return r;
}

/* ---- TDP mode: the 2D walk and its EPT exits -------------------------------- */

/*
 * Tell the MMU about an EPT exit (outside guest mode, as KVM's
 * handle_ept_violation runs).  When it answers MMIO for a guest
 * paging-structure entry, read that entry through the ordinary guest-memory
 * ops now, still outside guest mode, for the walks that follow.
 */
static enum vcpu_pf_action vcpu_ept_exit(struct vcpu_cpu *v, gva_t gva,
                                         enum smmu_access_type access,
                                         const struct walk2d_result *w, unsigned size,
                                         uint64_t value, unsigned retry,
                                         struct walk2d_slow *slow, struct vcpu_pf_reply *reply)
{
	struct vcpu_exit exit = {
	    .reason = w->exit,
	    .error_code = w->error_code,
	    .level = w->ept.level,
	    .spte = w->ept.entry,
	    .size = size,
	    .value = value,
	    .retry = retry,
	    .gpa = w->gpa,
	    .exit_qual = w->exit_qual,
	};
	enum vcpu_pf_action act;

	*reply = (struct vcpu_pf_reply){0};
	v->stats.exits[w->exit]++;
	vcpu_exit_guest(v);
	act = v->mmu_ops->page_fault(v->mmu_ctx, gva, access, &exit, reply);
	if (act == VCPU_PF_MMIO && !(w->exit_qual & EPT_QUAL_GVA_FINAL)) {
		walk2d_slow_load(slow, v->gpa_ops, w->gpa, w->pte_size);
		act = VCPU_PF_RETRY;
	}
	/* As in shadow mode (vcpu_call_page_fault): a flush meanwhile withdraws the hand-back. */
	if (vcpu_enter_guest(v))
		reply->leaf_level = 0;
	return act;
}

/* One 2D walk, counted. */
static enum walk2d_outcome vcpu_walk_2d(struct vcpu_cpu *v, const struct walk2d_slow *slow,
                                        gva_t gva, enum smmu_access_type access,
                                        struct walk2d_result *w)
{
	const struct walk2d_env env = {.ept = &v->ept,
	                               .state = &v->state,
	                               .model = &v->model,
	                               .ntlb = &v->ntlb,
	                               .psc2d = &v->psc2d,
	                               .paging = &v->paging,
	                               .pcid = v->pcid,
	                               .check = !v->threaded};
	enum walk2d_outcome r = walk2d(&env, slow, gva, access, w);

	vcpu_count_walk(v, w->refs);
	v->stats.psc2d_hits += w->psc2d_hit;
	v->stats.nested_tlb_hits = v->ntlb.hits;
	v->stats.nested_tlb_misses = v->ntlb.misses;
	v->stats.nested_pde_hits = v->ntlb.pde_hits;
	return r;
}

/* A walk that ended without an exit to the MMU: the translation or the guest's fault. */
static enum vcpu_result vcpu_walk_2d_done(struct vcpu_cpu *v, gva_t gva,
                                          const struct walk2d_result *w,
                                          struct vcpu_outcome *out, hpa_t *hpa)
{
	switch (w->outcome) {
	case WALK2D_OK:
		if (w->cacheable)
			tlb_fill(&v->tlb, gva, v->pcid, &w->fill);
		*hpa = w->hpa;
		return VCPU_OK;
	case WALK2D_GUEST_PF:
		out->error_code = w->error_code;
		out->cr2 = v->cr2 = gva;
		return VCPU_PF;
	case WALK2D_GUEST_GP:
		return VCPU_GP;
	default: /* an EPT entry aimed outside the arena: nothing the MMU can fix */
		return VCPU_EMUL_FAIL;
	}
}

static bool vcpu_take_ept_leaf(struct vcpu_cpu *v, const struct walk2d_slow *slow, gva_t gva,
                               enum smmu_access_type access, struct walk2d_result *w,
                               const struct vcpu_pf_reply *reply)
{
	const struct walk2d_env env = {.ept = &v->ept,
	                               .state = &v->state,
	                               .model = &v->model,
	                               .paging = &v->paging,
	                               .pcid = v->pcid,
	                               .check = !v->threaded};

	return walk2d_complete(&env, slow, gva, access, w, reply->leaf_spte, reply->leaf_level);
}

/*
 * TDP mode's slow path: walk in two dimensions; a guest fault goes to the
 * guest, an EPT violation / misconfiguration (or a missing EPT root) to the
 * MMU, at most VCPU_MAX_FAULT_RETRIES times.
 */
static NOINLINE enum vcpu_result vcpu_translate_2d(struct vcpu_cpu *v, gva_t gva,
                                                   enum smmu_access_type access, unsigned size,
                                                   uint64_t value, struct vcpu_outcome *out,
                                                   hpa_t *hpa)
{
	struct walk2d_slow slow = {0};
	struct walk2d_result w;
	struct vcpu_pf_reply reply;

	for (unsigned retry = 0; retry < VCPU_MAX_FAULT_RETRIES; retry++) {
		enum vcpu_pf_action act;

		if (vcpu_walk_2d(v, &slow, gva, access, &w) != WALK2D_EXIT ||
		    w.exit == HWWALK_BAD_HPA)
			return vcpu_walk_2d_done(v, gva, &w, out, hpa);
		act = vcpu_ept_exit(v, gva, access, &w, size, value, retry, &slow, &reply);
		if (act != VCPU_PF_RETRY)
			return vcpu_resolve(v, act, gva, access, size, &reply, out, hpa);
		/* The EPT leaf the MMU installed finishes this walk (without it: walk again). */
		if (reply.leaf_level && (v->shortcuts & SMMU_SHORTCUT_LEAF_HANDBACK) &&
		    vcpu_take_ept_leaf(v, &slow, gva, access, &w, &reply)) {
			v->stats.leaf_handbacks++;
			return vcpu_walk_2d_done(v, gva, &w, out, hpa);
		}
	}
	v->stats.retries_exhausted++;
	return VCPU_EMUL_FAIL;
}

/*
 * Walk the shadow tables, asking the MMU to fix each exit, at most
 * VCPU_MAX_FAULT_RETRIES times.  VCPU_OK with *hpa, or with *hpa ==
 * INVALID_HPA when the MMU emulated the access; else the final result.
 */
static NOINLINE enum vcpu_result vcpu_translate_slow(struct vcpu_cpu *v, gva_t gva,
                                                     enum smmu_access_type access, unsigned size,
                                                     uint64_t value, struct vcpu_outcome *out,
                                                     hpa_t *hpa)
{
	struct hwwalk_result w;
	struct vcpu_pf_reply reply;

	v->stats.tlb_misses++;
	if (v->tdp)
		return vcpu_translate_2d(v, gva, access, size, value, out, hpa);
	for (unsigned retry = 0; retry < VCPU_MAX_FAULT_RETRIES; retry++) {
		enum vcpu_pf_action act;

		if (vcpu_walk(v, gva, access, &w) == HWWALK_OK) {
			vcpu_fill_tlb(v, gva, &w);
			*hpa = w.hpa;
			return VCPU_OK;
		}
		act = vcpu_call_page_fault(v, gva, access, &w, size, value, retry, &reply);
		if (act != VCPU_PF_RETRY)
			return vcpu_resolve(v, act, gva, access, size, &reply, out, hpa);
		/* Without the hand-back the loop walks again, as hardware re-entering the guest would. */
		if (reply.leaf_level && (v->shortcuts & SMMU_SHORTCUT_LEAF_HANDBACK) &&
		    vcpu_take_leaf(v, gva, access, &reply, hpa))
			return VCPU_OK;
	}
	v->stats.retries_exhausted++;
	return VCPU_EMUL_FAIL;
}

static inline enum vcpu_result vcpu_translate(struct vcpu_cpu *v, gva_t gva,
                                              enum smmu_access_type access, unsigned size,
                                              uint64_t value, struct vcpu_outcome *out, hpa_t *hpa)
{
	struct tlb_entry *e = tlb_lookup(&v->tlb, gva, v->pcid);

	if (likely(e && hw_perm_allows(&v->perm, e->access, e->pkey, access) &&
	           (access != SMMU_ACCESS_WRITE || (e->flags & TLB_F_DIRTY)))) {
		v->stats.tlb_hits++;
		*hpa = e->hpa | (gva & ~PAGE_MASK);
		return VCPU_OK;
	}
	if (e)
		tlb_drop(&v->tlb, e); /* let the walk report the fault (or set D) */
	return vcpu_translate_slow(v, gva, access, size, value, out, hpa);
}

/* The host bytes of [hpa, hpa + size), or NULL: never a pointer outside the arena. */
static inline uint8_t *vcpu_host_ptr(const struct vcpu_cpu *v, hpa_t hpa, unsigned size)
{
	return arena_hpa_to_ptr(v->walk.arena, hpa, size);
}

/*
 * Guest data accesses.  Other vCPUs, and the MMU reading gptes or setting
 * A/D bits, may touch the same bytes at the same time, so each access is
 * one atomic load or store where it is naturally aligned (SDM Vol. 3A
 * 9.1.1: such accesses are atomic on x86), else atomic byte by byte.
 * Little-endian, as the host.
 */
static inline uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	if (!((uintptr_t)p & (size - 1))) {
		switch (size) {
		case 1:
			return __atomic_load_n(p, __ATOMIC_RELAXED);
		case 2:
			return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
		case 4:
			return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
		default:
			return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
		}
	}
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)__atomic_load_n(&p[i], __ATOMIC_RELAXED) << (8 * i);
	return v;
}

static inline void store_le(uint8_t *p, unsigned size, uint64_t val)
{
	if (!((uintptr_t)p & (size - 1))) {
		switch (size) {
		case 1:
			__atomic_store_n(p, (uint8_t)val, __ATOMIC_RELAXED);
			return;
		case 2:
			__atomic_store_n((uint16_t *)p, (uint16_t)val, __ATOMIC_RELAXED);
			return;
		case 4:
			__atomic_store_n((uint32_t *)p, (uint32_t)val, __ATOMIC_RELAXED);
			return;
		default:
			__atomic_store_n((uint64_t *)p, val, __ATOMIC_RELAXED);
			return;
		}
	}
	for (unsigned i = 0; i < size; i++)
		__atomic_store_n(&p[i], (uint8_t)(val >> (8 * i)), __ATOMIC_RELAXED);
}

/*
 * Enter guest mode, check the access and translate it to host bytes.
 * VCPU_OK with *p, or VCPU_OK with *p NULL when the MMU performed the access
 * itself; any other result ends the access.
 */
static inline enum vcpu_result vcpu_access_ptr(struct vcpu_cpu *v, gva_t gva, unsigned size,
                                               enum smmu_access_type access, uint64_t value,
                                               struct vcpu_outcome *out, uint8_t **p)
{
	enum vcpu_result r;
	hpa_t hpa = INVALID_HPA;

	*p = NULL;
	vcpu_enter_guest(v);
	r = vcpu_check_access(v, gva, size);
	if (likely(r == VCPU_OK))
		r = vcpu_translate(v, gva, access, size, value, out, &hpa);
	if (r != VCPU_OK || hpa == INVALID_HPA)
		return r;
	*p = vcpu_host_ptr(v, hpa, size);
	return likely(*p) ? VCPU_OK : VCPU_EMUL_FAIL;
}

/* Translate and load; shared by reads and fetches. */
static inline enum vcpu_result vcpu_load(struct vcpu_cpu *v, gva_t gva, unsigned size,
                                         enum smmu_access_type access, struct vcpu_outcome *out)
{
	uint8_t *p;
	enum vcpu_result r = vcpu_access_ptr(v, gva, size, access, 0, out, &p);

	if (r == VCPU_OK && p)
		out->value = load_le(p, size);
	return vcpu_finish(v, out, r);
}

enum vcpu_result vcpu_cpu_read(struct vcpu_cpu *v, gva_t gva, unsigned size,
                               struct vcpu_outcome *out)
{
	return vcpu_load(v, gva, size, SMMU_ACCESS_READ, out);
}

enum vcpu_result vcpu_cpu_fetch(struct vcpu_cpu *v, gva_t gva, struct vcpu_outcome *out)
{
	return vcpu_load(v, gva, 1, SMMU_ACCESS_FETCH, out);
}

enum vcpu_result vcpu_cpu_write(struct vcpu_cpu *v, gva_t gva, unsigned size, uint64_t value,
                                struct vcpu_outcome *out)
{
	uint8_t *p;
	enum vcpu_result r = vcpu_access_ptr(v, gva, size, SMMU_ACCESS_WRITE, value, out, &p);

	if (r == VCPU_OK && p)
		store_le(p, size, value);
	return vcpu_finish(v, out, r);
}

/*
 * A hint that this vCPU will soon access gva: start loading the host cache
 * line the access will touch, so that its memory latency overlaps the work
 * done before it (an out-of-order processor overlaps independent misses the
 * same way; an interpreter hundreds of instructions per access apart cannot
 * without being told).  Architecturally invisible: it fills no TLB entry,
 * sets no A/D bit, counts nothing and never exits; a wrong guess costs one
 * wasted prefetch.
 *
 * The guess comes from the paging-structure cache and the one spte it
 * names (~20 instructions), not from the TLB: 256 TLB entries cover 1 MiB,
 * which the host's own caches hold anyway, so a TLB probe (~30 more on
 * every hint) would find mostly lines that need no prefetch.  A vCPU
 * whose tables other threads change may not read them outside guest mode,
 * so it guesses from its TLB instead.
 *
 * Hints are dropped at once (~5 instructions) while the TLB is not under
 * pressure (tlb.h): a working set the TLB's 1 MiB covers sits in the
 * host's caches, and there a prefetch only costs.  pingpong, whose TLB is
 * emptied by every context switch but refilled without evictions, pays
 * ~20 instructions per access for its hints instead of ~65.
 */
void vcpu_cpu_prefetch(const struct vcpu_cpu *v, gva_t gva)
{
	hpa_t hpa = INVALID_HPA;
	const uint8_t *p;

	if (!(v->shortcuts & SMMU_SHORTCUT_PREFETCH_HINTS) || v->tlb.pressure < TLB_PRESSURE_HIGH)
		return;
	if (!v->threaded) {
		if (v->psc.gen)
			hpa = hwwalk_peek(&v->walk, gva);
	} else {
		const struct tlb_entry *e = tlb_peek(&v->tlb, gva, v->pcid);

		if (e)
			hpa = e->hpa | (gva & ~PAGE_MASK);
	}
	if (hpa == INVALID_HPA)
		return;
	p = vcpu_host_ptr(v, hpa, 1);
	if (p)
		__builtin_prefetch(p);
}

/* ---- registers, INVLPG, flushes ------------------------------------------- */

static uint64_t vcpu_reg_value(const struct vcpu_cpu *v, enum vcpu_reg which)
{
	switch (which) {
	case VCPU_REG_CR0:
		return v->state.cr0;
	case VCPU_REG_CR3:
		return v->state.cr3;
	case VCPU_REG_CR4:
		return v->state.cr4;
	case VCPU_REG_EFER:
		return v->state.efer;
	default:
		return v->state.pkru;
	}
}

static enum smmu_cr_result vcpu_arch_write(struct vcpu_cpu *v, enum vcpu_reg which, uint64_t val,
                                           enum smmu_tlb_flush *flush)
{
	struct smmu_cpu_state *s = &v->state;

	switch (which) {
	case VCPU_REG_CR0:
		return smmu_x86_write_cr0(s, &v->model, v->gpa_ops, val, flush);
	case VCPU_REG_CR3:
		return smmu_x86_write_cr3(s, &v->model, v->gpa_ops, val, flush);
	case VCPU_REG_CR4:
		return smmu_x86_write_cr4(s, &v->model, v->gpa_ops, val, flush);
	case VCPU_REG_EFER:
		return smmu_x86_write_efer(s, &v->model, val, flush);
	default:
		return smmu_x86_write_pkru(s, &v->model, val);
	}
}

/*
 * The guest paging-structure cache after a register write (SDM 4.10.4.1):
 * MOV to CR3 empties the new PCID's entries unless it asked for no flush;
 * a CR0, CR4 or EFER write (mode, WP, SMEP, PCIDE, ...) empties it all,
 * more than the SDM asks of some of them.  PKRU: nothing is cached by key.
 */
static void vcpu_psc2d_reg_write(struct vcpu_cpu *v, enum vcpu_reg which,
                                 enum smmu_tlb_flush flush)
{
	if (which == VCPU_REG_CR3) {
		if (flush != SMMU_FLUSH_NONE)
			psc2d_flush_pcid(&v->psc2d, v->pcid);
	} else if (which != VCPU_REG_PKRU) {
		psc2d_flush(&v->psc2d);
	}
}

static enum vcpu_result vcpu_count(struct vcpu_cpu *v, enum vcpu_result r)
{
	v->stats.results[r]++;
	return r;
}

enum vcpu_result vcpu_cpu_write_reg(struct vcpu_cpu *v, enum vcpu_reg which, uint64_t val)
{
	enum smmu_tlb_flush flush = SMMU_FLUSH_NONE;
	uint64_t old = vcpu_reg_value(v, which);
	enum smmu_cr_result r;

	if ((unsigned)which > VCPU_REG_PKRU)
		return vcpu_count(v, VCPU_INVALID);
	vcpu_check_requests(v);
	r = vcpu_arch_write(v, which, val, &flush);
	if (r != SMMU_CR_OK)
		return vcpu_count(v, r == SMMU_CR_UD ? VCPU_UD : VCPU_GP);
	/* MOV to CR3 (every context switch) can change only the PCID of what we cache. */
	if (which == VCPU_REG_CR3)
		v->pcid = (v->state.cr4 & X86_CR4_PCIDE) ? (unsigned)(v->state.cr3 & X86_CR3_PCID_MASK) : 0;
	else
		vcpu_refresh_mode(v);
	tlb_flush(&v->tlb, flush, v->pcid);
	if (v->tdp)
		vcpu_psc2d_reg_write(v, which, flush);
	/* The MMU switches roots first, then syncs for the flush (KVM: new pgd, then flush). */
	if (which == VCPU_REG_CR3 && v->mmu_ops->cr3_changed) {
		v->mmu_ops->cr3_changed(v->mmu_ctx, flush);
		return vcpu_count(v, VCPU_OK);
	}
	if (v->mmu_ops->cr_changed)
		v->mmu_ops->cr_changed(v->mmu_ctx, which, old, vcpu_reg_value(v, which));
	if (flush != SMMU_FLUSH_NONE && v->mmu_ops->tlb_flush)
		v->mmu_ops->tlb_flush(v->mmu_ctx, flush);
	return vcpu_count(v, VCPU_OK);
}

enum vcpu_result vcpu_cpu_invlpg(struct vcpu_cpu *v, gva_t gva)
{
	vcpu_check_requests(v);
	if (v->state.cpl == 3)
		return vcpu_count(v, VCPU_GP);
	if (!v->long_mode && (gva >> 32))
		return vcpu_count(v, VCPU_INVALID);
	if (vcpu_check_access(v, gva & PAGE_MASK, 1) != VCPU_OK)
		return vcpu_count(v,
		                  VCPU_OK); /* SDM: INVLPG of a non-canonical address is a no-op */
	tlb_invlpg(&v->tlb, gva, v->pcid);
	/* SDM 4.10.4.1: INVLPG empties every paging-structure cache entry of the current PCID. */
	if (v->tdp)
		psc2d_flush_pcid(&v->psc2d, v->pcid);
	if (v->mmu_ops->invlpg)
		v->mmu_ops->invlpg(v->mmu_ctx, gva);
	return vcpu_count(v, VCPU_OK);
}

void vcpu_cpu_flush(struct vcpu_cpu *v)
{
	vcpu_check_requests(v);
	tlb_flush(&v->tlb, SMMU_FLUSH_ALL, v->pcid);
	if (v->tdp)
		psc2d_flush(&v->psc2d);
	if (v->mmu_ops->tlb_flush)
		v->mmu_ops->tlb_flush(v->mmu_ctx, SMMU_FLUSH_ALL);
}

int vcpu_cpu_set_cpl(struct vcpu_cpu *v, unsigned cpl)
{
	if (cpl != 0 && cpl != 3)
		return -EINVAL;
	if (cpl == v->state.cpl)
		return 0;
	v->state.cpl = cpl;
	vcpu_refresh_cpl(v);
	return 0;
}

void vcpu_cpu_set_ac(struct vcpu_cpu *v, bool ac)
{
	v->state.ac = ac;
	vcpu_refresh_mode(v);
}

int vcpu_cpu_set_root(struct vcpu_cpu *v, hpa_t root, unsigned level)
{
	if (level != 4 && level != 5)
		return -EINVAL;
	if (root != INVALID_HPA && (root & ~PAGE_MASK))
		return -EINVAL;
	if (v->tdp) {
		if (root != v->ept.root || level != v->ept.level)
			vcpu_flush_2d_caches(v);
		v->ept.root = root;
		v->ept.level = level;
		return 0;
	}
	/* Entries are tagged by root; a change of level (4 <-> 5) empties the cache. */
	if (level != v->walk.root_level)
		psc_flush(&v->psc);
	v->walk.root = root;
	v->walk.root_level = level;
	return 0;
}

void vcpu_cpu_tlb_flush(struct vcpu_cpu *v, enum smmu_tlb_flush kind)
{
	tlb_flush(&v->tlb, kind, v->pcid);
	if (v->tdp && kind != SMMU_FLUSH_NONE)
		vcpu_flush_2d_caches(v);
}

