/*
 * tdp_dirty.c - dirty logging in TDP mode by write protection (KVM's
 * kvm_tdp_mmu_wrprot_slot and kvm_tdp_mmu_clear_dirty_slot with W, not
 * PML): turning logging on clears W in every leaf of the slot, huge ones
 * included (the next write through a huge leaf faults and is mapped at
 * 4 KiB, which is all a logged slot allows); fetching the log clears W in
 * the 4 KiB leaf of each page that was dirty, so its next write is seen.
 * The leaves keep mmu-writable: W may come back on the next write fault.
 */
#include "mmu/shadow/audit.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"

static bool clear_w(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, unsigned level, gfn_t gfn,
                    void *arg)
{
	uint64_t e = spte_get(sptep);

	if (!is_tdp_present(e) || !is_ept_leaf(e, level) || !(e & EPT_W))
		return false;
	mmu_spte_clear_bits(sptep, EPT_W);
	return true;
}

void tdp_write_protect_slot(struct mmu_vm *vm, struct memslot *slot)
{
	gfn_t base;
	uint64_t npages;

	mmu_slot_gfn_range(slot, &base, &npages);
	if (tdp_for_each_spte(vm, vm->tdp_root, base, base + npages, clear_w, NULL))
		mmu_flush_remote_tlbs(vm);
}

int tdp_get_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out)
{
	bool flush = false;
	uint64_t npages = 0;
	gfn_t base = 0;
	int r;

	mmu_lock_acquire(&vm->mmu_lock);
	r = mmu_fetch_dirty_log(vm, id, out, &base, &npages);
	for (uint64_t w = 0; !r && w < (npages + 63) / 64; w++) {
		for (uint64_t bits = out[w]; bits; bits &= bits - 1) {
			gfn_t gfn = base + w * 64 + (unsigned)__builtin_ctzll(bits);

			flush |= tdp_for_each_spte(vm, vm->tdp_root, gfn, gfn + 1, clear_w, NULL);
		}
	}
	if (flush)
		mmu_flush_remote_tlbs(vm);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
	return r;
}
