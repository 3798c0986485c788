/*
 * test_slot_changes.c - what a memslot change does to the MMU
 * (mmu_memslot_prepare / mmu_memslot_changed, KVM's
 * kvm_mmu_slot_apply_flags): turning dirty logging on write-protects the
 * slot and zaps nothing, so the next write to each page is logged; a delete
 * or a move zaps every shadow page.  Guest-visible memory is checked
 * against what the test wrote, the audit runs after every operation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shadowmmu/shadowmmu.h>

#include "support/check.h"
#include "support/vmops.h"

#define NPAGES 8

/* A VM with paging off (gva = gpa) and one slot of NPAGES pages at gpa 0. */
static struct smmu_vm *new_vm(void)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *vm = NULL;

	smmu_vm_config_default(&cfg);
	cfg.audit = true;
	cfg.arena_bytes = 64ull << 20;
	if (smmu_vm_create(&cfg, &vm) || smmu_vm_add_slot(vm, 0, 0, NPAGES * 4096, 0))
		return NULL;
	return vm;
}

static void test_enabling_dirty_logging_write_protects_and_zaps_nothing(void)
{
	struct smmu_vm *vm = new_vm();
	struct smmu_stats before, after;
	uint64_t log[1] = {0};

	CHECK(vm);
	for (unsigned i = 0; i < NPAGES; i++)
		CHECK_EQ(vm_w8(vm, i * 4096, 100 + i), SMMU_OK);
	before = vm_stats(vm);
	CHECK_EQ(smmu_vm_set_slot_flags(vm, 0, SMMU_SLOT_LOG_DIRTY), 0);
	after = vm_stats(vm);
	CHECK_EQ(after.mmu_shadow_zapped, before.mmu_shadow_zapped);
	CHECK_EQ(after.shadow_pages, before.shadow_pages);
	CHECK_EQ(after.zap_all, before.zap_all);
	/* Reads go through the old, now read-only sptes; only writes are logged. */
	CHECK_EQ(vm_r8(vm, 2 * 4096), 102);
	CHECK_EQ(vm_w8(vm, 5 * 4096, 555), SMMU_OK);
	CHECK_EQ(vm_w8(vm, 7 * 4096 + 8, 777), SMMU_OK);
	CHECK_EQ(smmu_vm_get_dirty_log(vm, 0, log, 1), 0);
	CHECK_EQ(log[0], (1ull << 5) | (1ull << 7));
	CHECK_EQ(vm_stats(vm).pf_fixed, after.pf_fixed + 2); /* each logged write faulted */
	/* Fetching the log re-protects: a second write to page 5 is logged again. */
	CHECK_EQ(vm_w8(vm, 5 * 4096, 556), SMMU_OK);
	CHECK_EQ(smmu_vm_get_dirty_log(vm, 0, log, 1), 0);
	CHECK_EQ(log[0], 1ull << 5);
	CHECK_EQ(vm_r8(vm, 5 * 4096), 556);
	CHECK_EQ(vm_r8(vm, 7 * 4096 + 8), 777);
	CHECK_EQ(vm_r8(vm, 0), 100);
	smmu_vm_destroy(vm);
}

static void test_disabling_dirty_logging_zaps_nothing(void)
{
	struct smmu_vm *vm = new_vm();
	uint64_t zapped, log[1];

	CHECK(vm);
	CHECK_EQ(smmu_vm_set_slot_flags(vm, 0, SMMU_SLOT_LOG_DIRTY), 0);
	CHECK_EQ(vm_w8(vm, 3 * 4096, 33), SMMU_OK);
	zapped = vm_stats(vm).mmu_shadow_zapped;
	CHECK_EQ(smmu_vm_set_slot_flags(vm, 0, 0), 0);
	CHECK_EQ(vm_stats(vm).mmu_shadow_zapped, zapped);
	CHECK_EQ(smmu_vm_get_dirty_log(vm, 0, log, 1), -ENOENT);
	CHECK_EQ(vm_w8(vm, 3 * 4096, 34), SMMU_OK);
	CHECK_EQ(vm_r8(vm, 3 * 4096), 34);
	smmu_vm_destroy(vm);
}

