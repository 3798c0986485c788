/*
 * gpte.h - reading and decoding guest page-table entries outside the
 * walker (gpte.c).
 */
#ifndef SMMU_SHADOW_GPTE_H
#define SMMU_SHADOW_GPTE_H

#include "mmu/mmu_internal.h"

unsigned gpte_size(const struct sp *sp);
gpa_t sp_gpte_gpa(const struct sp *sp, unsigned spte_index);
int mmu_read_gpte(struct mmu_vm *vm, const struct sp *sp, unsigned spte_index, uint64_t *gpte);
/*
 * For a pass over a whole page (sync): map sp's guest table once (NULL if
 * it has no backing; valid under mmu_lock), then read entries from it.
 */
const void *mmu_map_gptes(struct mmu_vm *vm, const struct sp *sp);
uint64_t mmu_gpte_at(const struct sp *sp, const void *table, unsigned spte_index);
bool mmu_gpte_to_leaf(struct mmu_vcpu *v, const struct sp *sp, unsigned index, uint64_t gpte,
                      struct leaf_request *req);

/*
 * mmu_gpte_to_leaf() split for a pass over one page (sync): what depends
 * only on the page and the vCPU's mode is worked out once.
 */
struct gpte_decoder {
	uint64_t rsvd;        /* bits of a 4 KiB gpte that must be zero */
	uint64_t addr_mask;   /* the frame-address field */
	uint64_t nx_mask;     /* X86_PTE_NX when EFER.NXE gives XD a meaning, else 0 */
	unsigned role_access; /* rights of the levels above (sp->role.access) */
	bool pke;             /* 4/5-level paging: the gpte carries a protection key */
	bool usable;          /* a leaf-level indirect page: its gptes can be decoded */
};

void gpte_decoder_init(struct gpte_decoder *d, const struct mmu_vcpu *v, const struct sp *sp);
bool gpte_decode(const struct gpte_decoder *d, uint64_t gpte, struct leaf_request *req);

#endif /* SMMU_SHADOW_GPTE_H */
