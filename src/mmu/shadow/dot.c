/*
 * dot.c - the shadow page DAG of the current roots, for Graphviz: one node
 * per shadow page reachable from a vCPU's root or cached roots (level, gfn,
 * direct or indirect, quadrant, rights, unsync, leaf count), one edge per
 * nonleaf spte.  Leaves are counted, not drawn.  Pages shared by several
 * roots (a kernel half mapped into every process) appear once with several
 * parents, which is the point of drawing a DAG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmu/shadow/shadow.h"
#include "mmu/shadow/sp.h"

struct dot_state {
	FILE *out;
	struct sp **seen; /* pages already written */
	size_t nseen, cap;
};

static bool dot_seen(struct dot_state *d, struct sp *sp)
{
	for (size_t i = 0; i < d->nseen; i++)
		if (d->seen[i] == sp)
			return true;
	if (d->nseen == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		struct sp **n = realloc(d->seen, cap * sizeof(*n));

		if (!n)
			return true; /* out of memory: stop descending rather than fail */
		d->seen = n;
		d->cap = cap;
	}
	d->seen[d->nseen++] = sp;
	return false;
}

static void dot_node(struct dot_state *d, const struct sp *sp)
{
	unsigned leaves = 0;

	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++)
		if (is_shadow_present_spte(spte_get(&sp->spt[i])) &&
		    is_last_spte(spte_get(&sp->spt[i]), sp->role.level))
			leaves++;
	fprintf(d->out, "  sp%llx [label=\"L%u %s gfn %#llx", (unsigned long long)sp->spt_hpa,
	        sp->role.level, sp->role.direct ? "direct" : "gpt", (unsigned long long)sp->gfn);
	if (sp->role.has_4_byte_gpte)
		fprintf(d->out, " q%u", sp->role.quadrant);
	fprintf(d->out, "\\nacc %c%c%c%s\\n%u leaves\"%s];\n",
	        (sp->role.access & SMMU_ACC_U) ? 'u' : '-', (sp->role.access & SMMU_ACC_W) ? 'w' : '-',
	        (sp->role.access & SMMU_ACC_X) ? 'x' : '-', sp->unsync ? " unsync" : "", leaves,
	        sp->unsync ? ", style=dashed" : (sp->root_count ? ", shape=box" : ""));
}

static void dot_page(struct dot_state *d, struct mmu_vm *vm, struct sp *sp)
{
	if (!sp || dot_seen(d, sp))
		return;
	dot_node(d, sp);
	for (unsigned i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		uint64_t spte = spte_get(&sp->spt[i]);
		struct sp *child;

		if (!is_shadow_present_spte(spte) || is_mmio_spte(spte) ||
		    is_last_spte(spte, sp->role.level))
			continue;
		child = sp_from_hpa(vm, spte_to_hpa(spte));
		if (!child)
			continue;
		fprintf(d->out, "  sp%llx -> sp%llx [label=\"%u\"];\n", (unsigned long long)sp->spt_hpa,
		        (unsigned long long)child->spt_hpa, i);
		dot_page(d, vm, child);
	}
}

static void dot_root(struct dot_state *d, struct mmu_vcpu *v, const struct mmu_root *r,
                     const char *name)
{
	if (r->hpa == INVALID_HPA)
		return;
	fprintf(d->out, "  %s_v%u [shape=plaintext];\n", name, v->vcpu_id);
	if (r->hpa != v->lm_root_hpa) {
		fprintf(d->out, "  %s_v%u -> sp%llx;\n", name, v->vcpu_id, (unsigned long long)r->hpa);
		dot_page(d, v->vm, sp_from_hpa(v->vm, r->hpa));
		return;
	}
	for (unsigned q = 0; q < 4; q++) { /* a PAE or 32-bit root: four page directories */
		struct sp *sp = is_shadow_present_spte(spte_get(&v->pae_root[q]))
		                        ? sp_from_hpa(v->vm, spte_to_hpa(spte_get(&v->pae_root[q])))
		                        : NULL;

		if (!sp)
			continue;
		fprintf(d->out, "  %s_v%u -> sp%llx [label=\"pdpte %u\"];\n", name, v->vcpu_id,
		        (unsigned long long)sp->spt_hpa, q);
		dot_page(d, v->vm, sp);
	}
}

int shadow_write_dot(struct mmu_vm *vm, FILE *out)
{
	struct dot_state d = {.out = out};

	mmu_lock_acquire(&vm->mmu_lock);
	fprintf(out, "digraph shadow_pages {\n  node [fontname=monospace];\n");
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct mmu_vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		dot_root(&d, v, &v->root, "root");
		for (unsigned r = 0; r < MMU_NUM_PREV_ROOTS; r++)
			dot_root(&d, v, &v->prev_roots[r], r == 0 ? "prev0" : r == 1 ? "prev1" : "prev2");
	}
	fprintf(out, "}\n");
	mmu_lock_release(&vm->mmu_lock);
	free(d.seen);
	return ferror(out) ? -EIO : 0;
}
