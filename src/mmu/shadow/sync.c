/*
 * sync.c - resynchronizing unsync shadow pages (Documentation/virt/kvm/
 * mmu.rst, "Synchronized and unsynchronized pages"; going unsync is
 * unsync.c).
 *
 * Keeping every guest page table write-protected costs an emulated write
 * per gpte update.  A guest must invalidate (invlpg, TLB flush, cr3 load)
 * before it relies on a changed translation (SDM Vol. 3A 4.10.4), so a
 * leaf-level page table may instead be left writable ("unsync") and its
 * sptes brought up to date at those events.  Syncing a page re-reads each gpte behind a present spte: a gpte that
 * now maps another gfn, or is invalid, drops the spte; one with other
 * rights rewrites it.  The page is then synced and its gfn write-protected
 * again.
 */
#include "mmu/shadow/gpte.h"
#include "mmu/shadow/rmap_walk.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/spte_make.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/shadow/sync.h"
#include "mmu/shadow/unsync.h"
#include "mmu/shadow/zap.h"
#include "mmu/spte_ops.h"

/* Context bits under which sp's sptes were computed must match the vCPU's now. */
static bool sp_role_matches_context(const struct mmu_vcpu *v, const struct sp *sp)
{
	union sp_role a = sp->role, b = v->ctx_role;

	return a.efer_nx == b.efer_nx && a.cr0_wp == b.cr0_wp &&
	       a.smep_andnot_wp == b.smep_andnot_wp && a.smap_andnot_wp == b.smap_andnot_wp &&
	       a.has_4_byte_gpte == b.has_4_byte_gpte;
}

/*
 * Bring present spte i of an unsync leaf page in line with its gpte (read
 * from `table`, the page's gptes mapped once, or one by one when NULL).
 * Returns true if the spte was dropped: the caller flushes once per page.
 */
static bool sync_spte(struct mmu_vcpu *v, struct sp *sp, unsigned i, const void *table,
                      const struct gpte_decoder *dec)
{
	struct mmu_vm *vm = v->vm;
	struct leaf_request req;
	uint64_t gpte, spte = spte_get(&sp->spt[i]);
	bool readable = true;

	if (table)
		gpte = mmu_gpte_at(sp, table, i);
	else
		readable = !mmu_read_gpte(vm, sp, i, &gpte);
	if (!readable || !gpte_decode(dec, gpte, &req) || req.gfn != sp_get_gfn(sp, i) ||
	    is_mmio_spte(spte) || req.pkey != spte_pkey(spte)) {
		mmu_drop_spte(vm, &sp->spt[i]);
		return true;
	}
	if (req.access == sp_get_access(sp, i) && (req.gpte_dirty || !is_writable_spte(spte)))
		return false;
	(void)mmu_set_spte(v, sp, &sp->spt[i], &req);
	return false;
}

/*
 * Resynchronize an unsync page (KVM's kvm_sync_page).  Returns false if the
 * page was zapped instead (it no longer fits the vCPU's paging context).
 */
bool mmu_sync_page(struct mmu_vcpu *v, struct sp *sp, struct list_head *invalid_list)
{
	struct mmu_vm *vm = v->vm;
	struct gpte_decoder dec;
	const void *table;
	bool dropped = false;

	SMMU_ASSERT(sp->unsync && sp->role.level == 1 && !sp->role.direct);
	sp->unsync = false;
	vm->stat.mmu_unsync--;
	vm->stat.mmu_sync++;
	if (!sp_role_matches_context(v, sp)) {
		mmu_prepare_zap_page(vm, sp, invalid_list);
		return false;
	}
	/* The table is mapped once for the whole page: a sync reads up to 512 gptes. */
	table = mmu_map_gptes(vm, sp);
	gpte_decoder_init(&dec, v, sp);
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		if (is_shadow_present_spte(spte_get(&sp->spt[i])))
			dropped |= sync_spte(v, sp, i, table, &dec);
	if (dropped)
		mmu_flush_remote_tlbs(vm);
	return true;
}

/* Sync what lies below sp; collects synced gfns' protection in *flush. */
static void sync_children_rec(struct mmu_vcpu *v, struct sp *sp, struct list_head *invalid_list,
                              bool *flush)
{
	struct mmu_vm *vm = v->vm;

	for (unsigned w = 0; w < SPTE_ENT_PER_PAGE / 64 && sp->unsync_children; w++) {
		while (sp->unsync_child_bitmap[w]) {
			unsigned i = w * 64 + (unsigned)__builtin_ctzll(sp->unsync_child_bitmap[w]);
			uint64_t spte = spte_get(&sp->spt[i]);
			struct sp *child = NULL;

			if (is_shadow_present_spte(spte) && !is_last_spte(spte, sp->role.level))
				child = sp_from_hpa(vm, spte_to_hpa(spte));
			if (child && child->unsync_children)
				sync_children_rec(v, child, invalid_list, flush);
			if (child && child->unsync && mmu_sync_page(v, child, invalid_list))
				*flush |= rmap_write_protect_gfn(vm, child->gfn);
			clear_unsync_child_bit(vm, sp, i);
		}
	}
}

/* Sync every unsync page reachable from parent (KVM's mmu_sync_children). */
void mmu_sync_children(struct mmu_vcpu *v, struct sp *parent)
{
	struct list_head invalid_list;
	bool flush = false;

	list_init(&invalid_list);
	sync_children_rec(v, parent, &invalid_list, &flush);
	if (flush)
		mmu_flush_remote_tlbs(v->vm);
	mmu_commit_zap_page(v->vm, &invalid_list);
}

/* Sync or zap every unsync page of gfn: it is about to be shadowed at a higher level. */
void mmu_sync_pages_of_gfn(struct mmu_vcpu *v, gfn_t gfn)
{
	struct mmu_vm *vm = v->vm;
	struct list_head invalid_list;
	struct sp *sp;
	bool again = true;

	list_init(&invalid_list);
	while (again) {
		again = false;
		for_each_gfn_valid_indirect_sp(vm, sp, gfn) {
			if (sp->unsync) {
				mmu_prepare_zap_page(vm, sp, &invalid_list);
				again = true; /* the hash chain changed */
				break;
			}
		}
	}
	mmu_commit_zap_page(vm, &invalid_list);
}
