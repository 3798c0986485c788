/*
 * tlb.h - the software vCPU's TLB: gva page -> hpa page, set associative.
 *
 * Geometry: `sets` x `ways` entries, both powers of two; the set is chosen
 * by the low bits of the 4 KiB virtual page number (vpn = gva >> 12).
 *
 * Large pages are cached *fractured*: a walk that ends in a 2 MiB or 1 GiB
 * leaf fills one entry for the 4 KiB page that was accessed, holding that
 * page's hpa and remembering the size of the page it came from.  The SDM
 * allows this (Vol. 3A 4.10.2.3: a processor may cache a translation for a
 * smaller page than the paging structures map), and it keeps lookup to one
 * set probe for every page size.  The cost moves to INVLPG, which must drop
 * every entry derived from the large page containing its address (SDM
 * 4.10.4.1): when large-page entries exist (`nr_large` > 0), INVLPG scans the
 * whole TLB for them; that is a few hundred entries, on a rare operation.
 *
 * Tags (SDM 4.10.1, 4.10.2.4): an entry matches a lookup when its vpn
 * matches and it is global or its PCID is the current one.  Global entries
 * are filled only for leaves with G under CR4.PGE (the vCPU decides).
 *
 * Entries keep the combined rights, protection key and whether the leaf was
 * dirty; the vCPU re-checks rights on every hit (CPL, AC and PKRU change
 * without a flush), and a write hitting a clean entry re-walks so that the
 * walker sets D (SDM 4.8).  An entry never holds a failed translation
 * (x86 caches no not-present entries).
 *
 * A flush visits only the sets whose `occupied` bit is set (a fill sets it,
 * a flush clears it when it leaves the set empty), so flushing a TLB that
 * holds a handful of entries - a cr3 switch right after the last one - costs
 * little more than a scan of the bitmap.
 */
#ifndef SMMU_CPU_TLB_H
#define SMMU_CPU_TLB_H

#include <shadowmmu/x86.h>

#include "common.h"

#define TLB_VPN_INVALID (~0ull) /* no gva >> 12 is all ones */

#define TLB_F_GLOBAL (1u << 0)
#define TLB_F_DIRTY  (1u << 1)

struct tlb_entry {
	uint64_t vpn;       /* gva >> 12; TLB_VPN_INVALID when empty */
	hpa_t hpa;          /* hpa of the 4 KiB page translated */
	uint16_t pcid;      /* PCID at fill time (0 without CR4.PCIDE) */
	uint8_t flags;      /* TLB_F_* */
	uint8_t access;     /* combined SMMU_ACC_* rights */
	uint8_t pkey;       /* protection key of the leaf */
	uint8_t page_shift; /* 12, 21, 22 (TDP, 32-bit guest) or 30: size of the page it came from */
};

struct tlb_stats {
	uint64_t hits, misses;
	uint64_t fills, evictions;
	uint64_t flushes; /* tlb_flush() calls that dropped a class of entries */
	uint64_t invlpgs;
};

struct tlb {
	struct tlb_entry *entries; /* sets * ways, set-major */
	uint8_t *victim;           /* per set: next way to replace (round robin) */
	uint64_t *occupied;        /* bit per set: may hold a valid entry (flush skips the rest) */
	unsigned sets, ways;
	uint64_t set_mask;
	unsigned nr_large; /* valid entries with page_shift > 12 */
	/*
	 * What the last missed lookup learnt, for the fill that follows it: no
	 * entry of its set matches (miss_vpn, miss_pcid), and miss_free was
	 * empty (NULL: none was).  Only fills add entries, and each one clears
	 * miss_vpn, so the knowledge holds until the next fill.
	 */
	uint64_t miss_vpn;
	unsigned miss_pcid;
	struct tlb_entry *miss_free;
	/*
	 * How many recent fills evicted a valid entry: an average over the last
	 * ~16 fills, 0..~256 (each fill keeps 15/16 of it and adds 16 if it
	 * evicted).  High means the working set outgrows the TLB's reach (256
	 * entries: 1 MiB), the sign that accesses wander over more memory than
	 * the host's caches keep close; fills into sets a flush emptied (every
	 * context switch without PCIDs) leave it low.  The vCPU's prefetch
	 * hints use it to stay off when they cannot help.
	 */
	unsigned pressure;
	struct tlb_stats stats;
};

