/*
 * hostmem.h - a VM's host virtual address space: anonymous mappings whose
 * 4 KiB pages are backed by frame-arena frames on first touch, like the
 * userspace memory a VMM hands to KVM.
 *
 * hostmem_hva_to_pfn() is the MMU's only way from an hva to a frame (KVM's
 * hva_to_pfn / get_user_pages): it faults the page in (zero-filled), marks it
 * young (and dirty for a write), and reports the host mapping level so the
 * MMU may install a huge spte.  Host operations that change a present
 * translation (unmap, discard, swap-out, migration) fire the MMU notifier
 * (notifier.h) around the change.
 *
 * Invariants: mappings never overlap and start at an hva aligned to their
 * backing size (2 MiB at least); hva 0 is never mapped; a present page's
 * frame is owned by exactly one hva page (ARENA_USE_GUEST).
 */
#ifndef SMMU_HOST_HOSTMEM_H
#define SMMU_HOST_HOSTMEM_H

#include "host/arena.h"
#include "host/pfn.h"
#include "host/notifier.h"

/* Host mapping levels, numbered as KVM's PG_LEVEL_* and memslot levels. */
enum hostmem_level {
	HOSTMEM_LEVEL_4K = 1,
	HOSTMEM_LEVEL_2M = 2,
	HOSTMEM_LEVEL_1G = 3,
};

/* hostmem_map() flags. */
#define HOSTMEM_READONLY (1u << 0) /* writes fail with -EFAULT */
#define HOSTMEM_HUGE_2M  (1u << 1) /* back with 2 MiB runs where the arena can */
#define HOSTMEM_HUGE_1G  (1u << 2) /* back with 1 GiB runs where the arena can */

struct hostmem;

/* What hostmem_hva_to_pfn() finds: struct host_pfn (host/pfn.h). */

/* Statistics, all in 4 KiB pages unless named otherwise. */
struct hostmem_stats {
	uint64_t mappings;      /* live mappings */
	uint64_t present;       /* pages backed by a frame */
	uint64_t swapped;       /* pages whose contents are in swap */
	uint64_t faults;        /* first-touch and swap-in faults */
	uint64_t huge_2m;       /* 2 MiB runs backing pages */
	uint64_t huge_1g;       /* 1 GiB runs backing pages */
	uint64_t huge_fallback; /* huge runs refused by the arena: 4K instead */
	uint64_t table_bytes;   /* per-page state bytes reserved */
};

struct hostmem *hostmem_create(struct arena *arena);
/* Calls every notifier's release, then frees all frames and mappings. */
void hostmem_destroy(struct hostmem *hm);

/*
 * Create an anonymous mapping of `size` bytes (page aligned, non-zero; a
 * multiple of the huge size when a HUGE flag is given).  Returns its hva in
 * *hva.  -EINVAL for bad size or flags, -ENOMEM when out of hva space.
 */
int hostmem_map(struct hostmem *hm, uint64_t size, unsigned flags, hva_t *hva);
/* Remove a whole mapping (exact start and size), firing MMU_NOTIFY_UNMAP. */
int hostmem_unmap(struct hostmem *hm, hva_t hva, uint64_t size);

/*
 * Resolve hva for a read or write access, faulting the page in if needed.
 * 0, -EFAULT (no mapping, or write to a read-only mapping), -ENOMEM, or
 * -EAGAIN for a write to a merged page others still share: the caller drops
 * its locks, calls hostmem_break_cow(hva) and tries again.
 */
int hostmem_hva_to_pfn(struct hostmem *hm, hva_t hva, bool write, struct host_pfn *out);

/*
 * The host ptes behind [hva, hva + npages pages) when that range lies in one
 * mapping, for lock-free lookups (KVM's get_user_pages_fast, in spirit).  A
 * window stays valid until its mapping is unmapped, which fires
 * MMU_NOTIFY_UNMAP first; its user must stop using it by then (the memslot
 * holding one is deleted before its mapping is unmapped).
 */
