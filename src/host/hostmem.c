/*
 * hostmem.c - the host virtual address space (see hostmem.h).
 *
 * Each mapping keeps one 64-bit "host pte" per 4 KiB page in an array
 * reserved with mmap(MAP_NORESERVE), so untouched parts cost nothing:
 *   bits 0-6   PRESENT WRITABLE YOUNG DIRTY SWAPPED HUGE SHARED
 *   bits 12-51 the frame's pfn when PRESENT, the swap slot when SWAPPED
 * A huge-backed mapping also keeps one state byte per 2 MiB / 1 GiB chunk:
 * EMPTY (next touch tries a huge run), HUGE (every page of the chunk maps
 * the run, HUGE bit set) or SMALL (4 KiB pages; the arena refused a run).
 *
 * Locking, after Linux's mmap_lock / page-table lock split:
 *   ops_lock  serializes host operations that take frames away, and the
 *             notifier list; held across invalidate_range_start..end.
 *   lock      guards the mapping array and every host pte; never held while
 *             a notifier runs, so listeners may call hva_to_pfn under their
 *             mmu_lock without deadlock.
 * Only host operations (ops_lock held) clear PRESENT; faults only set it.
 * Hence a present page seen before firing start is still present after it.
 *
 * Host ptes are also read without `lock` (hostmem_window_pfn, the MMU's
 * fault path under its mmu_lock, as KVM's get_user_pages_fast reads page
 * tables without mmap_lock), so every store to one is a single atomic store
 * (hpte_set); readers holding `lock` may read them plainly.
 */
#include "host/hostmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HPTE_PRESENT   (1ull << 0)
#define HPTE_WRITABLE  (1ull << 1)
#define HPTE_YOUNG     (1ull << 2)
#define HPTE_DIRTY     (1ull << 3)
#define HPTE_SWAPPED   (1ull << 4)
#define HPTE_HUGE      (1ull << 5)
#define HPTE_SHARED    (1ull << 6) /* frame merged with other pages: copy on write */
#define HPTE_PFN_SHIFT 12
#define HPTE_PFN_MASK  bits_range(51, 12)

#define HVA_BASE  (1ull << 32) /* first mapping; keeps hva 0 unmapped */
#define HVA_LIMIT (1ull << 47)
#define HVA_GUARD (2ull << 20) /* unmapped gap after each mapping */

enum chunk_state { CHUNK_EMPTY, CHUNK_HUGE, CHUNK_SMALL };

struct hostmem_map {
	hva_t start;         /* first hva, aligned to `align` */
	uint64_t npages;     /* 4 KiB pages */
	unsigned flags;      /* HOSTMEM_* */
	unsigned huge_order; /* 0, ARENA_ORDER_2M or ARENA_ORDER_1G */
	uint64_t *pte;       /* npages host ptes (NORESERVE mapping) */
	size_t pte_bytes;    /* length of that mapping */
	uint8_t *chunk;      /* enum chunk_state per huge chunk, or NULL */
};

/*
 * Reference counts of merged frames (KSM's stable tree, in miniature): an
 * open-addressing hash from pfn to the number of pages mapping it.  Only
 * frames with HPTE_SHARED pages are in it.
 */
struct share_entry {
	pfn_t pfn; /* 0: empty slot (frame 0 is never shared: see share_get) */
	uint64_t count;
};

struct share_table {
	struct share_entry *slots;
	uint64_t cap, used; /* cap a power of two, used <= cap / 2 */
};

struct hostmem {
	struct arena *arena;
	pthread_mutex_t ops_lock;  /* see the file comment */
	pthread_mutex_t lock;      /* see the file comment */
	struct hostmem_map **maps; /* sorted by start */
	unsigned nr_maps, cap_maps;
	hva_t next_hva;                 /* bump pointer: hvas are never reused */
	struct mmu_notifier *notifiers; /* registered listeners */
	void **swap;                    /* swap slots: saved 4 KiB contents */
	uint64_t nr_swap;               /* slots in use or free in `swap` */
	uint64_t *swap_free;            /* stack of free slot numbers */
	uint64_t nr_swap_free;
	struct share_table shared;      /* reference counts of merged frames */
	struct hostmem_stats st;
};

/* Store a host pte: one atomic store, release-ordered after the frame's contents. */
static void hpte_set(uint64_t *e, uint64_t val)
{
	__atomic_store_n(e, val, __ATOMIC_RELEASE);
}

static pfn_t hpte_pfn(uint64_t e)
{
	return (e & HPTE_PFN_MASK) >> HPTE_PFN_SHIFT;
}

static uint64_t hpte_make(pfn_t pfn, uint64_t bits)
{
	return (pfn << HPTE_PFN_SHIFT) | bits;
}

/* ---- merged-frame reference counts ------------------------------------- */