#define TLB_PRESSURE_HIGH 128 /* half the recent fills evicted */

/* What a fill records: the translation of one 4 KiB page. */
struct tlb_fill_info {
	hpa_t hpa;           /* the 4 KiB page's hpa */
	unsigned page_shift; /* 12, 21, 22 or 30 */
	unsigned access;     /* SMMU_ACC_* */
	unsigned pkey;
	bool global, dirty;
};

/* sets and ways: powers of two, 1..4096 sets, 1..64 ways.  0, -EINVAL or -ENOMEM. */
int tlb_init(struct tlb *tlb, unsigned sets, unsigned ways);
void tlb_destroy(struct tlb *tlb);

static inline bool tlb_entry_matches(const struct tlb_entry *e, uint64_t vpn, unsigned pcid)
{
	return e->vpn == vpn && ((e->flags & TLB_F_GLOBAL) || e->pcid == pcid);
}

/* The entry translating gva under `pcid`, or NULL; counts a hit or a miss. */
static inline struct tlb_entry *tlb_lookup(struct tlb *tlb, gva_t gva, unsigned pcid)
{
	uint64_t vpn = gva >> PAGE_SHIFT;
	struct tlb_entry *e = &tlb->entries[(vpn & tlb->set_mask) * tlb->ways], *free_way = NULL;

	for (unsigned way = 0; way < tlb->ways; way++, e++) {
		if (tlb_entry_matches(e, vpn, pcid)) {
			tlb->stats.hits++;
			return e;
		}
		if (e->vpn == TLB_VPN_INVALID && !free_way)
			free_way = e;
	}
	tlb->stats.misses++;
	tlb->miss_vpn = vpn;
	tlb->miss_pcid = pcid;
	tlb->miss_free = free_way;
	return NULL;
}

/*
 * The entry translating gva under `pcid`, or NULL, leaving everything as it
 * was: no statistic, no miss memo (prefetch hints, which must not change
 * what the next real lookup sees).
 */
static inline const struct tlb_entry *tlb_peek(const struct tlb *tlb, gva_t gva, unsigned pcid)
{
	uint64_t vpn = gva >> PAGE_SHIFT;
	const struct tlb_entry *e = &tlb->entries[(vpn & tlb->set_mask) * tlb->ways];

	for (unsigned way = 0; way < tlb->ways; way++, e++)
		if (tlb_entry_matches(e, vpn, pcid))
			return e;
	return NULL;
}

/* Record a translation of gva's 4 KiB page under `pcid`; replaces a matching entry. */
void tlb_fill(struct tlb *tlb, gva_t gva, unsigned pcid, const struct tlb_fill_info *info);

/* Drop one entry (a hit whose rights check failed, as a #PF does: SDM 4.10.4.1). */
void tlb_drop(struct tlb *tlb, struct tlb_entry *e);

/*
 * INVLPG (SDM 4.10.4.1): drop the entries for the page containing gva -
 * whatever its size - that belong to `pcid`, and global ones in any PCID.
 */
void tlb_invlpg(struct tlb *tlb, gva_t gva, unsigned pcid);

/*
 * Flush by kind: PCID_NONGLOBAL drops the non-global entries of `pcid`;
 * PCID_ALL drops all entries of `pcid` and every global entry (globals
 * serve all PCIDs, so keeping one would keep it for `pcid` too); ALL drops
 * everything; NONE nothing.
 */
void tlb_flush(struct tlb *tlb, enum smmu_tlb_flush kind, unsigned pcid);

/* Entries currently valid (tests, statistics). */
unsigned tlb_count_valid(const struct tlb *tlb);

#endif /* SMMU_CPU_TLB_H */
