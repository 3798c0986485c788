/*
 * notifier.h - the MMU notifier: how the host address space tells a secondary
 * MMU (the shadow MMU) that hva -> pfn translations are changing, after Linux's
 * include/linux/mmu_notifier.h and KVM's use of it (virt/kvm/kvm_main.c).
 *
 * A listener embeds a struct mmu_notifier and registers it on a hostmem.
 * Every host operation that removes or changes a present hva -> pfn mapping
 * (unmap, swap-out, migration, page merging, copy-on-write break) brackets
 * the change with invalidate_range_start / invalidate_range_end over the hvas
 * it touches; start and end always come in pairs with the same range.  Ops
 * are called with no hostmem lock held (the listener may take its mmu_lock)
 * but with the hostmem's operation lock held, so a callback must not call a
 * hostmem function that changes mappings (hostmem_hva_to_pfn, hostmem_read,
 * hostmem_mark_dirty are fine).  Any op may be NULL.
 *
 * struct mmu_invalidate is the listener-side bookkeeping of KVM's
 * mmu_invalidate_seq / mmu_invalidate_in_progress: a fault reads the sequence
 * before resolving hva -> pfn, and after taking its mmu_lock asks
 * mmu_invalidate_retry_hva(); if an invalidation began or ended meanwhile
 * (or is still running over that hva) the pfn may be stale and the fault retries.
 */
#ifndef SMMU_HOST_NOTIFIER_H
#define SMMU_HOST_NOTIFIER_H

#include "common.h"

/* Why a range is being invalidated (informational, like mmu_notifier_event). */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP,     /* the mapping goes away */
	MMU_NOTIFY_DISCARD,   /* pages dropped, refilled with zeros on next touch */
	MMU_NOTIFY_SWAP,      /* page contents moved to swap */
	MMU_NOTIFY_MIGRATE,   /* page contents moved to another frame */
	MMU_NOTIFY_PROTECT,   /* write access removed (merge / copy-on-write) */
	MMU_NOTIFY_COW,       /* a shared frame replaced by a private copy */
	MMU_NOTIFY_HUGE_SPLIT /* a huge run now mapped by 4 KiB pages */
};

struct mmu_notifier_range {
	hva_t start, end;              /* [start, end), page aligned */
	enum mmu_notifier_event event; /* why */
};

struct mmu_notifier;

struct mmu_notifier_ops {
	/* The translations of [start, end) may change: drop them (sptes, TLB). */
	void (*invalidate_range_start)(struct mmu_notifier *mn,
	                               const struct mmu_notifier_range *range);
	/* The change is done; new translations may be created again. */
	void (*invalidate_range_end)(struct mmu_notifier *mn,
	                             const struct mmu_notifier_range *range);
	/* hva now maps pfn (called between start and end on the same hva). */
	void (*change_pte)(struct mmu_notifier *mn, hva_t hva, pfn_t pfn, bool writable);
	/* Clear accessed state in [start, end); true if any was set. */
	bool (*clear_young)(struct mmu_notifier *mn, hva_t start, hva_t end);
	/* True if anything in [start, end) was accessed; clears nothing. */
	bool (*test_young)(struct mmu_notifier *mn, hva_t start, hva_t end);
	/* The hostmem is being destroyed: drop everything. */
	void (*release)(struct mmu_notifier *mn);
};

struct mmu_notifier {
	const struct mmu_notifier_ops *ops; /* set by the listener */
	struct mmu_notifier *next;          /* hostmem's list (owned by hostmem) */
};

/* Listener-side invalidation bookkeeping (KVM's mmu_invalidate_*). */
struct mmu_invalidate {
	uint64_t seq;         /* bumped at every invalidate_range_end */
	uint64_t in_progress; /* started and not yet ended invalidations */
	hva_t range_start;    /* union of the ranges in progress */
	hva_t range_end;
};

/* Call from invalidate_range_start with the listener's mmu_lock held. */
static inline void mmu_invalidate_begin(struct mmu_invalidate *mi, hva_t start, hva_t end)
{
	if (mi->in_progress++ == 0) {
		mi->range_start = start;
		mi->range_end = end;
	} else {
		mi->range_start = start < mi->range_start ? start : mi->range_start;
		mi->range_end = end > mi->range_end ? end : mi->range_end;
	}
}

/*
 * Call from invalidate_range_end with the mmu_lock held.  The sequence moves
 * before in_progress drops, so a fault never sees "nothing in progress" with
 * the old sequence after a completed invalidation.
 */
static inline void mmu_invalidate_end(struct mmu_invalidate *mi)
{
	SMMU_ASSERT(mi->in_progress > 0);
	__atomic_store_n(&mi->seq, mi->seq + 1, __ATOMIC_RELEASE);
	mi->in_progress--;
}

/* Read before hva -> pfn resolution, without the mmu_lock. */
static inline uint64_t mmu_invalidate_seq_read(const struct mmu_invalidate *mi)
{
	return __atomic_load_n(&mi->seq, __ATOMIC_ACQUIRE);
}

/* With the mmu_lock held: must a fault that read `seq` retry? */
static inline bool mmu_invalidate_retry(const struct mmu_invalidate *mi, uint64_t seq)
{
	return mi->in_progress > 0 || mi->seq != seq;
}

/* As above, but an invalidation in progress only matters if it covers hva. */
static inline bool mmu_invalidate_retry_hva(const struct mmu_invalidate *mi, uint64_t seq,
                                            hva_t hva)
{
	if (mi->in_progress > 0 && hva >= mi->range_start && hva < mi->range_end)
		return true;
	return mi->seq != seq;
}

#endif /* SMMU_HOST_NOTIFIER_H */
