/*
 * unsync.c - letting a leaf-level shadow page go unsync, and the
 * unsync_child_bitmap marks that lead from a root down to every unsync page
 * (Documentation/virt/kvm/mmu.rst, "Synchronized and unsynchronized
 * pages", "unsync_children", "unsync_child_bitmap").  Resynchronizing is
 * sync.c.
 *
 * Rules (KVM's mmu_try_to_unsync_pages):
 *   - only when every valid page shadowing the gfn is leaf-level: a page
 *     directory's sptes point at other shadow pages that must stay exact;
 *   - never for a prefetch (nothing asked for write access);
 *   - a page that becomes unsync marks the path from its parents up
 *     (unsync_child_bitmap), so syncing from a root finds it fast.
 *
 * Invariant: bit i of sp->unsync_child_bitmap is set only if spt[i] is a
 * present nonleaf spte whose child is unsync or has unsync children (it may
 * stay set a little longer: walkers clear stale bits as they meet them);
 * sp->unsync_children counts the set bits.
 */
#include <errno.h>

#include "mmu/shadow/sp.h"
#include "mmu/shadow/unsync.h"

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
void mark_unsync(struct mmu_vm *vm, uint64_t *parent_sptep)
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

static void unsync_page(struct mmu_vm *vm, struct sp *sp)
{
	sp->unsync = true;
	vm->stat.mmu_unsync++;
	mark_parents_unsync(vm, sp);
}

int mmu_try_to_unsync_pages(struct mmu_vcpu *v, gfn_t gfn, bool can_unsync)
{
	struct mmu_vm *vm = v->vm;
	struct sp *sp;

	if (!vm->unsync_enabled || !can_unsync)
		return -EPERM;
	for_each_gfn_valid_indirect_sp(vm, sp, gfn)
		if (sp->role.level != 1)
			return -EPERM;
	for_each_gfn_valid_indirect_sp(vm, sp, gfn)
		if (!sp->unsync)
			unsync_page(vm, sp);
	return 0;
}
