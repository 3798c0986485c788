/*
 * tdp_fault.c - the TDP page fault (KVM's kvm_tdp_mmu_map and
 * kvm_mmu_hugepage_adjust): an EPT violation at gpa is fixed by walking
 * the EPT from the root to the level the mapping may use, creating the
 * missing tables, and installing the leaf:
 *
 *   1. gfn -> memslot; no slot: an MMIO spte (a misconfiguration), MMIO; a
 *      write to a read-only slot: MMIO (the write is dropped);
 *   2. the level: the largest the slot's bounds and disallow counts, dirty
 *      logging (4 KiB only) and the host's backing allow, up to 2 MiB, or
 *      1 GiB with the CPU model's gbpages;
 *   3. walk down: a missing table is made; a huge leaf above the level is
 *      replaced by a table (the next faults fill it: KVM's "split by
 *      zapping"); a table where the leaf goes is zapped with what it held;
 *   4. the leaf: readable and executable, writable unless the host page,
 *      the slot or dirty logging say otherwise (a write fault in a logged
 *      slot marks the page dirty and maps it writable).
 *
 * Nothing here depends on the guest's page tables: the vCPU walked them
 * (cpu/walk2d).  A misconfiguration exit at a current MMIO spte is answered
 * at once (KVM's handle_mmio_page_fault).
 */
#include <errno.h>

#include "mmu/fault_entry.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/sp.h"
#include "mmu/slot_iface.h"
#include "mmu/spte_ops.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"
#include "mmu/tdp/tdp_spte_change.h"

struct tdp_map {
	gfn_t gfn;       /* the faulting gfn */
	unsigned level;  /* the leaf's level */
	uint64_t leaf;   /* the leaf to install (0: an MMIO spte instead) */
	/*
	 * NX huge pages: the level the slot and host allowed (req_level) when an
	 * instruction fetch made the leaf smaller; the tables made at or below
	 * it are tracked so recovery can make the range huge again.
	 */
	unsigned req_level;
	bool huge_page_disallowed;
};

/* The entry for gfn in root's tree at `target`, creating the tables above it (m: NX tracking, or NULL). */
static uint64_t *walk_to_level(struct mmu_vcpu *v, gfn_t gfn, unsigned target,
                               const struct tdp_map *m, struct list_head *invalid_list,
                               bool *flush)
{
	struct mmu_vm *vm = v->vm;
	struct sp *sp = sp_from_hpa(vm, v->root.hpa);

	for (unsigned level = sp->role.level;; level--) {
		uint64_t *sptep = &sp->spt[ept_index(gfn_to_gpa(gfn), level)];
		uint64_t e = spte_get(sptep);
		struct sp *child;

		if (level == target) {
			/* A table where a huge leaf goes: it and all below it go (hugepage collapse). */
			if (is_tdp_present(e) && !is_ept_leaf(e, level))
				*flush |= tdp_zap_spte(vm, sptep, level, invalid_list);
			return sptep;
		}
		if (is_tdp_present(e) && !is_ept_leaf(e, level)) {
			sp = sp_from_hpa(vm, ept_to_hpa(e));
			continue;
		}
		/* Nothing, an MMIO spte or a huge leaf above the target: a table replaces it. */
		*flush |= tdp_zap_spte(vm, sptep, level, invalid_list);
		child = tdp_alloc_table(v, level - 1, gfn & ~(tdp_pages_per_level(level) - 1));
		tdp_link_table(vm, sptep, child);
		if (m && m->huge_page_disallowed && level <= m->req_level)
			tdp_track_nx_split(vm, child);
		sp = child;
	}
}

/*
 * KVM's disallowed_hugepage_adjust: where execution split the huge page
 * over gfn into a table, a later data fault must not collapse it again (the
 * next fetch would split it back): it maps below that table's level.
 * Only recovery (tdp_nx.c) gives the range back to huge leaves.
 */
