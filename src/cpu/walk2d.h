/*
 * walk2d.h - the two-dimensional walk of TDP mode: the guest's own page
 * tables walked as hardware walks them, every guest paging-structure gpa and
 * the final gpa translated through the EPT (Intel SDM Vol. 3C 29.3.2 and
 * 29.3.3.2; Vol. 3A ch. 4 for the guest dimension; Bhargava et al.,
 * ASPLOS'08, for the reference count).
 *
 * The guest dimension is the architectural walker itself (smmu_x86_walk,
 * src/x86/walker.c: every paging mode, the guest's own CR0.WP, EFER.NXE,
 * SMEP, SMAP, PKRU, its A/D updates by compare-and-exchange), run over
 * guest-memory ops that translate each gpa through the EPT (eptwalk.h).
 * The walk ends in one of:
 *  - a translation: gva -> hpa, with the rights for the combined TLB;
 *  - a guest #PF or #GP, exactly as shadow mode's guest walk finds it;
 *  - an exit of the EPT walk of a guest paging-structure entry (read, or
 *    written for its A/D update) or of the final gpa: EPT violation,
 *    misconfiguration, no root, or an entry aimed outside the arena.
 *
 * Invariants:
 *  - guest memory is reached only through eptwalk()'s hpa and
 *    arena_hpa_to_ptr(); nothing is ever read or written outside the arena;
 *  - the first EPT exit ends the walk: every later guest-memory access of
 *    that walk fails without touching memory, so no A/D bit is set below
 *    the level where the exit happened;
 *  - refs counts every guest paging-structure entry read and every EPT
 *    entry read, the A/D compare-and-exchange none (it reuses the hpa the
 *    read of that entry found, as hardware's locked update does): a cold
 *    4-level walk over 4-level EPT makes (4+1)(4+1)-1 = 24 references;
 *  - with EPT A/D on, guest paging-structure accesses are EPT writes (SDM
 *    29.3.3.2): they need EPT W, set EPT D, and a violation reports both
 *    READ and WRITE in the qualification.
 *
 * The caches (each off-able): every EPT walk goes through the nested TLB
 * (nested_tlb.h: a hit reads no EPT entry, an EPT PDE-cache hit one), and a
 * walk whose gva region the guest paging-structure cache knows (psc2d.h)
 * takes the cached upper guest entries instead of reading them: the
 * walker is served their values, at no memory reference and no EPT walk.
 * A warm 4-level walk then reads the guest PTE (1 reference, its table's
 * gpa a nested-TLB hit) and translates the final gpa (0 on a nested-TLB
 * hit, 1 on an EPT PDE-cache hit, 4 cold).  Cached or not, a walk gives
 * the same outcome, rights, A/D updates and exits as the full walk over
 * the same entries (debug builds assert it when nothing changed).
 *
 * Guest paging-structure entries the MMU declared MMIO (no memslot) are
 * read through the ordinary guest-memory ops, outside guest mode, before
 * the walk is retried (walk2d_slow_load); the architectural walker then
 * decides what it decides in shadow mode for such an entry.
 */
#ifndef SMMU_CPU_WALK2D_H
#define SMMU_CPU_WALK2D_H

#include <shadowmmu/x86.h>

#include "common.h"
#include "cpu/eptwalk.h"
#include "cpu/nested_tlb.h"
#include "cpu/psc2d.h"
#include "cpu/tlb.h"
#include "x86/paging.h"

enum walk2d_outcome {
	WALK2D_OK,       /* translated: hpa, fill */
	WALK2D_GUEST_PF, /* the guest's tables fault: error_code */
	WALK2D_GUEST_GP, /* a non-canonical address */
	WALK2D_EXIT,     /* an EPT walk failed: exit, gpa, exit_qual, ept */
};

/* Guest paging-structure entries read through the ordinary gpa ops (the MMU said MMIO). */
struct walk2d_slow {
	unsigned n;
	struct {
		uint64_t gpa;
		int rc;       /* what gpa_ops->read returned */
		uint64_t val; /* rc == 0: the entry */
	} e[SMMU_MAX_LEVELS];
};

struct walk2d_env {
	const struct eptwalk_env *ept;
	const struct smmu_cpu_state *state;
	const struct smmu_cpu_model *model;
	struct nested_tlb *ntlb; /* every EPT walk goes through it (ntlb->on: used) */
	struct psc2d *psc2d;     /* NULL or !on: every walk reads every guest entry */
	/*
	 * The guest walker's configuration (x86/paging.h), rebuilt here when
	 * CR0, CR4 or EFER differ from those it was made from; NULL: built for
	 * every walk.
	 */
	struct x86_paging *paging;
	unsigned pcid;           /* the current PCID, psc2d's tag */
	bool check;              /* debug builds: repeat cached walks in full and compare */
};

struct walk2d_result {
	enum walk2d_outcome outcome;
	enum hwwalk_exit exit;     /* WALK2D_EXIT: EPT_VIOLATION, EPT_MISCONFIG, NO_ROOT, BAD_HPA */
	uint32_t error_code;       /* GUEST_PF: the guest's #PF; EXIT: KVM's PFERR bits (P, W, I) */
	uint64_t gpa;              /* EXIT: the gpa whose EPT walk failed; OK: the final gpa */
	uint64_t exit_qual;        /* EXIT: EPT_QUAL_* (x86/ept.h) */
	unsigned pte_size;         /* EXIT at a guest paging-structure entry: its size, 4 or 8 */
	struct eptwalk_result ept; /* EXIT: the failed EPT walk; OK: the final one */
	struct smmu_walk guest;    /* the guest dimension */
	hpa_t hpa;                 /* OK: the host address of the access */
	bool cacheable;            /* OK: the TLB may hold it (EPT R: a hit is a read) */
	struct tlb_fill_info fill; /* OK and cacheable: the combined TLB entry */
	unsigned refs;             /* memory references: guest entries + EPT entries */
	bool psc2d_hit;            /* the walk started from a psc2d entry */
};

/* One 2D walk of `gva` for `access`.  Returns r->outcome. */
enum walk2d_outcome walk2d(const struct walk2d_env *env, const struct walk2d_slow *slow, gva_t gva,
                           enum smmu_access_type access, struct walk2d_result *r);

/*
 * Read the guest paging-structure entry at gpa (`size` bytes) through the
 * ordinary guest-memory ops, for the walks that follow: call outside guest
 * mode, after the MMU answered MMIO for an exit with EPT_QUAL_GVA_FINAL
 * clear.
 */
/*
 * The leaf hand-back (SMMU_SHORTCUT_LEAF_HANDBACK) in TDP mode: `r` ended in
 * an EPT violation on its final gpa, and the MMU has just installed `leaf`
 * at `level` for it.  The guest walk (its A/D updates included) is done, so
 * finish `r` from the leaf as the retried walk would, and say true; false
 * (r unchanged) if the leaf does not let the access through exactly as a
 * walk would - then the caller walks again.  Debug builds check it against
 * a full walk.
 */
bool walk2d_complete(const struct walk2d_env *env, const struct walk2d_slow *slow, gva_t gva,
                     enum smmu_access_type access, struct walk2d_result *r, uint64_t leaf,
                     unsigned level);
void walk2d_slow_load(struct walk2d_slow *slow, const struct smmu_gpa_ops *ops, uint64_t gpa,
                      unsigned size);

#endif /* SMMU_CPU_WALK2D_H */
