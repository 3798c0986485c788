/*
 * audit.c - the MMU invariant checker (KVM had mmu_audit.c; Xen has audit
 * levels).  Tests run it after every operation; release builds can turn it
 * on with SMMU_AUDIT or the VM's audit flag.  It checks:
 *   A1 every present leaf spte maps the host frame backing its gfn, and is
 *      in the rmap of (gfn, level); the rmaps hold nothing else;
 *   A2 no leaf spte points at a shadow table or outside the arena (the
 *      guest can only reach its own memory);
 *   A3 no writable spte maps a gfn shadowed by a synced page;
 *   A4 every nonleaf spte points at a live shadow page one level down that
 *      lists it in parent_ptes, and parent_ptes hold nothing else;
 *   A5 unsync_children counts the bits of unsync_child_bitmap; the
 *      mmu_unsync and pages_* gauges and n_used_mmu_pages match the pages;
 *   A6 root_count matches the vCPUs' references;
 *   A7 a synced page shadowing 8-byte gptes is exact: each present spte
 *      maps the gfn (leaf) or shadows the table (nonleaf) its gpte names
 *      now; only unsync pages may lag behind the guest's tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <shadowmmu/x86.h>

#include "host/arena.h"
#include "mmu/audit_report.h"
#include "mmu/shadow/audit.h"
#include "mmu/shadow/gpte.h"
#include "mmu/shadow/sp.h"
#include "mmu/slot_iface.h"

struct audit {
	struct mmu_vm *vm;
	struct audit_report rep;
	uint64_t leaves, nonleaves, unsync, pages, by_level[4];
};

#define audit_fail(a, ...) audit_report_fail(&(a)->rep, __VA_ARGS__)

static bool gfn_has_synced_sp(struct mmu_vm *vm, gfn_t gfn)
{
	struct sp *sp;

	for_each_gfn_valid_indirect_sp(vm, sp, gfn)
		if (!sp->unsync)
			return true;
	return false;
}

static void audit_leaf(struct audit *a, struct sp *sp, unsigned i, uint64_t spte)
{
	struct mmu_vm *vm = a->vm;
	gfn_t gfn = sp_get_gfn(sp, i);
	struct memslot *slot = mmu_gfn_to_slot(vm, gfn);
	struct rmap_head *head = slot ? mmu_slot_rmap(slot, gfn, sp->role.level) : NULL;
	pfn_t pfn;
	hpa_t hpa = spte_to_hpa(spte);

	a->leaves++;
	a->by_level[sp->role.level]++;
	if (!arena_hpa_to_ptr(vm->arena, hpa, spte_level_size(sp->role.level)) ||
	    sp_from_hpa(vm, hpa))
		audit_fail(a, "A2: leaf spte %#llx (gfn %#llx) points outside guest memory",
		           (unsigned long long)spte, (unsigned long long)gfn);
	if (!head || !pte_list_contains(head, &sp->spt[i]))
		audit_fail(a, "A1: leaf spte for gfn %#llx level %u missing from its rmap",
		           (unsigned long long)gfn, sp->role.level);
	/* A peek, not a resolution: checking must not fault pages in or age them. */
	if (!slot || mmu_peek_pfn(vm, slot, gfn, &pfn))
		audit_fail(a, "A1: gfn %#llx mapped, but the host has no frame for it",
		           (unsigned long long)gfn);
	else if (pfn != spte_to_pfn(spte))
		audit_fail(a, "A1: gfn %#llx mapped to pfn %#llx, host backs it with %#llx",
		           (unsigned long long)gfn, (unsigned long long)spte_to_pfn(spte),
		           (unsigned long long)pfn);
	if (is_writable_spte(spte) && gfn_has_synced_sp(vm, gfn))
		audit_fail(a, "A3: writable spte maps write-protected guest table gfn %#llx",
		           (unsigned long long)gfn);
}

static void audit_nonleaf(struct audit *a, struct sp *sp, unsigned i, uint64_t spte)
{
	struct sp *child = sp_from_hpa(a->vm, spte_to_hpa(spte));

	a->nonleaves++;
	if (!child) {
		audit_fail(a, "A4: nonleaf spte %#llx points at no shadow page", (unsigned long long)spte);
		return;
	}
	if (child->role.level + 1 != sp->role.level)
		audit_fail(a, "A4: child level %u under level %u", child->role.level, sp->role.level);
	if (!pte_list_contains(&child->parent_ptes, &sp->spt[i]))
		audit_fail(a, "A4: child page gfn %#llx does not list its parent spte",
		           (unsigned long long)child->gfn);
}

/* The gpte behind entry i of sp, read without touching the host page's state. */
static bool audit_read_gpte(struct audit *a, const struct sp *sp, unsigned i, uint64_t *gpte)
{
	gpa_t gpa = sp_gpte_gpa(sp, i);
	struct memslot *slot = mmu_gfn_to_slot(a->vm, gpa_to_gfn(gpa));
	const uint64_t *p;
	pfn_t pfn;

	if (!slot || mmu_peek_pfn(a->vm, slot, gpa_to_gfn(gpa), &pfn))
		return false;
	p = arena_hpa_to_ptr(a->vm->arena, (pfn << PAGE_SHIFT) | (gpa & ~PAGE_MASK), 8);
	if (!p)
		return false;
	*gpte = __atomic_load_n(p, __ATOMIC_RELAXED);
	return true;
}