static unsigned nx_adjust_level(struct mmu_vcpu *v, gfn_t gfn, unsigned level)
{
	struct mmu_vm *vm = v->vm;
	struct sp *sp = sp_from_hpa(vm, v->root.hpa);

	for (unsigned l = sp->role.level; l > 1 && sp; l--) {
		uint64_t e = spte_get(&sp->spt[ept_index(gfn_to_gpa(gfn), l)]);

		if (!is_tdp_present(e) || is_ept_leaf(e, l))
			break;
		sp = sp_from_hpa(vm, ept_to_hpa(e));
		if (l <= level && sp && sp->tdp.nx_huge_page_disallowed)
			level = l - 1;
	}
	return level;
}

static bool mmio_gen_usable(struct mmu_vm *vm, uint64_t *gen)
{
	*gen = mmu_memslots_generation(vm);
	return *gen <= SPTE_MMIO_GEN_MASK && (vm->shortcuts & SMMU_SHORTCUT_MMIO_SPTE);
}

/* A misconfiguration exit: the spte is a current MMIO spte for the gpa. */
static bool mmio_fault_fast(struct mmu_vcpu *v, const struct mmu_fault *f)
{
	struct mmu_vm *vm = v->vm;
	gfn_t gfn = gpa_to_gfn(f->gpa);
	struct sp *sp = sp_from_hpa(vm, v->root.hpa);
	uint64_t e = 0, gen;

	for (unsigned level = sp->role.level; sp; level--) {
		e = spte_get(&sp->spt[ept_index(f->gpa, level)]);
		if (level == 1 || !is_tdp_present(e) || is_ept_leaf(e, level))
			break;
		sp = sp_from_hpa(vm, ept_to_hpa(e));
	}
	return is_tdp_mmio_spte(e) && mmio_gen_usable(vm, &gen) && tdp_mmio_gen_matches(e, gen) &&
	       tdp_mmio_gfn(e) == gfn;
}

static void install_mmio_spte(struct mmu_vcpu *v, gfn_t gfn)
{
	struct list_head invalid_list;
	bool flush = false;
	uint64_t gen, *sptep;

	if (!mmio_gen_usable(v->vm, &gen) || gfn >> SPTE_MMIO_GFN_BITS)
		return;
	list_init(&invalid_list);
	sptep = walk_to_level(v, gfn, 1, NULL, &invalid_list, &flush);
	if (!is_tdp_present(spte_get(sptep)))
		mmu_spte_set(sptep, tdp_make_mmio(gfn, gen));
	tdp_commit_zap(v->vm, &invalid_list, flush);
}

/* Steps 2 and 4: the level and the leaf; 0, -EAGAIN (retry) or -errno. */
static int make_leaf(struct mmu_vcpu *v, struct memslot *slot, gfn_t gfn, bool write, bool exec,
                     struct tdp_map *m)
{
	struct mmu_vm *vm = v->vm;
	struct tdp_leaf l = {.accessed = vm->ept_ad};
	struct host_pfn hp;
	gfn_t base;
	int r;

	m->level = mmu_max_mapping_level(vm, slot, gfn, vm->gbpages ? 3 : 2);
	m->req_level = m->level;
	/* NX huge pages (KVM's disallowed_hugepage_adjust): code runs from 4 KiB pages only. */
	m->huge_page_disallowed = vm->nx_huge_pages_on && exec && m->level > 1;
	if (m->huge_page_disallowed)
		m->level = 1;
	else if (vm->nx_huge_pages_on && m->level > 1)
		m->level = nx_adjust_level(v, gfn, m->level);
	base = gfn & ~(tdp_pages_per_level(m->level) - 1);
	r = mmu_gfn_to_pfn(vm, slot, base, write, &hp);
	if (r)
		return r;
	l.hpa = (hpa_t)hp.pfn << PAGE_SHIFT;
	l.level = m->level;
	l.nx = vm->nx_huge_pages_on && m->level > 1;
	l.host_writable = hp.writable && !mmu_slot_readonly(slot);
	/* Dirty logging: writable only after a write fault, which logs the page. */
	l.writable = l.host_writable && (write || !mmu_slot_dirty_logging(slot));
	if (write && l.writable) {
		mmu_slot_mark_dirty(slot, base);
		l.dirty = vm->ept_ad;
	}
	m->gfn = gfn;
	m->leaf = tdp_make_leaf(&l);
	return 0;
}

