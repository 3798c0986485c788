/*
 * arena.h - the frame arena: shadowmmu's "host physical" memory.
 *
 * One contiguous range of host virtual memory, reserved lazily with
 * mmap(MAP_NORESERVE) and carved into 4 KiB frames.  An hpa is an offset
 * into the arena; pfn = hpa >> 12.  Guest memory and shadow-table pages are
 * both allocated here, so an spte holds a real x86 physical-address field
 * and the software vCPU dereferences base + hpa after checking hpa < size.
 * Runs of 2^order frames (order 9 = 2 MiB, order 18 = 1 GiB) are naturally
 * aligned, so huge sptes can map them.
 *
 * Invariants: arena_hpa_to_ptr() never returns a pointer outside
 * [base, base + size); every other layer goes through it.  Every free frame
 * reads as zero, so an allocation never leaks a previous user's data.
 * The allocator (arena.c) is a binary buddy allocator with its metadata
 * outside the frames; it takes its own mutex, so callers need no lock.
 */
#ifndef SMMU_HOST_ARENA_H
#define SMMU_HOST_ARENA_H

#include "common.h"

#define ARENA_ORDER_2M  9  /* 2^9 frames = 2 MiB */
#define ARENA_ORDER_1G  18 /* 2^18 frames = 1 GiB */
#define ARENA_MAX_ORDER ARENA_ORDER_1G

enum arena_use {
	ARENA_USE_GUEST,  /* backs guest memory (hva pages) */
	ARENA_USE_SHADOW, /* a shadow page table (spt) */
	ARENA_USE_NR,
};

struct arena {
	uint8_t *base;           /* first byte of frame 0 */
	uint64_t size;           /* bytes reserved, a multiple of 4 KiB */
	struct arena_priv *priv; /* allocator state (arena.c) */
};

/*
 * Reserve `size` bytes (rounded up to 4 KiB; at most 2^32 - 1 frames).
 * Nothing is committed until a frame is touched.  NULL on failure.
 */
struct arena *arena_create(uint64_t size);
void arena_destroy(struct arena *a);

/*
 * Allocate a naturally aligned run of 2^order zero-filled frames for `use`.
 * Returns 0 and the run's hpa in *hpa, -ENOMEM when no free run of that
 * order exists, -EINVAL for order > ARENA_MAX_ORDER or a bad `use`.
 */
int arena_alloc(struct arena *a, unsigned order, enum arena_use use, hpa_t *hpa);
/*
 * Give back a run obtained from arena_alloc() with the same order and use.
 * Returns 0, or -EINVAL and changes nothing when hpa is not the start of a
 * live allocation of exactly that order and use (unaligned, out of range,
 * double free, wrong order or use).  Callers may ignore the result.
 */
int arena_free(struct arena *a, hpa_t hpa, unsigned order, enum arena_use use);

/* Frames currently allocated for `use` (0 for a bad `use`). */
uint64_t arena_frames_in_use(const struct arena *a, enum arena_use use);
/* Frames in the arena, and frames currently free. */
uint64_t arena_nr_frames(const struct arena *a);
uint64_t arena_frames_free(const struct arena *a);

/* The host pointer for hpa, or NULL when [hpa, hpa + len) leaves the arena. */
static inline void *arena_hpa_to_ptr(const struct arena *a, hpa_t hpa, uint64_t len)
{
	if (unlikely(hpa >= a->size || len > a->size - hpa))
		return NULL;
	return a->base + hpa;
}

#endif /* SMMU_HOST_ARENA_H */
