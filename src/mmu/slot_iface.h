/*
 * slot_iface.h - the MMU's only ways to guest memory: gfn -> memslot ->
 * hva -> host frame (KVM's gfn_to_memslot / gfn_to_pfn / kvm_read_guest),
 * and the per-slot metadata it keeps there (rmap heads, large-page
 * disallow counts).  Implemented over src/memslot.c and src/host/.
 */
#ifndef SMMU_MMU_SLOT_IFACE_H
#define SMMU_MMU_SLOT_IFACE_H

#include "host/hostmem.h"
#include "mmu/shadow/shadow.h"

struct memslot *mmu_gfn_to_slot(struct mmu_vm *vm, gfn_t gfn);
struct rmap_head *mmu_slot_rmap(struct memslot *slot, gfn_t gfn, unsigned level);
void mmu_slot_disallow_lpage(struct memslot *slot, gfn_t gfn, int delta);
bool mmu_slot_readonly(const struct memslot *slot);
bool mmu_slot_dirty_logging(const struct memslot *slot);
void mmu_slot_mark_dirty(struct memslot *slot, gfn_t gfn);

/* The largest level (1..3) a leaf for gfn may use given slot bounds and tracking. */
unsigned mmu_max_mapping_level(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn,
                               unsigned max_level);

/* 0, or -EFAULT if gfn has no slot or its hva no backing. */
int mmu_gfn_to_pfn(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, bool write,
                   struct host_pfn *out);

/* Guest-physical reads and writes for the MMU (gpte reads, emulated writes). */
int mmu_read_guest(struct mmu_vm *vm, gpa_t gpa, unsigned size, uint64_t *val);
int mmu_write_guest(struct mmu_vm *vm, gpa_t gpa, unsigned size, uint64_t val);

/*
 * The host bytes of guest frame gfn for reading under mmu_lock, or NULL (no
 * slot, no backing).  Valid while mmu_lock is held: a host change to the
 * frame must first pass the MMU notifier, which takes mmu_lock.  The guest
 * may write the frame concurrently: read it with atomic loads.
 */
const void *mmu_map_guest_frame(struct mmu_vm *vm, gfn_t gfn);

/* The memslot generation (MMIO sptes carry it). */
uint64_t mmu_memslots_generation(struct mmu_vm *vm);

#endif
