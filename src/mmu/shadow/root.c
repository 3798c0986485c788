/*
 * root.c - roots: building them for the current paging mode, the cache of
 * recent roots that makes a cr3 switch back to a known address space cheap
 * (KVM's prev_roots and fast_pgd_switch), and releasing them.
 *
 * A root shadow page is referenced by root_count, once per vCPU slot
 * (current or cached) that holds it; recycling never takes a page with
 * root_count > 0, and a zapped root is only marked invalid and freed when
 * its last reference goes.  Only 4- and 5-level roots are cached: a PAE or
 * 32-bit root depends on four PDPTE registers and is rebuilt (its pages are
 * found again in the hash) on each cr3 load, as in KVM.
 */
#include <string.h>

#include "mmu/shadow/shadow.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/get_sp.h"
#include "mmu/shadow/root.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/sync.h"
#include "mmu/shadow/zap.h"
#include "mmu/spte_ops.h"

static bool mode_has_cached_roots(enum smmu_paging_mode mode)
{
	return mode == SMMU_PAGING_4LEVEL || mode == SMMU_PAGING_5LEVEL;
}

static bool mode_uses_pae_root(enum smmu_paging_mode mode)
{
	return mode == SMMU_PAGING_32BIT || mode == SMMU_PAGING_PAE;
}

bool shadow_walk_init(struct mmu_vcpu *v, const struct mmu_root *root, gva_t gva,
                      struct shadow_walk *it)
{
	uint64_t e;

	it->sptep = NULL;
	if (root->hpa == INVALID_HPA)
		return false;
	if (root->hpa != v->lm_root_hpa) {
		it->sp = sp_from_hpa(v->vm, root->hpa);
		it->level = it->sp ? it->sp->role.level : 0;
		return it->sp != NULL;
	}
	e = v->pae_root[(gva >> 30) & 3];
	if (!is_shadow_present_spte(e) || (gva >> 32))
		return false;
	it->sp = sp_from_hpa(v->vm, spte_to_hpa(e));
	it->level = 2;
	return it->sp != NULL;
}

/* The pgd a root shadows: cr3's table address (PCID and flags dropped). */
static uint64_t cr3_pgd(const struct mmu_vcpu *v)
{
	uint64_t cr3 = v->cpu->cr3;

	if (v->mode == SMMU_PAGING_32BIT)
		return cr3 & 0xfffff000ull;
	if (v->mode == SMMU_PAGING_PAE)
		return cr3 & 0xffffffe0ull;
	return cr3 & bits_range(v->model->maxphyaddr - 1, 12);
}

static union sp_role root_role(const struct mmu_vcpu *v)
{
	union sp_role role = v->ctx_role;

	role.access = ACC_ALL;
	switch (v->mode) {
	case SMMU_PAGING_OFF:
		role.level = 4;
		role.direct = 1;
		role.has_4_byte_gpte = 0;
		break;
	case SMMU_PAGING_5LEVEL:
		role.level = 5;
		break;
	case SMMU_PAGING_4LEVEL:
		role.level = 4;
		break;
	default:
		role.level = 2;
		break;
	}
	return role;
}

static struct sp *get_root_sp(struct mmu_vcpu *v, gfn_t gfn, union sp_role role)
{
	struct sp *sp = mmu_get_sp(v, gfn, role);

	sp->root_count++;
	return sp;
}

/* Fill the special PML4 and PDPT for a PAE or 32-bit guest. */
static void load_pae_roots(struct mmu_vcpu *v, union sp_role role)
{
	for (unsigned i = 0; i < 4; i++) {
		gfn_t gfn;
		struct sp *sp;

		if (v->mode == SMMU_PAGING_PAE) {
			uint64_t pdpte = v->cpu->pdptrs[i];

			if (!(pdpte & X86_PTE_P)) {
				mmu_spte_clear(&v->pae_root[i]);
				continue;
			}
			gfn = (pdpte & bits_range(v->model->maxphyaddr - 1, 12)) >> PAGE_SHIFT;
		} else {
			gfn = (v->cpu->cr3 & 0xfffff000ull) >> PAGE_SHIFT;
			role.quadrant = i;
		}
		sp = get_root_sp(v, gfn, role);
		mmu_spte_set(&v->pae_root[i], spte_make_nonleaf(sp->spt_hpa));
	}
	mmu_spte_set(&v->lm_root[0], spte_make_nonleaf(v->pae_root_hpa));
	mmu_tables_changed(v->vm);
}