/* As KVM, a slot's read-only flag cannot change (-EINVAL), and the refusal changes nothing. */
static void test_read_only_toggle_is_refused(void)
{
	struct smmu_vm *vm = new_vm();
	struct smmu_stats before;

	CHECK(vm);
	CHECK_EQ(vm_w8(vm, 4096, 11), SMMU_OK);
	before = vm_stats(vm);
	CHECK_EQ(smmu_vm_set_slot_flags(vm, 0, SMMU_SLOT_READONLY), -EINVAL);
	CHECK_EQ(vm_stats(vm).zap_all, before.zap_all);
	CHECK_EQ(vm_stats(vm).shadow_pages, before.shadow_pages);
	CHECK_EQ(vm_w8(vm, 4096, 12), SMMU_OK);
	CHECK_EQ(vm_r8(vm, 4096), 12);
	smmu_vm_destroy(vm);
}

/* Delete and move: every shadow page goes, and the guest sees the slot where it now is. */
static void test_delete_and_move_zap_everything(void)
{
	static const struct {
		const char *what;
		bool move;
	} cases[] = {{"delete", false}, {"move", true}};

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct smmu_vm *vm = new_vm();
		int r;

		CHECK(vm);
		CHECK_EQ(vm_w8(vm, 4096, 42), SMMU_OK);
		CHECK(vm_stats(vm).shadow_pages > 0);
		r = cases[c].move ? smmu_vm_move_slot(vm, 0, 1ull << 20) : smmu_vm_delete_slot(vm, 0);
		CHECK_EQ(r, 0);
		CHECK_EQ(vm_stats(vm).shadow_pages, 0);
		CHECK_EQ(vm_r8(vm, 4096), ~0ull); /* now MMIO: no slot at gpa 4096 */
		if (cases[c].move)
			CHECK_EQ(vm_r8(vm, (1ull << 20) + 4096), 42);
		smmu_vm_destroy(vm);
	}
}

/* A TDP VM keeps no rmap heads (KVM allocates them only for shadow roots): its slots cost far less. */
static void test_tdp_slots_carry_no_rmaps(void)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *shadow = new_vm(), *tdp = NULL;
	struct smmu_stats s1, s2;

	smmu_vm_config_default(&cfg);
	cfg.mmu = SMMU_MMU_TDP;
	cfg.audit = true;
	cfg.arena_bytes = 64ull << 20;
	REQUIRE(shadow);
	REQUIRE(smmu_vm_create(&cfg, &tdp) == 0 && smmu_vm_add_slot(tdp, 0, 0, NPAGES * 4096, 0) == 0);
	smmu_vm_get_stats(shadow, &s1);
	smmu_vm_get_stats(tdp, &s2);
	/* 8 bytes of rmap head per 4 KiB page in shadow mode; none in TDP mode. */
	CHECK(s1.bytes_memslot_meta >= 8 * NPAGES);
	CHECK(s2.bytes_memslot_meta < 8 * NPAGES / 2);
	/* ... and it runs: writes, logging, reads. */
	CHECK_EQ(vm_w8(tdp, 0x1000, 5), SMMU_OK);
	CHECK_EQ(smmu_vm_set_slot_flags(tdp, 0, SMMU_SLOT_LOG_DIRTY), 0);
	CHECK_EQ(vm_w8(tdp, 0x2000, 6), SMMU_OK);
	CHECK_EQ(vm_r8(tdp, 0x1000) + vm_r8(tdp, 0x2000), 11);
	smmu_vm_destroy(shadow);
	smmu_vm_destroy(tdp);
}

int main(void)
{
	RUN(test_enabling_dirty_logging_write_protects_and_zaps_nothing);
	RUN(test_disabling_dirty_logging_zaps_nothing);
	RUN(test_read_only_toggle_is_refused);
	RUN(test_delete_and_move_zap_everything);
	RUN(test_tdp_slots_carry_no_rmaps);
	return check_finish();
}
