/*
 * fault.c - the shadow page fault (KVM's FNAME(page_fault) and the shadow
 * walk KVM calls FNAME(fetch); "fetch" here means only an instruction
 * fetch, so that walk is shadow_walk_to / shadow_map.  Documentation/virt/
 * kvm/mmu.rst, "Reaction to events"):
 *
 *   1. walk the guest tables; if the guest translation faults, the fault is
 *      the guest's: reflect it (#PF with the walker's error code);
 *   2. gfn -> memslot; no slot: MMIO, a read-only slot refuses writes;
 *   3. walk the shadow tables from the root, finding or creating the shadow
 *      page for each guest table on the way (indirect pages) and, below a
 *      guest large page mapped with smaller sptes, direct pages;
 *   4. install the leaf spte (spte_make.c), which may find the gfn is a
 *      shadowed guest page table: then the write is emulated.
 *
 * The guest walk sets A/D in the gptes (SDM 4.8), as the hardware would
 * have done had it walked the guest's tables itself.
 */
#include <errno.h>
#include <string.h>

#include "mmu/fault_entry.h"
#include "mmu/shadow/shadow.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/get_sp.h"
#include "mmu/shadow/pool.h"
#include "mmu/shadow/pte_write.h"
#include "mmu/shadow/root.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/spte_make.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/shadow/zap_all.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"

/* Rights granted by one guest entry at `level` (SDM 4.6); PDPTE registers grant all. */
static unsigned guest_entry_access(const struct mmu_vcpu *v, uint64_t gpte, unsigned level)
{
	unsigned acc = 0;

	if (v->mode == SMMU_PAGING_PAE && level == 3)
		return ACC_ALL;
	if (gpte & X86_PTE_RW)
		acc |= SMMU_ACC_W;
	if (gpte & X86_PTE_US)
		acc |= SMMU_ACC_U;
	if (!(v->ctx_role.efer_nx && (gpte & X86_PTE_NX)))
		acc |= SMMU_ACC_X;
	return acc;
}

/* Rights of the guest entries above a table at `level` (KVM's pt_access). */
static unsigned walk_pt_access(const struct mmu_vcpu *v, const struct smmu_walk *w, unsigned level)
{
	unsigned acc = ACC_ALL;

	for (unsigned l = level + 1; l <= w->root_level; l++)
		acc &= guest_entry_access(v, w->gpte[l - 1], l);
	return acc;
}

/* The largest spte level for this translation: guest page size, host backing, tracking. */
static unsigned leaf_level(struct mmu_vcpu *v, const struct smmu_walk *w, struct memslot *slot,
                           gfn_t gfn)
{
	unsigned max = 3;

	if (v->mode != SMMU_PAGING_OFF)
		max = w->level;
	if (max > 2 && !v->model->gbpages)
		max = 2;
	if (max == 1)
		return 1; /* a 4 KiB guest page: nothing to decide */
	return mmu_max_mapping_level(v->vm, slot, gfn, max);
}

/* Role of the page at `level` under a guest walk: indirect above the guest leaf. */
static union sp_role child_role(const struct mmu_vcpu *v, const struct smmu_walk *w, gva_t gva,
                                unsigned level, unsigned leaf_access, gfn_t *gfn, gfn_t leaf_gfn)
{
	union sp_role role = v->ctx_role;
	bool indirect = v->mode != SMMU_PAGING_OFF && level >= w->level;

	role.level = level;
	if (indirect) {
		role.access = walk_pt_access(v, w, level);
		*gfn = w->pte_gpa[level - 1] >> PAGE_SHIFT;
		if (role.has_4_byte_gpte && level == 1)
			role.quadrant = (gva >> 21) & 1;
	} else {
		role.direct = 1;
		role.has_4_byte_gpte = 0;
		role.access = leaf_access;
		/* the sptes carry the leaf's key: one page per key (SDM 4.6.2) */
		role.pkey = v->mode == SMMU_PAGING_OFF ? 0 : w->pkey;
		*gfn = leaf_gfn & ~(((gfn_t)1 << (9 * level)) - 1);
	}
	return role;
}

