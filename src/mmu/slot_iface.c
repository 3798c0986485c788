/*
 * slot_iface.c - the MMU's view of guest memory, over memslots and the host
 * address space (see slot_iface.h).  Every frame the MMU ever maps comes
 * from mmu_gfn_to_pfn: gfn -> memslot -> hva -> hostmem -> arena frame, so
 * an spte can only point at memory backing one of this VM's memslots.
 */
#include <errno.h>

#include <shadowmmu/shortcuts.h>

#include "host/arena.h"
#include "host/hostmem.h"
#include "memslot/memslot.h"
#include "mmu/slot_iface.h"

struct memslot *mmu_gfn_to_slot(struct mmu_vm *vm, gfn_t gfn)
{
	return memslots_find(vm->slots, gfn);
}

struct rmap_head *mmu_slot_rmap(struct memslot *slot, gfn_t gfn, unsigned level)
{
	return memslot_rmap(slot, gfn, (int)level);
}

void mmu_slot_disallow_lpage(struct memslot *slot, gfn_t gfn, int delta)
{
	if (delta > 0)
		memslot_disallow_lpage_inc(slot, gfn);
	else
		memslot_disallow_lpage_dec(slot, gfn);
}

bool mmu_slot_readonly(const struct memslot *slot)
{
	return slot->flags & MEMSLOT_READONLY;
}

bool mmu_slot_dirty_logging(const struct memslot *slot)
{
	return slot->dirty_bitmap != NULL;
}

void mmu_slot_mark_dirty(struct memslot *slot, gfn_t gfn)
{
	if (slot->dirty_bitmap)
		memslot_mark_dirty(slot, gfn);
}

uint64_t mmu_memslots_generation(struct mmu_vm *vm)
{
	return memslots_generation(vm->slots);
}

static int resolve_locked(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, bool write,
                          struct host_pfn *out);

/*
 * A leaf may map `level` only if the whole large page lies in the slot, no
 * shadowed guest table lies in it (disallow count), and the host backs it
 * with a frame run at least as large (KVM's kvm_mmu_max_mapping_level).
 */
unsigned mmu_max_mapping_level(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn,
                               unsigned max_level)
{
	struct host_pfn hp;
	unsigned level =
	    mmu_slot_dirty_logging(slot) ? 1 : max_level; /* log at 4 KiB granularity */

	if (level > 1 && resolve_locked(vm, slot, gfn, false, &hp) == 0 &&
	    (unsigned)hp.level < level)
		level = (unsigned)hp.level;
	while (level > 1 && memslot_lpage_disallowed(slot, gfn, (int)level))
		level--;
	return level ? level : 1;
}

void mmu_gfn_cache_clear(struct mmu_vm *vm)
{
	for (unsigned i = 0; i < GFN_CACHE_SIZE; i++)
		vm->gfn_cache[i].gfn = INVALID_GFN;
	vm->gfn_cache_gen = memslots_generation(vm->slots);
}

/*
 * The uncached resolution: memslot, then the host page (KVM's
 * __gfn_to_pfn_memslot).  With `locked` (mmu_lock held) the host pte is
 * read without the host lock when the page needs nothing done (present,
 * young, not merged; dirty for a write): it is the same pte the locked
 * lookup would read, and mmu_lock keeps the slot, hence its mapping and
 * window, alive (a slot is deleted only after a zap under mmu_lock, its
 * mapping unmapped after that).
 */
static int resolve_slow(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, bool write,
                        bool locked, struct host_pfn *out)
{
	int r;

	if (!slot || !memslot_contains(slot, gfn))
		return -EFAULT;
	if (write && (slot->flags & MEMSLOT_READONLY))
		return -EFAULT;
	r = -EAGAIN;
	if (locked && (vm->shortcuts & SMMU_SHORTCUT_HPTE_WINDOW))
		r = hostmem_window_pfn(&slot->host, gfn - slot->base_gfn, write, out);
	if (r)
		r = hostmem_hva_to_pfn(vm->hm, memslot_gfn_to_hva(slot, gfn), write, out);
	if (r)
		return r;
	if (slot->flags & MEMSLOT_READONLY)
		out->writable = false;
	return 0;
}

/*
 * The cache slot of a gfn: a multiplicative (Fibonacci) hash, not gfn %
 * size, so that the few page-table gfns a fault walks do not share slots
 * with each other or with runs of data gfns 256 apart (with gfn % size, a
 * 4-level walk's PML4 at gfn 1 and a PD at gfn 0x1001 evicted each other on
 * every fault).
 */
static struct gfn_cache_entry *gfn_cache_slot(struct mmu_vm *vm, gfn_t gfn)
{
	_Static_assert(GFN_CACHE_SIZE == 256, "the hash keeps the top 8 bits");
	return &vm->gfn_cache[(gfn * 0x9e3779b97f4a7c15ull) >> 56];
}