/* A root page that was zapped (invalid) or obsoleted by a zap-all. */
static bool root_sp_stale(struct mmu_vcpu *v, hpa_t hpa)
{
	struct sp *sp = sp_from_hpa(v->vm, hpa);

	return !sp || sp->role.invalid || sp_is_obsolete(v->vm, sp);
}

/*
 * Must the current root be rebuilt?  For PAE and 32-bit guests the root is
 * the vCPU's own pae_root, and the pages that can go stale are the four
 * page-directory roots under it: a zapped one has left the hash, so guest
 * writes to its table no longer reach it, and faults must not refill it
 * (KVM reloads the MMU of every vCPU using a zapped root).
 */
static bool current_root_stale(struct mmu_vcpu *v)
{
	if (v->root.hpa == INVALID_HPA)
		return true;
	if (v->root.hpa != v->lm_root_hpa)
		return root_sp_stale(v, v->root.hpa);
	for (unsigned i = 0; i < 4; i++)
		if (is_shadow_present_spte(v->pae_root[i]) &&
		    root_sp_stale(v, spte_to_hpa(v->pae_root[i])))
			return true;
	return false;
}

/* Build (or find) the root for the current mode and cr3 (KVM's kvm_mmu_load). */
int mmu_load_locked(struct mmu_vcpu *v)
{
	union sp_role role;
	struct sp *sp;

	if (v->root.hpa != INVALID_HPA) {
		if (!current_root_stale(v))
			return 0;
		mmu_free_roots(v, false);
	}
	role = root_role(v);
	v->vm->stat.root_load++;
	if (mode_uses_pae_root(v->mode)) {
		load_pae_roots(v, role);
		v->root.hpa = v->lm_root_hpa;
	} else {
		sp =
		    get_root_sp(v, v->mode == SMMU_PAGING_OFF ? 0 : cr3_pgd(v) >> PAGE_SHIFT, role);
		v->root.hpa = sp->spt_hpa;
	}
	v->root.pgd = v->mode == SMMU_PAGING_OFF ? 0 : cr3_pgd(v);
	v->root.role = role;
	if (!v->root.role.direct)
		mmu_sync_roots(v);
	return 0;
}

void mmu_put_root_sp(struct mmu_vm *vm, struct sp *sp)
{
	struct list_head invalid_list;

	SMMU_ASSERT(sp->root_count > 0);
	if (--sp->root_count || !sp->role.invalid)
		return;
	list_init(&invalid_list);
	mmu_prepare_zap_page(vm, sp, &invalid_list);
	mmu_commit_zap_page(vm, &invalid_list);
}

static void put_root(struct mmu_vcpu *v, struct mmu_root *root)
{
	if (root->hpa == INVALID_HPA)
		return;
	if (root->hpa == v->lm_root_hpa) {
		for (unsigned i = 0; i < 4; i++) {
			if (is_shadow_present_spte(v->pae_root[i]))
				mmu_put_root_sp(v->vm,
				                sp_from_hpa(v->vm, spte_to_hpa(v->pae_root[i])));
			mmu_spte_clear(&v->pae_root[i]);
		}
		mmu_tables_changed(v->vm);
	} else {
		mmu_put_root_sp(v->vm, sp_from_hpa(v->vm, root->hpa));
	}
	root->hpa = INVALID_HPA;
}

void mmu_free_roots(struct mmu_vcpu *v, bool include_prev)
{
	put_root(v, &v->root);
	if (!include_prev)
		return;
	for (unsigned i = 0; i < MMU_NUM_PREV_ROOTS; i++)
		put_root(v, &v->prev_roots[i]);
}

/*
 * Memory pressure with every page pinned: the cached roots of all vCPUs go
 * (their pages become recyclable; a later cr3 switch rebuilds them).
 */
void mmu_drop_cached_roots(struct mmu_vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct mmu_vcpu *v = vm->vcpus[i];

		for (unsigned r = 0; v && r < MMU_NUM_PREV_ROOTS; r++)
			put_root(v, &v->prev_roots[r]);
	}
}

static bool root_usable(struct mmu_vcpu *v, const struct mmu_root *r, uint64_t pgd,
                        union sp_role role)
{
	struct sp *sp;

	if (r->hpa == INVALID_HPA || r->pgd != pgd || r->role.word != role.word)
		return false;
	sp = sp_from_hpa(v->vm, r->hpa);
	return sp && !sp->role.invalid && !sp_is_obsolete(v->vm, sp);
}

/*
 * Switch to the root for the new cr3, keeping the old one cached
 * (KVM's cached_root_find_and_keep_current).  Returns true if a cached root
 * was reused.
 */
