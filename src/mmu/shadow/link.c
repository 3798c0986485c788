/*
 * link.c - the shadow page DAG: linking a child page under a nonleaf
 * spte, its parent-pte list, and the unsync_child_bitmap marks that lead
 * from a root down to every unsync page (Documentation/virt/kvm/mmu.rst,
 * "unsync_children", "unsync_child_bitmap").
 *
 * Invariant: bit i of sp->unsync_child_bitmap is set only if spt[i] is a
 * present nonleaf spte whose child is unsync or has unsync children (it may
 * stay set a little longer: walkers clear stale bits as they meet them);
 * sp->unsync_children counts the set bits.
 */
#include "mmu/shadow/shadow.h"

static bool test_and_set_bit64(uint64_t *map, unsigned i)
{
	uint64_t m = 1ull << (i % 64);
	bool was = map[i / 64] & m;

	map[i / 64] |= m;
	return was;
}

static bool test_and_clear_bit64(uint64_t *map, unsigned i)
{
	uint64_t m = 1ull << (i % 64);
	bool was = map[i / 64] & m;

	map[i / 64] &= ~m;
	return was;
}

/* Mark the path above an sp that became unsync or got unsync children. */
static void mark_unsync(struct mmu_vm *vm, uint64_t *parent_sptep)
{
	struct sp *parent = sptep_to_sp(vm, parent_sptep);

	if (!parent) /* a special PAE root entry: roots are synced from the top */
		return;
	if (test_and_set_bit64(parent->unsync_child_bitmap, sptep_index(parent, parent_sptep)))
		return;
	if (parent->unsync_children++)
		return;
	mark_parents_unsync(vm, parent);
}

void mark_parents_unsync(struct mmu_vm *vm, struct sp *sp)
{
	struct pte_list_iter it;
	uint64_t *sptep;

	for_each_pte_list_entry(&sp->parent_ptes, &it, sptep)
		mark_unsync(vm, sptep);
}

void clear_unsync_child_bit(struct mmu_vm *vm, struct sp *parent, unsigned index)
{
	(void)vm;
	if (test_and_clear_bit64(parent->unsync_child_bitmap, index)) {
		SMMU_ASSERT(parent->unsync_children > 0);
		parent->unsync_children--;
	}
}

/* Point *sptep (in a page of the vCPU's tables) at child (KVM's link_shadow_page). */
void link_child_sp(struct mmu_vcpu *v, uint64_t *sptep, struct sp *child)
{
	__atomic_store_n(sptep, spte_make_nonleaf(child->spt_hpa), __ATOMIC_RELEASE);
	pte_list_add(&v->pte_list_desc_cache, &child->parent_ptes, sptep);
	if (child->unsync_children || child->unsync)
		mark_unsync(v->vm, sptep);
}

/* Undo link_child_sp(): the parent spte no longer points at child. */
void drop_parent_pte(struct mmu_vm *vm, struct sp *child, uint64_t *parent_sptep)
{
	struct sp *parent = sptep_to_sp(vm, parent_sptep);

	pte_list_remove(&vm->pte_list_desc_slab, &child->parent_ptes, parent_sptep);
	if (parent)
		clear_unsync_child_bit(vm, parent, sptep_index(parent, parent_sptep));
	__atomic_store_n(parent_sptep, 0, __ATOMIC_RELEASE);
	mmu_tables_changed(vm);
}