/* CR0.WP = 0: a supervisor write to a read-only page is allowed (SDM 4.6.1). */
static unsigned leaf_access_for(const struct mmu_vcpu *v, const struct smmu_walk *w,
                                const struct mmu_fault *f, bool *emulate)
{
	unsigned acc = v->mode == SMMU_PAGING_OFF ? ACC_ALL : w->access;
	const struct smmu_cpu_state *s = v->cpu;

	if (f->access != SMMU_ACCESS_WRITE || s->cpl == 3 || (acc & SMMU_ACC_W) ||
	    v->ctx_role.cr0_wp)
		return acc;
	/*
	 * KVM makes such an spte writable but supervisor-only, so a later user
	 * access faults and is re-evaluated; with SMEP it also drops X.  Under
	 * SMAP or protection keys a supervisor-only spte would hide faults the
	 * guest must see (hardware applies them to user pages only), so the
	 * write is emulated instead.
	 */
	if (s->cr4 & (X86_CR4_SMAP | X86_CR4_PKE)) {
		*emulate = true;
		return acc;
	}
	acc = (acc | SMMU_ACC_W) & ~SMMU_ACC_U;
	if (s->cr4 & X86_CR4_SMEP)
		acc &= ~SMMU_ACC_X;
	return acc;
}

static enum mmu_fault_action emulate_write(struct mmu_vcpu *v, struct mmu_fault *f)
{
	struct mmu_vm *vm = v->vm;

	vm->stat.pf_emulate++;
	if (mmu_write_guest(vm, f->gpa, f->size, f->wdata))
		return MMU_FAULT_MMIO;
	mmu_pte_write(v, f->gpa, f->size);
	return MMU_FAULT_EMULATED;
}

#ifndef NDEBUG
/* Debug builds: a path taken from last_path is the one a full walk finds. */
static void fault_path_check(struct mmu_vcpu *v, gva_t gva, const struct sp *leaf_sp)
{
	struct shadow_walk it;

	SMMU_ASSERT(shadow_walk_init(v, &v->root, gva, &it));
	for (; it.level > 1; it.level--) {
		uint64_t spte = spte_get(&it.sp->spt[spte_index(gva, it.level)]);

		SMMU_ASSERT(is_shadow_present_spte(spte) && !is_mmio_spte(spte) &&
		            !is_last_spte(spte, it.level));
		it.sp = sp_from_hpa(v->vm, spte_to_hpa(spte));
		SMMU_ASSERT(it.sp && !it.sp->role.direct);
	}
	SMMU_ASSERT(it.sp == leaf_sp);
}
#else
static void fault_path_check(struct mmu_vcpu *v, gva_t gva, const struct sp *leaf_sp)
{
}
#endif

/*
 * The last fault's path (mmu_vcpu.last_path), if it leads to gva's level-1
 * page: the same root and 2 MiB region, and table_gen unchanged since it
 * was recorded, so every link on it is still there and every page alive.
 * What the walk would have done on the way is done here too: each page on
 * the path is in use as a page table again (write_flooding_count = 0).
 */
static bool fault_path_hit(struct mmu_vcpu *v, gva_t gva, struct shadow_walk *it)
{
	const struct fault_path *p = &v->last_path;

	if (!(v->vm->shortcuts & SMMU_SHORTCUT_FAULT_PATH))
		return false;
	if (!p->nr || p->root != v->root.hpa || p->region != gva >> 21 ||
	    p->gen != __atomic_load_n(&v->vm->table_gen, __ATOMIC_RELAXED))
		return false;
	for (unsigned i = 0; i < p->nr; i++)
		p->sp[i]->write_flooding_count = 0;
	it->sp = p->sp[p->nr - 1];
	it->level = 1;
	fault_path_check(v, gva, it->sp);
	return true;
}

/* Record a path that reached level 1 through indirect pages only. */
static void fault_path_record(struct mmu_vcpu *v, gva_t gva, struct sp *const *path, unsigned nr)
{
	struct fault_path *p = &v->last_path;

	if (!(v->vm->shortcuts & SMMU_SHORTCUT_FAULT_PATH))
		return;
	p->root = v->root.hpa;
	p->region = gva >> 21;
	p->gen = __atomic_load_n(&v->vm->table_gen, __ATOMIC_RELAXED);
	p->nr = nr;
	memcpy(p->sp, path, nr * sizeof(*path));
}

