/*
 * spte_make.c - installing a leaf spte for a guest translation (KVM's
 * mmu_set_spte / make_spte).
 *
 * Rights: the spte grants what the guest grants (role.access of the upper
 * levels and'ed with the leaf gpte), minus:
 *  - W when the gpte is not yet dirty, so that the guest's first write
 *    faults and the guest walker sets D (SDM 4.8: D is set on the first
 *    write through a translation);
 *  - W when the host mapping is read-only (read-only slot, merged page);
 *  - W when gfn is itself a shadowed guest page table that cannot be
 *    unsync: writes to it must be seen (emulated) so the shadow follows.
 * A is set at once: the guest walker has just set A in the gpte.
 */
#include <errno.h>

#include "mmu/shadow/rmap.h"
#include "mmu/shadow/rmap_walk.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/spte_make.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/shadow/unsync.h"
#include "mmu/shadow/write_track.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"

static unsigned leaf_level_size_pages(unsigned level)
{
	return 1u << (9 * (level - 1));
}

/* Replace whatever *sptep holds with nothing, keeping rmaps and links right. */
static bool clear_old_spte(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, uint64_t new_spte)
{
	uint64_t old = spte_get(sptep);

	if (!is_shadow_present_spte(old))
		return false;
	if (!is_mmio_spte(old) && is_last_spte(old, sp->role.level) &&
	    spte_to_pfn(old) == spte_to_pfn(new_spte) && is_shadow_present_spte(new_spte))
		return false; /* same frame: the rmap entry stays */
	mmu_zap_spte(vm, sp, sptep);
	return true;
}

/* A new leaf joins its rmap; an rmap grown too long is dropped whole (rmap.h). */
static void add_to_rmap(struct mmu_vcpu *v, struct memslot *slot, uint64_t *sptep, gfn_t gfn,
                        unsigned level)
{
	struct rmap_head *too_long = rmap_add(v, slot, sptep, gfn, level);

	if (unlikely(too_long)) {
		rmap_drop_all(v->vm, too_long);
		mmu_flush_remote_tlbs(v->vm);
	}
}

/*
 * Decide W for a leaf mapping a gfn the MMU write-tracks.  Returns false if
 * W must be withheld.
 */
static bool may_map_writable(struct mmu_vcpu *v, const struct leaf_request *req)
{
	if (!gfn_is_write_tracked(v->vm, req->gfn))
		return true;
	return mmu_try_to_unsync_pages(v, req->gfn, !req->prefetch) == 0;
}

enum set_spte_result mmu_set_spte(struct mmu_vcpu *v, struct sp *sp, uint64_t *sptep,
                                  const struct leaf_request *req)
{
	struct mmu_vm *vm = v->vm;
	struct memslot *slot = req->slot ? req->slot : mmu_gfn_to_slot(vm, req->gfn);
	unsigned idx = sptep_index(sp, sptep);
	enum set_spte_result ret = SET_SPTE_OK;
	unsigned access = req->access;
	struct host_pfn hp;
	uint64_t spte, old = spte_get(sptep);
	unsigned flags = SPTE_MK_ACCESSED;
	gfn_t base_gfn = req->gfn & ~((gfn_t)leaf_level_size_pages(req->level) - 1);

	int r = slot ? mmu_gfn_to_pfn(vm, slot, base_gfn, req->write_fault && !req->prefetch, &hp)
	             : -EFAULT;

	if (r == -EAGAIN)
		return SET_SPTE_RETRY;
	if (r) {
		spte = spte_make_mmio(req->gfn, access, mmu_memslots_generation(vm));
		if (clear_old_spte(vm, sp, sptep, spte))
			mmu_flush_remote_tlbs(vm);
		mmu_spte_set(sptep, spte);
		sp_set_shadowed(sp, idx, req->gfn, access);
		return SET_SPTE_MMIO;
	}
	/* A prefetch resolves the frame for reading only: map it read-only. */
	if (req->prefetch)
		hp.writable = false;
	if (!req->gpte_dirty || !hp.writable || mmu_slot_readonly(slot))
		access &= ~SMMU_ACC_W;
	/*
	 * Dirty logging: a page is writable only after a write fault, which
	 * logs it; after the log is fetched it is write-protected again
	 * (KVM's mark_page_dirty / kvm_mmu_slot_remove_write_access).
	 */
	if (mmu_slot_dirty_logging(slot) && !req->write_fault)
		access &= ~SMMU_ACC_W;
	if ((access & SMMU_ACC_W) && !may_map_writable(v, req)) {
		access &= ~SMMU_ACC_W;
		if (req->write_fault)
			ret = SET_SPTE_WRITE_PROTECTED;
	}
	if (req->write_fault && (access & SMMU_ACC_W)) {
		flags |= SPTE_MK_DIRTY;
		mmu_slot_mark_dirty(slot, base_gfn);
	}
	spte = spte_make_leaf((hpa_t)hp.pfn << PAGE_SHIFT, req->level, access, req->pkey, flags);

	if (clear_old_spte(vm, sp, sptep, spte)) {
		mmu_flush_remote_tlbs(vm);
		old = 0;
	}
	mmu_spte_set(sptep, spte);
	sp_set_shadowed(sp, idx, base_gfn, req->access);
	if (!is_shadow_present_spte(old))
		add_to_rmap(v, slot, sptep, base_gfn, req->level);
	else if (is_writable_spte(old) && !is_writable_spte(spte))
		mmu_flush_remote_tlbs(vm);
	return ret;
}