struct hostmem_window {
	const uint64_t *pte; /* NULL: no window */
	uint64_t npages;
	int huge_level; /* the level of huge-backed entries */
};

/* Fill *w for [hva, hva + npages pages); -EFAULT (w->pte NULL) if not one mapping. */
int hostmem_window_get(struct hostmem *hm, hva_t hva, uint64_t npages, struct hostmem_window *w);

/*
 * Page `index` of a window, without the lock: 0 and *out when the page is
 * present, young and not merged (and, for a write, writable and dirty) - the
 * cases where hostmem_hva_to_pfn would change nothing -, else -EAGAIN: ask
 * hostmem_hva_to_pfn.  The caller must exclude a concurrent invalidation of
 * the page (the MMU: mmu_lock held and no invalidation in progress there),
 * since host operations change present ptes only between notifier start and
 * end.
 */
int hostmem_window_pfn(const struct hostmem_window *w, uint64_t index, bool write,
                       struct host_pfn *out);

/* Copy to or from the space through hostmem_hva_to_pfn (may cross pages). */
/*
 * The frame hva maps now, without touching it (no fault-in, no young or
 * dirty marking): for checkers.  0, or -EFAULT when unmapped or not present.
 */
int hostmem_peek_pfn(struct hostmem *hm, hva_t hva, pfn_t *pfn);
int hostmem_read(struct hostmem *hm, hva_t hva, void *buf, uint64_t len);
/*
 * Copy out without touching, as hostmem_peek_pfn looks: no fault-in, no
 * young or dirty marking.  A page never touched reads as zeros, a swapped
 * one from its swap copy.  0, or -EFAULT where nothing is mapped.
 */
int hostmem_peek_read(struct hostmem *hm, hva_t hva, void *buf, uint64_t len);
int hostmem_write(struct hostmem *hm, hva_t hva, const void *buf, uint64_t len);
/* Record a write made behind hostmem's back (through a writable spte). */
int hostmem_mark_dirty(struct hostmem *hm, hva_t hva);

/*
 * Page aging: clear the young state of [start, end) in hostmem and in every
 * listener (clear_young); true if any page was young.  test_young only asks.
 */
bool hostmem_clear_young(struct hostmem *hm, hva_t start, hva_t end);
bool hostmem_test_young(struct hostmem *hm, hva_t start, hva_t end);

/*
 * Host operations that take frames away (each fires start/end around itself):
 *   discard  drop the pages of [start, end) (MADV_DONTNEED): zero on next touch
 *   swap_out move one present 4 KiB page's contents to swap (swap-in on touch)
 *   migrate  move one present 4 KiB page to another frame; *new_pfn if non-NULL
 * 0, -EFAULT (not mapped), -EBUSY (page not present / huge-backed), -ENOMEM.
 */
int hostmem_discard(struct hostmem *hm, hva_t start, hva_t end);
int hostmem_swap_out(struct hostmem *hm, hva_t hva);
int hostmem_migrate(struct hostmem *hm, hva_t hva, pfn_t *new_pfn);
/*
 * Page merging (KSM): if the pages at hva1 and hva2 hold the same bytes,
 * map both to hva1's frame, read-only; a later write resolution
 * (hostmem_hva_to_pfn with write) answers -EAGAIN while others share the
 * frame, and hostmem_break_cow gives that page a private copy (firing
 * MMU_NOTIFY_COW).  0; -EINVAL if the contents differ or hva1 == hva2;
 * -EBUSY if either page is absent or huge-backed; -ENOMEM.
 */
int hostmem_merge(struct hostmem *hm, hva_t hva1, hva_t hva2);
int hostmem_break_cow(struct hostmem *hm, hva_t hva);

/* Register / unregister a listener; -EINVAL for NULL or a registered one. */
int hostmem_notifier_register(struct hostmem *hm, struct mmu_notifier *mn);
int hostmem_notifier_unregister(struct hostmem *hm, struct mmu_notifier *mn);

void hostmem_get_stats(struct hostmem *hm, struct hostmem_stats *st);

#endif /* SMMU_HOST_HOSTMEM_H */
