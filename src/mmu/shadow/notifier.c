/*
 * notifier.c - host translation updates (Documentation/virt/kvm/mmu.rst,
 * "Host translation updates"): the shadow MMU listens on the host address
 * space's MMU notifier, as KVM listens on the mm of the VMM process.
 *
 *  - invalidate_range_start: the frames behind [start, end) are about to
 *    change (swap-out, migration, merging, unmap).  Every spte mapping a gfn
 *    whose hva lies in the range is dropped, found through the rmap, the
 *    vCPU TLBs are flushed, and the gfn cache is emptied.  Until the
 *    matching _end, faults on that range retry (mmu_invalidate_retry_hva)
 *    and nothing is cached, so no spte can pick up a frame being changed.
 *  - clear_young / test_young: the host ages its pages by the accessed bits
 *    of the sptes that map them (KVM's kvm_age_gfn / kvm_test_age_gfn);
 *    clearing also flushes the TLBs, so the next access walks and sets A
 *    again (clear_flush_young).
 *  - change_pte: the new frame is picked up by the next fault; the old spte
 *    was dropped at _start, so there is nothing to do (KVM ended the same way).
 *  - release: the host address space is going away: zap everything.
 */
#include "host/hostmem.h"
#include "memslot/memslot.h"
#include "mmu/mmu.h"
#include "mmu/shadow/shadow.h"

static struct mmu_vm *to_vm(struct mmu_notifier *mn)
{
	return (struct mmu_vm *)((char *)mn - offsetof(struct mmu_vm, notifier));
}

/* Visit every leaf spte mapping a gfn of [gfn_start, gfn_end) in slot. */
typedef bool rmap_visit_fn(struct mmu_vm *vm, struct rmap_head *head, void *arg);

static bool for_each_rmap_in_range(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn_start,
                                   gfn_t gfn_end, rmap_visit_fn *fn, void *arg)
{
	bool any = false;

	for (int level = 1; level <= MEMSLOT_NR_LEVELS; level++) {
		uint64_t step = memslot_pages_per_level(level);

		for (gfn_t gfn = gfn_start & ~(step - 1); gfn < gfn_end; gfn += step) {
			gfn_t g = gfn < slot->base_gfn ? slot->base_gfn : gfn;

			if (!memslot_contains(slot, g))
				continue;
			any |= fn(vm, memslot_rmap(slot, g, level), arg);
		}
	}
	return any;
}

/* Apply fn to the rmaps of every gfn whose hva lies in [start, end). */
static bool for_each_rmap_in_hva_range(struct mmu_vm *vm, hva_t start, hva_t end,
                                       rmap_visit_fn *fn, void *arg)
{
	struct memslot *slot;
	bool any = false;

	for (unsigned i = 0; (slot = memslots_at(vm->slots, i)); i++) {
		gfn_t gs, ge;

		if (memslot_hva_range_to_gfns(slot, start, end, &gs, &ge))
			any |= for_each_rmap_in_range(vm, slot, gs, ge, fn, arg);
	}
	return any;
}

static bool rmap_unmap(struct mmu_vm *vm, struct rmap_head *head, void *arg)
{
	struct pte_list_iter it;
	uint64_t *sptep;
	bool any = false;

	(void)arg;
	while ((sptep = pte_list_first(head, &it))) {
		mmu_drop_spte(vm, sptep);
		any = true;
	}
	return any;
}

static bool rmap_age(struct mmu_vm *vm, struct rmap_head *head, void *arg)
{
	bool clear = *(bool *)arg, young = false;
	struct pte_list_iter it;
	uint64_t *sptep;

	(void)vm;
	for_each_pte_list_entry(head, &it, sptep) {
		if (!is_accessed_spte(spte_get(sptep)))
			continue;
		young = true;
		if (clear)
			__atomic_fetch_and(sptep, ~(uint64_t)SPTE_A, __ATOMIC_SEQ_CST);
	}
	return young;
}

static void mn_invalidate_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct mmu_vm *vm = to_vm(mn);

	mmu_lock_acquire(&vm->mmu_lock);
	mmu_invalidate_begin(&vm->invalidate, range->start, range->end);
	mmu_gfn_cache_clear(vm);
	if (for_each_rmap_in_hva_range(vm, range->start, range->end, rmap_unmap, NULL))
		mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}

static void mn_invalidate_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct mmu_vm *vm = to_vm(mn);

	(void)range;
	mmu_lock_acquire(&vm->mmu_lock);
	mmu_invalidate_end(&vm->invalidate);
	mmu_lock_release(&vm->mmu_lock);
}

static bool age_range(struct mmu_vm *vm, hva_t start, hva_t end, bool clear)
{
	bool young;

	mmu_lock_acquire(&vm->mmu_lock);
	if (clear) /* the MMU's own accesses must reach the host's young bits again */
		mmu_gfn_cache_clear(vm);
	young = for_each_rmap_in_hva_range(vm, start, end, rmap_age, &clear);
	if (young && clear)
		mmu_flush_remote_tlbs(vm);
	mmu_lock_release(&vm->mmu_lock);
	return young;
}

static bool mn_clear_young(struct mmu_notifier *mn, hva_t start, hva_t end)
{
	return age_range(to_vm(mn), start, end, true);
}

static bool mn_test_young(struct mmu_notifier *mn, hva_t start, hva_t end)
{
	return age_range(to_vm(mn), start, end, false);
}

static void mn_release(struct mmu_notifier *mn)
{
	mmu_zap_all_sync(to_vm(mn));
}

static const struct mmu_notifier_ops mmu_notifier_ops = {
	.invalidate_range_start = mn_invalidate_start,
	.invalidate_range_end = mn_invalidate_end,
	.clear_young = mn_clear_young,
	.test_young = mn_test_young,
	.release = mn_release,
};

int mmu_notifier_attach(struct mmu_vm *vm)
{
	vm->notifier.ops = &mmu_notifier_ops;
	return hostmem_notifier_register(vm->hm, &vm->notifier);
}

void mmu_notifier_detach(struct mmu_vm *vm)
{
	hostmem_notifier_unregister(vm->hm, &vm->notifier);
}
