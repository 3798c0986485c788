/*
 * arena.c - the frame arena's allocator: a binary buddy allocator over 4 KiB
 * frames, orders 0 (4 KiB) to ARENA_MAX_ORDER (1 GiB).
 *
 * The frames themselves are one mmap(MAP_NORESERVE) range; the allocator's
 * metadata lives beside it in a second NORESERVE range so that free frames
 * are never touched (an untouched frame costs no host memory):
 *   state[f]        what frame f is: interior of a block, head of a free block
 *                   of order o, or head of a live allocation of order o and use u
 *   next[f]/prev[f] doubly linked per-order free list, valid for free heads only
 * A block of order o starts at a frame index that is a multiple of 2^o, and its
 * buddy is f ^ 2^o.  Allocation pops the smallest non-empty order >= the request
 * and splits; free validates the head's state byte (catching double frees and
 * wrong order/use), zeroes the run, then merges with free buddies.
 *
 * Invariant: every frame not inside a live allocation reads as zero.  Freed
 * runs are zeroed at free time: memset for small runs, madvise(MADV_DONTNEED)
 * for big ones (the kernel then gives back zero pages and reclaims the memory).
 * This is the buddy scheme of Linux mm/page_alloc.c, written from its idea.
 */
#include "host/arena.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FRAME_NONE UINT32_MAX
/* Runs of at least 2^ZAP_ORDER frames are zeroed with madvise, not memset. */
#define ZAP_ORDER 5

/* state[] byte: bits 0-4 order, bits 5-7 kind (0 interior, 1 free, 2 + use live). */
#define STATE_KIND_SHIFT 5
#define KIND_INTERIOR    0
#define KIND_FREE        1
#define KIND_LIVE_BASE   2

struct arena_priv {
	pthread_mutex_t lock;
	uint64_t nframes;                        /* frames in the arena */
	uint8_t *state;                          /* per frame, see above */
	uint32_t *next, *prev;                   /* free-list links per frame */
	void *meta;                              /* the metadata mapping */
	size_t meta_bytes;                       /* its length */
	uint32_t free_head[ARENA_MAX_ORDER + 1]; /* first free block per order */
	uint64_t nr_free;                        /* free frames, all orders */
	uint64_t in_use[ARENA_USE_NR];           /* live frames per use */
};

static uint8_t state_make(unsigned kind, unsigned order)
{
	return (uint8_t)(kind << STATE_KIND_SHIFT | order);
}

static void freelist_add(struct arena_priv *p, uint32_t f, unsigned order)
{
	uint32_t head = p->free_head[order];

	p->state[f] = state_make(KIND_FREE, order);
	p->prev[f] = FRAME_NONE;
	p->next[f] = head;
	if (head != FRAME_NONE)
		p->prev[head] = f;
	p->free_head[order] = f;
}

static void freelist_del(struct arena_priv *p, uint32_t f, unsigned order)
{
	SMMU_ASSERT(p->state[f] == state_make(KIND_FREE, order));
	if (p->prev[f] != FRAME_NONE)
		p->next[p->prev[f]] = p->next[f];
	else
		p->free_head[order] = p->next[f];
	if (p->next[f] != FRAME_NONE)
		p->prev[p->next[f]] = p->prev[f];
	p->state[f] = state_make(KIND_INTERIOR, 0);
}

/* Cover [0, nframes) with the largest naturally aligned free blocks that fit. */
static void arena_seed_free_lists(struct arena_priv *p)
{
	uint64_t f = 0;

	for (unsigned o = 0; o <= ARENA_MAX_ORDER; o++)
		p->free_head[o] = FRAME_NONE;
	while (f < p->nframes) {
		unsigned o = ARENA_MAX_ORDER;

		while ((f & ((1ull << o) - 1)) || f + (1ull << o) > p->nframes)
			o--;
		freelist_add(p, (uint32_t)f, o);
		f += 1ull << o;
	}
	p->nr_free = p->nframes;
}

/*
 * A NORESERVE range that the kernel may back with transparent huge pages
 * (MADV_HUGEPAGE; a hint, ignored where THP is off), as hypervisors back
 * guest memory: every guest access and every shadow-table read lands in the
 * arena, and with 4 KiB host pages a random working set of guest pages costs
 * a host TLB miss per access and a host page fault per first touch
 * (bench_mmu: a fault creating a leaf shadow page 5.4 us -> 0.7 us; bigmem
 * accesses/s doubled).
 */
static void *map_noreserve(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	(void)madvise(m, bytes, MADV_HUGEPAGE);
	return m;
}

