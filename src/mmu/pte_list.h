/*
 * pte_list.h - a set of spte pointers in one word: the reverse map of a gfn
 * (every spte that maps it) and the parent-pte list of a shadow page (every
 * spte that points at its table).  KVM: pte_list_add / pte_list_remove /
 * struct rmap_iterator in arch/x86/kvm/mmu/mmu.c; Documentation/virt/kvm/
 * x86/mmu.rst "Reverse map"; the 2007 rmap patch (page->private, bit 0).
 *
 * A struct rmap_head (common.h) is, by the number of entries it holds:
 *   0 entries   val == 0
 *   1 entry     val == the spte pointer (bit 0 clear: sptes are 8-aligned)
 *   2+ entries  val == pointer to a chain of descriptors | 1
 * Invariants of the chain (pte_list_check verifies all but the last):
 *   - it holds at least 2 entries (removal collapses a single survivor back
 *     into the head word, so a gfn mapped once costs no descriptor);
 *   - only the first descriptor may be partly filled, every later one holds
 *     exactly PTE_LIST_EXT entries, so add and remove touch the first
 *     descriptor only and the count is first->spte_count + first->tail_count;
 *   - slots at and beyond spte_count are NULL; no entry appears twice.
 * Descriptors come from a vCPU's mmu_cache (add cannot fail under mmu_lock)
 * and go back to the VM's slab.  The entries per descriptor, PTE_LIST_EXT, is
 * a build constant chosen by bench/bench_rmap.c (docs/rmap.md).
 *
 * Callers hold mmu_lock.  Order of iteration is unspecified.
 */
#ifndef SMMU_MMU_PTE_LIST_H
#define SMMU_MMU_PTE_LIST_H

#include "common.h"
#include "mmu/mmu_cache.h"

/* Bit 0 of rmap_head.val: the rest points at a descriptor chain. */
#define PTE_LIST_MANY ((uintptr_t)1)

struct pte_list_desc {
	struct pte_list_desc *more; /* next descriptor, all full; NULL at the end */
	uint32_t spte_count;        /* entries used in sptes[] */
	uint32_t tail_count;        /* entries in the descriptors after this one
	                               (kept up to date in the first one only) */
	uint64_t *sptes[];          /* PTE_LIST_EXT slots */
};

/*
 * A position in a list.  Between pte_list_first/next calls the current entry,
 * and only it, may be removed with pte_list_iter_remove; iteration then goes
 * on with the entries not yet visited, each exactly once.
 */
struct pte_list_iter {
	struct rmap_head *head;     /* the list being walked */
	struct pte_list_desc *desc; /* descriptor of the current entry; NULL: the
	                               entry lives in the head word */
	int pos;                    /* index in desc; with desc NULL, 1 means the
	                               head word's entry is still to be visited */
	uint64_t *sptep;            /* the current entry, NULL when done */
};

/* Bytes of one descriptor, for the slab that serves them. */
size_t pte_list_desc_size(void);
/* Entries per descriptor in this build. */
unsigned pte_list_ext(void);
/* Set up the per-VM slab of descriptors. */
void pte_list_slab_init(struct mmu_slab *slab);

/*
 * Add sptep (non-NULL, 8-aligned, not yet in the list).  Takes at most one
 * descriptor from mc, so one object of top-up per call suffices.  Returns the
 * number of entries before the add (KVM's rmap_add uses it to recycle
 * overlong rmaps).
 */
unsigned pte_list_add(struct mmu_cache *mc, struct rmap_head *head, uint64_t *sptep);
/*
 * Remove sptep.  0, or -ENOENT if it is not in the list: a caller bug, which
 * asserts in debug builds and leaves the list untouched in release ones.
 */
int pte_list_remove(struct mmu_slab *slab, struct rmap_head *head, uint64_t *sptep);
/* Drop every entry and free the descriptors; returns how many were dropped. */
unsigned pte_list_destroy(struct mmu_slab *slab, struct rmap_head *head);
bool pte_list_contains(const struct rmap_head *head, const uint64_t *sptep);
/*
 * Verify the structural invariants above in O(entries): 0 or -EINVAL (for
 * tests and the MMU audit; duplicates are the caller's to detect).
 */
int pte_list_check(const struct rmap_head *head);
/* Remove the iterator's current entry (see struct pte_list_iter). */
void pte_list_iter_remove(struct mmu_slab *slab, struct pte_list_iter *it);

static inline bool pte_list_empty(const struct rmap_head *head)
{
	return !head->val;
}

static inline struct pte_list_desc *pte_list_head_desc(const struct rmap_head *head)
{
	return (struct pte_list_desc *)(head->val & ~PTE_LIST_MANY);
}

static inline unsigned pte_list_count(const struct rmap_head *head)
{
	const struct pte_list_desc *desc;

	if (!(head->val & PTE_LIST_MANY))
		return head->val ? 1 : 0;
	desc = pte_list_head_desc(head);
	return desc->spte_count + desc->tail_count;
}

/*
 * Each descriptor is walked from its last entry down.  Removal fills the hole
 * with the first descriptor's last entry, which this order has always visited
 * already (the first descriptor comes first, and within it the higher slots),
 * so nothing is skipped or seen twice.
 */
static inline uint64_t *pte_list_first(struct rmap_head *head, struct pte_list_iter *it)
{
	it->head = head;
	it->pos = 0;
	if (!(head->val & PTE_LIST_MANY)) {
		it->desc = NULL;
		it->sptep = (uint64_t *)head->val;
		return it->sptep;
	}
	it->desc = pte_list_head_desc(head);
	it->pos = (int)it->desc->spte_count - 1;
	it->sptep = it->desc->sptes[it->pos];
	return it->sptep;
}

static inline uint64_t *pte_list_next(struct pte_list_iter *it)
{
	if (!it->desc) {
		/* A chain collapsed into the head word under an unvisited entry. */
		it->sptep = it->pos ? (uint64_t *)it->head->val : NULL;
		it->pos = 0;
		return it->sptep;
	}
	if (it->pos > 0) {
		it->pos--;
	} else {
		it->desc = it->desc->more;
		if (!it->desc)
			return it->sptep = NULL;
		it->pos = (int)it->desc->spte_count - 1;
	}
	it->sptep = it->desc->sptes[it->pos];
	return it->sptep;
}

#define for_each_pte_list_entry(head, it, sptep)                                                   \
	for ((sptep) = pte_list_first((head), (it)); (sptep); (sptep) = pte_list_next(it))

#endif /* SMMU_MMU_PTE_LIST_H */
