/*
 * hwwalk.h - the host "hardware" page walker over shadow page tables.
 *
 * The software vCPU translates a gva by walking the shadow tables from the
 * root hpa the MMU installed, as an x86-64 processor walks 4- or 5-level
 * paging structures (SDM Vol. 3A 4.5), with the host's fixed controls
 * CR0.WP = 1 and EFER.NXE = 1 and the guest's CR4.SMEP/SMAP/PKE, RFLAGS.AC,
 * PKRU and CPL (KVM runs shadowed guests so; with guest paging off those
 * three CR4 features are off).  A walk ends in a translation or in an exit
 * with its reason and the #PF error code the hardware would deliver.
 *
 * Invariants:
 *  - every table is reached through arena_hpa_to_ptr(): an spte pointing
 *    outside the arena (or, with env->table_ok, at a frame that is not a
 *    shadow table) ends the walk with HWWALK_BAD_HPA; no wild read ever;
 *  - A is set in every spte used and D in the leaf on a write, with an
 *    atomic OR, and only when the walk succeeds (a faulting access sets no
 *    A/D bit, as the trace format requires of guest walks);
 *  - a walk through the paging-structure cache (psc.h) gives what the full
 *    walk would: debug builds of unthreaded vCPUs check every such walk.
 *
 * The rights check is table driven (struct hw_perm, rebuilt when CPL, AC,
 * CR4 or PKRU change), the way KVM precomputes mmu->permissions and
 * pkru_mask, so the TLB-hit path re-checks rights in a few instructions.
 */
#ifndef SMMU_CPU_HWWALK_H
#define SMMU_CPU_HWWALK_H

#include <shadowmmu/x86.h>

#include "common.h"
#include "host/arena.h"
#include "cpu/psc.h"
#include "x86/spte.h"

enum hwwalk_exit {
	HWWALK_OK,
	HWWALK_NO_ROOT,         /* no root hpa installed (MMU must load one) */
	HWWALK_NOT_PRESENT,     /* an spte with P = 0 */
	HWWALK_WRITE_PROTECT,   /* write to a page without R/W */
	HWWALK_USER_SUPERVISOR, /* CPL 3 access to a supervisor page */
	HWWALK_NX,              /* fetch from an XD page */
	HWWALK_SMEP,            /* supervisor fetch from a user page, CR4.SMEP */
	HWWALK_SMAP,            /* supervisor data access to a user page, CR4.SMAP, AC = 0 */
	HWWALK_PK,              /* protection-key violation (PKRU.AD/WD) */
	HWWALK_RESERVED,        /* reserved bit set: MMIO sptes land here */
	HWWALK_BAD_HPA,         /* spte points outside the arena / at a non-table frame */
	HWWALK_EPT_VIOLATION,   /* TDP: EPT entry not present, or its rights deny the access */
	HWWALK_EPT_MISCONFIG,   /* TDP: a misconfigured EPT entry (W without R, reserved bits) */
	HWWALK_NR_EXITS,
};

/*
 * Precomputed rights rules for one CPL/AC/CR4/PKRU combination.
 * fault[access] has bit `acc` set when an access of that type to a page
 * with combined rights `acc` (SMMU_ACC_* bits, 0..7) faults.  pk_deny
 * holds the PKRU bits that deny the access type (0 when PKE is off or for
 * fetches); pfec is the error code's W/U/I part for the access type.
 */
struct hw_perm {
	uint8_t fault[3];
	uint32_t pk_deny[3];
	uint32_t pfec[3];
	bool user, smep, smap, pke, ac; /* the inputs, for hw_perm_reason() */
	uint32_t pkru;
};

/* Build the rules.  Pass smep/smap/pke = false when guest paging is off. */
void hw_perm_init(struct hw_perm *p, unsigned cpl, bool smep, bool smap, bool pke, bool ac,
                  uint32_t pkru);

/* True when the PKRU rights of `pkey` deny the access to a page with rights `acc`. */
static inline bool hw_perm_pk_denies(const struct hw_perm *p, unsigned acc, unsigned pkey,
                                     enum smmu_access_type access)
{
	return (acc & SMMU_ACC_U) && ((p->pk_deny[access] >> (2 * pkey)) & 3);
}

/* True when the access is allowed on a page with rights `acc` and key `pkey`. */
static inline bool hw_perm_allows(const struct hw_perm *p, unsigned acc, unsigned pkey,
                                  enum smmu_access_type access)
{
	return !((p->fault[access] >> acc) & 1) && !hw_perm_pk_denies(p, acc, pkey, access);
}