/*
 * Step 3: walk the shadow tables from the root down to `target`, following
 * present links and creating the missing pages; it->sp and it->level are the
 * page and level the leaf goes in.  false: no root table for gva.
 * Always inlined: the fault path would otherwise pay a call and its spills
 * (~35 instructions per fault) because the cold MMIO path calls it too.
 */
static inline __attribute__((always_inline)) bool
shadow_walk_to(struct mmu_vcpu *v, const struct smmu_walk *w, gva_t gva, gfn_t gfn,
               unsigned target, unsigned direct_access, unsigned req_pkey, struct shadow_walk *it)
{
	struct mmu_vm *vm = v->vm;
	struct sp *path[5];
	unsigned nr = 0;
	bool indirect = true;

	if (target == 1 && fault_path_hit(v, gva, it))
		return true;
	if (!shadow_walk_init(v, &v->root, gva, it))
		return false;
	for (;;) {
		uint64_t *sptep = &it->sp->spt[spte_index(gva, it->level)];
		uint64_t spte = spte_get(sptep);
		union sp_role role;
		gfn_t child_gfn;
		struct sp *child;

		it->sp->write_flooding_count = 0;
		if (nr < 5)
			path[nr++] = it->sp;
		else
			indirect = false; /* deeper than any x86 mode: not recorded */
		indirect &= !it->sp->role.direct;
		if (it->level == target)
			break;
		if (is_shadow_present_spte(spte) && !is_mmio_spte(spte) &&
		    !is_last_spte(spte, it->level)) {
			child = sp_from_hpa(vm, spte_to_hpa(spte));
			/* KVM's validate_direct_spte: replace a direct child with other rights */
			if (!child->role.direct ||
			    (child->role.access == direct_access && child->role.pkey == req_pkey)) {
				it->sp = child;
				it->level--;
				continue;
			}
		}
		if (mmu_zap_spte(vm, it->sp, sptep))
			mmu_flush_remote_tlbs(vm);
		role = child_role(v, w, gva, it->level - 1, direct_access, &child_gfn, gfn);
		/*
		 * Finding or creating the child may sync, zap or write-protect
		 * pages of child_gfn: those are leaf-level pages and leaf sptes,
		 * never it->sp (a page above the child), so the path stays valid.
		 */
		child = mmu_get_sp(v, child_gfn, role);
		link_child_sp(v, sptep, child);
		it->sp = child;
		it->level--;
	}
	if (target == 1 && indirect)
		fault_path_record(v, gva, path, nr);
	return true;
}

/* Steps 3 and 4: shadow walk down to the leaf, creating pages, then the spte. */
static enum set_spte_result shadow_map(struct mmu_vcpu *v, const struct smmu_walk *w,
                                       struct mmu_fault *f, struct memslot *slot,
                                       unsigned access)
{
	gfn_t gfn = gpa_to_gfn(f->gpa);
	unsigned target = leaf_level(v, w, slot, gfn);
	bool dirty = v->mode == SMMU_PAGING_OFF || (w->gpte[w->level - 1] & X86_PTE_D);
	/*
	 * KVM's protect_clean_gpte: the direct pages below a guest large page
	 * are shared by every gpte mapping that gfn range with the same role,
	 * so a clean gpte must get a role without W: else a writable spte that
	 * a dirty alias installed would let this mapping write without the
	 * walk that sets its D bit (SDM 4.8).
	 */
	unsigned direct_access = dirty ? access : access & ~SMMU_ACC_W;
	unsigned req_pkey = v->mode == SMMU_PAGING_OFF ? 0 : w->pkey;
	struct shadow_walk it;
	struct leaf_request req;
	enum set_spte_result r;

	if (!shadow_walk_to(v, w, f->gva, gfn, target, direct_access, req_pkey, &it))
		return SET_SPTE_NOMEM;
	it.sptep = &it.sp->spt[spte_index(f->gva, it.level)];
	memset(&req, 0, sizeof(req));
	req.gfn = gfn;
	req.level = target;
	req.access = access;
	req.pkey = req_pkey;
	req.gpte_dirty = dirty;
	req.write_fault = f->access == SMMU_ACCESS_WRITE;
	req.user_fault = v->cpu->cpl == 3;
	req.slot = slot;
	r = mmu_set_spte(v, it.sp, it.sptep, &req);
	if (r == SET_SPTE_OK) {
		f->leaf_spte = spte_get(it.sptep);
		f->leaf_level = target;
	}
	return r;
}

