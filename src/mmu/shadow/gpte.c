/*
 * gpte.c - reading guest page-table entries outside the walker: when an
 * unsync page is resynchronized, when a written gpte updates its spte, and
 * on invlpg.  Only leaf-level (4 KiB) gptes are decoded here; anything the
 * decoder is not sure of counts as invalid, which is always safe: the spte
 * is dropped and the next access runs the full guest walker (KVM's
 * FNAME(prefetch_invalid_gpte) makes the same trade).
 *
 * Where a gpte lives: a page shadowing 8-byte gptes maps entry i to byte
 * 8*i of its guest table.  A page shadowing a 32-bit-paging table (1024
 * 4-byte gptes) covers part of it, told by role.quadrant: a leaf page
 * shadows gptes [512*q, 512*q + 512); a level-2 page shadows 256 PDEs, each
 * turned into two 2 MiB sptes (mmu.rst, "role.quadrant").
 */
#include "mmu/shadow/gpte.h"
#include "mmu/slot_iface.h"

unsigned gpte_size(const struct sp *sp)
{
	return sp->role.has_4_byte_gpte ? 4 : 8;
}

gpa_t sp_gpte_gpa(const struct sp *sp, unsigned spte_index)
{
	gpa_t table = gfn_to_gpa(sp->gfn);

	if (!sp->role.has_4_byte_gpte)
		return table + 8ull * spte_index;
	if (sp->role.level == 1)
		return table + 4ull * (512u * sp->role.quadrant + spte_index);
	return table + 4ull * (256u * sp->role.quadrant + spte_index / 2);
}

int mmu_read_gpte(struct mmu_vm *vm, const struct sp *sp, unsigned spte_index, uint64_t *gpte)
{
	return mmu_read_guest(vm, sp_gpte_gpa(sp, spte_index), gpte_size(sp), gpte);
}

const void *mmu_map_gptes(struct mmu_vm *vm, const struct sp *sp)
{
	return mmu_map_guest_frame(vm, sp->gfn);
}

uint64_t mmu_gpte_at(const struct sp *sp, const void *table, unsigned spte_index)
{
	const uint8_t *p = (const uint8_t *)table + (sp_gpte_gpa(sp, spte_index) & ~PAGE_MASK);

	/* One atomic load, as the hardware reads an entry: the guest may be writing it. */
	if (sp->role.has_4_byte_gpte)
		return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

/* Bits of a 4 KiB gpte that must be zero (SDM 4.4.2 Table 4-11, 4.5 Table 4-19). */
static uint64_t leaf_gpte_rsvd_mask(const struct mmu_vcpu *v, const struct sp *sp)
{
	unsigned m = v->model->maxphyaddr;

	if (sp->role.has_4_byte_gpte)
		return 0;
	if (v->mode == SMMU_PAGING_PAE)
		return bits_range(62, m) | (sp->role.efer_nx ? 0 : X86_PTE_NX);
	return bits_range(51, m) | (sp->role.efer_nx ? 0 : X86_PTE_NX);
}

void gpte_decoder_init(struct gpte_decoder *d, const struct mmu_vcpu *v, const struct sp *sp)
{
	d->rsvd = leaf_gpte_rsvd_mask(v, sp);
	d->addr_mask = sp->role.has_4_byte_gpte ? 0xfffff000ull : bits_range(51, 12);
	d->nx_mask = sp->role.efer_nx ? X86_PTE_NX : 0;
	d->role_access = sp->role.access;
	/*
	 * Carry the key whatever CR4.PKE is now, as the fault path does: the
	 * vCPU applies PKRU only while CR4.PKE = 1 (SDM 4.6.2), and a PKE
	 * toggle keeps the shadow pages, so an spte built while PKE was 0
	 * must already hold the leaf's key when PKE turns on.
	 */
	d->pke = v->mode == SMMU_PAGING_4LEVEL || v->mode == SMMU_PAGING_5LEVEL;
	d->usable = sp->role.level == 1 && !sp->role.direct;
}

/*
 * Decode a gpte of a leaf page into a prefetch request.  False if it cannot
 * be mapped without a full walk (not present, not accessed, reserved bits,
 * or in doubt).
 */
bool gpte_decode(const struct gpte_decoder *d, uint64_t gpte, struct leaf_request *req)
{
	unsigned acc;

	if (!d->usable || (gpte & (X86_PTE_P | X86_PTE_A)) != (X86_PTE_P | X86_PTE_A) ||
	    (gpte & d->rsvd))
		return false;
	/* SDM 4.6: R/W -> W, U/S -> U, XD (when it means something) clears X. */
	acc = ((gpte & X86_PTE_RW) ? SMMU_ACC_W : 0) | ((gpte & X86_PTE_US) ? SMMU_ACC_U : 0) |
	      ((gpte & d->nx_mask) ? 0 : SMMU_ACC_X);
	*req = (struct leaf_request){
		.gfn = (gpte & d->addr_mask) >> PAGE_SHIFT,
		.level = 1,
		.access = d->role_access & acc,
		.pkey = d->pke ? (unsigned)((gpte >> X86_PTE_PKEY_SHIFT) & 0xf) : 0,
		.gpte_dirty = gpte & X86_PTE_D,
		.prefetch = true,
	};
	return true;
}

bool mmu_gpte_to_leaf(struct mmu_vcpu *v, const struct sp *sp, unsigned index, uint64_t gpte,
                      struct leaf_request *req)
{
	struct gpte_decoder d;

	(void)index;
	gpte_decoder_init(&d, v, sp);
	return gpte_decode(&d, gpte, req);
}
