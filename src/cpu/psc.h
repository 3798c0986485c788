/*
 * psc.h - the software vCPU's paging-structure cache over shadow tables:
 * for a 2 MiB region of the address space, where its page table is.
 *
 * A processor may cache the upper entries of a walk (SDM Vol. 3A 4.10.3,
 * "paging-structure caches": PML4E, PDPTE and PDE caches) so that a TLB
 * miss reads only the last entry; this is that cache for the PDE level.
 * An entry maps gva bits 63:21 to the host address of the level-1 shadow
 * table the walk reached and the rights (SMMU_ACC_*) of the entries above
 * it, so a miss in a known region costs one spte read instead of four or
 * five.
 *
 * Coherence.  Hardware relies on software to invalidate (KVM flushes after
 * zapping a nonleaf spte for exactly this reason).  Here every entry carries
 * the MMU's table generation read before the walk that filled it, and an
 * entry is used only while the generation is unchanged; the MMU bumps it
 * (with release order, after the change) whenever it clears or replaces a
 * present nonleaf spte, rewrites a special root entry or frees a shadow
 * table.  Entries are tagged with the root they were reached from, as
 * hardware tags them with the PCID, so that switching between processes
 * keeps each one's entries; a root frame that is freed and reused bumps the
 * generation first.
 * Only paths whose upper sptes all have A set are cached, and the MMU never
 * clears A in a nonleaf spte, so skipping those entries skips no A update
 * (SDM 4.8).  Frames are freed only after a remote TLB flush, which a
 * threaded vCPU acknowledges outside guest mode, so an entry read just
 * before a bump still names a live table for the rest of that access.
 */
#ifndef SMMU_CPU_PSC_H
#define SMMU_CPU_PSC_H

#include "common.h"

#define PSC_ENTRIES 64 /* direct mapped by gva bits 26:21 mixed with the root */

struct psc_entry {
	uint64_t region;       /* gva >> 21 */
	hpa_t root;            /* the root the walk started from */
	uint64_t *table;       /* the level-1 shadow table; NULL: empty */
	uint64_t gen;          /* table generation when filled */
	uint32_t epoch;        /* psc->epoch when filled */
	uint32_t acc;          /* rights of the entries above the table */
};

struct psc {
	struct psc_entry e[PSC_ENTRIES];
	uint32_t epoch;           /* bumped to empty the cache */
	const uint64_t *gen;      /* the MMU's table generation; NULL: cache off */
	uint64_t hits, misses;
};

static inline uint64_t psc_region(gva_t gva)
{
	return gva >> 21;
}

/* The slot of (root, region): processes with the same layout use different slots. */
static inline unsigned psc_index(hpa_t root, gva_t gva)
{
	return (unsigned)((psc_region(gva) ^ (root >> 12) ^ (root >> 18)) % PSC_ENTRIES);
}

static inline struct psc_entry *psc_slot(struct psc *c, hpa_t root, gva_t gva)
{
	return &c->e[psc_index(root, gva)];
}
/* The generation to fill with: read before the walk reads any spte. */
static inline uint64_t psc_gen(const struct psc *c)
{
	return __atomic_load_n(c->gen, __ATOMIC_ACQUIRE);
}

/* The cached entry for gva under root, or NULL, counting nothing (prefetch hints use it). */
static inline const struct psc_entry *psc_peek(const struct psc *c, hpa_t root, gva_t gva)
{
	const struct psc_entry *e = &c->e[psc_index(root, gva)];

	if (e->table && e->region == psc_region(gva) && e->root == root && e->epoch == c->epoch &&
	    e->gen == psc_gen(c))
		return e;
	return NULL;
}

/* The same, counted as a hit or a miss (the walks' own lookups). */
static inline const struct psc_entry *psc_lookup(struct psc *c, hpa_t root, gva_t gva)
{
	const struct psc_entry *e = psc_peek(c, root, gva);

	if (e)
		c->hits++;
	else
		c->misses++;
	return e;
}

static inline void psc_fill(struct psc *c, hpa_t root, gva_t gva, uint64_t *table, unsigned acc,
                            uint64_t gen)
{
	*psc_slot(c, root, gva) = (struct psc_entry){.region = psc_region(gva),
	                                             .root = root,
	                                             .table = table,
	                                             .gen = gen,
	                                             .epoch = c->epoch,
	                                             .acc = acc};
}

/* Forget every entry. */
static inline void psc_flush(struct psc *c)
{
	if (++c->epoch == 0) { /* wrapped: entries of epoch 0 would come back */
		for (unsigned i = 0; i < PSC_ENTRIES; i++)
			c->e[i].table = NULL;
	}
}

#endif /* SMMU_CPU_PSC_H */
