/*
 * tdp_nx.c - NX huge pages (KVM's nx_huge_pages, the mitigation for the
 * iTLB multihit erratum): while it is on, huge EPT leaves are made not
 * executable, so the first instruction fetch from one exits; the fault then
 * maps 4 KiB pages there (tdp_fault.c), in a table made in place of the
 * huge leaf.  Such tables are tracked, oldest first, and counted
 * (nx_lpage_splits, KVM's name; the list is kept by tdp_spte_change.c,
 * which makes and frees tables).  Recovery zaps ceil(n / ratio) of them,
 * oldest first, through the entry that points at each, so the next fault
 * over the range may map it huge again (KVM's kvm_recover_nx_huge_pages,
 * which a kernel thread runs every period; here the caller decides when,
 * never a clock).  KVM's default ratio is 60.
 */
#include "mmu/shadow/audit.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_spte.h"
#include "mmu/tdp/tdp_spte_change.h"

#define NX_RECOVERY_RATIO_DEFAULT 60

unsigned tdp_recover_nx_huge_pages(struct mmu_vm *vm, unsigned ratio)
{
	struct list_head invalid_list;
	unsigned todo, done = 0;
	bool flush = false;

	list_init(&invalid_list);
	mmu_lock_acquire(&vm->mmu_lock);
	if (!ratio)
		ratio = NX_RECOVERY_RATIO_DEFAULT;
	todo = (unsigned)((vm->stat.nx_lpage_splits + ratio - 1) / ratio);
	while (done < todo && !list_empty(&vm->nx_huge_pages)) {
		struct sp *sp = list_entry(vm->nx_huge_pages.next, struct sp, tdp.nx_link);

		/* The parent entry goes, and with it this table (untracked as it is freed). */
		SMMU_ASSERT(ept_to_hpa(spte_get(sp->tdp.parent_sptep)) == sp->spt_hpa);
		flush |= tdp_zap_spte(vm, sp->tdp.parent_sptep, sp->role.level + 1, &invalid_list);
		done++;
	}
	tdp_commit_zap(vm, &invalid_list, flush);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
	return done;
}
