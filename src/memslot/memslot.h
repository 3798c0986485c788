/*
 * memslot.h - guest physical memory slots, with the semantics of KVM's
 * KVM_SET_USER_MEMORY_REGION (Documentation/virt/kvm/api.rst 4.35) and the
 * per-slot MMU metadata of arch/x86/kvm (kvm_arch_memory_slot).
 *
 * A slot maps npages guest frames from base_gfn onto host virtual memory from
 * userspace_addr.  A struct memslots is the set a VM embeds (no global
 * state): slots by id, and sorted by base_gfn for gfn lookup (binary search
 * behind a last-hit cache).  Invariants:
 *   - slots never overlap in gfn space; every slot has npages > 0;
 *   - the generation changes on every successful update and only then;
 *   - a rejected request changes nothing;
 *   - each slot owns, from creation to deletion, rmap heads for levels 1-3
 *     and large-page disallow counts for levels 2-3; the dirty bitmap exists
 *     exactly while MEMSLOT_LOG_DIRTY_PAGES is set.
 * Locking is the caller's (the VM's slots lock): lookups must not run
 * concurrently with updates; concurrent lookups are fine.
 */
#ifndef SMMU_MEMSLOT_H
#define SMMU_MEMSLOT_H

#include "common.h"
#include "host/hostmem.h"

#define MEMSLOT_LOG_DIRTY_PAGES (1u << 0) /* KVM_MEM_LOG_DIRTY_PAGES */
#define MEMSLOT_READONLY        (1u << 1) /* KVM_MEM_READONLY */

#define MEMSLOT_ID_LIMIT     1024               /* ids 0 .. LIMIT-1 */
#define MEMSLOT_MAX_NR_PAGES ((1ull << 31) - 1) /* as KVM_MEM_MAX_NR_PAGES */
#define MEMSLOT_GPA_LIMIT    (1ull << 52)       /* architectural MAXPHYADDR max */

/* Page-size levels, numbered as KVM's PG_LEVEL_4K / 2M / 1G. */
#define MEMSLOT_LEVEL_4K  1
#define MEMSLOT_LEVEL_2M  2
#define MEMSLOT_LEVEL_1G  3
#define MEMSLOT_NR_LEVELS 3

enum memslot_change {
	MEMSLOT_CREATE,
	MEMSLOT_DELETE,
	MEMSLOT_MOVE,       /* new base gfn, same size and hva */
	MEMSLOT_FLAGS_ONLY, /* dirty logging switched on or off */
};

struct memslot {
	uint16_t id;                                     /* slot id */
	uint32_t flags;                                  /* MEMSLOT_* */
	gfn_t base_gfn;                                  /* first gfn */
	uint64_t npages;                                 /* > 0 */
	hva_t userspace_addr;                            /* hva of base_gfn */
	struct rmap_head *rmap[MEMSLOT_NR_LEVELS];       /* per level, per index */
	uint32_t *disallow_lpage[MEMSLOT_NR_LEVELS - 1]; /* levels 2 and 3 */
	uint64_t *dirty_bitmap;                          /* one bit per page, or NULL */
	uint64_t meta_bytes;                             /* bytes of the arrays above */
	struct hostmem_window host;                      /* the host ptes behind it, if known */
};

/* The userspace request, as struct kvm_userspace_memory_region. */
struct memslot_region {
	uint32_t slot;
	uint32_t flags;
	gpa_t guest_phys_addr;
	uint64_t memory_size; /* 0 deletes the slot */
	hva_t userspace_addr;
	/* Not in KVM's struct: the host ptes behind userspace_addr (optional). */
	struct hostmem_window host;
};

/*
 * Called after a successful update, with the new set installed and the old
 * slot (if any) still intact: the MMU zaps sptes through old->rmap on DELETE
 * and MOVE, and write-protects or relaxes on FLAGS_ONLY.  For FLAGS_ONLY,
 * old is a copy sharing new's rmap arrays.
 */
typedef void memslots_change_fn(void *opaque, enum memslot_change change, const struct memslot *old,
                                const struct memslot *new_slot);

struct memslots {
	struct memslot *by_id[MEMSLOT_ID_LIMIT];  /* NULL where no slot */
	struct memslot *sorted[MEMSLOT_ID_LIMIT]; /* by base_gfn, nr_slots used */
	unsigned nr_slots;                        /* live slots */
	unsigned last_hit;                        /* index in sorted of last lookup */
	uint64_t generation;                      /* bumped by every update */
	uint64_t meta_bytes;                      /* metadata of all slots */
	uint64_t lookups, lookup_misses;          /* cache statistics */
	memslots_change_fn *on_change;            /* optional listener */
	void *opaque;                             /* its argument */
	bool no_rmaps;                            /* slots made without rmap heads (see below) */
};

