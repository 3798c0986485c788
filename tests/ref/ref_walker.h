/*
 * ref_walker.h - the independent reference model of the x86 guest page
 * walker, for differential tests against smmu_x86_walk().
 *
 * Same contract as smmu_x86_walk() in shadowmmu/x86.h, written from the
 * Intel SDM Vol. 3A ch. 4 and trace-format.md only (never from src/x86/).
 * Where x86.h leaves a detail open, the reference fixes it as follows:
 *  - paging off: gpa = gva (32 bits), level 0, page_size 4 KiB, access
 *    W|U|X, root_level 0, pkey 0, global false.
 *  - pkey: bits 62:59 of the leaf in 4/5-level paging, even with
 *    CR4.PKE = 0 (when the key has no effect), else 0.
 *  - on a page fault, `level` is the level of the entry that stopped the
 *    walk (not present / reserved bit) or of the leaf (access rights), and
 *    gpte[]/pte_gpa[] are filled from root_level down to it; gpa, access,
 *    page_size and pkey are unspecified.
 *  - gpte[] is the entry as guest memory holds it after the walk: an A/D
 *    update aimed at read-only memory was not written, so it is not in
 *    gpte[] either.
 */
#ifndef SMMU_TEST_REF_WALKER_H
#define SMMU_TEST_REF_WALKER_H

#include <shadowmmu/x86.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reference of smmu_x86_walk(). */
enum smmu_walk_outcome ref_walk(const struct smmu_cpu_state *s, const struct smmu_cpu_model *m,
                                const struct smmu_gpa_ops *mem, uint64_t gva,
                                enum smmu_access_type access, struct smmu_walk *w);

/* SDM 4.4.1: may a PDPTE load accept this PAE PDPTE (not present, or no reserved bit)? */
bool ref_pae_pdpte_valid(const struct smmu_cpu_model *m, uint64_t pdpte);

/*
 * SDM 4.4.1: load the four PDPTEs that PAE-mode CR3 points to, as MOV to
 * CR3 does.  Returns 0 and fills pdptrs[], or -EINVAL when the load is #GP
 * (a present PDPTE with a reserved bit; an unbacked PDPTE reads as all
 * ones per trace-format.md, so it is #GP too); pdptrs[] is then untouched.
 */
int ref_pae_load_pdptrs(const struct smmu_cpu_model *m, const struct smmu_gpa_ops *mem,
                        uint64_t cr3, uint64_t pdptrs[4]);

const char *ref_paging_mode_name(enum smmu_paging_mode mode);
const char *ref_access_name(enum smmu_access_type access);
/* One-line description of a walk result, for failure messages. */
void ref_walk_describe(const struct smmu_walk *w, char *buf, size_t len);

#endif /* SMMU_TEST_REF_WALKER_H */