/* gfn -> host frame under mmu_lock, not through the cache. */
static int resolve_uncached(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, bool write,
                            struct host_pfn *out)
{
	int r = resolve_slow(vm, slot, gfn, write, true, out);

	if (r == -EAGAIN) {
		/* A merged page: the copy fires the notifier, so it waits for mmu_lock's release. */
		vm->cow_pending = true;
		vm->cow_hva = memslot_gfn_to_hva(slot, gfn);
	}
	return r;
}

/* gfn -> host frame under mmu_lock, through the cache. */
static int resolve_locked(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, bool write,
                          struct host_pfn *out)
{
	struct gfn_cache_entry *e = gfn_cache_slot(vm, gfn);
	int r;

	if (!(vm->shortcuts & SMMU_SHORTCUT_GFN_CACHE)) {
		/* Never filled, so walker_read_locked's inline hit never happens either. */
		if (!slot)
			slot = memslots_find(vm->slots, gfn);
		return resolve_uncached(vm, slot, gfn, write, out);
	}
	if (unlikely(vm->gfn_cache_gen != memslots_generation(vm->slots)))
		mmu_gfn_cache_clear(vm);
	if (e->gfn == gfn && (!write || e->write_ok)) {
		out->pfn = e->pfn;
		out->level = e->level;
		out->writable = e->writable;
		return 0;
	}
	if (!slot)
		slot = memslots_find(vm->slots, gfn);
	r = resolve_uncached(vm, slot, gfn, write, out);
	if (r || vm->invalidate.in_progress)
		return r; /* never cache a translation an invalidation may be changing */
	*e = (struct gfn_cache_entry){.gfn = gfn,
	                              .pfn = out->pfn,
	                              .level = (uint8_t)out->level,
	                              .writable = out->writable,
	                              .write_ok = write && out->writable};
	return 0;
}

int mmu_gfn_to_pfn(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, bool write,
                   struct host_pfn *out)
{
	if (!memslot_contains(slot, gfn))
		return -EFAULT;
	/*
	 * The frame a leaf spte maps: straight to the slot (its host-pte window
	 * first).  The gfn cache is for the guest walker's table frames, read
	 * again on every fault; a fault's data page is mapped once, and caching
	 * it would only evict them.
	 */
	return resolve_uncached(vm, slot, gfn, write, out);
}

int mmu_peek_pfn(struct mmu_vm *vm, struct memslot *slot, gfn_t gfn, pfn_t *pfn)
{
	if (!slot || !memslot_contains(slot, gfn))
		return -EFAULT;
	return hostmem_peek_pfn(vm->hm, memslot_gfn_to_hva(slot, gfn), pfn);
}

hva_t mmu_slot_gfn_to_hva(const struct memslot *slot, gfn_t gfn)
{
	return memslot_gfn_to_hva(slot, gfn);
}

int mmu_break_cow(struct mmu_vm *vm, hva_t hva)
{
	return hostmem_break_cow(vm->hm, hva);
}

int mmu_host_notifier_register(struct mmu_vm *vm)
{
	return hostmem_notifier_register(vm->hm, &vm->notifier);
}

void mmu_host_notifier_unregister(struct mmu_vm *vm)
{
	hostmem_notifier_unregister(vm->hm, &vm->notifier);
}

/* Host pointer to guest bytes [gpa, gpa + size) within one page, or NULL. */
static void *gpa_to_ptr(struct mmu_vm *vm, gpa_t gpa, unsigned size, bool write, bool locked)
{
	struct host_pfn hp;
	int r;

	if ((gpa & ~PAGE_MASK) + size > PAGE_SIZE)
		return NULL;
	if (locked) {
		r = resolve_locked(vm, NULL, gpa_to_gfn(gpa), write, &hp);
	} else {
		struct memslot *slot = memslots_find(vm->slots, gpa_to_gfn(gpa));

		r = resolve_slow(vm, slot, gpa_to_gfn(gpa), write, false, &hp);
		if (r == -EAGAIN &&
		    !hostmem_break_cow(vm->hm, memslot_gfn_to_hva(slot, gpa_to_gfn(gpa))))
			r = resolve_slow(vm, slot, gpa_to_gfn(gpa), write, false, &hp);
	}
	if (r || (write && !hp.writable))
		return NULL;
	return arena_hpa_to_ptr(vm->arena, (hp.pfn << PAGE_SHIFT) | (gpa & ~PAGE_MASK), size);
}

const void *mmu_map_guest_frame(struct mmu_vm *vm, gfn_t gfn)
{
	return gpa_to_ptr(vm, gfn_to_gpa(gfn), PAGE_SIZE, false, true);
}

