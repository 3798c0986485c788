/*
 * tdp_audit.c - the TDP MMU's invariant checker (the TDP half of audit.c):
 *   T1 every present leaf maps the host frame backing its gfn, through a
 *      memslot of this VM, at a level its slot allows (a logged slot: 4 KiB,
 *      or a write-protected huge leaf from before logging began);
 *   T2 no writable leaf in a read-only slot; in a logged slot, a writable
 *      leaf only over a page marked dirty;
 *   T3 every table entry points at a live table one level down covering
 *      the same gfns; every table hangs under the root (no page leaks);
 *   T4 pages_4k/2m/1g equal the leaves by level (obsolete tables' included:
 *      they are counted until freed), n_used_mmu_pages the tables under the
 *      root and the obsolete ones not yet freed;
 *   T5 an MMIO spte's gfn is its own, and no memslot holds it at its generation;
 *   T6 under NX huge pages no huge leaf is executable, and the split list
 *      holds exactly the tracked tables (nx_lpage_splits).
 */
#include <errno.h>
#include <stdio.h>

#include "mmu/audit_report.h"
#include "mmu/shadow/sp.h"
#include "mmu/slot_iface.h"
#include "mmu/tdp/tdp.h"
#include "mmu/tdp/tdp_iter.h"
#include "mmu/tdp/tdp_spte.h"

struct tdp_audit {
	struct audit_report rep;
	uint64_t tables, by_level[4];
};

#define fail(a, ...) audit_report_fail(&(a)->rep, __VA_ARGS__)

static void audit_leaf(struct mmu_vm *vm, struct tdp_audit *a, uint64_t e, unsigned level,
                       gfn_t gfn)
{
	struct memslot *slot = mmu_gfn_to_slot(vm, gfn);
	pfn_t pfn;

	a->by_level[level]++;
	if (!slot || mmu_peek_pfn(vm, slot, gfn, &pfn) || (hpa_t)pfn << PAGE_SHIFT != ept_to_hpa(e)) {
		fail(a, "T1: leaf for gfn %#llx does not map the frame backing it",
		     (unsigned long long)gfn);
		return;
	}
	/*
	 * A logged slot maps new pages at 4 KiB; huge leaves made before logging
	 * began stay until a write splits them, write-protected (KVM without
	 * eager splitting).
	 */
	if (mmu_slot_dirty_logging(slot) ? level > 1 && (e & EPT_W)
	                                 : level > mmu_max_mapping_level(vm, slot, gfn, 3))
		fail(a, "T1: leaf for gfn %#llx at level %u, more than its slot allows",
		     (unsigned long long)gfn, level);
	if (vm->nx_huge_pages_on && level > 1 && (e & EPT_X))
		fail(a, "T6: executable huge leaf for gfn %#llx under NX huge pages",
		     (unsigned long long)gfn);
	if ((e & EPT_W) && mmu_slot_readonly(slot))
		fail(a, "T2: writable leaf for gfn %#llx in a read-only slot", (unsigned long long)gfn);
	if ((e & EPT_W) && mmu_slot_dirty_logging(slot) && !mmu_slot_test_dirty(slot, gfn))
		fail(a, "T2: writable leaf for clean logged gfn %#llx", (unsigned long long)gfn);
}

static void audit_mmio(struct mmu_vm *vm, struct tdp_audit *a, uint64_t e, unsigned level,
                       gfn_t gfn)
{
	if (level != 1 || tdp_mmio_gfn(e) != gfn)
		fail(a, "T5: MMIO spte at gfn %#llx names gfn %#llx", (unsigned long long)gfn,
		     (unsigned long long)tdp_mmio_gfn(e));
	else if (mmu_gfn_to_slot(vm, gfn) &&
	         tdp_mmio_gen_matches(e, mmu_memslots_generation(vm)))
		fail(a, "T5: current MMIO spte over memslot gfn %#llx", (unsigned long long)gfn);
}

static bool audit_entry(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, unsigned level,
                        gfn_t gfn, void *arg)
{
	struct tdp_audit *a = arg;
	uint64_t e = spte_get(sptep);
	struct sp *child;

	if (is_tdp_mmio_spte(e)) {
		audit_mmio(vm, a, e, level, gfn);
	} else if (is_ept_leaf(e, level)) {
		audit_leaf(vm, a, e, level, gfn);
	} else {
		child = sp_from_hpa(vm, ept_to_hpa(e));
		a->tables++;
		if (!child || child->role.level != level - 1 || child->gfn != gfn || !child->role.direct)
			fail(a, "T3: table entry for gfn %#llx at level %u points at no table below",
			     (unsigned long long)gfn, level);
	}
	return false;
}

