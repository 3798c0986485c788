/*
 * refmachine.c - the TLB-less reference machine (see refmachine.h): every
 * access is ref_walk() + a flat-memory access; unbacked gpas are MMIO.
 */
#include "support/refmachine.h"

#include <errno.h>
#include <string.h>

#include "ref/ref_walker.h"

int refm_init(struct refmachine *rm, const struct smmu_cpu_model *model, uint64_t mem_bytes)
{
	rm->mem = guestmem_create(mem_bytes);
	if (!rm->mem)
		return -ENOMEM;
	rm->model = *model;
	smmu_cpu_state_reset(&rm->cpu);
	return 0;
}

void refm_fini(struct refmachine *rm)
{
	guestmem_destroy(rm->mem);
	rm->mem = NULL;
}

/* Walk for one access; false (and *out filled) if the access faults. */
static bool translate(struct refmachine *rm, uint64_t gva, enum smmu_access_type acc, uint64_t *gpa,
                      struct smmu_outcome *out)
{
	struct smmu_gpa_ops ops = guestmem_ops(rm->mem);
	struct smmu_walk w;

	memset(out, 0, sizeof(*out));
	switch (ref_walk(&rm->cpu, &rm->model, &ops, gva, acc, &w)) {
	case SMMU_WALK_OK:
		*gpa = w.gpa;
		return true;
	case SMMU_WALK_PF:
		out->result = SMMU_PF;
		out->error_code = w.error_code;
		return false;
	default:
		out->result = SMMU_GP;
		return false;
	}
}

static void access_mem(struct refmachine *rm, uint64_t gva, unsigned size, uint64_t value,
                       enum smmu_access_type acc, struct smmu_outcome *out)
{
	uint64_t gpa;
	uint8_t *p;

	if (!translate(rm, gva, acc, &gpa, out))
		return;
	p = guestmem_hva(rm->mem, gpa);
	if (!p) {
		out->result = SMMU_MMIO;
		if (acc != SMMU_ACCESS_WRITE)
			out->value = ~0ull >> (64 - 8 * size);
		return;
	}
	out->result = SMMU_OK;
	if (acc == SMMU_ACCESS_WRITE) {
		for (unsigned i = 0; i < size; i++)
			p[i] = (uint8_t)(value >> (8 * i));
		return;
	}
	for (unsigned i = 0; i < size; i++)
		out->value |= (uint64_t)p[i] << (8 * i);
}

void refm_read(struct refmachine *rm, uint64_t gva, unsigned size, struct smmu_outcome *out)
{
	access_mem(rm, gva, size, 0, SMMU_ACCESS_READ, out);
}

void refm_write(struct refmachine *rm, uint64_t gva, unsigned size, uint64_t value,
                struct smmu_outcome *out)
{
	access_mem(rm, gva, size, value, SMMU_ACCESS_WRITE, out);
}

void refm_fetch(struct refmachine *rm, uint64_t gva, struct smmu_outcome *out)
{
	access_mem(rm, gva, 1, 0, SMMU_ACCESS_FETCH, out);
}

static enum smmu_result cr_result(enum smmu_cr_result r)
{
	return r == SMMU_CR_OK ? SMMU_OK : r == SMMU_CR_GP ? SMMU_GP : SMMU_UD;
}

void refm_write_reg(struct refmachine *rm, enum smmu_reg reg, uint64_t value,
                    struct smmu_outcome *out)
{
	struct smmu_gpa_ops ops = guestmem_ops(rm->mem);
	enum smmu_tlb_flush fl;
	enum smmu_cr_result r = SMMU_CR_GP;

	memset(out, 0, sizeof(*out));
	switch (reg) {
	case SMMU_REG_CR0:
		r = smmu_x86_write_cr0(&rm->cpu, &rm->model, &ops, value, &fl);
		break;
	case SMMU_REG_CR3:
		r = smmu_x86_write_cr3(&rm->cpu, &rm->model, &ops, value, &fl);
		break;
	case SMMU_REG_CR4:
		r = smmu_x86_write_cr4(&rm->cpu, &rm->model, &ops, value, &fl);
		break;
	case SMMU_REG_EFER:
		r = smmu_x86_write_efer(&rm->cpu, &rm->model, value, &fl);
		break;
	case SMMU_REG_PKRU:
		r = smmu_x86_write_pkru(&rm->cpu, &rm->model, value);
		break;
	}
	out->result = cr_result(r);
}

void refm_invlpg(struct refmachine *rm, uint64_t gva, struct smmu_outcome *out)
{
	(void)gva;
	memset(out, 0, sizeof(*out));
	out->result = rm->cpu.cpl ? SMMU_GP : SMMU_OK;
}

void refm_set_cpl(struct refmachine *rm, unsigned cpl)
{
	rm->cpu.cpl = cpl;
}

void refm_poke(struct refmachine *rm, uint64_t gpa, unsigned size, uint64_t value)
{
	if (size == 8)
		guestmem_write64(rm->mem, gpa, value);
	else
		guestmem_write32(rm->mem, gpa, (uint32_t)value);
}

uint64_t refm_peek(struct refmachine *rm, uint64_t gpa, unsigned size)
{
	return guestmem_peek(rm->mem, gpa, size);
}
