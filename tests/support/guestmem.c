/*
 * guestmem.c - the flat test guest-physical memory of guestmem.h.
 *
 * Layout: one byte buffer of `size` bytes plus one attribute byte per 4 KiB
 * page (GM_PAGE_RO, GM_PAGE_HOLE).  Every access is checked for size (4 or
 * 8), natural alignment and backing before it touches the buffer, so bad
 * input yields an errno, never an out-of-bounds access.  Values are
 * little-endian, as guest memory is on x86.
 */
#include "support/guestmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GM_PAGE_SIZE 4096ull
#define GM_PAGE_RO   0x1u
#define GM_PAGE_HOLE 0x2u

struct guestmem {
	uint64_t size;       /* bytes, multiple of GM_PAGE_SIZE */
	uint8_t *bytes;      /* the guest-physical contents */
	uint8_t *page_attr;  /* GM_PAGE_* per page */
	unsigned races_left; /* injected mismatches still to report */
	bool race_pending;   /* a guest store waits for the next cmpxchg */
	uint64_t race_gpa;   /* ... at this address */
	unsigned race_size;  /* ... of this size */
	uint64_t race_val;   /* ... with this value */
	struct guestmem_stats stats;
};

struct guestmem *guestmem_create(uint64_t size)
{
	struct guestmem *gm;

	if (size == 0 || size % GM_PAGE_SIZE || size > (1ull << 40))
		return NULL;
	gm = calloc(1, sizeof(*gm));
	if (!gm)
		return NULL;
	gm->size = size;
	gm->bytes = calloc(1, size);
	gm->page_attr = calloc(1, size / GM_PAGE_SIZE);
	if (!gm->bytes || !gm->page_attr) {
		guestmem_destroy(gm);
		return NULL;
	}
	return gm;
}

void guestmem_destroy(struct guestmem *gm)
{
	if (!gm)
		return;
	free(gm->bytes);
	free(gm->page_attr);
	free(gm);
}

uint64_t guestmem_size(const struct guestmem *gm)
{
	return gm->size;
}

static int guestmem_mark(struct guestmem *gm, uint64_t gpa, uint64_t size, uint8_t attr)
{
	if (gpa % GM_PAGE_SIZE || size % GM_PAGE_SIZE || gpa > gm->size || size > gm->size - gpa)
		return -EINVAL;
	for (uint64_t off = 0; off < size; off += GM_PAGE_SIZE)
		gm->page_attr[(gpa + off) / GM_PAGE_SIZE] |= attr;
	return 0;
}

int guestmem_set_readonly(struct guestmem *gm, uint64_t gpa, uint64_t size)
{
	return guestmem_mark(gm, gpa, size, GM_PAGE_RO);
}

int guestmem_set_hole(struct guestmem *gm, uint64_t gpa, uint64_t size)
{
	return guestmem_mark(gm, gpa, size, GM_PAGE_HOLE);
}

/* 0 if [gpa, gpa+size) is a naturally aligned 4/8-byte backed location. */
static int guestmem_check(const struct guestmem *gm, uint64_t gpa, unsigned size)
{
	if ((size != 4 && size != 8) || gpa % size)
		return -EINVAL;
	if (gpa >= gm->size || gm->page_attr[gpa / GM_PAGE_SIZE] & GM_PAGE_HOLE)
		return -EFAULT;
	return 0;
}

static uint64_t guestmem_load(const struct guestmem *gm, uint64_t gpa, unsigned size)
{
	uint64_t val = 0;

	for (unsigned i = 0; i < size; i++)
		val |= (uint64_t)gm->bytes[gpa + i] << (8 * i);
	return val;
}

static void guestmem_store(struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size; i++)
		gm->bytes[gpa + i] = (uint8_t)(val >> (8 * i));
}

int guestmem_read(const struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t *val)
{
	int ret = guestmem_check(gm, gpa, size);

	if (ret)
		return ret;
	*val = guestmem_load(gm, gpa, size);
	return 0;
}