/*
 * A shadow walk linked a page with unsync children in again (mmu_get_sp):
 * sync the roots before the guest runs on that path.  True if it did.
 */
static bool sync_if_needed(struct mmu_vcpu *v)
{
	if (!v->need_sync)
		return false;
	v->need_sync = false;
	mmu_sync_roots(v);
	return true;
}

/*
 * MMIO sptes (spte.h; KVM's mark_mmio_spte and handle_mmio_page_fault).  A
 * gfn no memslot backs gets a leaf spte that the hardware walk stops at with
 * a reserved-bit exit, carrying the gfn, the guest's rights and the memslot
 * generation; the next access through it is answered from the spte alone,
 * without a guest walk, while the generation is current (every memslot
 * change moves it) and the rights plainly allow the access.  Only 18 bits
 * of the generation fit, so MMIO sptes are made and trusted only while the
 * generation is below 2^18 (KVM zaps them all when its field wraps; a VM
 * that changes its memslots 262,144 times falls back to walking instead).
 */
static bool mmio_gen_usable(const struct mmu_vm *vm, uint64_t *gen)
{
	*gen = mmu_memslots_generation((struct mmu_vm *)vm);
	return *gen <= SPTE_MMIO_GEN_MASK;
}

/*
 * Whether the rights an MMIO spte cached allow the access outright.  Anything
 * that needs more than W and U - fetches (NX, SMEP), SMAP, protection keys,
 * a supervisor write to a read-only page under CR0.WP = 0 - takes the full
 * path, whose guest walk decides (SDM 4.6).
 */
static bool mmio_access_allowed(const struct mmu_vcpu *v, unsigned acc,
                                enum smmu_access_type access)
{
	const struct smmu_cpu_state *s = v->cpu;
	bool user_page = acc & SMMU_ACC_U;

	if (access == SMMU_ACCESS_FETCH || (user_page && (s->cr4 & X86_CR4_PKE)))
		return false;
	if (s->cpl == 3 ? !user_page : user_page && (s->cr4 & X86_CR4_SMAP) && !s->ac)
		return false;
	return access != SMMU_ACCESS_WRITE || (acc & SMMU_ACC_W);
}

/* A reserved-bit exit at a current MMIO spte: MMIO, no walk. */
static bool mmio_fault_fast(struct mmu_vcpu *v, struct mmu_fault *f)
{
	uint64_t spte = f->exit_spte, gen;

	if (!(v->vm->shortcuts & SMMU_SHORTCUT_MMIO_SPTE))
		return false;
	if (!is_mmio_spte(spte) || !mmio_gen_usable(v->vm, &gen) ||
	    !spte_mmio_gen_matches(spte, gen) ||
	    !mmio_access_allowed(v, spte_mmio_access(spte), f->access))
		return false;
	f->gpa = gfn_to_gpa(spte_mmio_gfn(spte)) | (f->gva & ~PAGE_MASK);
	v->vm->stat.pf_mmio++;
	v->vm->stat.pf_mmio_spte++;
	return true;
}

/*
 * Leave an MMIO spte for gva after a walk that found no memslot for its gpa.
 * The rights are the guest's, without W while the gpte is clean (a write
 * must come back through the walk that sets D, SDM 4.8).  Only an empty or
 * MMIO leaf slot is written: a present spte cannot map a gfn without a slot
 * (deleting a slot zaps everything), and if one did, it stays as it is.
 */
