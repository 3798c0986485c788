/*
 * guestmem.h - a flat, test-only guest-physical memory behind struct
 * smmu_gpa_ops.
 *
 * One zero-filled buffer covers gpa [0, size).  Any 4 KiB page of it can be
 * marked read-only (the guest cannot write it: cmpxchg fails with -EROFS, as
 * on a read-only memslot) or a hole (no memslot: reads and cmpxchg fail with
 * -EFAULT); everything at or above `size` is a hole too.  The test itself
 * writes through guestmem_write32/64 as the host would, ignoring read-only.
 *
 * Race injection lets a test exercise the walker's restart path (SDM Vol. 3A
 * 4.8 leaves A/D updates atomic; KVM restarts the walk when its cmpxchg
 * loses): guestmem_inject_races(gm, n) makes the next n otherwise-successful
 * cmpxchg calls report a mismatch without writing, and guestmem_race_store()
 * makes the guest store a value just before the next cmpxchg that
 * reaches writable memory.
 *
 * Not thread-safe; one memory per test or per thread.
 */
#ifndef SMMU_TEST_GUESTMEM_H
#define SMMU_TEST_GUESTMEM_H

#include <shadowmmu/x86.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guestmem;

/* What the memory has seen through its smmu_gpa_ops since creation. */
struct guestmem_stats {
	uint64_t reads;          /* read calls, including failed ones */
	uint64_t cmpxchgs;       /* cmpxchg calls, including failed ones */
	uint64_t cmpxchg_writes; /* cmpxchg calls that stored their new value */
	uint64_t races;          /* cmpxchg calls failed by injection */
};

/* A zero-filled memory of `size` bytes (a non-zero multiple of 4 KiB); NULL on error. */
struct guestmem *guestmem_create(uint64_t size);
void guestmem_destroy(struct guestmem *gm);
uint64_t guestmem_size(const struct guestmem *gm);

/* Mark [gpa, gpa+size) (4 KiB aligned, inside the memory) read-only or unbacked. */
int guestmem_set_readonly(struct guestmem *gm, uint64_t gpa, uint64_t size);
int guestmem_set_hole(struct guestmem *gm, uint64_t gpa, uint64_t size);

/* The walker's view of this memory. */
struct smmu_gpa_ops guestmem_ops(struct guestmem *gm);

/* Host-side accesses: aligned, backed (read-only is fine); 0 or -EFAULT/-EINVAL. */
int guestmem_write32(struct guestmem *gm, uint64_t gpa, uint32_t val);
int guestmem_write64(struct guestmem *gm, uint64_t gpa, uint64_t val);
int guestmem_read(const struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t *val);
/* Read a 4- or 8-byte value that the test knows is backed; 0 on error. */
uint64_t guestmem_peek(const struct guestmem *gm, uint64_t gpa, unsigned size);
/* A pointer to the bytes at gpa, valid for the rest of its page; NULL for holes. */
void *guestmem_hva(struct guestmem *gm, uint64_t gpa);

/* dst becomes a copy of src (contents and page attributes); same size only. */
int guestmem_copy(struct guestmem *dst, const struct guestmem *src);
/* A new memory equal to src; NULL on allocation failure. */
struct guestmem *guestmem_clone(const struct guestmem *src);
/* True if the contents are equal; else *first_diff (if not NULL) is the first differing byte. */
bool guestmem_equal(const struct guestmem *a, const struct guestmem *b, uint64_t *first_diff);

/* Make the next n cmpxchg calls that would succeed fail as a mismatch (1). */
void guestmem_inject_races(struct guestmem *gm, unsigned n);
/* Before the next cmpxchg to writable memory (any address), store val (4/8 bytes) at gpa. */
int guestmem_race_store(struct guestmem *gm, uint64_t gpa, unsigned size, uint64_t val);

struct guestmem_stats guestmem_stats(const struct guestmem *gm);

#endif /* SMMU_TEST_GUESTMEM_H */
