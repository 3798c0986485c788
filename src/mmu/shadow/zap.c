/*
 * zap.c - taking whole shadow pages away (KVM's two-phase
 * kvm_mmu_prepare_zap_page / kvm_mmu_commit_zap_page, so that one TLB flush
 * covers a batch), and freeing obsolete pages after a zap-all.  Single
 * sptes go in spte_track.c; recycling under the page cap is pool.c.
 *
 * A zapped page leaves the hash at once; it is freed at commit, after the
 * vCPU TLBs were flushed, unless it is still a root: then it is marked
 * role.invalid and freed when its last root reference goes (put_root).
 */
#include "mmu/shadow/sp.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/shadow/unsync.h"
#include "mmu/shadow/write_track.h"
#include "mmu/shadow/zap.h"
#include "mmu/spte_ops.h"

static void unlink_children(struct mmu_vm *vm, struct sp *sp)
{
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		mmu_zap_spte(vm, sp, &sp->spt[i]);
}

static void unlink_parents(struct mmu_vm *vm, struct sp *sp)
{
	struct pte_list_iter it;
	uint64_t *sptep;

	while ((sptep = pte_list_first(&sp->parent_ptes, &it)))
		drop_parent_pte(vm, sp, sptep);
}

static void unlink_unsync(struct mmu_vm *vm, struct sp *sp)
{
	if (!sp->unsync)
		return;
	sp->unsync = false;
	vm->stat.mmu_unsync--;
}

/*
 * Zap the unsync pages below sp: once sp is gone nothing would lead a sync
 * to them (KVM's mmu_zap_unsync_children).  Returns pages zapped.
 */
static unsigned zap_unsync_children(struct mmu_vm *vm, struct sp *sp, struct list_head *invalid_list)
{
	unsigned zapped = 0;

	for (unsigned i = 0; sp->unsync_children && i < SPTE_ENT_PER_PAGE; i++) {
		uint64_t spte = spte_get(&sp->spt[i]);
		struct sp *child;

		if (!(sp->unsync_child_bitmap[i / 64] & (1ull << (i % 64))))
			continue;
		child = is_shadow_present_spte(spte) && !is_last_spte(spte, sp->role.level)
		                ? sp_from_hpa(vm, spte_to_hpa(spte))
		                : NULL;
		if (child && child->unsync_children)
			zapped += zap_unsync_children(vm, child, invalid_list);
		if (child && child->unsync)
			zapped += mmu_prepare_zap_page(vm, child, invalid_list);
		clear_unsync_child_bit(vm, sp, i);
	}
	return zapped;
}

/*
 * First phase of zapping sp: unlink it from the DAG, rmaps and hash.  It
 * goes on invalid_list to be freed by mmu_commit_zap_page, or, if a vCPU
 * still uses it as a root, is marked invalid.  Returns true (the count of
 * pages zapped is in the stats).
 */
bool mmu_prepare_zap_page(struct mmu_vm *vm, struct sp *sp, struct list_head *invalid_list)
{
	bool first = !sp->role.invalid;

	if (first) {
		vm->stat.mmu_shadow_zapped++;
		if (sp_is_obsolete(vm, sp) && vm->n_obsolete)
			vm->n_obsolete--;
	}
	if (sp->role.level > 1)
		zap_unsync_children(vm, sp, invalid_list);
	unlink_children(vm, sp);
	unlink_parents(vm, sp);
	if (first && !sp->role.direct)
		unaccount_shadowed(vm, sp);
	unlink_unsync(vm, sp);
	if (first)
		sp_hash_del(vm, sp);
	sp->role.invalid = 1;
	if (sp->root_count) {
		/* Still a root: keep it (out of the hash) until put_root. */
		list_move(&sp->link, &vm->active_list);
		return true;
	}
	list_move(&sp->link, invalid_list);
	return true;
}

void mmu_commit_zap_page(struct mmu_vm *vm, struct list_head *invalid_list)
{
	if (list_empty(invalid_list))
		return;
	mmu_flush_remote_tlbs(vm);
	while (!list_empty(invalid_list)) {
		struct sp *sp = list_entry(invalid_list->next, struct sp, link);

		sp_free(vm, sp);
	}
}

/*
 * Free up to `batch` obsolete pages (all pages older than the last zap-all),
 * oldest first (KVM's kvm_zap_obsolete_pages; new pages sit at the head of
 * the active list, so obsolete ones gather at the tail).  batch 0: all.
 */
void mmu_zap_obsolete_pages(struct mmu_vm *vm, unsigned long batch)
{
	struct list_head invalid_list;
	unsigned long done = 0;

	list_init(&invalid_list);
	while (vm->n_obsolete && (!batch || done < batch)) {
		struct list_head *pos;
		struct sp *victim = NULL;

		for (pos = vm->active_list.prev; pos != &vm->active_list; pos = pos->prev) {
			struct sp *sp = list_entry(pos, struct sp, link);

			if (!sp_is_obsolete(vm, sp))
				break;
			if (!sp->role.invalid) {
				victim = sp;
				break;
			}
		}
		if (!victim) {
			vm->n_obsolete = 0; /* the rest are zapped roots awaiting put_root */
			break;
		}
		mmu_prepare_zap_page(vm, victim, &invalid_list);
		vm->stat.obsolete_freed++;
		done++;
	}
	mmu_commit_zap_page(vm, &invalid_list);
}
