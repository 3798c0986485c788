/*
 * eptwalk.h - the host "hardware" walker of the extended page tables (EPT):
 * one guest-physical address through the EPT from the root the TDP MMU
 * installed (the EPTP), to a host-physical address or to an exit, as a
 * processor translates every gpa in VMX non-root operation (Intel SDM
 * Vol. 3C 29.3.2 translation, 29.3.3 misconfigurations and violations,
 * 29.3.5 accessed and dirty flags).
 *
 * Per level the walk reads one entry (relaxed atomic load, one memory
 * reference counted in r->refs): R = W = X = 0 ends it with an EPT
 * violation (rights 0); a misconfigured entry (is_ept_misconfig, x86/ept.h)
 * with an EPT misconfiguration at once; otherwise the rights are ANDed and
 * the walk goes down until a leaf (level 1, or PS at level 2 / 3).  At the
 * leaf the access is checked against the ANDed rights: a read needs R, a
 * write W, a fetch X (no mode-based execute control), else an EPT violation
 * carrying those rights.  gpa bits above the EPT's reach (47 for 4 levels,
 * 56 for 5) are a violation at the root level, rights 0.
 *
 * Invariants:
 *  - every table and the final 4 KiB frame are reached through
 *    arena_hpa_to_ptr(): an entry aimed outside the arena ends the walk
 *    with HWWALK_BAD_HPA, never a wild read;
 *  - with EPT A/D enabled (env->ad), and only when the walk translates, A
 *    is set in every entry used and D in the leaf of a write, by an atomic
 *    OR done only where the bit is clear (other threads may run); without
 *    it no A/D bit is ever touched;
 *  - a walk reads at most env->level entries and writes nothing else.
 */
#ifndef SMMU_CPU_EPTWALK_H
#define SMMU_CPU_EPTWALK_H

#include <shadowmmu/x86.h>

#include "common.h"
#include "host/arena.h"
#include "cpu/hwwalk.h"
#include "x86/ept.h"

/* What an EPT walk runs against: the EPTP's root, its level and its A/D enable. */
struct eptwalk_env {
	const struct arena *arena;
	hpa_t root;     /* INVALID_HPA: none installed */
	unsigned level; /* 4 or 5 */
	bool ad;        /* EPT accessed and dirty flags enabled (EPTP bit 6) */
};

struct eptwalk_result {
	enum hwwalk_exit exit; /* OK, EPT_VIOLATION, EPT_MISCONFIG, BAD_HPA or NO_ROOT */
	hpa_t hpa;             /* OK: the host-physical address of gpa */
	uint64_t rights;       /* EPT_R|W|X ANDed over the entries read (0: not present) */
	unsigned level;        /* OK: the leaf's level; exits: where the walk stopped */
	uint64_t entry;        /* the leaf, or the entry where the walk stopped (0: none) */
	uint64_t *entryp;      /* where `entry` lives (NULL: none) */
	unsigned refs;         /* EPT entries read */
	bool dirty;            /* OK: the leaf has D (after this walk's update) */
	uint64_t rights_above; /* OK: EPT_R|W|X ANDed over the entries above the leaf */
};

/*
 * Translate `gpa` for an access of type `access` (read, write or fetch;
 * callers pass WRITE for guest paging-structure accesses under EPT A/D,
 * SDM 29.3.3.2).  Returns r->exit.
 */
enum hwwalk_exit eptwalk(const struct eptwalk_env *env, uint64_t gpa, enum smmu_access_type access,
                         struct eptwalk_result *r);

/*
 * The same walk started at the level-1 EPT table `table` for gpa, the
 * entries above it skipped with the rights `rights_above` (the EPT
 * paging-structure cache, nested_tlb.h): one entry read, A/D set in it only.
 */
enum hwwalk_exit eptwalk_from_table(const struct eptwalk_env *env, uint64_t gpa,
                                    enum smmu_access_type access, uint64_t *table,
                                    uint64_t rights_above, struct eptwalk_result *r);

/* The EPT_QUAL_READABLE/WRITABLE/EXECUTABLE bits of a walk's rights (SDM Table 28-7). */
static inline uint64_t ept_qual_rights(uint64_t rights)
{
	return (rights & EPT_RWX) << 3;
}

/* The EPT_QUAL_READ/WRITE/FETCH bit of an access type. */
static inline uint64_t ept_qual_access(enum smmu_access_type access)
{
	return access == SMMU_ACCESS_WRITE ? EPT_QUAL_WRITE
	       : access == SMMU_ACCESS_FETCH ? EPT_QUAL_FETCH
	                                     : EPT_QUAL_READ;
}

#endif /* SMMU_CPU_EPTWALK_H */
