/*
 * nested_tlb.h - the software vCPU's nested TLB for TDP mode: cached
 * gpa -> hpa translations of the EPT, consulted by the EPT walk of every
 * guest paging-structure gpa and of the final gpa of a 2D walk (walk2d.h).
 *
 * Hardware keeps guest-physical mappings (Intel SDM Vol. 3C 29.4.1,
 * "guest-physical mappings": derived from the EPT alone, tagged by EPTP)
 * and paging-structure caches for the EPT (29.4.3); the 2D walk of
 * Bhargava et al. (ASPLOS'08) owes its speed to them.  This is both:
 *  - the nested TLB proper, NTLB_ENTRIES direct-mapped by gfn: gfn -> the
 *    host frame of the EPT leaf, the EPT rights ANDed over the path
 *    (R/W/X) and whether the leaf had D.  A hit costs no memory reference;
 *  - an EPT PDE cache, NTLB_PDE_ENTRIES direct-mapped by gpa bits 47:21:
 *    the level-1 EPT table of a 2 MiB gpa region and the rights of the
 *    entries above it, so a nested-TLB miss in a known region reads one
 *    EPT entry instead of 4 or 5.  Its fills wait until the end of the 2D
 *    walk (ntlb_commit), as a processor may fill its caches when it likes:
 *    so a cold walk makes exactly the (n+1)(m+1)-1 references of the
 *    uncached walk even when the guest's tables share 2 MiB gpa regions.
 *
 * When a hit may be used (the access must get exactly what a full EPT walk
 * would give it, side effects included):
 *  - a read needs R, a fetch X, a write W and, under EPT A/D, the leaf's D
 *    already set (else the full walk runs and sets it, SDM 29.3.5);
 *  - A is set in every entry the cached path covers: entries are filled
 *    only by walks that translated, and those set A under EPT A/D.
 *  Anything else takes the walk, which refills the entry.
 *
 * Coherence (the same contract the combined TLB relies on): the TDP MMU
 * only narrows or removes EPT entries (or frees EPT tables) under
 * mmu_lock followed by a remote TLB flush, and every such flush reaches
 * ntlb_flush (vcpu_cpu_tlb_flush, VCPU_REQ_TLB_FLUSH, vcpu_cpu_set_root).
 * Widening (a fault that installs or makes writable) needs no flush: an
 * access the cached rights deny misses and walks.  The cache belongs to
 * one vCPU and is touched only from its thread.  Flushing bumps an epoch
 * (entries of an older epoch are empty), as psc.h does.
 */
#ifndef SMMU_CPU_NESTED_TLB_H
#define SMMU_CPU_NESTED_TLB_H

#include "common.h"
#include "cpu/eptwalk.h"

#define NTLB_ENTRIES     64 /* direct mapped by gfn */
#define NTLB_PDE_ENTRIES 32 /* direct mapped by gpa >> 21 */

struct ntlb_entry {
	uint64_t gfn;    /* gpa >> 12 */
	hpa_t hpa;       /* the host frame of that 4 KiB guest page */
	uint32_t epoch;  /* nested_tlb.epoch when filled; other values: empty */
	uint8_t rights;  /* EPT_R|W|X ANDed over the path */
	uint8_t level;   /* the EPT leaf's level */
	bool dirty;      /* the EPT leaf had D */
};

struct ntlb_pde {
	uint64_t region;  /* gpa >> 21 */
	uint64_t *table;  /* the level-1 EPT table */
	uint32_t epoch;
	uint8_t rights;   /* EPT_R|W|X ANDed over the entries above it */
};

#define NTLB_PENDING 8 /* EPT PDE fills of one 2D walk: at most 6 gpas (5 guest levels + final) */

struct nested_tlb {
	struct ntlb_entry e[NTLB_ENTRIES];
	struct ntlb_pde pde[NTLB_PDE_ENTRIES];
	struct ntlb_pde pending[NTLB_PENDING]; /* fills waiting for ntlb_commit */
	unsigned nr_pending;
	uint32_t epoch; /* starts at 1: zeroed entries are empty */
	bool on;        /* SMMU_SHORTCUT_NESTED_TLB */
	bool check;     /* debug builds: assert each cached translation (unthreaded vCPUs) */
	uint64_t hits, misses, pde_hits;
};

void ntlb_init(struct nested_tlb *t, bool on, bool check);

/* Forget every entry (an MMU flush, a new EPT root). */
void ntlb_flush(struct nested_tlb *t);

/*
 * gpa through the nested TLB, else through the EPT PDE cache and the last
 * EPT entry, else through the full EPT walk (eptwalk); a walk that
 * translates fills both.  Same contract as eptwalk(); r->refs counts only
 * the EPT entries actually read (0 on a hit).  With the cache off, exactly
 * eptwalk().
 */
enum hwwalk_exit ntlb_translate(struct nested_tlb *t, const struct eptwalk_env *env, uint64_t gpa,
                                enum smmu_access_type access, struct eptwalk_result *r);

/* The end of a 2D walk: the EPT PDE-cache fills its EPT walks found take effect. */
void ntlb_commit(struct nested_tlb *t);

#endif /* SMMU_CPU_NESTED_TLB_H */
