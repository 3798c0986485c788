/*
 * slot_rmaps.c - the gate's range walks (slot_iface.h): the rmap heads of
 * every gfn in an hva range (host invalidation and aging, KVM's
 * kvm_handle_hva_range), of a whole slot (dirty logging), of every slot
 * (audit), and the dirty-log harvest; and, for the TDP MMU, which keeps no
 * rmaps, the same by gfn range.  The heads are the memslot's
 * metadata: one per (gfn, level), a level-L head covering the 512^(L-1)
 * gfns of an aligned large page.
 */
#include "memslot/memslot.h"
#include "mmu/slot_iface.h"

/* fn on the rmaps of [gfn_start, gfn_end) in slot at every level. */
static bool for_each_rmap_in_range(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn_start,
                                   gfn_t gfn_end, mmu_rmap_fn *fn, void *arg)
{
	bool any = false;

	for (int level = 1; level <= MEMSLOT_NR_LEVELS; level++) {
		uint64_t step = memslot_pages_per_level(level);

		for (gfn_t gfn = gfn_start & ~(step - 1); gfn < gfn_end; gfn += step) {
			gfn_t g = gfn < slot->base_gfn ? slot->base_gfn : gfn;

			if (!memslot_contains(slot, g))
				continue;
			any |= fn(vm, memslot_rmap(slot, g, level), arg);
		}
	}
	return any;
}

bool mmu_for_each_rmap_in_hva_range(struct mmu_vm *vm, hva_t start, hva_t end, mmu_rmap_fn *fn,
                                    void *arg)
{
	struct memslot *slot;
	bool any = false;

	for (unsigned i = 0; (slot = memslots_at(vm->slots, i)); i++) {
		gfn_t gs, ge;

		if (memslot_hva_range_to_gfns(slot, start, end, &gs, &ge))
			any |= for_each_rmap_in_range(vm, slot, gs, ge, fn, arg);
	}
	return any;
}

bool mmu_for_each_rmap_in_slot(struct mmu_vm *vm, struct memslot *slot, unsigned level,
                               mmu_rmap_fn *fn, void *arg)
{
	bool any = false;

	for (uint64_t e = 0; e < memslot_level_entries(slot, (int)level); e++)
		any |= fn(vm, &slot->rmap[level - 1][e], arg);
	return any;
}

bool mmu_for_each_rmap(struct mmu_vm *vm, mmu_rmap_fn *fn, void *arg)
{
	struct memslot *slot;
	bool any = false;

	for (unsigned i = 0; (slot = memslots_at(vm->slots, i)); i++)
		for (unsigned level = 1; level <= MEMSLOT_NR_LEVELS; level++)
			any |= mmu_for_each_rmap_in_slot(vm, slot, level, fn, arg);
	return any;
}

int mmu_harvest_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out, mmu_rmap_fn *fn,
                          void *arg, bool *any)
{
	struct memslot *slot = memslots_get(vm->slots, id);
	int r = memslots_get_dirty_log(vm->slots, id, out);

	*any = false;
	for (uint64_t i = 0; !r && i < slot->npages; i++)
		if (out[i / 64] & (1ull << (i % 64)))
			*any |= fn(vm, memslot_rmap(slot, slot->base_gfn + i, 1), arg);
	return r;
}

bool mmu_for_each_gfn_range_in_hva_range(struct mmu_vm *vm, hva_t start, hva_t end,
                                         mmu_gfn_range_fn *fn, void *arg)
{
	struct memslot *slot;
	bool any = false;

	for (unsigned i = 0; (slot = memslots_at(vm->slots, i)); i++) {
		gfn_t gs, ge;

		if (memslot_hva_range_to_gfns(slot, start, end, &gs, &ge))
			any |= fn(vm, gs, ge, arg);
	}
	return any;
}

void mmu_slot_gfn_range(const struct memslot *slot, gfn_t *base, uint64_t *npages)
{
	*base = slot->base_gfn;
	*npages = slot->npages;
}

int mmu_fetch_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out, gfn_t *base,
                        uint64_t *npages)
{
	struct memslot *slot = memslots_get(vm->slots, id);
	int r = memslots_get_dirty_log(vm->slots, id, out);

	if (!r) {
		*base = slot->base_gfn;
		*npages = slot->npages;
	}
	return r;
}

bool mmu_slot_test_dirty(const struct memslot *slot, gfn_t gfn)
{
	return slot->dirty_bitmap && memslot_test_dirty(slot, gfn);
}
