/*
 * flatmem.h - the smallest guest memory behind struct smmu_gpa_ops: a
 * caller-owned byte buffer at gpa 0, for the hand-computed walker and CR
 * tests that poke table bytes straight into a static array (guestmem.h is
 * the fuller memory, with holes, clones and race injection).
 *
 * Set ops.ctx to a struct flatmem.  read and cmpxchg of anything not wholly
 * inside [0, size) fail with -EFAULT; cmpxchg at or above ro_base (an
 * address inside the buffer) fails with -EROFS, as on a read-only memslot;
 * ro_base = size makes nothing read-only.  Values are host-endian, as the
 * tests write them with memcpy.
 */
#ifndef SMMU_TEST_FLATMEM_H
#define SMMU_TEST_FLATMEM_H

#include <stdint.h>

struct flatmem {
	uint8_t *buf;
	uint64_t size;
	uint64_t ro_base;
};

int flatmem_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val);
int flatmem_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val);

#endif /* SMMU_TEST_FLATMEM_H */