/*
 * Step 3 and the store; pf_fixed, or pf_spurious if the leaf was already
 * there.  The leaf goes back to the vCPU (f->leaf_spte), which may finish
 * its walk with it (the leaf hand-back).
 */
static void install_leaf(struct mmu_vcpu *v, const struct tdp_map *m, struct mmu_fault *f)
{
	struct mmu_vm *vm = v->vm;
	struct list_head invalid_list;
	bool flush = false;
	uint64_t *sptep, old;

	list_init(&invalid_list);
	sptep = walk_to_level(v, m->gfn, m->level, m, &invalid_list, &flush);
	old = spte_get(sptep);
	if (is_tdp_present(old) && (old | EPT_A | EPT_D) == (m->leaf | EPT_A | EPT_D)) {
		vm->stat.pf_spurious++;
	} else {
		/* Another frame or fewer rights: TLBs may hold the old translation. */
		if (is_tdp_present(old) &&
		    (ept_to_hpa(old) != ept_to_hpa(m->leaf) || ((old & EPT_W) && !(m->leaf & EPT_W))))
			flush = true;
		tdp_set_leaf(vm, sptep, m->level, m->leaf);
		vm->stat.pf_fixed++;
	}
	tdp_commit_zap(vm, &invalid_list, flush);
	f->leaf_spte = spte_get(sptep);
	f->leaf_level = m->level;
}

static enum mmu_fault_action fault_locked(struct mmu_vcpu *v, struct mmu_fault *f)
{
	struct mmu_vm *vm = v->vm;
	gfn_t gfn = gpa_to_gfn(f->gpa);
	bool write = f->exit_qual & EPT_QUAL_WRITE;
	struct memslot *slot;
	struct tdp_map m;
	int r;

	if (f->ept_misconfig && mmio_fault_fast(v, f)) {
		vm->stat.pf_mmio++;
		vm->stat.pf_mmio_spte++;
		return MMU_FAULT_MMIO;
	}
	slot = mmu_gfn_to_slot(vm, gfn);
	if (!slot || (write && mmu_slot_readonly(slot))) {
		vm->stat.pf_mmio++;
		if (!slot)
			install_mmio_spte(v, gfn);
		return MMU_FAULT_MMIO;
	}
	/* The host is changing this page right now: retry (KVM's mmu_invalidate_retry). */
	if (unlikely(vm->invalidate.in_progress) &&
	    mmu_invalidate_retry_hva(&vm->invalidate, vm->invalidate.seq,
	                             mmu_slot_gfn_to_hva(slot, gfn)))
		return MMU_FAULT_RETRY;
	r = make_leaf(v, slot, gfn, write, f->exit_qual & EPT_QUAL_FETCH, &m);
	if (r == -EAGAIN)
		return MMU_FAULT_RETRY; /* a merged page: unshared after unlocking */
	if (r)
		return MMU_FAULT_ERROR;
	install_leaf(v, &m, f);
	return MMU_FAULT_RETRY;
}

static enum mmu_fault_action tdp_fault_locked(struct mmu_vcpu *v, struct mmu_fault *f)
{
	f->leaf_level = 0;
	tdp_reclaim_step(v->vm);
	/* Zapped meanwhile: share or build the root again (the VM installs it in the vCPU). */
	if (v->root.hpa == INVALID_HPA)
		tdp_load_root(v);
	return fault_locked(v, f);
}

enum mmu_fault_action tdp_page_fault(struct mmu_vcpu *v, struct mmu_fault *f)
{
	return mmu_fault_enter(v, f, tdp_fault_locked);
}
