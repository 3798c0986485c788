/*
 * mmu_lock.h - the VM's mmu_lock: a sleeping mutex whose uncontended
 * acquire and release are one atomic instruction each.
 *
 * Every shadow page fault and every context switch takes mmu_lock once
 * (KVM's mmu_lock is a spinlock for the same reason: it is taken on every
 * fault and held briefly).  glibc's pthread_mutex_t costs ~55 instructions
 * per lock/unlock pair even when nobody else wants it, a few percent of a
 * fault; this lock costs ~10.  Contended, it sleeps in the kernel instead
 * of spinning: this project's machines have two cores and tests run four
 * vCPU threads, so a preempted holder must not make the others spin.
 *
 * The algorithm is the three-state futex mutex of Ulrich Drepper's
 * "Futexes Are Tricky" (2011): 0 free, 1 held, 2 held and someone may be
 * waiting.  A releaser that finds 2 wakes one waiter; a waiter that takes
 * the lock sets 2 again, since it cannot know whether others still wait.
 * The orders are acquire on taking and release on giving back, which is
 * what ThreadSanitizer needs to see the lock as one.
 */
#ifndef SMMU_MMU_MMU_LOCK_H
#define SMMU_MMU_MMU_LOCK_H

#include <stdbool.h>
#include <stdint.h>

struct mmu_lock {
	uint32_t state; /* 0 free, 1 held, 2 held with possible waiters */
};

static inline void mmu_lock_init(struct mmu_lock *l)
{
	l->state = 0;
}

/* Out of line: sleep until the lock is ours (state left at 2). */
void mmu_lock_acquire_slow(struct mmu_lock *l);
/* Out of line: wake one sleeper (state already 0). */
void mmu_lock_wake(struct mmu_lock *l);

static inline bool mmu_lock_try(struct mmu_lock *l, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&l->state, &from, to, false, __ATOMIC_ACQUIRE,
	                                   __ATOMIC_RELAXED);
}

static inline void mmu_lock_acquire(struct mmu_lock *l)
{
	if (!__builtin_expect(mmu_lock_try(l, 0, 1), 1))
		mmu_lock_acquire_slow(l);
}

static inline void mmu_lock_release(struct mmu_lock *l)
{
	if (__builtin_expect(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2, 0))
		mmu_lock_wake(l);
}

#endif /* SMMU_MMU_MMU_LOCK_H */
