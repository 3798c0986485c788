/*
 * pte_list.c - the one-word spte set behind rmaps and parent ptes (see
 * pte_list.h for the encoding and its invariants; KVM: arch/x86/kvm/mmu/mmu.c,
 * pte_list_add, pte_list_desc_remove_entry, pte_list_remove).
 *
 * Add pushes onto the first descriptor, opening a new first descriptor when
 * it is full; remove moves the first descriptor's last entry into the hole.
 * Both are O(1) once the entry is found; finding it is a linear scan, as in
 * KVM (long lists are rare and KVM recycles them past a threshold).
 *
 * PTE_LIST_EXT may be overridden by the includer (bench/bench_rmap.c builds
 * this file with a run-time value to compare descriptor sizes).
 */
#include "mmu/pte_list.h"

#include <errno.h>
#include <stddef.h>

#ifndef PTE_LIST_EXT
/* 16 + 8 * 14 = 128 bytes; chosen by measurement, see docs/rmap.md. */
#define PTE_LIST_EXT 14
#endif

/* What removing an entry did to the first descriptor. */
enum desc_removal {
	DESC_KEPT,      /* the first descriptor still holds entries */
	DESC_FREED,     /* it emptied and was freed; the next one leads now */
	DESC_COLLAPSED, /* one entry survived and moved into the head word */
};

size_t pte_list_desc_size(void)
{
	return offsetof(struct pte_list_desc, sptes) + (size_t)PTE_LIST_EXT * sizeof(uint64_t *);
}

unsigned pte_list_ext(void)
{
	return PTE_LIST_EXT;
}

void pte_list_slab_init(struct mmu_slab *slab)
{
	SMMU_ASSERT(PTE_LIST_EXT >= 2); /* the 1 -> 2 transition fills one descriptor */
	mmu_slab_init(slab, "pte_list_desc", pte_list_desc_size());
}

static void head_set_desc(struct rmap_head *head, struct pte_list_desc *desc)
{
	head->val = (uintptr_t)desc | PTE_LIST_MANY;
}

/* 1 -> 2 entries: the inline entry and the new one share a fresh descriptor. */
static void add_second_entry(struct mmu_cache *mc, struct rmap_head *head, uint64_t *sptep)
{
	struct pte_list_desc *desc = mmu_cache_alloc(mc);

	desc->sptes[0] = (uint64_t *)head->val;
	desc->sptes[1] = sptep;
	desc->spte_count = 2;
	head_set_desc(head, desc);
}

/* The first descriptor is full: a new, empty one goes in front of it. */
static struct pte_list_desc *push_desc(struct mmu_cache *mc, struct rmap_head *head,
                                       struct pte_list_desc *full)
{
	struct pte_list_desc *desc = mmu_cache_alloc(mc);

	desc->more = full;
	desc->tail_count = full->spte_count + full->tail_count;
	head_set_desc(head, desc);
	return desc;
}

unsigned pte_list_add(struct mmu_cache *mc, struct rmap_head *head, uint64_t *sptep)
{
	struct pte_list_desc *desc;
	unsigned count;

	SMMU_ASSERT(sptep && !((uintptr_t)sptep & PTE_LIST_MANY));
#ifdef SMMU_AUDIT
	SMMU_ASSERT(!pte_list_contains(head, sptep));
#endif
	if (!head->val) {
		head->val = (uintptr_t)sptep;
		return 0;
	}
	if (!(head->val & PTE_LIST_MANY)) {
		add_second_entry(mc, head, sptep);
		return 1;
	}
	desc = pte_list_head_desc(head);
	count = desc->spte_count + desc->tail_count;
	if (desc->spte_count == PTE_LIST_EXT)
		desc = push_desc(mc, head, desc);
	desc->sptes[desc->spte_count++] = sptep;
	return count;
}

/*
 * Remove desc->sptes[pos] by moving the first descriptor's last entry into
 * its place, then restore the invariants: an emptied first descriptor is
 * freed (the next, full one leads), and a lone survivor goes inline.
 */
static enum desc_removal remove_desc_entry(struct mmu_slab *slab, struct rmap_head *head,
                                           struct pte_list_desc *desc, unsigned pos)
{
	struct pte_list_desc *first = pte_list_head_desc(head);
	unsigned last = first->spte_count - 1;

	desc->sptes[pos] = first->sptes[last];
	first->sptes[last] = NULL;
	first->spte_count = last;
	if (last == 0) {
		/* A chain holds >= 2 entries, so an emptied first one has a successor. */
		SMMU_ASSERT(first->more);
		head_set_desc(head, first->more);
		mmu_slab_free(slab, first);
		return DESC_FREED;
	}
	if (last == 1 && !first->more) {
		head->val = (uintptr_t)first->sptes[0];
		mmu_slab_free(slab, first);
		return DESC_COLLAPSED;
	}
	return DESC_KEPT;
}

