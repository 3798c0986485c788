/*
 * pool.c - keeping the number of shadow pages under n_max_mmu_pages by
 * zapping the oldest pages that are not roots (KVM's
 * make_mmu_pages_available; mmu.rst, "Memory pressure").  New pages go to
 * the head of the active list, so the oldest sit at its tail.  When every
 * page left is pinned as a root, the vCPUs' cached roots let theirs go.
 */
#include <errno.h>

#include "mmu/shadow/pool.h"
#include "mmu/shadow/root.h"
#include "mmu/shadow/zap.h"

static bool pages_available(const struct mmu_vm *vm)
{
	return vm->n_used_mmu_pages + MMU_MIN_FREE_PAGES <= vm->n_max_mmu_pages;
}

/* Zap the oldest pages that are not roots until a fault's worth of pages is free. */
static void recycle_oldest(struct mmu_vm *vm)
{
	struct list_head invalid_list;
	struct list_head *pos, *prev;

	list_init(&invalid_list);
	for (pos = vm->active_list.prev; pos != &vm->active_list && !pages_available(vm);
	     pos = prev) {
		struct sp *sp = list_entry(pos, struct sp, link);

		prev = pos->prev;
		if (sp->root_count || sp->role.invalid)
			continue;
		mmu_prepare_zap_page(vm, sp, &invalid_list);
		vm->stat.mmu_recycled++;
		mmu_commit_zap_page(vm, &invalid_list);
		/* Zapping may have freed neighbours: restart from the tail. */
		prev = vm->active_list.prev;
	}
}

int mmu_make_pages_available(struct mmu_vcpu *v)
{
	struct mmu_vm *vm = v->vm;

	if (pages_available(vm))
		return 0;
	recycle_oldest(vm);
	if (!pages_available(vm)) {
		/* Everything left is pinned as a root: let the cached roots go too. */
		mmu_drop_cached_roots(vm);
		recycle_oldest(vm);
	}
	return pages_available(vm) ? 0 : -ENOSPC;
}
