/*
 * get_sp.c - the shadow page for (gfn, role): found in the hash, or made
 * (KVM's kvm_mmu_get_shadow_page; mmu.rst, "Shadow pages").  Faults use it
 * for every level below the root, root.c for the roots.
 *
 * A page found again may be unsync: it is synced first, and its gfn
 * write-protected again.  A page of gfn at a higher level than the unsync
 * ones means gfn is now also a page directory, which may not be unsync:
 * those unsync pages are zapped (sync.c, mmu_sync_pages_of_gfn).
 */
#include "mmu/shadow/get_sp.h"
#include "mmu/shadow/rmap_walk.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/sync.h"
#include "mmu/shadow/write_track.h"
#include "mmu/shadow/zap.h"
#include "mmu/spte_ops.h"

/* Zap pages of gfn that are unsync when a higher-level page for it appears. */
static void zap_unsync_for_upper(struct mmu_vcpu *v, gfn_t gfn, union sp_role role)
{
	if (role.direct || role.level == 1)
		return;
	mmu_sync_pages_of_gfn(v, gfn);
}

/*
 * The shadow page for (gfn, role): found in the hash (syncing it if it is
 * unsync) or created (KVM's kvm_mmu_get_shadow_page).
 */
struct sp *mmu_get_sp(struct mmu_vcpu *v, gfn_t gfn, union sp_role role)
{
	struct mmu_vm *vm = v->vm;
	struct list_head invalid_list;
	struct sp *sp;

	zap_unsync_for_upper(v, gfn, role);
	list_init(&invalid_list);
	for (sp = sp_hash_first(vm, gfn); sp; sp = sp->hash_next) {
		if (sp->gfn != gfn || sp->role.word != role.word || sp_is_obsolete(vm, sp))
			continue;
		if (sp->unsync) {
			if (!mmu_sync_page(v, sp, &invalid_list))
				break; /* zapped: the chain changed, make a new page */
			if (rmap_write_protect_gfn(vm, gfn))
				mmu_flush_remote_tlbs(vm);
		}
		sp->write_flooding_count = 0;
		/*
		 * A page found again may have unsync pages below it that no root
		 * reached for a while: an invlpg or TLB flush the guest did
		 * meanwhile could not sync them.  Sync them before the guest runs
		 * on this path (KVM makes a KVM_REQ_MMU_SYNC request here).
		 */
		if (sp->unsync_children)
			v->need_sync = true;
		return sp;
	}
	mmu_commit_zap_page(vm, &invalid_list);
	vm->stat.mmu_cache_miss++;
	sp = sp_alloc(v, gfn, role);
	if (!role.direct)
		account_shadowed(vm, sp);
	return sp;
}
