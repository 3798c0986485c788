/*
 * slot_iface.h - the MMU's only way to guest memory and to the host: gfn ->
 * memslot -> hva -> host frame (KVM's gfn_to_memslot / gfn_to_pfn /
 * kvm_read_guest), the per-slot metadata it keeps there (rmap heads,
 * large-page disallow counts, dirty bitmaps), copy-on-write breaks and the
 * notifier registration.  Implemented over src/memslot/ and src/host/
 * (slot_iface.c, slot_rmaps.c); no other file of src/mmu includes those
 * layers' headers, and struct memslot is opaque here.  The host types the
 * MMU sees are the answer of a frame lookup (host/pfn.h) and the notifier
 * it listens on (host/notifier.h).
 */
#ifndef SMMU_MMU_SLOT_IFACE_H
#define SMMU_MMU_SLOT_IFACE_H

#include "host/pfn.h"
#include "mmu/mmu_internal.h"

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
/* The host frame backing gfn now, without faulting it in (audit); 0 or -EFAULT. */
int mmu_peek_pfn(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, pfn_t *pfn);
hva_t mmu_slot_gfn_to_hva(const struct memslot *slot, gfn_t gfn);
/* Unshare the merged page at hva (mmu_lock not held); 0 or -ENOMEM. */
int mmu_break_cow(struct mmu_vm *vm, hva_t hva);

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

/* Guest memory for the vCPU's walker (vm->gpa_ops, vm->gpa_ops_locked) and the gfn cache. */
void mmu_init_gpa_ops(struct mmu_vm *vm);
void mmu_gfn_cache_clear(struct mmu_vm *vm);
/* Listen on the host address space's MMU notifier (vm->notifier); 0 or -errno. */
int mmu_host_notifier_register(struct mmu_vm *vm);
void mmu_host_notifier_unregister(struct mmu_vm *vm);

/* ---- slot_rmaps.c: the rmaps of whole ranges ------------------------------ */
typedef bool mmu_rmap_fn(struct mmu_vm *vm, struct rmap_head *head, void *arg);

/* fn on the rmap of every gfn and level whose hva lies in [start, end); true if any fn did. */
bool mmu_for_each_rmap_in_hva_range(struct mmu_vm *vm, hva_t start, hva_t end, mmu_rmap_fn *fn,
                                    void *arg);
/* fn on every rmap of slot at `level`; true if any fn did. */
bool mmu_for_each_rmap_in_slot(struct mmu_vm *vm, struct memslot *slot, unsigned level,
                               mmu_rmap_fn *fn, void *arg);
/* fn on every rmap of every slot and level (audit); true if any fn did. */
bool mmu_for_each_rmap(struct mmu_vm *vm, mmu_rmap_fn *fn, void *arg);
/*
 * KVM_GET_DIRTY_LOG's first half: copy and clear slot id's dirty bitmap into
 * out, then fn on the 4 KiB rmap of each gfn that was dirty.  0, -EINVAL
 * (no slot), -ENOENT (logging off); *any: whether an fn returned true.
 */
int mmu_harvest_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out, mmu_rmap_fn *fn,
                          void *arg, bool *any);

/* ---- slot_rmaps.c: the same by gfn range, for the TDP MMU (no rmaps) ----- */
typedef bool mmu_gfn_range_fn(struct mmu_vm *vm, gfn_t start, gfn_t end, void *arg);

/* fn on the gfn range of each slot whose hvas meet [start, end); true if any fn did. */
bool mmu_for_each_gfn_range_in_hva_range(struct mmu_vm *vm, hva_t start, hva_t end,
                                         mmu_gfn_range_fn *fn, void *arg);
/* The gfns slot maps: [*base, *base + *npages). */
void mmu_slot_gfn_range(const struct memslot *slot, gfn_t *base, uint64_t *npages);
/* Copy and clear slot id's dirty bitmap into out; 0, -EINVAL, -ENOENT; *base the slot's first gfn. */
int mmu_fetch_dirty_log(struct mmu_vm *vm, unsigned id, uint64_t *out, gfn_t *base,
                        uint64_t *npages);
/* Whether gfn is marked in its logging slot's bitmap (audit). */
bool mmu_slot_test_dirty(const struct memslot *slot, gfn_t gfn);
#endif