/* An obsolete table (after a zap-all, not yet freed): only its leaves count, in the gauges. */
static void count_obsolete(struct tdp_audit *a, const struct sp *sp)
{
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		uint64_t e = spte_get(&sp->spt[i]);

		if (is_tdp_present(e) && is_ept_leaf(e, sp->role.level))
			a->by_level[sp->role.level]++;
	}
}

int tdp_audit(struct mmu_vm *vm, char *msg, size_t msglen)
{
	struct tdp_audit a = {.rep = {.msg = msg, .msglen = msglen}};
	uint64_t obsolete = 0;

	if (vm->tdp_root) {
		a.tables = 1;
		tdp_for_each_spte(vm, vm->tdp_root, 0, ~0ull, audit_entry, &a);
	}
	for (struct list_head *pos = vm->active_list.next; pos != &vm->active_list;
	     pos = pos->next) {
		struct sp *sp = list_entry(pos, struct sp, link);

		if (sp_is_obsolete(vm, sp)) {
			count_obsolete(&a, sp);
			obsolete++;
		}
	}
	if (a.by_level[1] != vm->stat.pages_4k || a.by_level[2] != vm->stat.pages_2m ||
	    a.by_level[3] != vm->stat.pages_1g)
		fail(&a, "T4: %llu/%llu/%llu leaves, gauges %llu/%llu/%llu",
		     (unsigned long long)a.by_level[1], (unsigned long long)a.by_level[2],
		     (unsigned long long)a.by_level[3], (unsigned long long)vm->stat.pages_4k,
		     (unsigned long long)vm->stat.pages_2m, (unsigned long long)vm->stat.pages_1g);
	uint64_t nx_tracked = 0;

	for (struct list_head *pos = vm->nx_huge_pages.next; pos != &vm->nx_huge_pages;
	     pos = pos->next, nx_tracked++)
		if (!list_entry(pos, struct sp, tdp.nx_link)->tdp.nx_huge_page_disallowed)
			fail(&a, "T6: an untracked table on the NX split list");
	if (nx_tracked != vm->stat.nx_lpage_splits)
		fail(&a, "T6: %llu tables on the NX split list, nx_lpage_splits %llu",
		     (unsigned long long)nx_tracked, (unsigned long long)vm->stat.nx_lpage_splits);
	if (a.tables + obsolete != vm->n_used_mmu_pages || obsolete != vm->n_obsolete)
		fail(&a, "T3: %llu tables under the root and %llu obsolete (%llu counted), %llu allocated",
		     (unsigned long long)a.tables, (unsigned long long)obsolete,
		     (unsigned long long)vm->n_obsolete, (unsigned long long)vm->n_used_mmu_pages);
	return audit_report_result(&a.rep);
}

static bool dot_entry(struct mmu_vm *vm, struct sp *sp, uint64_t *sptep, unsigned level,
                      gfn_t gfn, void *arg)
{
	FILE *out = arg;
	uint64_t e = spte_get(sptep);

	if (is_tdp_present(e) && !is_ept_leaf(e, level))
		fprintf(out, "  t%llx -> t%llx;\n", (unsigned long long)sp->spt_hpa,
		        (unsigned long long)ept_to_hpa(e));
	else if (is_tdp_present(e) && level > 1)
		fprintf(out, "  t%llx -> \"gfn %#llx (%s)\";\n", (unsigned long long)sp->spt_hpa,
		        (unsigned long long)gfn, level == 2 ? "2M" : "1G");
	return false;
}

int tdp_write_dot(struct mmu_vm *vm, FILE *out)
{
	int r;

	mmu_lock_acquire(&vm->mmu_lock);
	fprintf(out, "digraph ept {\n  node [shape=box];\n");
	if (vm->tdp_root)
		fprintf(out, "  root -> t%llx;\n", (unsigned long long)vm->tdp_root->spt_hpa);
	tdp_for_each_spte(vm, vm->tdp_root, 0, ~0ull, dot_entry, out);
	r = fprintf(out, "}\n") < 0 ? -EIO : 0;
	mmu_lock_release(&vm->mmu_lock);
	return r;
}
