/*
 * test_tdp_nx.c - NX huge pages in TDP mode (the iTLB-multihit mitigation,
 * docs/tdp.md): with it on, a huge page is mapped huge but not executable
 * in the EPT; the first instruction fetch from it splits it to 4 KiB
 * (nx_lpage_splits), and recovery zaps split tables so the range is mapped
 * huge again.  Guest-visible results are checked against what the test
 * wrote; the audit runs after every operation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <shadowmmu/shadowmmu.h>

#include "support/check.h"
#include "support/vmops.h"

#define SLOT_BYTES (8ull << 20)

/* Paging off (gva = gpa), one slot backed by 2 MiB host pages. */
static struct smmu_vm *new_vm(bool nx_huge_pages)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *vm = NULL;

	smmu_vm_config_default(&cfg);
	cfg.mmu = SMMU_MMU_TDP;
	cfg.ept_ad = true;
	cfg.nx_huge_pages = nx_huge_pages;
	cfg.huge_backing = true;
	cfg.audit = true;
	cfg.arena_bytes = 64ull << 20;
	if (smmu_vm_create(&cfg, &vm) || smmu_vm_add_slot(vm, 0, 0, SLOT_BYTES, 0))
		return NULL;
	return vm;
}

static void test_fetch_from_a_huge_page_splits_it_and_recovery_makes_it_huge_again(void)
{
	struct smmu_vm *vm = new_vm(true);

	REQUIRE(vm);
	CHECK_EQ(vm_w8(vm, 0x200010, 0x90c3), SMMU_OK);
	CHECK_EQ(vm_stats(vm).pages_2m, 1);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 0);
	/* The fetch exits (the huge leaf is not executable) and is served from a 4 KiB page. */
	CHECK_EQ(vm_fetch(vm, 0x200010), 0x90c3 & 0xff);
	CHECK_EQ(vm_stats(vm).pages_2m, 0);
	CHECK_EQ(vm_stats(vm).pages_4k, 1);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 1);
	/* The rest of the range now faults in 4 KiB at a time, data still intact. */
	CHECK_EQ(vm_r8(vm, 0x200010), 0x90c3);
	CHECK_EQ(vm_r8(vm, 0x3ff000), 0);
	CHECK_EQ(vm_stats(vm).pages_4k, 2);
	CHECK_EQ(smmu_vm_recover_nx_huge_pages(vm, 1), 1);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 0);
	CHECK_EQ(vm_stats(vm).pages_4k, 0);
	CHECK_EQ(vm_r8(vm, 0x200010), 0x90c3);
	CHECK_EQ(vm_stats(vm).pages_2m, 1); /* huge again */
	CHECK_EQ(smmu_vm_recover_nx_huge_pages(vm, 1), 0);
	smmu_vm_destroy(vm);
}

/* ceil(n / ratio) a call, oldest first: with 5 splits and ratio 2, three then two. */
static void test_recovery_zaps_a_ratio_of_the_splits(void)
{
	struct smmu_vm *vm = new_vm(true);

	REQUIRE(vm);
	for (uint64_t i = 0; i < 4; i++)
		CHECK_EQ(vm_fetch(vm, (i << 21) + 0x100), 0);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 4);
	CHECK_EQ(smmu_vm_recover_nx_huge_pages(vm, 3), 2);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 2);
	CHECK_EQ(smmu_vm_recover_nx_huge_pages(vm, 0), 1); /* KVM's ratio 60: at least one */
	CHECK_EQ(smmu_vm_recover_nx_huge_pages(vm, 1), 1);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 0);
	/* Fetches still see the (zero) memory after their tables went. */
	CHECK_EQ(vm_fetch(vm, 0x100), 0);
	smmu_vm_destroy(vm);
}

/* Without the mitigation a huge page is executable: no split, no recovery. */
static void test_without_the_mitigation_huge_pages_execute(void)
{
	struct smmu_vm *vm = new_vm(false);

	REQUIRE(vm);
	CHECK_EQ(vm_w8(vm, 0x200000, 0xc3), SMMU_OK);
	CHECK_EQ(vm_fetch(vm, 0x200000), 0xc3);
	CHECK_EQ(vm_stats(vm).pages_2m, 1);
	CHECK_EQ(vm_stats(vm).nx_lpage_splits, 0);
	CHECK_EQ(smmu_vm_recover_nx_huge_pages(vm, 1), -EINVAL);
	smmu_vm_destroy(vm);
}

/* The mitigation belongs to TDP: with the shadow MMU the config is refused. */
static void test_nx_huge_pages_with_the_shadow_mmu_is_refused(void)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *vm = NULL;

	smmu_vm_config_default(&cfg);
	cfg.nx_huge_pages = true;
	CHECK_EQ(smmu_vm_create(&cfg, &vm), -EINVAL);
	CHECK(vm == NULL);
}

int main(void)
{
	RUN(test_fetch_from_a_huge_page_splits_it_and_recovery_makes_it_huge_again);
	RUN(test_recovery_zaps_a_ratio_of_the_splits);
	RUN(test_without_the_mitigation_huge_pages_execute);
	RUN(test_nx_huge_pages_with_the_shadow_mmu_is_refused);
	return check_finish();
}
