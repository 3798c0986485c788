/*
 * pte_write.c - a guest write to one of its own page tables that the MMU
 * write-protects (KVM's kvm_mmu_pte_write, now kvm_mmu_track_write), and
 * invlpg.
 *
 * The write has already landed in guest memory.  For every page shadowing
 * the written table:
 *  - a write that is misaligned for the gpte size, or one more in a run of
 *    writes to a table the guest no longer walks (write flooding: three
 *    emulated writes without a fault through the page), means the page is
 *    probably not a page table any more: zap it so the gfn is unshadowed
 *    and the guest writes it at full speed (mmu_flooded);
 *  - otherwise drop the sptes behind the written gptes and, for leaf pages,
 *    map the new gpte at once if it is valid (mmu_pte_updated), saving the
 *    fault the guest is about to take.
 * Leaf pages are exempt from flooding when unsync is on: they can go unsync
 * instead of being written through emulation.
 */
#include "mmu/shadow/shadow.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/gpte.h"
#include "mmu/shadow/pte_write.h"
#include "mmu/shadow/root.h"
#include "mmu/shadow/sp.h"
#include "mmu/shadow/spte_make.h"
#include "mmu/shadow/spte_track.h"
#include "mmu/shadow/write_track.h"
#include "mmu/shadow/zap.h"
#include "mmu/spte_ops.h"

#define WRITE_FLOOD_THRESHOLD 3

/* KVM's detect_write_misaligned: a write that does not cover whole gptes. */
static bool write_misaligned(const struct sp *sp, unsigned offset, unsigned bytes)
{
	unsigned size = gpte_size(sp);

	if (!(offset & (size - 1)) && bytes == 1)
		return false; /* a byte write to a gpte's low byte (e.g. clear_bit) */
	return bytes < 4 || ((offset ^ (offset + bytes - 1)) & ~(size - 1));
}

static bool write_flooded(const struct mmu_vm *vm, struct sp *sp)
{
	if (sp->role.level == 1 && vm->unsync_enabled)
		return false;
	return ++sp->write_flooding_count >= WRITE_FLOOD_THRESHOLD;
}

/* spte indexes of sp behind the gpte at byte `offset` of its table; returns how many. */
static unsigned written_sptes(const struct sp *sp, unsigned offset, unsigned idx[2])
{
	unsigned g = offset / gpte_size(sp);

	if (!sp->role.has_4_byte_gpte) {
		idx[0] = g;
		return 1;
	}
	if (sp->role.level == 1) {
		if (g / 512 != sp->role.quadrant)
			return 0;
		idx[0] = g % 512;
		return 1;
	}
	if (g / 256 != sp->role.quadrant)
		return 0;
	idx[0] = 2 * (g % 256);
	idx[1] = idx[0] + 1;
	return 2;
}

static bool update_gpte(struct mmu_vcpu *v, struct sp *sp, unsigned i)
{
	struct mmu_vm *vm = v->vm;
	struct leaf_request req;
	uint64_t gpte;
	bool was_present = is_shadow_present_spte(spte_get(&sp->spt[i]));

	if (!was_present)
		return false;
	mmu_zap_spte(vm, sp, &sp->spt[i]);
	if (sp->role.level > 1) {
		vm->stat.mmu_pde_zapped++;
		return true;
	}
	if (!mmu_read_gpte(vm, sp, i, &gpte) && mmu_gpte_to_leaf(v, sp, i, gpte, &req)) {
		vm->stat.mmu_pte_updated++;
		(void)mmu_set_spte(v, sp, &sp->spt[i], &req);
	}
	return true;
}

/* One page shadowing the written table; returns true if the hash chain changed. */
static bool pte_write_sp(struct mmu_vcpu *v, struct sp *sp, gpa_t gpa, unsigned bytes,
                         struct list_head *invalid_list, bool *flush)
{
	unsigned offset = gpa & ~PAGE_MASK, idx[2], n;

	if (write_misaligned(sp, offset, bytes) || write_flooded(v->vm, sp)) {
		mmu_prepare_zap_page(v->vm, sp, invalid_list);
		v->vm->stat.mmu_flooded++;
		return true;
	}
	/* A write wider than a gpte (8 bytes on 4-byte gptes) covers two. */
	for (unsigned part = 0; part < bytes; part += gpte_size(sp)) {
		n = written_sptes(sp, offset + part, idx);
		for (unsigned k = 0; k < n; k++)
			*flush |= update_gpte(v, sp, idx[k]);
	}
	return false;
}

void mmu_pte_write(struct mmu_vcpu *v, gpa_t gpa, unsigned bytes)
{
	struct mmu_vm *vm = v->vm;
	gfn_t gfn = gpa_to_gfn(gpa);
	struct list_head invalid_list;
	bool flush = false, restart;
	struct sp *sp;

	if (!gfn_is_write_tracked(vm, gfn))
		return;
	vm->stat.mmu_pte_write++;
	list_init(&invalid_list);
	/* Each page is visited once: zapped ones leave the hash, so restarting is safe. */
	do {
		restart = false;
		for_each_gfn_valid_indirect_sp(vm, sp, gfn) {
			if (pte_write_sp(v, sp, gpa, bytes, &invalid_list, &flush)) {
				restart = true;
				break;
			}
		}
	} while (restart);
	if (flush)
		mmu_flush_remote_tlbs(vm);
	mmu_commit_zap_page(vm, &invalid_list);
}

/*
 * invlpg: bring the leaf for gva up to date in every root of this vCPU
 * (KVM syncs all roots: INVLPG also drops global translations of other
 * PCIDs, SDM 4.10.4.1).  Only unsync pages can be stale; a path without
 * unsync children is skipped at once.
 */
static void invlpg_root(struct mmu_vcpu *v, const struct mmu_root *root, gva_t gva, bool can_map)
{
	struct shadow_walk it;

	if (!shadow_walk_init(v, root, gva, &it))
		return;
	while (it.sp) {
		unsigned i = spte_index(gva, it.level);
		uint64_t spte = spte_get(&it.sp->spt[i]);

		if (it.sp->unsync && it.level == 1) {
			struct leaf_request req;
			uint64_t gpte;

			if (!is_shadow_present_spte(spte))
				return;
			mmu_zap_spte(v->vm, it.sp, &it.sp->spt[i]);
			mmu_flush_remote_tlbs(v->vm);
			if (can_map && !mmu_read_gpte(v->vm, it.sp, i, &gpte) &&
			    mmu_gpte_to_leaf(v, it.sp, i, gpte, &req))
				(void)mmu_set_spte(v, it.sp, &it.sp->spt[i], &req);
			return;
		}
		if (!it.sp->unsync_children || !is_shadow_present_spte(spte) ||
		    is_last_spte(spte, it.level))
			return;
		it.sp = sp_from_hpa(v->vm, spte_to_hpa(spte));
		it.level--;
	}
}

void shadow_invlpg(struct mmu_vcpu *v, gva_t gva)
{
	struct mmu_vm *vm = v->vm;
	/* Without memory to map the new gpte at once, dropping the spte is enough. */
	bool can_map = mmu_topup_caches(v) == 0;

	mmu_lock_acquire(&vm->mmu_lock);
	vm->stat.invlpg++;
	invlpg_root(v, &v->root, gva, can_map);
	for (unsigned i = 0; i < MMU_NUM_PREV_ROOTS; i++)
		invlpg_root(v, &v->prev_roots[i], gva, can_map);
	mmu_audit_if_enabled(vm);
	mmu_lock_release(&vm->mmu_lock);
}
