/*
 * cpu_model.c - the guest CPU model, the reset register state and the
 * paging mode they select (SDM Vol. 3A 4.1.1, Table 4-1).
 */
#include <shadowmmu/x86.h>

#include <string.h>

void smmu_cpu_model_default(struct smmu_cpu_model *m)
{
	*m = (struct smmu_cpu_model){
	    .maxphyaddr = 46,
	    .gbpages = true,
	    .la57 = true,
	    .pcid = true,
	    .pku = true,
	    .smep = true,
	    .smap = true,
	    .nx = true,
	    .pse36 = true,
	};
}

/* trace-format.md: flat protected mode, paging off, cr0 = PE|ET. */
void smmu_cpu_state_reset(struct smmu_cpu_state *s)
{
	memset(s, 0, sizeof(*s));
	s->cr0 = X86_CR0_PE | X86_CR0_ET;
}

/* SDM Vol. 3A Table 4-1: the mode follows CR0.PG, CR4.PAE, EFER.LMA, CR4.LA57. */
enum smmu_paging_mode smmu_paging_mode(const struct smmu_cpu_state *s)
{
	if (!(s->cr0 & X86_CR0_PG))
		return SMMU_PAGING_OFF;
	if (!(s->cr4 & X86_CR4_PAE))
		return SMMU_PAGING_32BIT;
	if (!(s->efer & X86_EFER_LMA))
		return SMMU_PAGING_PAE;
	return (s->cr4 & X86_CR4_LA57) ? SMMU_PAGING_5LEVEL : SMMU_PAGING_4LEVEL;
}
