/*
 * psc2d.h - the paging-structure cache of TDP mode's 2D walk: the upper
 * entries of the guest's own page tables, so that a TLB miss in a known
 * region reads only the guest entries below them (each through the nested
 * TLB, nested_tlb.h) instead of all of them.
 *
 * Hardware caches PML4Es, PDPTEs and PDEs of the guest's walk (Intel SDM
 * Vol. 3A 4.10.3, "paging-structure caches", which with EPT hold the host
 * address of the next table, 29.4.3); this is its PDE cache and its PDPTE
 * cache over guest entries:
 *  - a PDE entry (region: gva bits 63:21, 63:22 for 32-bit paging) holds
 *    every guest entry from the root down to the PDE that names the page
 *    table (levels top..2): a hit leaves one guest entry to read;
 *  - a PDPTE entry (4- and 5-level paging only, region: gva bits 63:30)
 *    holds levels top..3: a hit leaves the PDE and, under it, the PTE.
 * An entry keeps each cached entry's value and gpa as its walk read them;
 * the walk (walk2d.c) serves those values to the architectural walker in
 * place of the reads, so the walker applies the current CR0/CR4/EFER/
 * PKRU/CPL rules to them exactly as to entries read from memory, and the
 * combined rights are those of the cached levels (SDM 4.10.3.1).
 *
 * Invariants:
 *  - only walks that translated fill, only entries with A = 1 are cached
 *    (SDM 4.10.3.1: the processor caches an entry only after setting its
 *    A; so skipping one skips no A update, 4.8), never entries read
 *    through the ordinary guest-memory ops (MMIO tables, walk2d_slow);
 *  - entries are tagged with the PCID, the whole CR3 and the paging
 *    mode: a hit needs all three and the region to match (hardware tags
 *    only the PCID; the rest merely caches less);
 *  - invalidation follows SDM 4.10.4.1 (or does more): INVLPG empties the
 *    current PCID's entries (whatever their region); MOV to CR3 without
 *    the no-flush bit those of the new PCID, with it nothing; any CR0,
 *    CR4 or EFER write, the trace's `flush`, every MMU flush (EPT changes:
 *    a guest table's gpa may map elsewhere now) and every EPT root change
 *    empty the cache.
 * A guest that changes an entry without invalidating may see the old
 * value until it does, as on hardware (SDM 4.10.4.2 / 4.10.4.3).
 */
#ifndef SMMU_CPU_PSC2D_H
#define SMMU_CPU_PSC2D_H

#include <shadowmmu/x86.h>

#include "common.h"

#define PSC2D_PDE_ENTRIES   32 /* direct mapped by region, mixed with the PCID */
#define PSC2D_PDPTE_ENTRIES 8

struct psc2d_entry {
	uint64_t region; /* gva >> 21 (22: 32-bit paging) or >> 30 */
	uint64_t cr3;
	uint32_t epoch; /* psc2d.epoch when filled; other values: empty */
	uint16_t pcid;
	uint8_t mode; /* enum smmu_paging_mode */
	uint8_t low;  /* the lowest cached level: 2 (PDE entry) or 3 (PDPTE entry) */
	uint8_t top;  /* the highest: the first entry the walk reads */
	uint64_t gpte[SMMU_MAX_LEVELS];    /* by level - 1, low..top */
	uint64_t pte_gpa[SMMU_MAX_LEVELS];
};

struct psc2d {
	struct psc2d_entry pde[PSC2D_PDE_ENTRIES];
	struct psc2d_entry pdpte[PSC2D_PDPTE_ENTRIES];
	uint32_t epoch; /* starts at 1: zeroed entries are empty */
	bool on;        /* SMMU_SHORTCUT_PSC_2D */
	uint64_t hits, misses;
};

void psc2d_init(struct psc2d *c, bool on);
/* Forget every entry (every PCID). */
void psc2d_flush(struct psc2d *c);
/* Forget the entries of one PCID. */
void psc2d_flush_pcid(struct psc2d *c, unsigned pcid);

/*
 * The entry that covers gva under the registers `s` and PCID `pcid` - a PDE
 * entry first, then a PDPTE entry - or NULL; counted.
 */
const struct psc2d_entry *psc2d_lookup(struct psc2d *c, const struct smmu_cpu_state *s,
                                       unsigned pcid, gva_t gva);

/*
 * After a walk that translated (w: the guest dimension; `used`: the entry
 * the walk started from, or NULL): remember its upper entries.  `slow`:
 * some entry of this walk was read through the ordinary ops - fill nothing.
 */
void psc2d_fill(struct psc2d *c, const struct smmu_cpu_state *s, unsigned pcid, gva_t gva,
                const struct smmu_walk *w, const struct psc2d_entry *used, bool slow);

#endif /* SMMU_CPU_PSC2D_H */