static void audit_synced_entry(struct audit *a, const struct sp *sp, unsigned i, uint64_t spte)
{
	uint64_t gpte;
	gfn_t want, have;

	if (!audit_read_gpte(a, sp, i, &gpte))
		return;
	want = (gpte & bits_range(51, 12)) >> PAGE_SHIFT;
	if (is_last_spte(spte, sp->role.level)) {
		if (sp->role.level != 1)
			return; /* a large leaf: gfn rounding, checked by A1 */
		have = sp_get_gfn(sp, i);
	} else {
		const struct sp *child = sp_from_hpa(a->vm, spte_to_hpa(spte));

		if (!child || child->role.direct)
			return; /* below a guest large page */
		have = child->gfn;
	}
	if (!(gpte & X86_PTE_P) || want != have)
		audit_fail(a, "A7: synced page gfn %#llx level %u entry %u shadows gfn %#llx, gpte %#llx",
		           (unsigned long long)sp->gfn, sp->role.level, i, (unsigned long long)have,
		           (unsigned long long)gpte);
}

static void audit_sp(struct audit *a, struct sp *sp)
{
	bool exact = !sp->role.direct && !sp->unsync && !sp->role.invalid &&
	             !sp->role.has_4_byte_gpte && !sp_is_obsolete(a->vm, sp);
	unsigned bits = 0;

	a->pages++;
	if (sp->unsync)
		a->unsync++;
	for (unsigned w = 0; w < SPTE_ENT_PER_PAGE / 64; w++)
		bits += (unsigned)__builtin_popcountll(sp->unsync_child_bitmap[w]);
	if (bits != sp->unsync_children)
		audit_fail(a, "A5: unsync_children %u but %u bits set", sp->unsync_children, bits);
	if (pte_list_check(&sp->parent_ptes))
		audit_fail(a, "A4: corrupt parent_ptes");
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		uint64_t spte = spte_get(&sp->spt[i]);

		if (!is_shadow_present_spte(spte) || is_mmio_spte(spte))
			continue;
		if (is_last_spte(spte, sp->role.level))
			audit_leaf(a, sp, i, spte);
		else
			audit_nonleaf(a, sp, i, spte);
		if (exact)
			audit_synced_entry(a, sp, i, spte);
	}
}

/* Count rmap and parent-pte entries: must equal the leaves and links seen. */
static bool count_rmap(struct mmu_vm *vm, struct rmap_head *head, void *arg)
{
	*(uint64_t *)arg += pte_list_count(head);
	return false;
}

static void audit_totals(struct audit *a)
{
	struct mmu_vm *vm = a->vm;
	uint64_t rmap_entries = 0, parent_entries = 0;
	struct list_head *pos;

	mmu_for_each_rmap(vm, count_rmap, &rmap_entries);
	for (pos = vm->active_list.next; pos != &vm->active_list; pos = pos->next)
		parent_entries += pte_list_count(&list_entry(pos, struct sp, link)->parent_ptes);
	if (rmap_entries != a->leaves)
		audit_fail(a, "A1: %llu rmap entries for %llu leaf sptes",
		           (unsigned long long)rmap_entries, (unsigned long long)a->leaves);
	if (parent_entries != a->nonleaves)
		audit_fail(a, "A4: %llu parent ptes for %llu nonleaf sptes",
		           (unsigned long long)parent_entries, (unsigned long long)a->nonleaves);
	if (a->pages != vm->n_used_mmu_pages)
		audit_fail(a, "A5: %llu pages on the active list, n_used_mmu_pages %llu",
		           (unsigned long long)a->pages, (unsigned long long)vm->n_used_mmu_pages);
	if (a->unsync != vm->stat.mmu_unsync)
		audit_fail(a, "A5: %llu unsync pages, mmu_unsync %llu", (unsigned long long)a->unsync,
		           (unsigned long long)vm->stat.mmu_unsync);
	if (a->by_level[1] != vm->stat.pages_4k || a->by_level[2] != vm->stat.pages_2m ||
	    a->by_level[3] != vm->stat.pages_1g)
		audit_fail(a, "A5: pages_4k/2m/1g gauges disagree with the sptes");
}

static unsigned root_refs(struct mmu_vm *vm, const struct sp *sp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		const struct mmu_vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		for (unsigned r = 0; r <= MMU_NUM_PREV_ROOTS; r++) {
			hpa_t hpa = r ? v->prev_roots[r - 1].hpa : v->root.hpa;

			if (hpa == sp->spt_hpa)
				n++;
			if (hpa == v->lm_root_hpa && hpa != INVALID_HPA)
				for (unsigned q = 0; q < 4; q++)
					if (is_shadow_present_spte(spte_get(&v->pae_root[q])) &&
					    spte_to_hpa(spte_get(&v->pae_root[q])) == sp->spt_hpa)
						n++;
		}
	}
	return n;
}

int mmu_audit(struct mmu_vm *vm, char *msg, size_t msglen)
{
	struct audit a = {.vm = vm, .rep = {.msg = msg, .msglen = msglen}};
	struct list_head *pos;

	for (pos = vm->active_list.next; pos != &vm->active_list; pos = pos->next) {
		struct sp *sp = list_entry(pos, struct sp, link);

		audit_sp(&a, sp);
		if (root_refs(vm, sp) != sp->root_count)
			audit_fail(&a, "A6: page gfn %#llx has root_count %u, %u references",
			           (unsigned long long)sp->gfn, sp->root_count, root_refs(vm, sp));
	}
	audit_totals(&a);
	return audit_report_result(&a.rep);
}

void mmu_audit_if_enabled(struct mmu_vm *vm)
{
	char msg[256];

#ifdef SMMU_AUDIT
	const bool always = true;
#else
	const bool always = false;
#endif
	if (!vm->audit && !always)
		return;
	if (vm->audit_fn(vm, msg, sizeof(msg))) {
		fprintf(stderr, "shadowmmu: MMU audit failed: %s\n", msg);
		abort();
	}
}