/*
 * The exit reason and full error code (P set) of a denied access, or
 * HWWALK_OK and 0 when it is allowed.
 */
enum hwwalk_exit hw_perm_reason(const struct hw_perm *p, unsigned acc, unsigned pkey,
                                enum smmu_access_type access, uint32_t *error_code);

/* What a walk runs against. */
struct hwwalk_env {
	const struct arena *arena;
	hpa_t root;          /* root table hpa, INVALID_HPA if none */
	unsigned root_level; /* 4 or 5 */
	const struct hw_perm *perm;
	/* Optional (audit builds): false if table_hpa is not a shadow-table frame. */
	bool (*table_ok)(void *ctx, hpa_t table_hpa);
	void *table_ok_ctx;
	/* Optional: the paging-structure cache (psc.h); used when psc->gen is set. */
	struct psc *psc;
};

struct hwwalk_result {
	enum hwwalk_exit exit;
	uint32_t error_code; /* exits: the #PF error code of the shadow walk */
	unsigned level;      /* OK: the leaf's level (1, 2, 3); exits: where it stopped */
	hpa_t hpa;           /* OK: the translated host-physical address */
	unsigned access;     /* combined SMMU_ACC_* of the levels walked */
	unsigned pkey;       /* the leaf's protection key */
	bool global;         /* the leaf has G */
	bool dirty;          /* the leaf has D (after this walk's update) */
	uint64_t spte;       /* the leaf (OK) or the spte where the walk stopped */
	uint64_t *sptep;     /* where `spte` lives; NULL for NO_ROOT/BAD_HPA at the root */
	bool cached;         /* the walk started from a paging-structure-cache entry */
	unsigned refs;       /* sptes read (memory references): 0 .. root_level */
};

/*
 * Walk the shadow tables for one access to `gva`.  Returns r->exit.  With a
 * paging-structure cache, a walk may start at the level-1 table the cache
 * names (r->cached); a full walk that reaches a level-1 table fills it.
 */
enum hwwalk_exit hwwalk(const struct hwwalk_env *env, gva_t gva, enum smmu_access_type access,
                        struct hwwalk_result *r);

/* The same walk from the root, never using the cache (nor filling it). */
enum hwwalk_exit hwwalk_full(const struct hwwalk_env *env, gva_t gva,
                             enum smmu_access_type access, struct hwwalk_result *r);

/*
 * What hwwalk() would return for `gva` if the walk reached `spte`, a leaf at
 * `level`, through entries that all grant every right and have A set (the
 * nonleaf sptes the MMU makes: spte_make_nonleaf).  The MMU hands the leaf
 * it has just installed back this way, saving the vCPU a second walk (KVM
 * re-enters the guest and lets the hardware walk, which costs it nothing).
 * Sets no A/D bit: returns false, leaving the full walk to decide, unless
 * the access is allowed and the leaf already has A (and D for a write).
 */
bool hwwalk_leaf(const struct hwwalk_env *env, gva_t gva, enum smmu_access_type access,
                 uint64_t spte, unsigned level, struct hwwalk_result *r);

/*
 * Where an access to `gva` would most likely land, found cheaply and with no
 * effect: the host address the present leaf spte under a paging-structure
 * cache entry names, or INVALID_HPA when the cache knows no level-1 table
 * for gva or that spte is not present.  Rights, reserved bits and A/D are
 * not looked at: the answer is a guess for prefetching, never a translation.
 * Only for a vCPU whose tables no other thread changes meanwhile (the table
 * the entry names could otherwise be freed while it is read), and with a
 * paging-structure cache (env->psc, its generation set).
 */
static inline hpa_t hwwalk_peek(const struct hwwalk_env *env, gva_t gva)
{
	const struct psc_entry *e = psc_peek(env->psc, env->root, gva);
	uint64_t spte;

	if (!e)
		return INVALID_HPA;
	spte = __atomic_load_n(&e->table[spte_index(gva, 1)], __ATOMIC_RELAXED);
	return is_shadow_present_spte(spte) ? spte_to_hpa(spte) | (gva & ~PAGE_MASK) : INVALID_HPA;
}

/* A printable name for an exit reason ("not_present", "smap", ...). */

#endif /* SMMU_CPU_HWWALK_H */