uint64_t guestmem_peek(const struct guestmem *gm, uint64_t gpa, unsigned size)
{
	uint64_t val = 0;

	return guestmem_read(gm, gpa, size, &val) ? 0 : val;
}

static int guestmem_write(struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t val)
{
	int ret = guestmem_check(gm, gpa, size);

	if (ret)
		return ret;
	guestmem_store(gm, gpa, size, val);
	return 0;
}

int guestmem_write32(struct guestmem *gm, uint64_t gpa, uint32_t val)
{
	return guestmem_write(gm, gpa, 4, val);
}

int guestmem_write64(struct guestmem *gm, uint64_t gpa, uint64_t val)
{
	return guestmem_write(gm, gpa, 8, val);
}

void *guestmem_hva(struct guestmem *gm, uint64_t gpa)
{
	if (gpa >= gm->size || gm->page_attr[gpa / GM_PAGE_SIZE] & GM_PAGE_HOLE)
		return NULL;
	return gm->bytes + gpa;
}

/* ---- the walker's view -------------------------------------------------- */

static int gm_ops_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	struct guestmem *gm = ctx;

	gm->stats.reads++;
	return guestmem_read(gm, gpa, size, val);
}

/* The guest's store injected by guestmem_race_store() lands first. */
static void gm_apply_race_store(struct guestmem *gm)
{
	if (!gm->race_pending)
		return;
	gm->race_pending = false;
	guestmem_store(gm, gm->race_gpa, gm->race_size, gm->race_val);
}

static int gm_ops_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	struct guestmem *gm = ctx;
	int ret = guestmem_check(gm, gpa, size);

	gm->stats.cmpxchgs++;
	if (ret)
		return ret;
	if (gm->page_attr[gpa / GM_PAGE_SIZE] & GM_PAGE_RO)
		return -EROFS;
	gm_apply_race_store(gm);
	if (guestmem_load(gm, gpa, size) != old)
		return 1;
	if (gm->races_left) {
		gm->races_left--;
		gm->stats.races++;
		return 1;
	}
	guestmem_store(gm, gpa, size, new_val);
	gm->stats.cmpxchg_writes++;
	return 0;
}

struct smmu_gpa_ops guestmem_ops(struct guestmem *gm)
{
	return (struct smmu_gpa_ops){.read = gm_ops_read, .cmpxchg = gm_ops_cmpxchg, .ctx = gm};
}

/* ---- whole memories ----------------------------------------------------- */

int guestmem_copy(struct guestmem *dst, const struct guestmem *src)
{
	if (dst->size != src->size)
		return -EINVAL;
	memcpy(dst->bytes, src->bytes, src->size);
	memcpy(dst->page_attr, src->page_attr, src->size / GM_PAGE_SIZE);
	return 0;
}

struct guestmem *guestmem_clone(const struct guestmem *src)
{
	struct guestmem *gm = guestmem_create(src->size);

	if (gm)
		guestmem_copy(gm, src);
	return gm;
}

bool guestmem_equal(const struct guestmem *a, const struct guestmem *b, uint64_t *first_diff)
{
	uint64_t n = a->size < b->size ? a->size : b->size;

	if (a->size == b->size && !memcmp(a->bytes, b->bytes, n))
		return true;
	if (first_diff) {
		uint64_t i = 0;

		while (i < n && a->bytes[i] == b->bytes[i])
			i++;
		*first_diff = i;
	}
	return false;
}

void guestmem_inject_races(struct guestmem *gm, unsigned n)
{
	gm->races_left = n;
}

int guestmem_race_store(struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t val)
{
	int ret = guestmem_check(gm, gpa, size);

	if (ret)
		return ret;
	gm->race_pending = true;
	gm->race_gpa = gpa;
	gm->race_size = size;
	gm->race_val = val;
	return 0;
}

struct guestmem_stats guestmem_stats(const struct guestmem *gm)
{
	return gm->stats;
}
