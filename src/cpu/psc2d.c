/*
 * psc2d.c - the guest paging-structure cache of the 2D walk; see psc2d.h
 * for the contract and the SDM sections (Vol. 3A 4.10.3, 4.10.4).
 *
 * Geometry by paging mode: the first entry read (`top`) is the root's
 * (5-level: 5, 4-level: 4, PAE: 2 - the PDPTEs are registers -, 32-bit:
 * 2); a PDE entry covers 2 MiB (4 MiB for 32-bit paging) and caches levels
 * top..2, a PDPTE entry (IA-32e only) 1 GiB and levels top..3.  Entries are
 * direct mapped by region XOR the PCID, so that processes with the same
 * layout use different slots.
 */
#include "cpu/psc2d.h"

#include <string.h>

void psc2d_init(struct psc2d *c, bool on)
{
	memset(c, 0, sizeof(*c));
	c->epoch = 1;
	c->on = on;
}

void psc2d_flush(struct psc2d *c)
{
	if (++c->epoch == 0) { /* wrapped: entries of older epochs could come back */
		memset(c->pde, 0, sizeof(c->pde));
		memset(c->pdpte, 0, sizeof(c->pdpte));
		c->epoch = 1;
	}
}

static void flush_pcid(struct psc2d_entry *e, unsigned n, unsigned pcid)
{
	for (unsigned i = 0; i < n; i++) {
		if (e[i].pcid == pcid)
			e[i].epoch = 0;
	}
}

void psc2d_flush_pcid(struct psc2d *c, unsigned pcid)
{
	flush_pcid(c->pde, PSC2D_PDE_ENTRIES, pcid);
	flush_pcid(c->pdpte, PSC2D_PDPTE_ENTRIES, pcid);
}

/* The first level the walk reads; 0: no paging. */
static unsigned top_level(enum smmu_paging_mode mode)
{
	switch (mode) {
	case SMMU_PAGING_5LEVEL:
		return 5;
	case SMMU_PAGING_4LEVEL:
		return 4;
	case SMMU_PAGING_PAE:
	case SMMU_PAGING_32BIT:
		return 2;
	default:
		return 0;
	}
}

static unsigned pde_shift(enum smmu_paging_mode mode)
{
	return mode == SMMU_PAGING_32BIT ? 22 : 21;
}

static bool has_pdpte_level(enum smmu_paging_mode mode)
{
	return mode >= SMMU_PAGING_4LEVEL;
}

static struct psc2d_entry *slot(struct psc2d_entry *e, unsigned n, uint64_t region, unsigned pcid)
{
	return &e[(region ^ pcid) % n];
}

static bool matches(const struct psc2d *c, const struct psc2d_entry *e, uint64_t region,
                    const struct smmu_cpu_state *s, unsigned pcid, enum smmu_paging_mode mode)
{
	return e->epoch == c->epoch && e->region == region && e->pcid == pcid && e->cr3 == s->cr3 &&
	       e->mode == mode;
}

static const struct psc2d_entry *find(struct psc2d *c, const struct smmu_cpu_state *s,
                                      unsigned pcid, gva_t gva, enum smmu_paging_mode mode)
{
	uint64_t region = gva >> pde_shift(mode);
	const struct psc2d_entry *e = slot(c->pde, PSC2D_PDE_ENTRIES, region, pcid);

	if (matches(c, e, region, s, pcid, mode))
		return e;
	if (!has_pdpte_level(mode))
		return NULL;
	region = gva >> 30;
	e = slot(c->pdpte, PSC2D_PDPTE_ENTRIES, region, pcid);
	return matches(c, e, region, s, pcid, mode) ? e : NULL;
}

const struct psc2d_entry *psc2d_lookup(struct psc2d *c, const struct smmu_cpu_state *s,
                                       unsigned pcid, gva_t gva)
{
	enum smmu_paging_mode mode = smmu_paging_mode(s);
	const struct psc2d_entry *e = mode != SMMU_PAGING_OFF ? find(c, s, pcid, gva, mode) : NULL;

	if (e)
		c->hits++;
	else
		c->misses++;
	return e;
}

/* Every entry from top down to low has A (it was set by the walk, or already). */
static bool all_accessed(const struct smmu_walk *w, unsigned low, unsigned top)
{
	for (unsigned level = low; level <= top; level++) {
		if (!(w->gpte[level - 1] & X86_PTE_A))
			return false;
	}
	return true;
}

static void fill_one(struct psc2d *c, struct psc2d_entry *e, uint64_t region,
                     const struct smmu_cpu_state *s, unsigned pcid, enum smmu_paging_mode mode,
                     unsigned low, const struct smmu_walk *w)
{
	unsigned top = top_level(mode);

	if (!all_accessed(w, low, top))
		return;
	e->region = region;
	e->cr3 = s->cr3;
	e->epoch = c->epoch;
	e->pcid = (uint16_t)pcid;
	e->mode = (uint8_t)mode;
	e->low = (uint8_t)low;
	e->top = (uint8_t)top;
	for (unsigned level = low; level <= top; level++) {
		e->gpte[level - 1] = w->gpte[level - 1];
		e->pte_gpa[level - 1] = w->pte_gpa[level - 1];
	}
}

void psc2d_fill(struct psc2d *c, const struct smmu_cpu_state *s, unsigned pcid, gva_t gva,
                const struct smmu_walk *w, const struct psc2d_entry *used, bool slow)
{
	enum smmu_paging_mode mode = smmu_paging_mode(s);
	unsigned used_low = used ? used->low : 0;
	uint64_t region;

	if (slow || mode == SMMU_PAGING_OFF || w->level > 2)
		return;
	if (w->level == 1 && used_low != 2) {
		region = gva >> pde_shift(mode);
		fill_one(c, slot(c->pde, PSC2D_PDE_ENTRIES, region, pcid), region, s, pcid, mode, 2,
		         w);
	}
	if (has_pdpte_level(mode) && !used_low) {
		region = gva >> 30;
		fill_one(c, slot(c->pdpte, PSC2D_PDPTE_ENTRIES, region, pcid), region, s, pcid, mode,
		         3, w);
	}
}