static void mark_dirty(struct mmu_vm *vm, gpa_t gpa)
{
	struct memslot *slot = memslots_find(vm->slots, gpa_to_gfn(gpa));

	if (slot && slot->dirty_bitmap)
		memslot_mark_dirty(slot, gpa_to_gfn(gpa));
}

static int read_guest(struct mmu_vm *vm, gpa_t gpa, unsigned size, uint64_t *val, bool locked)
{
	uint8_t *p = size <= 8 ? gpa_to_ptr(vm, gpa, size, false, locked) : NULL;
	uint64_t v = 0;

	if (!p)
		return -EFAULT;
	if (size == 8 && !(gpa & 7)) {
		*val = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
		return 0;
	}
	if (size == 4 && !(gpa & 3)) {
		*val = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
		return 0;
	}
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)__atomic_load_n(&p[i], __ATOMIC_RELAXED) << (8 * i);
	*val = v;
	return 0;
}

/*
 * Guest memory may change under us (another vCPU), so reads are single
 * atomic loads where the size and alignment allow (gptes always do), as a
 * hardware walker reads an entry in one access.  mmu_read_guest and
 * mmu_write_guest are for callers holding mmu_lock.
 */
int mmu_read_guest(struct mmu_vm *vm, gpa_t gpa, unsigned size, uint64_t *val)
{
	return read_guest(vm, gpa, size, val, true);
}

int mmu_write_guest(struct mmu_vm *vm, gpa_t gpa, unsigned size, uint64_t val)
{
	uint8_t *p = size <= 8 ? gpa_to_ptr(vm, gpa, size, true, true) : NULL;

	if (!p)
		return -EFAULT;
	for (unsigned i = 0; i < size; i++)
		__atomic_store_n(&p[i], (uint8_t)(val >> (8 * i)), __ATOMIC_RELAXED);
	mark_dirty(vm, gpa);
	return 0;
}

/* A/D updates: compare-and-exchange on the guest's page (SDM 4.8). */
static int cmpxchg_guest(struct mmu_vm *vm, uint64_t gpa, unsigned size, uint64_t old,
                         uint64_t new_val, bool locked)
{
	void *p = gpa_to_ptr(vm, gpa, size, true, locked);
	bool ok;

	if (!p || (gpa & (size - 1)))
		return -EFAULT;
	if (size == 8) {
		uint64_t expect = old;

		ok = __atomic_compare_exchange_n((uint64_t *)p, &expect, new_val, false,
		                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	} else {
		uint32_t expect = (uint32_t)old;

		ok = __atomic_compare_exchange_n((uint32_t *)p, &expect, (uint32_t)new_val, false,
		                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	if (!ok)
		return 1;
	mark_dirty(vm, gpa);
	return 0;
}

/* ---- guest memory for the guest walker (struct smmu_gpa_ops) ------------ */
static int walker_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	return read_guest(ctx, gpa, size, val, false);
}

static int walker_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	return cmpxchg_guest(ctx, gpa, size, old, new_val, false);
}

/*
 * The guest walker's gpte reads under mmu_lock: an aligned 8-byte gpte in a
 * frame the gfn cache holds is one load (the hit path of resolve_locked,
 * inlined: same generation check, same entry), else the general path.
 */
static NOINLINE int walker_read_locked_slow(struct mmu_vm *vm, uint64_t gpa, unsigned size,
                                            uint64_t *val)
{
	return read_guest(vm, gpa, size, val, true);
}

/* The slow path is out of line so that this one needs no stack frame. */
static int walker_read_locked(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	struct mmu_vm *vm = ctx;
	gfn_t gfn = gpa_to_gfn(gpa);
	const struct gfn_cache_entry *e = gfn_cache_slot(vm, gfn);

	if (likely(size == 8 && !(gpa & 7) && e->gfn == gfn &&
	           vm->gfn_cache_gen == memslots_generation(vm->slots))) {
		uint64_t *p =
		    arena_hpa_to_ptr(vm->arena, (e->pfn << PAGE_SHIFT) | (gpa & ~PAGE_MASK), 8);

		if (likely(p)) {
			*val = __atomic_load_n(p, __ATOMIC_RELAXED);
			return 0;
		}
	}
	return walker_read_locked_slow(vm, gpa, size, val);
}

static int walker_cmpxchg_locked(void *ctx, uint64_t gpa, unsigned size, uint64_t old,
                                 uint64_t new_val)
{
	return cmpxchg_guest(ctx, gpa, size, old, new_val, true);
}

void mmu_init_gpa_ops(struct mmu_vm *vm)
{
	vm->gpa_ops =
	    (struct smmu_gpa_ops){.read = walker_read, .cmpxchg = walker_cmpxchg, .ctx = vm};
	vm->gpa_ops_locked = (struct smmu_gpa_ops){
	    .read = walker_read_locked, .cmpxchg = walker_cmpxchg_locked, .ctx = vm};
	mmu_gfn_cache_clear(vm);
}
