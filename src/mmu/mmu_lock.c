/*
 * mmu_lock.c - the contended half of mmu_lock (mmu_lock.h): futex sleep
 * and wake-up.
 */
#include "mmu/mmu_lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex_wait(uint32_t *addr, uint32_t val)
{
	/* Returns at once if *addr != val (EAGAIN), on a wake-up, or on a signal (EINTR). */
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void mmu_lock_acquire_slow(struct mmu_lock *l)
{
	/*
	 * Announce a waiter (1 -> 2, or find 2 already), sleep while the state
	 * is 2, and take the lock as 2: the others may still be asleep.
	 */
	for (;;) {
		uint32_t c = __atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE);

		if (c == 0)
			return;
		futex_wait(&l->state, 2);
	}
}

void mmu_lock_wake(struct mmu_lock *l)
{
	syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
