/*
 * memslot.c - memslot updates with KVM_SET_USER_MEMORY_REGION semantics,
 * per-slot MMU metadata, and gfn -> slot lookup (see memslot.h).
 *
 * An update is validated completely and its metadata allocated before
 * anything visible changes, so a failing request (-EINVAL, -EEXIST, -ENOMEM)
 * leaves the set and the generation as they were.  Lookup: the slots sorted
 * by base_gfn (they never overlap), a last-hit index checked first (guest
 * accesses cluster in one slot), then a binary search.
 *
 * Large pages, after KVM's kvm_alloc_memslot_metadata: a 2M or 1G block that
 * the slot covers only partly (at either end) can never be mapped huge, so
 * its disallow count starts at 1; if hva and gfn are misaligned relative to
 * each other modulo the block size, no block of that level can be mapped
 * huge, so every count starts at 1.
 */
#include "memslot/memslot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- metadata ----------------------------------------------------------- */

static void slot_free(struct memslot *s)
{
	if (!s)
		return;
	for (int i = 0; i < MEMSLOT_NR_LEVELS; i++)
		free(s->rmap[i]);
	for (int i = 0; i < MEMSLOT_NR_LEVELS - 1; i++)
		free(s->disallow_lpage[i]);
	free(s->dirty_bitmap);
	free(s);
}

static uint64_t dirty_bitmap_bytes(const struct memslot *s)
{
	return ((s->npages + 63) / 64) * sizeof(uint64_t);
}

static int slot_alloc_dirty_bitmap(struct memslot *s)
{
	s->dirty_bitmap = calloc(1, dirty_bitmap_bytes(s));
	if (!s->dirty_bitmap)
		return -ENOMEM;
	s->meta_bytes += dirty_bitmap_bytes(s);
	return 0;
}

static void slot_init_disallow(struct memslot *s, int level, uint32_t *d, uint64_t n)
{
	uint64_t mask = memslot_pages_per_level(level) - 1;

	if (((s->userspace_addr >> PAGE_SHIFT) ^ s->base_gfn) & mask) {
		for (uint64_t i = 0; i < n; i++)
			d[i] = 1;
		return;
	}
	if (s->base_gfn & mask)
		d[0] = 1;
	if ((s->base_gfn + s->npages) & mask)
		d[n - 1] = 1;
}

static int slot_alloc_metadata(struct memslot *s, bool rmaps)
{
	for (int level = 1; level <= MEMSLOT_NR_LEVELS; level++) {
		uint64_t n = memslot_level_entries(s, level);

		if (rmaps) {
			s->rmap[level - 1] = calloc(n, sizeof(struct rmap_head));
			if (!s->rmap[level - 1])
				return -ENOMEM;
			s->meta_bytes += n * sizeof(struct rmap_head);
		}
		if (level == MEMSLOT_LEVEL_4K)
			continue;
		s->disallow_lpage[level - 2] = calloc(n, sizeof(uint32_t));
		if (!s->disallow_lpage[level - 2])
			return -ENOMEM;
		s->meta_bytes += n * sizeof(uint32_t);
		slot_init_disallow(s, level, s->disallow_lpage[level - 2], n);
	}
	return 0;
}

static struct memslot *slot_create(const struct memslot_region *r, bool want_bitmap, bool rmaps)
{
	struct memslot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = (uint16_t)r->slot;
	s->flags = r->flags;
	s->base_gfn = gpa_to_gfn(r->guest_phys_addr);
	s->npages = r->memory_size >> PAGE_SHIFT;
	s->userspace_addr = r->userspace_addr;
	s->host = r->host;
	if (slot_alloc_metadata(s, rmaps) || (want_bitmap && slot_alloc_dirty_bitmap(s))) {
		slot_free(s);
		return NULL;
	}
	return s;
}

/* ---- the sorted array --------------------------------------------------- */

