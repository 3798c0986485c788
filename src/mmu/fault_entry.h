/*
 * fault_entry.h - what every MMU fault does around its mode's own work: a
 * failed hardware walk reserves what the fault may need, then is handled
 * under mmu_lock.  A write (the access, an A/D update, an emulated gpte
 * write) that met a merged page leaves cow_pending: unsharing it is a host
 * operation that notifies this MMU, so it runs now, unlocked, and the whole
 * access is retried (KVM resolves write faults through get_user_pages
 * outside mmu_lock).
 *
 * Inlined into each mode's entry point (shadow/fault.c, tdp/tdp_fault.c)
 * with that mode's locked handler, so the fault path makes no call more
 * than it needs (callgrind: 26 instructions a shadow fault when it was a
 * function of its own).
 */
#ifndef SMMU_MMU_FAULT_ENTRY_H
#define SMMU_MMU_FAULT_ENTRY_H

#include <errno.h>

#include "mmu/mmu.h"
#include "mmu/mmu_internal.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/sp.h"
#include "mmu/slot_iface.h"

typedef enum mmu_fault_action mmu_locked_fault_fn(struct mmu_vcpu *v, struct mmu_fault *f);

static inline __attribute__((always_inline)) enum mmu_fault_action
mmu_fault_enter(struct mmu_vcpu *v, struct mmu_fault *f, mmu_locked_fault_fn *locked)
{
	struct mmu_vm *vm = v->vm;
	enum mmu_fault_action act;
	hva_t cow_hva;
	bool cow;

	if (mmu_topup_caches(v))
		return MMU_FAULT_ERROR;
	mmu_lock_acquire(&vm->mmu_lock);
	act = locked(v, f);
	mmu_audit_if_enabled(vm);
	cow = vm->cow_pending;
	cow_hva = vm->cow_hva;
	vm->cow_pending = false;
	mmu_lock_release(&vm->mmu_lock);
	if (cow)
		return mmu_break_cow(vm, cow_hva) == -ENOMEM ? MMU_FAULT_ERROR : MMU_FAULT_RETRY;
	return act;
}

#endif /* SMMU_MMU_FAULT_ENTRY_H */
