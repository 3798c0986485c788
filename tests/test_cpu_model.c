/* test_cpu_model.c - reset state and paging-mode selection (SDM Vol. 3A Table 4-1). */
#include <shadowmmu/x86.h>

#include "support/check.h"

static void test_reset_state_is_flat_protected_mode_without_paging(void)
{
	struct smmu_cpu_state s;

	smmu_cpu_state_reset(&s);
	CHECK_EQ(s.cr0, 0x11);
	CHECK_EQ(s.cr3, 0);
	CHECK_EQ(s.cr4, 0);
	CHECK_EQ(s.efer, 0);
	CHECK_EQ(s.cpl, 0);
	CHECK_EQ(smmu_paging_mode(&s), SMMU_PAGING_OFF);
}

static void test_paging_mode_follows_pg_pae_lma_la57(void)
{
	struct smmu_cpu_state s;

	smmu_cpu_state_reset(&s);
	s.cr0 |= X86_CR0_PG;
	CHECK_EQ(smmu_paging_mode(&s), SMMU_PAGING_32BIT);
	s.cr4 |= X86_CR4_PAE;
	CHECK_EQ(smmu_paging_mode(&s), SMMU_PAGING_PAE);
	s.efer |= X86_EFER_LME | X86_EFER_LMA;
	CHECK_EQ(smmu_paging_mode(&s), SMMU_PAGING_4LEVEL);
	s.cr4 |= X86_CR4_LA57;
	CHECK_EQ(smmu_paging_mode(&s), SMMU_PAGING_5LEVEL);
}

static void test_default_model_has_every_feature_and_46_bit_addresses(void)
{
	struct smmu_cpu_model m;

	smmu_cpu_model_default(&m);
	CHECK_EQ(m.maxphyaddr, 46);
	CHECK(m.gbpages && m.la57 && m.pcid && m.pku && m.smep && m.smap && m.nx && m.pse36);
}

int main(void)
{
	RUN(test_reset_state_is_flat_protected_mode_without_paging);
	RUN(test_paging_mode_follows_pg_pae_lma_la57);
	RUN(test_default_model_has_every_feature_and_46_bit_addresses);
	return check_finish();
}