/* Find sptep in the chain; false if absent. */
static bool find_in_chain(const struct rmap_head *head, const uint64_t *sptep,
                          struct pte_list_desc **descp, unsigned *posp)
{
	for (struct pte_list_desc *desc = pte_list_head_desc(head); desc; desc = desc->more) {
		for (unsigned i = 0; i < desc->spte_count; i++) {
			if (desc->sptes[i] == sptep) {
				*descp = desc;
				*posp = i;
				return true;
			}
		}
	}
	return false;
}

static NOINLINE int remove_absent(const uint64_t *sptep)
{
	SMMU_ASSERT(!"pte_list_remove: spte not in the list");
	return -ENOENT;
}

int pte_list_remove(struct mmu_slab *slab, struct rmap_head *head, uint64_t *sptep)
{
	struct pte_list_desc *desc;
	unsigned pos;

	if (!(head->val & PTE_LIST_MANY)) {
		if (!head->val || head->val != (uintptr_t)sptep)
			return remove_absent(sptep);
		head->val = 0;
		return 0;
	}
	if (!find_in_chain(head, sptep, &desc, &pos))
		return remove_absent(sptep);
	remove_desc_entry(slab, head, desc, pos);
	return 0;
}

unsigned pte_list_destroy(struct mmu_slab *slab, struct rmap_head *head)
{
	unsigned count = pte_list_count(head);
	struct pte_list_desc *desc, *next;

	if (head->val & PTE_LIST_MANY) {
		for (desc = pte_list_head_desc(head); desc; desc = next) {
			next = desc->more;
			mmu_slab_free(slab, desc);
		}
	}
	head->val = 0;
	return count;
}

bool pte_list_contains(const struct rmap_head *head, const uint64_t *sptep)
{
	struct pte_list_desc *desc;
	unsigned pos;

	if (!(head->val & PTE_LIST_MANY))
		return head->val && head->val == (uintptr_t)sptep;
	return find_in_chain(head, sptep, &desc, &pos);
}

/*
 * The iterator stands on (desc, pos); pte_list_next steps to pos - 1, or to
 * the last slot of the next descriptor.  Only removals that touch the
 * iterator's own descriptor as the first one need it repositioned.
 */
void pte_list_iter_remove(struct mmu_slab *slab, struct pte_list_iter *it)
{
	struct rmap_head *head = it->head;
	struct pte_list_desc *first;
	enum desc_removal what;

	SMMU_ASSERT(it->sptep);
	if (!it->desc) {
		SMMU_ASSERT(head->val == (uintptr_t)it->sptep);
		head->val = 0;
		it->pos = 0;
		return;
	}
	/* Catches a second removal of the same position. */
	SMMU_ASSERT(it->desc->sptes[it->pos] == it->sptep);
	first = pte_list_head_desc(head);
	what = remove_desc_entry(slab, head, it->desc, (unsigned)it->pos);
	if (it->desc != first)
		return; /* a later, still-live descriptor: its filled hole was visited */
	if (what == DESC_FREED) {
		/* pos was 0; resume at the top of the new, full first descriptor. */
		it->desc = pte_list_head_desc(head);
		it->pos = (int)it->desc->spte_count;
	} else if (what == DESC_COLLAPSED) {
		/* The survivor is unvisited iff it sat below the removed slot. */
		it->desc = NULL;
		it->pos = it->pos > 0;
	}
}

static int check_desc(const struct pte_list_desc *desc, bool first)
{
	if (!desc->spte_count || desc->spte_count > PTE_LIST_EXT)
		return -EINVAL;
	if (!first && desc->spte_count != PTE_LIST_EXT)
		return -EINVAL;
	for (unsigned i = 0; i < PTE_LIST_EXT; i++) {
		const uint64_t *sptep = desc->sptes[i];

		if ((i < desc->spte_count) != (sptep != NULL))
			return -EINVAL;
		if ((uintptr_t)sptep & PTE_LIST_MANY)
			return -EINVAL;
	}
	return 0;
}

int pte_list_check(const struct rmap_head *head)
{
	const struct pte_list_desc *desc;
	unsigned entries = 0;

	if (!(head->val & PTE_LIST_MANY))
		return 0;
	desc = pte_list_head_desc(head);
	if (!desc)
		return -EINVAL;
	for (const struct pte_list_desc *d = desc; d; d = d->more) {
		if (check_desc(d, d == desc))
			return -EINVAL;
		entries += d->spte_count;
	}
	if (entries < 2 || entries != desc->spte_count + desc->tail_count)
		return -EINVAL;
	return 0;
}