void memslots_init(struct memslots *ms, memslots_change_fn *on_change, void *opaque);
/*
 * Slots made from now on carry no rmap heads (memslot_rmap() is then not to
 * be called): only a shadow MMU needs them; a TDP MMU walks its tables by
 * gfn instead, and KVM allocates them only once a shadow root appears
 * (kvm_memslots_have_rmaps).  The rest of the metadata stays.
 */
void memslots_set_no_rmaps(struct memslots *ms);
/* Free every slot (no change callbacks). */
void memslots_destroy(struct memslots *ms);

/*
 * Create, delete, move or change the flags of a slot, as KVM does.
 *  -EINVAL  bad id or flags, unaligned gpa/size/hva, size too big or wrapping,
 *           delete of a missing slot, changing an existing slot's size or hva
 *           or its READONLY flag
 *  -EEXIST  the new range overlaps another slot
 *  -ENOMEM  metadata allocation failed
 * A request identical to the current slot succeeds without an update.
 */
int memslots_set_region(struct memslots *ms, const struct memslot_region *r);

/* The slot containing gfn, or NULL. */
struct memslot *memslots_find(struct memslots *ms, gfn_t gfn);
/* The slot with this id, or NULL. */
struct memslot *memslots_get(const struct memslots *ms, unsigned id);
/* Slots in gfn order: index 0 .. nr_slots - 1. */
struct memslot *memslots_at(const struct memslots *ms, unsigned i);
/* Bumped by every update (read on every gpte the MMU reads: inline). */
static inline uint64_t memslots_generation(const struct memslots *ms)
{
	return ms->generation;
}

static inline bool memslot_contains(const struct memslot *s, gfn_t gfn)
{
	return gfn - s->base_gfn < s->npages;
}

static inline hva_t memslot_gfn_to_hva(const struct memslot *s, gfn_t gfn)
{
	return s->userspace_addr + ((gfn - s->base_gfn) << PAGE_SHIFT);
}

/* 4 KiB pages per mapping at level (1, 512, 262144). */
static inline uint64_t memslot_pages_per_level(int level)
{
	return 1ull << ((level - 1) * 9);
}

/* Index of gfn's level-sized block in the slot's per-level arrays. */
static inline uint64_t memslot_gfn_to_index(const struct memslot *s, gfn_t gfn, int level)
{
	unsigned shift = (unsigned)(level - 1) * 9;

	return (gfn >> shift) - (s->base_gfn >> shift);
}

/* Entries in the slot's per-level arrays. */
static inline uint64_t memslot_level_entries(const struct memslot *s, int level)
{
	return memslot_gfn_to_index(s, s->base_gfn + s->npages - 1, level) + 1;
}

/* The rmap head for gfn at level (gfn must be in the slot). */
struct rmap_head *memslot_rmap(const struct memslot *s, gfn_t gfn, int level);
/*
 * Large-page disallow count of gfn's block at level 2 or 3: non-zero means
 * no huge spte may map it (slot edge, misaligned hva, or shadowed gpt).
 */
uint32_t memslot_lpage_disallowed(const struct memslot *s, gfn_t gfn, int level);
/* KVM's account/unaccount_shadowed: bump the counts of gfn at levels 2-3. */
void memslot_disallow_lpage_inc(struct memslot *s, gfn_t gfn);
void memslot_disallow_lpage_dec(struct memslot *s, gfn_t gfn);

/* Dirty log: set / test gfn's bit; no-op / false without dirty logging. */
void memslot_mark_dirty(struct memslot *s, gfn_t gfn);
bool memslot_test_dirty(const struct memslot *s, gfn_t gfn);
/*
 * Copy slot id's dirty bitmap into `out` (npages bits, 64-bit words) and
 * clear it, as KVM_GET_DIRTY_LOG.  -EINVAL for a missing slot, -ENOENT when
 * dirty logging is off.  Write-protecting the pages again is the MMU's job.
 */
int memslots_get_dirty_log(struct memslots *ms, unsigned id, uint64_t *out);

/*
 * The gfns of slot s whose hvas intersect [start, end): true and
 * [*gfn_start, *gfn_end) if any (for MMU notifier handlers).
 */
bool memslot_hva_range_to_gfns(const struct memslot *s, hva_t start, hva_t end, gfn_t *gfn_start,
                               gfn_t *gfn_end);

#endif /* SMMU_MEMSLOT_H */