static bool switch_cached_root(struct mmu_vcpu *v)
{
	union sp_role role = root_role(v);
	uint64_t pgd = cr3_pgd(v);
	struct mmu_root cur = v->root, evicted;
	unsigned i;

	if (root_usable(v, &cur, pgd, role))
		return true;
	for (i = 0; i < MMU_NUM_PREV_ROOTS; i++)
		if (root_usable(v, &v->prev_roots[i], pgd, role))
			break;
	if (i < MMU_NUM_PREV_ROOTS) {
		v->root = v->prev_roots[i];
		memmove(&v->prev_roots[1], &v->prev_roots[0], i * sizeof(v->prev_roots[0]));
		v->prev_roots[0] = cur;
		return true;
	}
	evicted = v->prev_roots[MMU_NUM_PREV_ROOTS - 1];
	memmove(&v->prev_roots[1], &v->prev_roots[0],
	        (MMU_NUM_PREV_ROOTS - 1) * sizeof(v->prev_roots[0]));
	v->prev_roots[0] = cur;
	v->root.hpa = INVALID_HPA;
	put_root(v, &evicted);
	return false;
}

static int topup_and_lock(struct mmu_vcpu *v)
{
	int r = mmu_topup_caches(v);

	mmu_lock_acquire(&v->vm->mmu_lock);
	return r;
}

static void unlock(struct mmu_vcpu *v)
{
	mmu_audit_if_enabled(v->vm);
	mmu_lock_release(&v->vm->mmu_lock);
}

/* MOV to CR3 succeeded (KVM's kvm_mmu_new_pgd). */
void shadow_cr3_changed(struct mmu_vcpu *v, bool noflush)
{
	bool cached = false;
	/* Without memory for new pages, leave no root: the next access fails cleanly. */
	bool can_load = topup_and_lock(v) == 0;

	if (!can_load) {
		mmu_free_roots(v, false);
		unlock(v);
		return;
	}
	if (mode_has_cached_roots(v->mode) && v->root.hpa != INVALID_HPA) {
		cached = switch_cached_root(v);
		if (cached)
			v->vm->stat.root_cache_hit++;
	} else {
		mmu_free_roots(v, false);
	}
	if (!noflush)
		v->vm->stat.tlb_flush++;
	if (v->root.hpa == INVALID_HPA)
		mmu_load_locked(v); /* syncs the new root */
	else if (!noflush)
		mmu_sync_roots(v);
	unlock(v);
}

/* CR0/CR4/EFER changed the paging mode or a role bit: start a new context. */
void shadow_context_changed(struct mmu_vcpu *v)
{
	topup_and_lock(v);
	mmu_free_roots(v, true);
	v->mode = smmu_paging_mode(v->cpu);
	v->ctx_role = mmu_context_role(v->cpu);
	unlock(v);
}

hpa_t shadow_current_root(struct mmu_vcpu *v)
{
	hpa_t hpa;

	if (!current_root_stale(v))
		return v->root.hpa;
	if (topup_and_lock(v)) {
		mmu_lock_release(&v->vm->mmu_lock);
		return INVALID_HPA;
	}
	mmu_load_locked(v);
	hpa = v->root.hpa;
	unlock(v);
	return hpa;
}

/* Sync the current root's unsync pages (KVM's kvm_mmu_sync_roots). */
void mmu_sync_roots(struct mmu_vcpu *v)
{
	v->need_sync = false;
	if (v->root.hpa == INVALID_HPA)
		return;
	if (v->root.hpa == v->lm_root_hpa) {
		for (unsigned i = 0; i < 4; i++) {
			uint64_t e = v->pae_root[i];
			struct sp *sp =
			    is_shadow_present_spte(e) ? sp_from_hpa(v->vm, spte_to_hpa(e)) : NULL;

			if (sp && sp->unsync_children)
				mmu_sync_children(v, sp);
		}
		return;
	}
	struct sp *root = sp_from_hpa(v->vm, v->root.hpa);

	if (root && root->unsync_children)
		mmu_sync_children(v, root);
}

/* The guest flushed its TLB: bring unsync pages under the roots up to date. */
void shadow_guest_tlb_flush(struct mmu_vcpu *v, bool all_roots)
{
	topup_and_lock(v);
	v->vm->stat.tlb_flush++;
	mmu_sync_roots(v);
	if (all_roots) {
		for (unsigned i = 0; i < MMU_NUM_PREV_ROOTS; i++) {
			struct mmu_root *r = &v->prev_roots[i];
			struct sp *sp = r->hpa != INVALID_HPA ? sp_from_hpa(v->vm, r->hpa) : NULL;

			if (sp && sp->unsync_children)
				mmu_sync_children(v, sp);
		}
	}
	unlock(v);
}