static NOINLINE void mmio_spte_install(struct mmu_vcpu *v, const struct smmu_walk *w, gva_t gva)
{
	gfn_t gfn = gpa_to_gfn(w->gpa);
	bool paging = v->mode != SMMU_PAGING_OFF;
	bool dirty = !paging || (w->gpte[w->level - 1] & X86_PTE_D);
	unsigned acc = paging ? w->access : ACC_ALL;
	unsigned direct_access = dirty ? acc : acc & ~SMMU_ACC_W;
	struct shadow_walk it;
	uint64_t *sptep, old, gen;

	if (!(v->vm->shortcuts & SMMU_SHORTCUT_MMIO_SPTE))
		return; /* every MMIO access then walks the guest tables */
	if (!mmio_gen_usable(v->vm, &gen) || gfn >> SPTE_MMIO_GFN_BITS ||
	    mmu_make_pages_available(v) ||
	    !shadow_walk_to(v, w, gva, gfn, 1, direct_access, paging ? w->pkey : 0, &it))
		return;
	sptep = &it.sp->spt[spte_index(gva, 1)];
	old = spte_get(sptep);
	if (old && !is_mmio_spte(old))
		return;
	mmu_spte_set(sptep, spte_make_mmio(gfn, direct_access, gen));
	sync_if_needed(v);
}

static enum mmu_fault_action page_fault_locked(struct mmu_vcpu *v, struct mmu_fault *f)
{
	struct mmu_vm *vm = v->vm;
	struct smmu_walk w;
	struct memslot *slot;
	bool emulate = false;
	unsigned access;
	enum set_spte_result r;

	enum smmu_walk_outcome outcome;

	if (unlikely(f->exit_spte) && mmio_fault_fast(v, f))
		return MMU_FAULT_MMIO;
	if (unlikely(!v->paging.desc || v->paging.cr0 != v->cpu->cr0 ||
	             v->paging.cr4 != v->cpu->cr4 || v->paging.efer != v->cpu->efer))
		x86_paging_init(&v->paging, v->cpu, v->model);
	outcome = x86_walk_gva(&v->paging, v->cpu, &vm->gpa_ops_locked, f->gva, f->access, &w);

	/* An A/D update met a merged page table: map nothing until it is unshared and walked again. */
	if (unlikely(vm->cow_pending))
		return MMU_FAULT_RETRY;
	if (outcome != SMMU_WALK_OK) {
		vm->stat.pf_guest++;
		f->error_code = w.error_code;
		return w.outcome == SMMU_WALK_GP ? MMU_FAULT_GP : MMU_FAULT_PF;
	}
	f->gpa = w.gpa;
	slot = mmu_gfn_to_slot(vm, gpa_to_gfn(w.gpa));
	if (!slot || (f->access == SMMU_ACCESS_WRITE && mmu_slot_readonly(slot))) {
		vm->stat.pf_mmio++;
		if (!slot)
			mmio_spte_install(v, &w, f->gva);
		return MMU_FAULT_MMIO;
	}
	/* The host is changing this page right now: let the vCPU retry (KVM's mmu_invalidate_retry). */
	if (unlikely(vm->invalidate.in_progress) &&
	    mmu_invalidate_retry_hva(&vm->invalidate, vm->invalidate.seq,
	                             mmu_slot_gfn_to_hva(slot, gpa_to_gfn(w.gpa))))
		return MMU_FAULT_RETRY;
	access = leaf_access_for(v, &w, f, &emulate);
	if (emulate)
		return emulate_write(v, f);
	if (mmu_make_pages_available(v))
		return MMU_FAULT_ERROR;
	r = shadow_map(v, &w, f, slot, access);
	if (sync_if_needed(v))
		f->leaf_level = 0; /* the sync may have dropped the leaf */
	switch (r) {
	case SET_SPTE_OK:
		vm->stat.pf_fixed++;
		return MMU_FAULT_RETRY;
	case SET_SPTE_WRITE_PROTECTED:
		return emulate_write(v, f);
	case SET_SPTE_MMIO:
		vm->stat.pf_mmio++;
		return MMU_FAULT_MMIO;
	case SET_SPTE_NOMEM:
		return MMU_FAULT_ERROR;
	case SET_SPTE_RETRY:
		break;
	}
	return MMU_FAULT_RETRY;
}

static enum mmu_fault_action shadow_fault_locked(struct mmu_vcpu *v, struct mmu_fault *f)
{
	mmu_reclaim_step(v->vm);
	if (mmu_load_locked(v))
		return MMU_FAULT_ERROR;
	return page_fault_locked(v, f);
}

enum mmu_fault_action shadow_page_fault(struct mmu_vcpu *v, struct mmu_fault *f)
{
	return mmu_fault_enter(v, f, shadow_fault_locked);
}