static struct arena_priv *arena_priv_create(uint64_t nframes)
{
	struct arena_priv *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->nframes = nframes;
	p->meta_bytes = nframes * (2 * sizeof(uint32_t) + 1);
	p->meta = map_noreserve(p->meta_bytes);
	if (!p->meta) {
		free(p);
		return NULL;
	}
	p->next = p->meta;
	p->prev = p->next + nframes;
	p->state = (uint8_t *)(p->prev + nframes);
	pthread_mutex_init(&p->lock, NULL);
	arena_seed_free_lists(p);
	return p;
}

struct arena *arena_create(uint64_t size)
{
	uint64_t nframes = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
	struct arena *a;

	if (nframes == 0 || nframes >= FRAME_NONE)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->size = nframes << PAGE_SHIFT;
	a->base = map_noreserve(a->size);
	a->priv = a->base ? arena_priv_create(nframes) : NULL;
	if (!a->priv) {
		if (a->base)
			munmap(a->base, a->size);
		free(a);
		return NULL;
	}
	return a;
}

void arena_destroy(struct arena *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->priv->lock);
	munmap(a->priv->meta, a->priv->meta_bytes);
	free(a->priv);
	munmap(a->base, a->size);
	free(a);
}

/* Pop a block of order >= `order` and split it down; FRAME_NONE if none. */
static uint32_t buddy_take(struct arena_priv *p, unsigned order)
{
	unsigned o = order;
	uint32_t f;

	while (o <= ARENA_MAX_ORDER && p->free_head[o] == FRAME_NONE)
		o++;
	if (o > ARENA_MAX_ORDER)
		return FRAME_NONE;
	f = p->free_head[o];
	freelist_del(p, f, o);
	while (o > order) {
		o--;
		freelist_add(p, f + (1u << o), o); /* the upper half stays free */
	}
	return f;
}

int arena_alloc(struct arena *a, unsigned order, enum arena_use use, hpa_t *hpa)
{
	struct arena_priv *p = a->priv;
	uint32_t f;

	if (order > ARENA_MAX_ORDER || (unsigned)use >= ARENA_USE_NR)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	f = buddy_take(p, order);
	if (f != FRAME_NONE) {
		p->state[f] = state_make(KIND_LIVE_BASE + use, order);
		p->nr_free -= 1ull << order;
		p->in_use[use] += 1ull << order;
	}
	pthread_mutex_unlock(&p->lock);
	if (f == FRAME_NONE)
		return -ENOMEM;
	*hpa = (hpa_t)f << PAGE_SHIFT;
	return 0;
}

/* Make a freed run read as zero again (the arena's invariant). */
static void arena_zero_run(struct arena *a, uint64_t f, unsigned order)
{
	uint8_t *ptr = a->base + (f << PAGE_SHIFT);
	size_t len = PAGE_SIZE << order;

	if (order < ZAP_ORDER || madvise(ptr, len, MADV_DONTNEED) != 0)
		memset(ptr, 0, len);
}

/* Merge the free block at f with free buddies of equal order, then list it. */
static void buddy_put(struct arena_priv *p, uint32_t f, unsigned order)
{
	while (order < ARENA_MAX_ORDER) {
		uint64_t buddy = (uint64_t)f ^ (1ull << order);

		if (buddy + (1ull << order) > p->nframes ||
		    p->state[buddy] != state_make(KIND_FREE, order))
			break;
		freelist_del(p, (uint32_t)buddy, order);
		p->state[f] = state_make(KIND_INTERIOR, 0);
		f = (uint32_t)(f & buddy);
		order++;
	}
	freelist_add(p, f, order);
}

int arena_free(struct arena *a, hpa_t hpa, unsigned order, enum arena_use use)
{
	struct arena_priv *p = a->priv;
	uint64_t f = hpa >> PAGE_SHIFT;
	int ret = -EINVAL;

	if (order > ARENA_MAX_ORDER || (unsigned)use >= ARENA_USE_NR ||
	    (hpa & ((PAGE_SIZE << order) - 1)) || f >= p->nframes)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->state[f] == state_make(KIND_LIVE_BASE + use, order)) {
		arena_zero_run(a, f, order);
		p->in_use[use] -= 1ull << order;
		p->nr_free += 1ull << order;
		p->state[f] = state_make(KIND_INTERIOR, 0);
		buddy_put(p, (uint32_t)f, order);
		ret = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

uint64_t arena_frames_in_use(const struct arena *a, enum arena_use use)
{
	struct arena_priv *p = a->priv;
	uint64_t n;

	if ((unsigned)use >= ARENA_USE_NR)
		return 0;
	pthread_mutex_lock(&p->lock);
	n = p->in_use[use];
	pthread_mutex_unlock(&p->lock);
	return n;
}

uint64_t arena_nr_frames(const struct arena *a)
{
	return a->priv->nframes;
}

uint64_t arena_frames_free(const struct arena *a)
{
	struct arena_priv *p = a->priv;
	uint64_t n;

	pthread_mutex_lock(&p->lock);
	n = p->nr_free;
	pthread_mutex_unlock(&p->lock);
	return n;
}