/* Index of the first slot with base_gfn > gfn. */
static unsigned sorted_upper_bound(const struct memslots *ms, gfn_t gfn)
{
	unsigned lo = 0, hi = ms->nr_slots;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (ms->sorted[mid]->base_gfn <= gfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void sorted_insert(struct memslots *ms, struct memslot *s)
{
	unsigned i = sorted_upper_bound(ms, s->base_gfn);

	memmove(&ms->sorted[i + 1], &ms->sorted[i], (ms->nr_slots - i) * sizeof(s));
	ms->sorted[i] = s;
	ms->nr_slots++;
	ms->by_id[s->id] = s;
}

static void sorted_remove(struct memslots *ms, struct memslot *s)
{
	unsigned i = sorted_upper_bound(ms, s->base_gfn) - 1;

	SMMU_ASSERT(ms->sorted[i] == s);
	memmove(&ms->sorted[i], &ms->sorted[i + 1], (ms->nr_slots - i - 1) * sizeof(s));
	ms->nr_slots--;
	ms->by_id[s->id] = NULL;
	ms->last_hit = 0;
}

/* Does [base, base + npages) overlap a slot other than `except`? */
static bool range_overlaps(const struct memslots *ms, gfn_t base, uint64_t npages,
                           const struct memslot *except)
{
	unsigned i = sorted_upper_bound(ms, base + npages - 1);

	/* Only the last slot starting at or before the range's end can overlap
	 * it, unless that is `except`; then look one further down. */
	while (i-- > 0) {
		const struct memslot *s = ms->sorted[i];

		if (s->base_gfn + s->npages <= base)
			return false;
		if (s != except)
			return true;
	}
	return false;
}

/* ---- set / lookup ------------------------------------------------------- */

void memslots_init(struct memslots *ms, memslots_change_fn *on_change, void *opaque)
{
	memset(ms, 0, sizeof(*ms));
	ms->on_change = on_change;
	ms->opaque = opaque;
}

void memslots_set_no_rmaps(struct memslots *ms)
{
	ms->no_rmaps = true;
}

void memslots_destroy(struct memslots *ms)
{
	for (unsigned i = 0; i < ms->nr_slots; i++)
		slot_free(ms->sorted[i]);
	ms->nr_slots = 0;
	ms->meta_bytes = 0;
	memset(ms->by_id, 0, sizeof(ms->by_id));
}

/* The checks KVM makes before looking at the existing slot. */
static int region_check(const struct memslot_region *r)
{
	const uint32_t known = MEMSLOT_LOG_DIRTY_PAGES | MEMSLOT_READONLY;

	if ((r->flags & ~known) || r->slot >= MEMSLOT_ID_LIMIT)
		return -EINVAL;
	if ((r->memory_size | r->guest_phys_addr | r->userspace_addr) & (PAGE_SIZE - 1))
		return -EINVAL;
	if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
	    r->guest_phys_addr + r->memory_size > MEMSLOT_GPA_LIMIT ||
	    r->userspace_addr + r->memory_size < r->userspace_addr)
		return -EINVAL;
	if ((r->memory_size >> PAGE_SHIFT) > MEMSLOT_MAX_NR_PAGES)
		return -EINVAL;
	return 0;
}

/* Classify the request against the existing slot; -EINVAL if not allowed. */
static int region_classify(const struct memslot_region *r, const struct memslot *old,
                           enum memslot_change *change)
{
	if (r->memory_size == 0) {
		*change = MEMSLOT_DELETE;
		return old ? 0 : -EINVAL;
	}
	if (!old) {
		*change = MEMSLOT_CREATE;
		return 0;
	}
	if (r->userspace_addr != old->userspace_addr ||
	    (r->memory_size >> PAGE_SHIFT) != old->npages ||
	    ((r->flags ^ old->flags) & MEMSLOT_READONLY))
		return -EINVAL;
	if (gpa_to_gfn(r->guest_phys_addr) != old->base_gfn)
		*change = MEMSLOT_MOVE;
	else if (r->flags != old->flags)
		*change = MEMSLOT_FLAGS_ONLY;
	else
		return 1; /* nothing to do */
	return 0;
}

static void memslots_commit(struct memslots *ms, enum memslot_change change,
                            const struct memslot *old, const struct memslot *new_slot)
{
	ms->generation++;
	ms->last_hit = 0;
	if (ms->on_change)
		ms->on_change(ms->opaque, change, old, new_slot);
}

static int slot_install(struct memslots *ms, const struct memslot_region *r, struct memslot *old)
{
	bool log = r->flags & MEMSLOT_LOG_DIRTY_PAGES;
	struct memslot *s = slot_create(r, log && !(old && old->dirty_bitmap), !ms->no_rmaps);

	if (!s)
		return -ENOMEM;
	if (old) { /* MOVE keeps the dirty log, as KVM does */
		sorted_remove(ms, old);
		ms->meta_bytes -= old->meta_bytes;
		if (old->dirty_bitmap && log) {
			s->dirty_bitmap = old->dirty_bitmap;
			s->meta_bytes += dirty_bitmap_bytes(s);
			old->dirty_bitmap = NULL;
			old->meta_bytes -= dirty_bitmap_bytes(old);
		}
	}
	sorted_insert(ms, s);
	ms->meta_bytes += s->meta_bytes;
	memslots_commit(ms, old ? MEMSLOT_MOVE : MEMSLOT_CREATE, old, s);
	slot_free(old);
	return 0;
}

static int slot_delete(struct memslots *ms, struct memslot *old)
{
	sorted_remove(ms, old);
	ms->meta_bytes -= old->meta_bytes;
	memslots_commit(ms, MEMSLOT_DELETE, old, NULL);
	slot_free(old);
	return 0;
}

/* Dirty logging switched on or off: the bitmap follows the flag. */
static int slot_set_flags(struct memslots *ms, struct memslot *s, uint32_t flags)
{
	struct memslot old = *s;
	bool log = flags & MEMSLOT_LOG_DIRTY_PAGES;

	if (log && !s->dirty_bitmap && slot_alloc_dirty_bitmap(s))
		return -ENOMEM;
	if (!log && s->dirty_bitmap) {
		s->dirty_bitmap = NULL;
		s->meta_bytes -= dirty_bitmap_bytes(s);
	}
	s->flags = flags;
	ms->meta_bytes += s->meta_bytes - old.meta_bytes;
	memslots_commit(ms, MEMSLOT_FLAGS_ONLY, &old, s);
	if (old.dirty_bitmap != s->dirty_bitmap)
		free(old.dirty_bitmap);
	return 0;
}

int memslots_set_region(struct memslots *ms, const struct memslot_region *r)
{
	enum memslot_change change;
	struct memslot *old;
	int ret = region_check(r);

	if (ret)
		return ret;
	old = ms->by_id[r->slot];
	ret = region_classify(r, old, &change);
	if (ret)
		return ret < 0 ? ret : 0;
	if ((change == MEMSLOT_CREATE || change == MEMSLOT_MOVE) &&
	    range_overlaps(ms, gpa_to_gfn(r->guest_phys_addr), r->memory_size >> PAGE_SHIFT, old))
		return -EEXIST;
	switch (change) {
	case MEMSLOT_CREATE:
		return slot_install(ms, r, NULL);
	case MEMSLOT_MOVE:
		return slot_install(ms, r, old);
	case MEMSLOT_DELETE:
		return slot_delete(ms, old);
	case MEMSLOT_FLAGS_ONLY:
		return slot_set_flags(ms, old, r->flags);
	}
	return -EINVAL;
}

static NOINLINE struct memslot *memslots_find_slow(struct memslots *ms, gfn_t gfn)
{
	unsigned i = sorted_upper_bound(ms, gfn);

	__atomic_fetch_add(&ms->lookup_misses, 1, __ATOMIC_RELAXED);
	if (i == 0 || !memslot_contains(ms->sorted[i - 1], gfn))
		return NULL;
	__atomic_store_n(&ms->last_hit, i - 1, __ATOMIC_RELAXED);
	return ms->sorted[i - 1];
}

struct memslot *memslots_find(struct memslots *ms, gfn_t gfn)
{
	unsigned i = __atomic_load_n(&ms->last_hit, __ATOMIC_RELAXED);

	if (likely(i < ms->nr_slots && memslot_contains(ms->sorted[i], gfn)))
		return ms->sorted[i];
	return memslots_find_slow(ms, gfn);
}

struct memslot *memslots_get(const struct memslots *ms, unsigned id)
{
	return id < MEMSLOT_ID_LIMIT ? ms->by_id[id] : NULL;
}

struct memslot *memslots_at(const struct memslots *ms, unsigned i)
{
	return i < ms->nr_slots ? ms->sorted[i] : NULL;
}

/* ---- per-slot accessors ------------------------------------------------- */

struct rmap_head *memslot_rmap(const struct memslot *s, gfn_t gfn, int level)
{
	SMMU_ASSERT(memslot_contains(s, gfn) && level >= 1 && level <= MEMSLOT_NR_LEVELS);
	SMMU_ASSERT(s->rmap[level - 1]); /* not a slot made without rmaps */
	return &s->rmap[level - 1][memslot_gfn_to_index(s, gfn, level)];
}

static uint32_t *disallow_count(const struct memslot *s, gfn_t gfn, int level)
{
	SMMU_ASSERT(memslot_contains(s, gfn) && level >= 2 && level <= MEMSLOT_NR_LEVELS);
	return &s->disallow_lpage[level - 2][memslot_gfn_to_index(s, gfn, level)];
}

uint32_t memslot_lpage_disallowed(const struct memslot *s, gfn_t gfn, int level)
{
	return *disallow_count(s, gfn, level);
}

void memslot_disallow_lpage_inc(struct memslot *s, gfn_t gfn)
{
	for (int level = MEMSLOT_LEVEL_2M; level <= MEMSLOT_NR_LEVELS; level++)
		(*disallow_count(s, gfn, level))++;
}

void memslot_disallow_lpage_dec(struct memslot *s, gfn_t gfn)
{
	for (int level = MEMSLOT_LEVEL_2M; level <= MEMSLOT_NR_LEVELS; level++) {
		uint32_t *c = disallow_count(s, gfn, level);

		SMMU_ASSERT(*c > 0);
		if (*c > 0)
			(*c)--;
	}
}

void memslot_mark_dirty(struct memslot *s, gfn_t gfn)
{
	uint64_t i = gfn - s->base_gfn;

	if (s->dirty_bitmap && i < s->npages)
		__atomic_fetch_or(&s->dirty_bitmap[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
}

bool memslot_test_dirty(const struct memslot *s, gfn_t gfn)
{
	uint64_t i = gfn - s->base_gfn;

	if (!s->dirty_bitmap || i >= s->npages)
		return false;
	return (__atomic_load_n(&s->dirty_bitmap[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1;
}

int memslots_get_dirty_log(struct memslots *ms, unsigned id, uint64_t *out)
{
	struct memslot *s = memslots_get(ms, id);

	if (!s)
		return -EINVAL;
	if (!s->dirty_bitmap)
		return -ENOENT;
	for (uint64_t w = 0; w < (s->npages + 63) / 64; w++)
		out[w] = __atomic_exchange_n(&s->dirty_bitmap[w], 0, __ATOMIC_RELAXED);
	return 0;
}

bool memslot_hva_range_to_gfns(const struct memslot *s, hva_t start, hva_t end, gfn_t *gfn_start,
                               gfn_t *gfn_end)
{
	hva_t lo = s->userspace_addr, hi = lo + (s->npages << PAGE_SHIFT);

	if (start < lo)
		start = lo;
	if (end > hi)
		end = hi;
	if (start >= end)
		return false;
	*gfn_start = s->base_gfn + ((start - lo) >> PAGE_SHIFT);
	*gfn_end = s->base_gfn + ((end - lo + PAGE_SIZE - 1) >> PAGE_SHIFT);
	return true;
}
