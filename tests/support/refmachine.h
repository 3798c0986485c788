/*
 * refmachine.h - a TLB-less reference x86 machine for differential tests of
 * the shadow MMU through the public VM API (shadowmmu.h).
 *
 * Guest memory is one flat guestmem (gpa [0, size); everything at or above
 * is unbacked); the registers follow the production CR validators of x86.h
 * (shared on purpose: the MMU is the code under test, not the CR rules).
 * There is no TLB: every access walks the guest tables with ref_walk()
 * (tests/ref/), then reads or writes the flat memory.  An unbacked gpa is
 * MMIO, as trace-format.md says: reads give all-ones bytes, writes vanish.
 * Because nothing is cached, invlpg and flush do nothing beyond their
 * privilege check; a test that follows the TLB rule of trace-format.md
 * gets the same outcomes from this machine and from any correct VM.
 */
#ifndef SMMU_TEST_REFMACHINE_H
#define SMMU_TEST_REFMACHINE_H

#include <shadowmmu/shadowmmu.h>

#include "support/guestmem.h"

struct refmachine {
	struct guestmem *mem;
	struct smmu_cpu_model model;
	struct smmu_cpu_state cpu;
};

/* A machine with `mem_bytes` of zeroed memory at gpa 0, reset CPU state. 0 or -ENOMEM. */
int refm_init(struct refmachine *rm, const struct smmu_cpu_model *model, uint64_t mem_bytes);
void refm_fini(struct refmachine *rm);

void refm_read(struct refmachine *rm, uint64_t gva, unsigned size, struct smmu_outcome *out);
void refm_write(struct refmachine *rm, uint64_t gva, unsigned size, uint64_t value,
                struct smmu_outcome *out);
void refm_fetch(struct refmachine *rm, uint64_t gva, struct smmu_outcome *out);
void refm_write_reg(struct refmachine *rm, enum smmu_reg reg, uint64_t value,
                    struct smmu_outcome *out);
void refm_invlpg(struct refmachine *rm, uint64_t gva, struct smmu_outcome *out);
void refm_set_cpl(struct refmachine *rm, unsigned cpl);

/* Host-side write of 4/8 bytes (setting up tables before paging). */
void refm_poke(struct refmachine *rm, uint64_t gpa, unsigned size, uint64_t value);
uint64_t refm_peek(struct refmachine *rm, uint64_t gpa, unsigned size);

#endif /* SMMU_TEST_REFMACHINE_H */