static uint64_t share_hash(pfn_t pfn, uint64_t cap)
{
	return (pfn * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static struct share_entry *share_find(struct share_table *t, pfn_t pfn)
{
	if (!t->cap)
		return NULL;
	for (uint64_t i = share_hash(pfn, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].pfn == pfn + 1)
			return &t->slots[i];
		if (!t->slots[i].pfn)
			return NULL;
	}
}

static int share_grow(struct share_table *t)
{
	struct share_table n = {.cap = t->cap ? 2 * t->cap : 64};

	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (uint64_t i = 0; i < t->cap; i++) {
		uint64_t j;

		if (!t->slots[i].pfn)
			continue;
		for (j = share_hash(t->slots[i].pfn - 1, n.cap); n.slots[j].pfn; j = (j + 1) & (n.cap - 1))
			;
		n.slots[j] = t->slots[i];
		n.used++;
	}
	free(t->slots);
	*t = n;
	return 0;
}

/* The entry for pfn, created with count 0 if absent; NULL without memory. (Stored as pfn + 1.) */
static struct share_entry *share_get(struct share_table *t, pfn_t pfn)
{
	struct share_entry *e = share_find(t, pfn);
	uint64_t i;

	if (e)
		return e;
	if ((t->used + 1) * 2 > t->cap && share_grow(t))
		return NULL;
	for (i = share_hash(pfn, t->cap); t->slots[i].pfn; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = (struct share_entry){.pfn = pfn + 1, .count = 0};
	t->used++;
	return &t->slots[i];
}

/* Remove an entry, moving later members of its probe run back (no tombstones). */
static void share_del(struct share_table *t, struct share_entry *e)
{
	uint64_t i = (uint64_t)(e - t->slots), j = i;

	t->slots[i].pfn = 0;
	t->used--;
	for (;;) {
		uint64_t home;

		j = (j + 1) & (t->cap - 1);
		if (!t->slots[j].pfn)
			return;
		home = share_hash(t->slots[j].pfn - 1, t->cap);
		/* Move j back to i if its home lies cyclically outside (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j].pfn = 0;
			i = j;
		}
	}
}

/* Drop one page's reference to a shared frame; true when it was the last. */
static bool share_put(struct share_table *t, pfn_t pfn)
{
	struct share_entry *e = share_find(t, pfn);

	SMMU_ASSERT(e && e->count);
	if (!e || --e->count)
		return false;
	share_del(t, e);
	return true;
}

/* ---- mapping lookup ---------------------------------------------------- */

static hva_t map_end(const struct hostmem_map *m)
{
	return m->start + (m->npages << PAGE_SHIFT);
}

/* Index of the last mapping starting at or below hva, or -1. */
static int map_index_below(const struct hostmem *hm, hva_t hva)
{
	int lo = 0, hi = (int)hm->nr_maps - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (hm->maps[mid]->start <= hva) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

static struct hostmem_map *map_find(const struct hostmem *hm, hva_t hva)
{
	int i = map_index_below(hm, hva);

	if (i < 0 || hva >= map_end(hm->maps[i]))
		return NULL;
	return hm->maps[i];
}

static uint64_t map_chunk_pages(const struct hostmem_map *m)
{
	return 1ull << m->huge_order;
}

/* ---- notifier firing (ops_lock held, lock not held) --------------------- */

static void notify_start(struct hostmem *hm, hva_t start, hva_t end, enum mmu_notifier_event ev)
{
	struct mmu_notifier_range r = {start, end, ev};

	for (struct mmu_notifier *mn = hm->notifiers; mn; mn = mn->next)
		if (mn->ops->invalidate_range_start)
			mn->ops->invalidate_range_start(mn, &r);
}

static void notify_end(struct hostmem *hm, hva_t start, hva_t end, enum mmu_notifier_event ev)
{
	struct mmu_notifier_range r = {start, end, ev};

	for (struct mmu_notifier *mn = hm->notifiers; mn; mn = mn->next)
		if (mn->ops->invalidate_range_end)
			mn->ops->invalidate_range_end(mn, &r);
}

/* ---- create / destroy --------------------------------------------------- */

struct hostmem *hostmem_create(struct arena *arena)
{
	struct hostmem *hm;

	if (!arena)
		return NULL;
	hm = calloc(1, sizeof(*hm));
	if (!hm)
		return NULL;
	hm->arena = arena;
	hm->next_hva = HVA_BASE;
	pthread_mutex_init(&hm->ops_lock, NULL);
	pthread_mutex_init(&hm->lock, NULL);
	return hm;
}

static void swap_slot_free(struct hostmem *hm, uint64_t slot)
{
	free(hm->swap[slot]);
	hm->swap[slot] = NULL;
	hm->swap_free[hm->nr_swap_free++] = slot;
	hm->st.swapped--;
}

/* Give every frame and swap slot of m back (lock held or m unreachable). */
static void map_release_pages(struct hostmem *hm, struct hostmem_map *m, uint64_t first,
                              uint64_t last)
{
	for (uint64_t i = first; i < last; i++) {
		uint64_t e = m->pte[i];

		if (e & HPTE_SWAPPED) {
			swap_slot_free(hm, hpte_pfn(e));
		} else if ((e & HPTE_PRESENT) && (e & HPTE_HUGE)) {
			arena_free(hm->arena, hpte_pfn(e) << PAGE_SHIFT, m->huge_order,
			           ARENA_USE_GUEST);
			hm->st.present -= map_chunk_pages(m);
			*(m->huge_order == ARENA_ORDER_2M ? &hm->st.huge_2m : &hm->st.huge_1g) -= 1;
			for (uint64_t j = 0; j < map_chunk_pages(m); j++)
				hpte_set(&m->pte[i + j], 0);
			m->chunk[i >> m->huge_order] = CHUNK_EMPTY;
			i += map_chunk_pages(m) - 1;
			continue;
		} else if (e & HPTE_PRESENT) {
			if (!(e & HPTE_SHARED) || share_put(&hm->shared, hpte_pfn(e)))
				arena_free(hm->arena, hpte_pfn(e) << PAGE_SHIFT, 0, ARENA_USE_GUEST);
			hm->st.present--;
		}
		hpte_set(&m->pte[i], 0);
	}
}

static uint64_t map_table_bytes(const struct hostmem_map *m)
{
	return m->pte_bytes + (m->chunk ? m->npages >> m->huge_order : 0);
}

static void map_destroy(struct hostmem_map *m)
{
	munmap(m->pte, m->pte_bytes);
	free(m->chunk);
	free(m);
}

/* Free a mapping that was live: its pages, its accounting, itself. */
static void map_free(struct hostmem *hm, struct hostmem_map *m)
{
	map_release_pages(hm, m, 0, m->npages);
	hm->st.table_bytes -= map_table_bytes(m);
	map_destroy(m);
}

void hostmem_destroy(struct hostmem *hm)
{
	if (!hm)
		return;
	pthread_mutex_lock(&hm->ops_lock);
	for (struct mmu_notifier *mn = hm->notifiers; mn; mn = mn->next)
		if (mn->ops->release)
			mn->ops->release(mn);
	pthread_mutex_unlock(&hm->ops_lock);
	for (unsigned i = 0; i < hm->nr_maps; i++)
		map_free(hm, hm->maps[i]);
	free(hm->maps);
	free(hm->swap);
	free(hm->swap_free);
	free(hm->shared.slots);
	pthread_mutex_destroy(&hm->lock);
	pthread_mutex_destroy(&hm->ops_lock);
	free(hm);
}

/* ---- map / unmap -------------------------------------------------------- */

static int map_check_args(uint64_t size, unsigned flags, unsigned *order)
{
	const unsigned known = HOSTMEM_READONLY | HOSTMEM_HUGE_2M | HOSTMEM_HUGE_1G;

	if ((flags & ~known) || ((flags & HOSTMEM_HUGE_2M) && (flags & HOSTMEM_HUGE_1G)))
		return -EINVAL;
	*order = (flags & HOSTMEM_HUGE_2M)   ? ARENA_ORDER_2M
	         : (flags & HOSTMEM_HUGE_1G) ? ARENA_ORDER_1G
	                                     : 0;
	if (size == 0 || size > HVA_LIMIT - HVA_BASE || (size & ((PAGE_SIZE << *order) - 1)))
		return -EINVAL;
	return 0;
}

static struct hostmem_map *map_alloc(uint64_t size, unsigned flags, unsigned order)
{
	struct hostmem_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->npages = size >> PAGE_SHIFT;
	m->flags = flags;
	m->huge_order = order;
	m->pte_bytes = (m->npages * sizeof(uint64_t) + PAGE_SIZE - 1) & PAGE_MASK;
	m->pte = mmap(NULL, m->pte_bytes, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->pte == MAP_FAILED) {
		free(m);
		return NULL;
	}
	if (order && !(m->chunk = calloc(m->npages >> order, 1))) {
		munmap(m->pte, m->pte_bytes);
		free(m);
		return NULL;
	}
	return m;
}

static int maps_append(struct hostmem *hm, struct hostmem_map *m)
{
	if (hm->nr_maps == hm->cap_maps) {
		unsigned cap = hm->cap_maps ? 2 * hm->cap_maps : 8;
		struct hostmem_map **n = realloc(hm->maps, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		hm->maps = n;
		hm->cap_maps = cap;
	}
	hm->maps[hm->nr_maps++] = m; /* hvas only grow: the array stays sorted */
	return 0;
}

int hostmem_map(struct hostmem *hm, uint64_t size, unsigned flags, hva_t *hva)
{
	struct hostmem_map *m;
	unsigned order;
	uint64_t align;
	int ret = map_check_args(size, flags, &order);

	if (ret)
		return ret;
	m = map_alloc(size, flags, order);
	if (!m)
		return -ENOMEM;
	align = PAGE_SIZE << (order > ARENA_ORDER_2M ? order : ARENA_ORDER_2M);
	pthread_mutex_lock(&hm->lock);
	m->start = (hm->next_hva + align - 1) & ~(align - 1);
	if (m->start + size > HVA_LIMIT || m->start + size < m->start)
		ret = -ENOMEM;
	else
		ret = maps_append(hm, m);
	if (!ret) {
		hm->next_hva = m->start + size + HVA_GUARD;
		hm->st.mappings++;
		hm->st.table_bytes += map_table_bytes(m);
		*hva = m->start;
	}
	pthread_mutex_unlock(&hm->lock);
	if (ret)
		map_destroy(m);
	return ret;
}

static void maps_remove(struct hostmem *hm, struct hostmem_map *m)
{
	int i = map_index_below(hm, m->start);

	SMMU_ASSERT(i >= 0 && hm->maps[i] == m);
	memmove(&hm->maps[i], &hm->maps[i + 1], (hm->nr_maps - i - 1) * sizeof(*hm->maps));
	hm->nr_maps--;
	hm->st.mappings--;
}

int hostmem_unmap(struct hostmem *hm, hva_t hva, uint64_t size)
{
	struct hostmem_map *m;

	pthread_mutex_lock(&hm->ops_lock);
	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, hva);
	if (m && (m->start != hva || (m->npages << PAGE_SHIFT) != size))
		m = NULL;
	pthread_mutex_unlock(&hm->lock);
	if (!m) {
		pthread_mutex_unlock(&hm->ops_lock);
		return -EINVAL;
	}
	notify_start(hm, hva, hva + size, MMU_NOTIFY_UNMAP);
	pthread_mutex_lock(&hm->lock);
	maps_remove(hm, m);
	map_free(hm, m);
	pthread_mutex_unlock(&hm->lock);
	notify_end(hm, hva, hva + size, MMU_NOTIFY_UNMAP);
	pthread_mutex_unlock(&hm->ops_lock);
	return 0;
}

/* ---- faults ------------------------------------------------------------- */

static uint64_t map_pte_bits(const struct hostmem_map *m)
{
	return HPTE_PRESENT | ((m->flags & HOSTMEM_READONLY) ? 0 : HPTE_WRITABLE);
}

/* Back a whole chunk with one run; -ENOMEM if the arena has no such run. */
static int fault_in_huge(struct hostmem *hm, struct hostmem_map *m, uint64_t idx)
{
	uint64_t first = idx & ~(map_chunk_pages(m) - 1);
	hpa_t hpa;

	if (arena_alloc(hm->arena, m->huge_order, ARENA_USE_GUEST, &hpa))
		return -ENOMEM;
	for (uint64_t i = 0; i < map_chunk_pages(m); i++)
		hpte_set(&m->pte[first + i],
		         hpte_make((hpa >> PAGE_SHIFT) + i, map_pte_bits(m) | HPTE_HUGE));
	m->chunk[idx >> m->huge_order] = CHUNK_HUGE;
	hm->st.present += map_chunk_pages(m);
	*(m->huge_order == ARENA_ORDER_2M ? &hm->st.huge_2m : &hm->st.huge_1g) += 1;
	return 0;
}

/* Bring the contents of a swapped page back into a fresh frame. */
static int swap_in(struct hostmem *hm, struct hostmem_map *m, uint64_t idx, hpa_t hpa)
{
	uint64_t slot = hpte_pfn(m->pte[idx]);

	memcpy(arena_hpa_to_ptr(hm->arena, hpa, PAGE_SIZE), hm->swap[slot], PAGE_SIZE);
	swap_slot_free(hm, slot);
	return 0;
}

/* First touch (zero frame) or swap-in of page idx; lock held. */
static int fault_in(struct hostmem *hm, struct hostmem_map *m, uint64_t idx)
{
	uint8_t *chunk = m->chunk ? &m->chunk[idx >> m->huge_order] : NULL;
	hpa_t hpa;

	hm->st.faults++;
	if (chunk && *chunk == CHUNK_EMPTY) {
		if (fault_in_huge(hm, m, idx) == 0)
			return 0;
		*chunk = CHUNK_SMALL; /* as THP: fall back to small pages */
		hm->st.huge_fallback++;
	}
	if (arena_alloc(hm->arena, 0, ARENA_USE_GUEST, &hpa))
		return -ENOMEM;
	if (m->pte[idx] & HPTE_SWAPPED)
		swap_in(hm, m, idx, hpa);
	hpte_set(&m->pte[idx], hpte_make(hpa >> PAGE_SHIFT, map_pte_bits(m)));
	hm->st.present++;
	return 0;
}

static int map_level(const struct hostmem_map *m, uint64_t e)
{
	if (!(e & HPTE_HUGE))
		return HOSTMEM_LEVEL_4K;
	return m->huge_order == ARENA_ORDER_2M ? HOSTMEM_LEVEL_2M : HOSTMEM_LEVEL_1G;
}

/*
 * A write to a merged page that is the frame's last user takes the frame
 * back privately, without a copy (KSM's reuse on write fault).  Otherwise
 * -EAGAIN: the copy is a host operation that must tell the listeners
 * (hostmem_break_cow), which cannot happen under this lock.
 */
static int unshare_last(struct hostmem *hm, uint64_t *e)
{
	struct share_entry *s = share_find(&hm->shared, hpte_pfn(*e));

	if (s && s->count > 1)
		return -EAGAIN;
	if (s)
		share_del(&hm->shared, s);
	hpte_set(e, (*e & ~HPTE_SHARED) | HPTE_WRITABLE);
	return 0;
}

/* hostmem_hva_to_pfn with hm->lock held. */
static int hva_to_pfn_locked(struct hostmem *hm, hva_t hva, bool write, struct host_pfn *out)
{
	struct hostmem_map *m = map_find(hm, hva);
	uint64_t idx, *e;
	int ret;

	if (!m || (write && (m->flags & HOSTMEM_READONLY)))
		return -EFAULT;
	idx = (hva - m->start) >> PAGE_SHIFT;
	e = &m->pte[idx];
	if (!(*e & HPTE_PRESENT) && (ret = fault_in(hm, m, idx)))
		return ret;
	if (write && (*e & HPTE_SHARED) && (ret = unshare_last(hm, e)))
		return ret; /* -EAGAIN: another page shares it, hostmem_break_cow() must copy */
	if ((*e | HPTE_YOUNG | (write ? HPTE_DIRTY : 0)) != *e)
		hpte_set(e, *e | HPTE_YOUNG | (write ? HPTE_DIRTY : 0));
	out->pfn = hpte_pfn(*e);
	out->level = map_level(m, *e);
	out->writable = (*e & HPTE_WRITABLE) != 0;
	return 0;
}

int hostmem_hva_to_pfn(struct hostmem *hm, hva_t hva, bool write, struct host_pfn *out)
{
	int ret;

	pthread_mutex_lock(&hm->lock);
	ret = hva_to_pfn_locked(hm, hva, write, out);
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

int hostmem_window_get(struct hostmem *hm, hva_t hva, uint64_t npages, struct hostmem_window *w)
{
	struct hostmem_map *m;
	int ret = -EFAULT;

	*w = (struct hostmem_window){0};
	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, hva);
	if (m && npages <= m->npages - ((hva - m->start) >> PAGE_SHIFT)) {
		w->pte = &m->pte[(hva - m->start) >> PAGE_SHIFT];
		w->npages = npages;
		w->huge_level = m->chunk ? map_level(m, HPTE_HUGE) : HOSTMEM_LEVEL_4K;
		ret = 0;
	}
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

int hostmem_window_pfn(const struct hostmem_window *w, uint64_t index, bool write,
                       struct host_pfn *out)
{
	uint64_t need = HPTE_PRESENT | HPTE_YOUNG | (write ? HPTE_WRITABLE | HPTE_DIRTY : 0);
	uint64_t e;

	if (!w->pte || index >= w->npages)
		return -EAGAIN;
	e = __atomic_load_n(&w->pte[index], __ATOMIC_ACQUIRE);
	if ((e & need) != need || (e & HPTE_SHARED))
		return -EAGAIN;
	out->pfn = hpte_pfn(e);
	out->level = (e & HPTE_HUGE) ? w->huge_level : HOSTMEM_LEVEL_4K;
	out->writable = (e & HPTE_WRITABLE) != 0;
	return 0;
}

int hostmem_peek_pfn(struct hostmem *hm, hva_t hva, pfn_t *pfn)
{
	struct hostmem_map *m;
	int ret = -EFAULT;

	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, hva);
	if (m && (m->pte[(hva - m->start) >> PAGE_SHIFT] & HPTE_PRESENT)) {
		*pfn = hpte_pfn(m->pte[(hva - m->start) >> PAGE_SHIFT]);
		ret = 0;
	}
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

int hostmem_peek_read(struct hostmem *hm, hva_t hva, void *buf, uint64_t len)
{
	uint8_t *b = buf;
	int ret = 0;

	pthread_mutex_lock(&hm->lock);
	while (len) {
		struct hostmem_map *m = map_find(hm, hva);
		uint64_t off = hva & (PAGE_SIZE - 1);
		uint64_t n = PAGE_SIZE - off < len ? PAGE_SIZE - off : len, e;

		if (!m) {
			ret = -EFAULT;
			break;
		}
		e = m->pte[(hva - m->start) >> PAGE_SHIFT];
		if (e & HPTE_PRESENT)
			memcpy(b, arena_hpa_to_ptr(hm->arena, (hpte_pfn(e) << PAGE_SHIFT) + off, n), n);
		else if (e & HPTE_SWAPPED)
			memcpy(b, (const uint8_t *)hm->swap[hpte_pfn(e)] + off, n);
		else
			memset(b, 0, n);
		hva += n;
		b += n;
		len -= n;
	}
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

/* Copy len bytes between buf and the space; the lock keeps frames in place. */
static int hostmem_copy(struct hostmem *hm, hva_t hva, void *buf, uint64_t len, bool write)
{
	uint8_t *b = buf;
	int ret = 0;

	pthread_mutex_lock(&hm->lock);
	while (len && !ret) {
		uint64_t off = hva & (PAGE_SIZE - 1);
		uint64_t n = PAGE_SIZE - off < len ? PAGE_SIZE - off : len;
		struct host_pfn hp;
		uint8_t *p;

		ret = hva_to_pfn_locked(hm, hva, write, &hp);
		if (ret == -EAGAIN) { /* a merged page: copy it first, outside the lock */
			pthread_mutex_unlock(&hm->lock);
			ret = hostmem_break_cow(hm, hva);
			pthread_mutex_lock(&hm->lock);
			continue;
		}
		if (ret)
			break;
		p = arena_hpa_to_ptr(hm->arena, (hp.pfn << PAGE_SHIFT) + off, n);
		memcpy(write ? p : b, write ? b : p, n);
		hva += n;
		b += n;
		len -= n;
	}
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

int hostmem_read(struct hostmem *hm, hva_t hva, void *buf, uint64_t len)
{
	return hostmem_copy(hm, hva, buf, len, false);
}

int hostmem_write(struct hostmem *hm, hva_t hva, const void *buf, uint64_t len)
{
	return hostmem_copy(hm, hva, (void *)buf, len, true);
}

int hostmem_mark_dirty(struct hostmem *hm, hva_t hva)
{
	struct hostmem_map *m;
	int ret = -EFAULT;

	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, hva);
	if (m && (m->pte[(hva - m->start) >> PAGE_SHIFT] & HPTE_PRESENT)) {
		uint64_t *e = &m->pte[(hva - m->start) >> PAGE_SHIFT];

		hpte_set(e, *e | HPTE_DIRTY | HPTE_YOUNG);
		ret = 0;
	}
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

/* ---- aging -------------------------------------------------------------- */

/* Visit the young bits of [start, end) in every mapping; lock held. */
static bool range_young(struct hostmem *hm, hva_t start, hva_t end, bool clear)
{
	bool young = false;
	int i = map_index_below(hm, start);

	for (i = i < 0 ? 0 : i; i < (int)hm->nr_maps && hm->maps[i]->start < end; i++) {
		struct hostmem_map *m = hm->maps[i];
		hva_t s = start > m->start ? start : m->start;
		hva_t e = end < map_end(m) ? end : map_end(m);

		for (hva_t h = s & PAGE_MASK; h < e; h += PAGE_SIZE) {
			uint64_t *pte = &m->pte[(h - m->start) >> PAGE_SHIFT];

			young |= (*pte & HPTE_YOUNG) != 0;
			if (clear)
				hpte_set(pte, *pte & ~HPTE_YOUNG);
		}
	}
	return young;
}

static bool hostmem_age(struct hostmem *hm, hva_t start, hva_t end, bool clear)
{
	bool young;

	pthread_mutex_lock(&hm->ops_lock);
	pthread_mutex_lock(&hm->lock);
	young = range_young(hm, start, end, clear);
	pthread_mutex_unlock(&hm->lock);
	for (struct mmu_notifier *mn = hm->notifiers; mn; mn = mn->next) {
		if (clear && mn->ops->clear_young)
			young |= mn->ops->clear_young(mn, start, end);
		else if (!clear && mn->ops->test_young)
			young |= mn->ops->test_young(mn, start, end);
	}
	pthread_mutex_unlock(&hm->ops_lock);
	return young;
}

bool hostmem_clear_young(struct hostmem *hm, hva_t start, hva_t end)
{
	return hostmem_age(hm, start, end, true);
}

bool hostmem_test_young(struct hostmem *hm, hva_t start, hva_t end)
{
	return hostmem_age(hm, start, end, false);
}

/* ---- host operations that take frames away ----------------------------- */

int hostmem_discard(struct hostmem *hm, hva_t start, hva_t end)
{
	struct hostmem_map *m;
	uint64_t huge_mask;

	pthread_mutex_lock(&hm->ops_lock);
	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, start);
	huge_mask = m ? (PAGE_SIZE << m->huge_order) - 1 : 0;
	if (!m || end <= start || end > map_end(m) || ((start | end) & (PAGE_SIZE - 1)) ||
	    ((start - m->start) & huge_mask) || ((end - m->start) & huge_mask))
		m = NULL;
	pthread_mutex_unlock(&hm->lock);
	if (!m) {
		pthread_mutex_unlock(&hm->ops_lock);
		return -EINVAL;
	}
	notify_start(hm, start, end, MMU_NOTIFY_DISCARD);
	pthread_mutex_lock(&hm->lock);
	map_release_pages(hm, m, (start - m->start) >> PAGE_SHIFT, (end - m->start) >> PAGE_SHIFT);
	if (m->chunk) /* discarded chunks may get a huge run again */
		memset(&m->chunk[(start - m->start) >> (PAGE_SHIFT + m->huge_order)], CHUNK_EMPTY,
		       (end - start) >> (PAGE_SHIFT + m->huge_order));
	pthread_mutex_unlock(&hm->lock);
	notify_end(hm, start, end, MMU_NOTIFY_DISCARD);
	pthread_mutex_unlock(&hm->ops_lock);
	return 0;
}

/*
 * Find a present small page for a single-page host operation; ops_lock held.
 * -EFAULT when unmapped, -EBUSY when not present, huge-backed or merged.
 */
static int small_page_find(struct hostmem *hm, hva_t hva, struct hostmem_map **mp, uint64_t **ep)
{
	struct hostmem_map *m;
	int ret = 0;

	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, hva);
	if (!m)
		ret = -EFAULT;
	else if ((m->pte[(hva - m->start) >> PAGE_SHIFT] & (HPTE_PRESENT | HPTE_HUGE | HPTE_SHARED)) !=
	         HPTE_PRESENT)
		ret = -EBUSY;
	else
		*ep = &m->pte[(hva - m->start) >> PAGE_SHIFT];
	*mp = m;
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

static int swap_slot_alloc(struct hostmem *hm, void *data, uint64_t *slot)
{
	if (hm->nr_swap_free) {
		*slot = hm->swap_free[--hm->nr_swap_free];
	} else {
		void **s = realloc(hm->swap, (hm->nr_swap + 1) * sizeof(*s));
		uint64_t *f = s ? realloc(hm->swap_free, (hm->nr_swap + 1) * sizeof(*f)) : NULL;

		if (s)
			hm->swap = s;
		if (!f)
			return -ENOMEM;
		hm->swap_free = f;
		*slot = hm->nr_swap++;
	}
	hm->swap[*slot] = data;
	hm->st.swapped++;
	return 0;
}

int hostmem_swap_out(struct hostmem *hm, hva_t hva)
{
	struct hostmem_map *m;
	uint64_t *e, slot;
	void *data;
	int ret;

	hva &= PAGE_MASK;
	pthread_mutex_lock(&hm->ops_lock);
	ret = small_page_find(hm, hva, &m, &e);
	data = ret ? NULL : malloc(PAGE_SIZE);
	if (!ret && !data)
		ret = -ENOMEM;
	if (ret) {
		pthread_mutex_unlock(&hm->ops_lock);
		return ret;
	}
	notify_start(hm, hva, hva + PAGE_SIZE, MMU_NOTIFY_SWAP);
	pthread_mutex_lock(&hm->lock);
	memcpy(data, arena_hpa_to_ptr(hm->arena, hpte_pfn(*e) << PAGE_SHIFT, PAGE_SIZE), PAGE_SIZE);
	ret = swap_slot_alloc(hm, data, &slot);
	if (ret) {
		free(data);
	} else {
		arena_free(hm->arena, hpte_pfn(*e) << PAGE_SHIFT, 0, ARENA_USE_GUEST);
		hm->st.present--;
		hpte_set(e, hpte_make(slot, HPTE_SWAPPED));
	}
	pthread_mutex_unlock(&hm->lock);
	notify_end(hm, hva, hva + PAGE_SIZE, MMU_NOTIFY_SWAP);
	pthread_mutex_unlock(&hm->ops_lock);
	return ret;
}

int hostmem_migrate(struct hostmem *hm, hva_t hva, pfn_t *new_pfn)
{
	struct hostmem_map *m;
	uint64_t *e;
	hpa_t to, from;
	int ret;

	hva &= PAGE_MASK;
	pthread_mutex_lock(&hm->ops_lock);
	ret = small_page_find(hm, hva, &m, &e);
	if (!ret && arena_alloc(hm->arena, 0, ARENA_USE_GUEST, &to))
		ret = -ENOMEM;
	if (ret) {
		pthread_mutex_unlock(&hm->ops_lock);
		return ret;
	}
	notify_start(hm, hva, hva + PAGE_SIZE, MMU_NOTIFY_MIGRATE);
	pthread_mutex_lock(&hm->lock);
	from = hpte_pfn(*e) << PAGE_SHIFT;
	memcpy(arena_hpa_to_ptr(hm->arena, to, PAGE_SIZE),
	       arena_hpa_to_ptr(hm->arena, from, PAGE_SIZE), PAGE_SIZE);
	hpte_set(e, hpte_make(to >> PAGE_SHIFT, *e & ~HPTE_PFN_MASK));
	arena_free(hm->arena, from, 0, ARENA_USE_GUEST);
	pthread_mutex_unlock(&hm->lock);
	notify_end(hm, hva, hva + PAGE_SIZE, MMU_NOTIFY_MIGRATE);
	pthread_mutex_unlock(&hm->ops_lock);
	if (new_pfn)
		*new_pfn = to >> PAGE_SHIFT;
	return 0;
}

/* ---- page merging (KSM) and copy on write -------------------------------- */

/* Both pages present, small and readable; ops_lock held, lock held. */
static uint64_t *merge_candidate(struct hostmem *hm, hva_t hva)
{
	struct hostmem_map *m = map_find(hm, hva);
	uint64_t *e;

	if (!m)
		return NULL;
	e = &m->pte[(hva - m->start) >> PAGE_SHIFT];
	return (*e & (HPTE_PRESENT | HPTE_HUGE)) == HPTE_PRESENT ? e : NULL;
}

static uint8_t *frame_ptr(struct hostmem *hm, uint64_t e)
{
	return arena_hpa_to_ptr(hm->arena, hpte_pfn(e) << PAGE_SHIFT, PAGE_SIZE);
}

/* Point *e2 at e1's frame, both read-only and shared; lock held. */
static int merge_locked(struct hostmem *hm, uint64_t *e1, uint64_t *e2)
{
	struct share_entry *sh = share_get(&hm->shared, hpte_pfn(*e1));
	pfn_t old = hpte_pfn(*e2);

	if (!sh)
		return -ENOMEM;
	if (!sh->count)
		sh->count = 1; /* e1's own reference, first time it is shared */
	if (!(*e1 & HPTE_SHARED))
		hpte_set(e1, (*e1 & ~HPTE_WRITABLE) | HPTE_SHARED);
	sh->count++;
	if (!(*e2 & HPTE_SHARED) || share_put(&hm->shared, old))
		arena_free(hm->arena, old << PAGE_SHIFT, 0, ARENA_USE_GUEST);
	hpte_set(e2, hpte_make(hpte_pfn(*e1),
	                       (*e2 & (HPTE_YOUNG | HPTE_DIRTY)) | HPTE_PRESENT | HPTE_SHARED));
	return 0;
}

int hostmem_merge(struct hostmem *hm, hva_t hva1, hva_t hva2)
{
	uint64_t *e1, *e2;
	int ret = 0;

	hva1 &= PAGE_MASK;
	hva2 &= PAGE_MASK;
	if (hva1 == hva2)
		return -EINVAL;
	pthread_mutex_lock(&hm->ops_lock);
	/* Both translations lose write access (and e2 its frame): tell the listeners first. */
	notify_start(hm, hva1, hva1 + PAGE_SIZE, MMU_NOTIFY_PROTECT);
	notify_start(hm, hva2, hva2 + PAGE_SIZE, MMU_NOTIFY_PROTECT);
	pthread_mutex_lock(&hm->lock);
	e1 = merge_candidate(hm, hva1);
	e2 = merge_candidate(hm, hva2);
	if (!e1 || !e2)
		ret = -EBUSY;
	else if (hpte_pfn(*e1) == hpte_pfn(*e2))
		ret = 0; /* already one frame */
	else if (memcmp(frame_ptr(hm, *e1), frame_ptr(hm, *e2), PAGE_SIZE))
		ret = -EINVAL; /* only identical pages merge */
	else
		ret = merge_locked(hm, e1, e2);
	pthread_mutex_unlock(&hm->lock);
	notify_end(hm, hva2, hva2 + PAGE_SIZE, MMU_NOTIFY_PROTECT);
	notify_end(hm, hva1, hva1 + PAGE_SIZE, MMU_NOTIFY_PROTECT);
	pthread_mutex_unlock(&hm->ops_lock);
	return ret;
}

/* Give a merged page a private copy (or its frame back, if it is the last user). */
int hostmem_break_cow(struct hostmem *hm, hva_t hva)
{
	struct hostmem_map *m;
	uint64_t *e;
	hpa_t copy = 0;
	int ret = 0;

	hva &= PAGE_MASK;
	if (arena_alloc(hm->arena, 0, ARENA_USE_GUEST, &copy))
		return -ENOMEM;
	pthread_mutex_lock(&hm->ops_lock);
	notify_start(hm, hva, hva + PAGE_SIZE, MMU_NOTIFY_COW);
	pthread_mutex_lock(&hm->lock);
	m = map_find(hm, hva);
	e = m ? &m->pte[(hva - m->start) >> PAGE_SHIFT] : NULL;
	if (!e) {
		ret = -EFAULT;
	} else if ((*e & (HPTE_PRESENT | HPTE_SHARED)) == (HPTE_PRESENT | HPTE_SHARED)) {
		memcpy(arena_hpa_to_ptr(hm->arena, copy, PAGE_SIZE), frame_ptr(hm, *e), PAGE_SIZE);
		if (share_put(&hm->shared, hpte_pfn(*e))) /* raced: it was the last user */
			arena_free(hm->arena, hpte_pfn(*e) << PAGE_SHIFT, 0, ARENA_USE_GUEST);
		hpte_set(e, hpte_make(copy >> PAGE_SHIFT,
		                      (*e & (HPTE_YOUNG | HPTE_DIRTY)) | HPTE_PRESENT | HPTE_WRITABLE));
		copy = 0;
	}
	pthread_mutex_unlock(&hm->lock);
	notify_end(hm, hva, hva + PAGE_SIZE, MMU_NOTIFY_COW);
	pthread_mutex_unlock(&hm->ops_lock);
	if (copy)
		arena_free(hm->arena, copy, 0, ARENA_USE_GUEST);
	return ret;
}

/* ---- listeners and statistics ------------------------------------------ */

static bool notifier_registered(const struct hostmem *hm, const struct mmu_notifier *mn)
{
	for (const struct mmu_notifier *it = hm->notifiers; it; it = it->next)
		if (it == mn)
			return true;
	return false;
}

int hostmem_notifier_register(struct hostmem *hm, struct mmu_notifier *mn)
{
	int ret = -EINVAL;

	if (!mn || !mn->ops)
		return -EINVAL;
	pthread_mutex_lock(&hm->ops_lock);
	if (!notifier_registered(hm, mn)) {
		mn->next = hm->notifiers;
		hm->notifiers = mn;
		ret = 0;
	}
	pthread_mutex_unlock(&hm->ops_lock);
	return ret;
}

int hostmem_notifier_unregister(struct hostmem *hm, struct mmu_notifier *mn)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&hm->ops_lock);
	for (struct mmu_notifier **pp = &hm->notifiers; *pp; pp = &(*pp)->next) {
		if (*pp == mn) {
			*pp = mn->next;
			mn->next = NULL;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&hm->ops_lock);
	return ret;
}

void hostmem_get_stats(struct hostmem *hm, struct hostmem_stats *st)
{
	pthread_mutex_lock(&hm->lock);
	*st = hm->st;
	pthread_mutex_unlock(&hm->lock);
}

