/*
 * test_vcpu_cpu.c - the software vCPU core (src/x86/vcpu_cpu.c) against a
 * fake MMU.
 *
 * The fake maps gva page N to guest frame N (gfn < FAKE_GFNS, each backed
 * by an arena frame) and treats higher gfns as MMIO, installing sptes on
 * demand the way the shadow MMU will: load a root on NO_ROOT, an spte on
 * NOT_PRESENT, an MMIO spte for unbacked gfns.  Its `mode` makes it
 * misbehave (never fix, inject, emulate) to check the vCPU's side of the
 * contract: bounded retries, #PF delivery, MMIO results.
 */
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"
#include "support/check.h"
#include "mmu/spte.h"
#include "cpu/vcpu_cpu.h"

#define FAKE_GFNS 64
#define ACC_ALL   (SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X)

enum fake_mode {
	FAKE_FIX,       /* install sptes; protection exits become guest #PFs */
	FAKE_NEVER_FIX, /* answer RETRY without changing anything */
	FAKE_INJECT,    /* inject #PF with inject_ec */
	FAKE_EMULATE,   /* perform the access itself */
	FAKE_FAIL,      /* give up */
};

struct fake_mmu {
	struct arena *arena;
	struct vcpu_cpu v;
	enum fake_mode mode;
	hpa_t frames[FAKE_GFNS];
	unsigned leaf_acc;   /* rights of installed leaves */
	unsigned leaf_pkey;  /* protection key of installed leaves */
	unsigned leaf_flags; /* SPTE_MK_* of installed leaves */
	hpa_t huge;          /* when not 0: map every gva with a 2 MiB leaf to this run */
	uint32_t inject_ec;
	uint64_t emulated_value, emulated_write;
	unsigned faults, cr_changes, invlpgs, flushes;
	struct vcpu_exit last_exit;
	enum vcpu_reg last_reg;
	enum smmu_tlb_flush last_flush;
	gva_t last_invlpg;
	struct vcpu_outcome out; /* the tests' last access */
};

static hpa_t fake_alloc(struct fake_mmu *f, enum arena_use use)
{
	hpa_t hpa = INVALID_HPA;

	if (arena_alloc(f->arena, 0, use, &hpa))
		abort();
	return hpa;
}

/* The spte for gva at `target`, creating shadow tables on the way. */
static uint64_t *fake_sptep_at(struct fake_mmu *f, gva_t gva, unsigned target)
{
	hpa_t table = f->v.walk.root;

	for (unsigned level = 4; level > target; level--) {
		uint64_t *p = arena_hpa_to_ptr(f->arena, table, PAGE_SIZE);

		p += spte_index(gva, level);
		if (!*p)
			*p = spte_make_nonleaf(fake_alloc(f, ARENA_USE_SHADOW));
		table = spte_to_hpa(*p);
	}
	return (uint64_t *)arena_hpa_to_ptr(f->arena, table, PAGE_SIZE) + spte_index(gva, target);
}

static uint64_t *fake_sptep(struct fake_mmu *f, gva_t gva)
{
	return fake_sptep_at(f, gva, 1);
}

static enum vcpu_pf_action fake_fix(struct fake_mmu *f, gva_t gva, const struct vcpu_exit *e,
                                    struct vcpu_pf_reply *reply)
{
	gfn_t gfn = gva >> PAGE_SHIFT;

	switch (e->reason) {
	case HWWALK_NO_ROOT:
		vcpu_cpu_set_root(&f->v, fake_alloc(f, ARENA_USE_SHADOW), 4);
		return VCPU_PF_RETRY;
	case HWWALK_NOT_PRESENT:
		if (f->huge) {
			*fake_sptep_at(f, gva, 2) = spte_make_leaf(f->huge, 2, f->leaf_acc, 0, 0);
			return VCPU_PF_RETRY;
		}
		if (gfn >= FAKE_GFNS) {
			*fake_sptep(f, gva) = spte_make_mmio(gfn, ACC_ALL, 0);
			return VCPU_PF_MMIO;
		}
		*fake_sptep(f, gva) =
		    spte_make_leaf(f->frames[gfn], 1, f->leaf_acc, f->leaf_pkey, f->leaf_flags);
		return VCPU_PF_RETRY;
	case HWWALK_RESERVED:
		return is_mmio_spte(e->spte) ? VCPU_PF_MMIO : VCPU_PF_FAIL;
	default: /* a protection exit: the guest's own rights forbid it */
		reply->error_code = e->error_code;
		return VCPU_PF_INJECT;
	}
}

static enum vcpu_pf_action fake_page_fault(void *ctx, gva_t gva, enum smmu_access_type access,
                                           const struct vcpu_exit *e, struct vcpu_pf_reply *reply)
{
	struct fake_mmu *f = ctx;

	f->faults++;
	f->last_exit = *e;
	switch (f->mode) {
	case FAKE_NEVER_FIX:
		return VCPU_PF_RETRY;
	case FAKE_INJECT:
		reply->error_code = f->inject_ec;
		return VCPU_PF_INJECT;
	case FAKE_FAIL:
		return VCPU_PF_FAIL;
	case FAKE_EMULATE:
		if (access == SMMU_ACCESS_WRITE)
			f->emulated_write = e->value;
		reply->value = f->emulated_value;
		return VCPU_PF_EMULATED;
	default:
		return fake_fix(f, gva, e, reply);
	}
}

static void fake_cr_changed(void *ctx, enum vcpu_reg which, uint64_t old_val, uint64_t new_val)
{
	struct fake_mmu *f = ctx;

	f->cr_changes++;
	f->last_reg = which;
}

static void fake_invlpg(void *ctx, gva_t gva)
{
	struct fake_mmu *f = ctx;

	f->invlpgs++;
	f->last_invlpg = gva;
}

static void fake_tlb_flush(void *ctx, enum smmu_tlb_flush kind)
{
	struct fake_mmu *f = ctx;

	f->flushes++;
	f->last_flush = kind;
}

static const struct vcpu_mmu_ops fake_ops = {
    .page_fault = fake_page_fault,
    .cr_changed = fake_cr_changed,
    .invlpg = fake_invlpg,
    .tlb_flush = fake_tlb_flush,
};

static struct fake_mmu *fake_new(void)
{
	struct fake_mmu *f = calloc(1, sizeof(*f));
	struct smmu_cpu_model model;
	struct vcpu_cpu_config cfg = {
	    .model = &model, .mmu_ops = &fake_ops, .mmu_ctx = f, .shortcuts = SMMU_SHORTCUTS_ALL};

	smmu_cpu_model_default(&model);
	f->arena = arena_create(16ull << 20);
	cfg.arena = f->arena;
	f->leaf_acc = ACC_ALL;
	for (unsigned gfn = 0; gfn < FAKE_GFNS; gfn++)
		f->frames[gfn] = fake_alloc(f, ARENA_USE_GUEST);
	if (vcpu_cpu_init(&f->v, &cfg))
		abort();
	return f;
}

static void fake_free(struct fake_mmu *f)
{
	vcpu_cpu_destroy(&f->v);
	arena_destroy(f->arena);
	free(f);
}

static uint8_t *guest_frame(struct fake_mmu *f, gfn_t gfn)
{
	return arena_hpa_to_ptr(f->arena, f->frames[gfn], PAGE_SIZE);
}

/* Long mode, 4-level paging, CR4 extras `cr4`. */
static void enter_long_mode(struct fake_mmu *f, uint64_t cr4)
{
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR4, X86_CR4_PAE | cr4) == VCPU_OK);
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_EFER, X86_EFER_LME) == VCPU_OK);
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR0, 0x80000011) == VCPU_OK);
	REQUIRE(f->v.long_mode);
}

/*
 * A test is `static void test_...(struct fake_mmu *f)` on a fresh vCPU and
 * fake MMU (fake_new()); the runner frees them after.
 */
static void (*fake_test)(struct fake_mmu *f);

static void run_fake_test(void)
{
	struct fake_mmu *f = fake_new();

	fake_test(f);
	fake_free(f);
}

#define RUN_FAKE(fn) (fake_test = (fn), check_run(#fn, run_fake_test))

/* ---- set-up -------------------------------------------------------------- */

static void test_init_rejects_a_missing_page_fault_op(void)
{
	struct vcpu_mmu_ops no_pf = {0};
	struct smmu_cpu_model model;
	struct arena a = {0};
	struct vcpu_cpu v;
	struct vcpu_cpu_config cfg = {.arena = &a, .model = &model, .mmu_ops = &no_pf};

	smmu_cpu_model_default(&model);
	CHECK(vcpu_cpu_init(&v, &cfg) < 0);
	cfg.mmu_ops = &fake_ops;
	cfg.tlb_sets = 3;
	CHECK(vcpu_cpu_init(&v, &cfg) < 0);
}

static void test_set_root_rejects_bad_level_and_unaligned_root(struct fake_mmu *f)
{
	CHECK(vcpu_cpu_set_root(&f->v, 0x1000, 3) < 0);
	CHECK(vcpu_cpu_set_root(&f->v, 0x1008, 4) < 0);
	CHECK_EQ(vcpu_cpu_set_root(&f->v, 0x1000, 5), 0);
}

/* ---- the access path ------------------------------------------------------ */

static void test_first_read_faults_in_root_and_spte_then_hits_the_tlb(struct fake_mmu *f)
{
	guest_frame(f, 3)[0x10] = 0xab;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x3010, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0xab);
	CHECK_EQ(f->faults, 2); /* no root, then not present */
	CHECK_EQ(f->v.stats.exits[HWWALK_NO_ROOT], 1);
	CHECK_EQ(f->v.stats.exits[HWWALK_NOT_PRESENT], 1);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x3010, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->faults, 2);
	CHECK_EQ(f->v.stats.tlb_hits, 1);
	CHECK_EQ(f->v.stats.tlb_misses, 1);
	CHECK_EQ(f->v.stats.results[VCPU_OK], 2);
}

static void test_write_then_reads_are_little_endian(struct fake_mmu *f)
{
	REQUIRE(vcpu_cpu_write(&f->v, 0x1ff8, 8, 0x1122334455667788, &f->out) == VCPU_OK);
	CHECK_EQ(guest_frame(f, 1)[0xff8], 0x88);
	CHECK_EQ(guest_frame(f, 1)[0xfff], 0x11);
	vcpu_cpu_read(&f->v, 0x1ff8, 1, &f->out);
	CHECK_EQ(f->out.value, 0x88);
	vcpu_cpu_read(&f->v, 0x1ffa, 2, &f->out);
	CHECK_EQ(f->out.value, 0x5566);
	vcpu_cpu_read(&f->v, 0x1ffc, 4, &f->out);
	CHECK_EQ(f->out.value, 0x11223344);
	vcpu_cpu_write(&f->v, 0x1ff9, 2, 0xbeef, &f->out);
	vcpu_cpu_read(&f->v, 0x1ff8, 8, &f->out);
	CHECK_EQ(f->out.value, 0x1122334455beef88);
}

static void test_access_crossing_a_page_or_of_bad_size_is_rejected(struct fake_mmu *f)
{
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1ffc, 8, &f->out), VCPU_INVALID);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x1fff, 2, 0, &f->out), VCPU_INVALID);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 3, &f->out), VCPU_INVALID);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 0, &f->out), VCPU_INVALID);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 16, &f->out), VCPU_INVALID);
	CHECK_EQ(f->faults, 0);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1ff8, 8, &f->out), VCPU_OK);
}

static void test_gva_wider_than_32_bits_outside_long_mode_is_invalid(struct fake_mmu *f)
{
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x100000000ull, 1, &f->out), VCPU_INVALID);
	CHECK_EQ(f->faults, 0);
}

static void test_mmu_that_never_fixes_the_fault_gives_bounded_emulation_failure(struct fake_mmu *f)
{
	f->mode = FAKE_NEVER_FIX;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->faults, VCPU_MAX_FAULT_RETRIES);
	CHECK_EQ(f->last_exit.retry, VCPU_MAX_FAULT_RETRIES - 1);
	CHECK_EQ(f->v.stats.retries_exhausted, 1);
	CHECK_EQ(f->v.stats.results[VCPU_EMUL_FAIL], 1);
}

static void test_injected_page_fault_reports_error_code_and_cr2(struct fake_mmu *f)
{
	f->mode = FAKE_INJECT;
	f->inject_ec = X86_PFEC_W | X86_PFEC_U;
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x2345, 4, 0x77, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, X86_PFEC_W | X86_PFEC_U);
	CHECK_EQ(f->out.cr2, 0x2345);
	CHECK_EQ(f->v.cr2, 0x2345);
	CHECK_EQ(f->last_exit.value, 0x77);
	CHECK_EQ(f->last_exit.size, 4);
}

static void test_mmio_read_is_all_ones_and_write_is_discarded(struct fake_mmu *f)
{
	gva_t mmio = (gva_t)FAKE_GFNS << PAGE_SHIFT;

	CHECK_EQ(vcpu_cpu_read(&f->v, mmio + 4, 2, &f->out), VCPU_MMIO);
	CHECK_EQ(f->out.value, 0xffff);
	/* The second access finds the MMIO spte: a reserved-bit exit. */
	CHECK_EQ(vcpu_cpu_write(&f->v, mmio, 8, 5, &f->out), VCPU_MMIO);
	CHECK_EQ(f->last_exit.reason, HWWALK_RESERVED);
	CHECK(is_mmio_spte(f->last_exit.spte));
	CHECK_EQ(f->v.stats.mmio_reads, 1);
	CHECK_EQ(f->v.stats.mmio_writes, 1);
	CHECK_EQ(f->v.stats.exits[HWWALK_RESERVED], 1);
	CHECK_EQ(vcpu_cpu_read(&f->v, mmio, 8, &f->out), VCPU_MMIO);
	CHECK_EQ(f->out.value, ~0ull);
}

static void test_emulated_access_uses_the_mmu_value_and_skips_memory(struct fake_mmu *f)
{
	f->mode = FAKE_EMULATE;
	f->emulated_value = 0x42;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x42);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x1000, 4, 0xdead, &f->out), VCPU_OK);
	CHECK_EQ(f->emulated_write, 0xdead);
	CHECK_EQ(guest_frame(f, 1)[0], 0);
	CHECK_EQ(f->v.stats.emulated, 2);
}

static void test_write_through_clean_tlb_entry_rewalks_and_sets_dirty(struct fake_mmu *f)
{
	uint64_t walks;

	vcpu_cpu_read(&f->v, 0x5000, 8, &f->out);
	CHECK(!(*fake_sptep(f, 0x5000) & SPTE_D));
	walks = f->v.stats.walks;
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x5000, 8, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, walks + 1);
	CHECK(*fake_sptep(f, 0x5000) & SPTE_D);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x5008, 8, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, walks + 1); /* now a dirty entry: a hit */
}

static void test_fetch_reads_one_byte_and_faults_on_nx_page(struct fake_mmu *f)
{
	guest_frame(f, 2)[7] = 0x90;
	CHECK_EQ(vcpu_cpu_fetch(&f->v, 0x2007, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x90);
	f->leaf_acc = SMMU_ACC_W | SMMU_ACC_U;
	CHECK_EQ(vcpu_cpu_fetch(&f->v, 0x3000, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, X86_PFEC_P | X86_PFEC_I);
	CHECK_EQ(f->last_exit.reason, HWWALK_NX);
}

/* ---- rights re-checked on TLB hits ------------------------------------------ */

static void test_cpl_change_is_checked_on_a_tlb_hit(struct fake_mmu *f)
{
	f->leaf_acc = SMMU_ACC_W | SMMU_ACC_X; /* supervisor page */
	REQUIRE(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out) == VCPU_OK);
	CHECK_EQ(vcpu_cpu_set_cpl(&f->v, 3), 0);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, X86_PFEC_P | X86_PFEC_U);
	CHECK_EQ(f->last_exit.reason, HWWALK_USER_SUPERVISOR);
	CHECK(vcpu_cpu_set_cpl(&f->v, 1) < 0);
}

static void test_smap_and_ac_are_checked_on_a_tlb_hit(struct fake_mmu *f)
{
	enter_long_mode(f, X86_CR4_SMAP);
	REQUIRE(vcpu_cpu_set_cpl(&f->v, 3) == 0);
	REQUIRE(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out) == VCPU_OK); /* user page in the TLB */
	vcpu_cpu_set_cpl(&f->v, 0);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, X86_PFEC_P);
	CHECK_EQ(f->last_exit.reason, HWWALK_SMAP);
	vcpu_cpu_set_ac(&f->v, true);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_OK);
}

static void test_smap_does_not_apply_with_guest_paging_off(struct fake_mmu *f)
{
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR4, X86_CR4_SMAP | X86_CR4_SMEP) == VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_OK);
	CHECK_EQ(vcpu_cpu_fetch(&f->v, 0x1000, &f->out), VCPU_OK);
}

static void test_pkru_write_applies_to_a_tlb_hit_without_flush(struct fake_mmu *f)
{
	enter_long_mode(f, X86_CR4_PKE);
	f->leaf_pkey = 6;
	REQUIRE(vcpu_cpu_write(&f->v, 0x1000, 4, 1, &f->out) == VCPU_OK);
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_PKRU, 2u << (2 * 6)) == VCPU_OK); /* WD6 */
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_OK);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x1000, 4, 2, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_PK);
	CHECK_EQ(guest_frame(f, 1)[0], 1); /* a faulting write changes no memory */
	CHECK_EQ(f->last_reg, VCPU_REG_PKRU);
}

static void test_wrpkru_without_pke_is_ud(struct fake_mmu *f)
{
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_PKRU, 0), VCPU_UD);
	CHECK_EQ(f->cr_changes, 0);
}

static void test_non_canonical_gva_in_long_mode_is_gp_without_exit(struct fake_mmu *f)
{
	unsigned faults;

	enter_long_mode(f, 0);
	faults = f->faults;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x0000800000000000ull, 8, &f->out), VCPU_GP);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0xffff7fffffffff00ull, 1, 0, &f->out), VCPU_GP);
	CHECK_EQ(f->faults, faults);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 8, &f->out), VCPU_OK);
}

/* ---- control registers, INVLPG, flushes ------------------------------------ */

static void test_cr3_write_flushes_nonglobal_entries_and_notifies_mmu(struct fake_mmu *f)
{
	uint64_t walks;

	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	walks = f->v.stats.walks;
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, 0x8000), VCPU_OK);
	CHECK_EQ(f->last_reg, VCPU_REG_CR3);
	CHECK_EQ(f->last_flush, SMMU_FLUSH_PCID_NONGLOBAL);
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks + 1);
}

static void test_global_entry_survives_cr3_write_but_not_flush(struct fake_mmu *f)
{
	uint64_t walks;

	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR4, X86_CR4_PGE) == VCPU_OK);
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR0, 0x80000011) == VCPU_OK); /* 32-bit paging */
	f->leaf_flags = SPTE_MK_GLOBAL;
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	walks = f->v.stats.walks;
	vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, 0x8000);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 8, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, walks);
	vcpu_cpu_flush(&f->v);
	CHECK_EQ(f->last_flush, SMMU_FLUSH_ALL);
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks + 1);
}

static void test_g_spte_without_cr4_pge_fills_a_nonglobal_entry(struct fake_mmu *f)
{
	uint64_t walks;

	f->leaf_flags = SPTE_MK_GLOBAL;
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	walks = f->v.stats.walks;
	vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, 0);
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks + 1);
}

static void test_invlpg_is_gp_at_cpl3_and_drops_the_entry_at_cpl0(struct fake_mmu *f)
{
	uint64_t walks;

	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	vcpu_cpu_set_cpl(&f->v, 3);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, 0x1000), VCPU_GP);
	CHECK_EQ(f->invlpgs, 0);
	vcpu_cpu_set_cpl(&f->v, 0);
	walks = f->v.stats.walks;
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, 0x1234), VCPU_OK);
	CHECK_EQ(f->invlpgs, 1);
	CHECK_EQ(f->last_invlpg, 0x1234);
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks + 1);
}

static void test_invlpg_of_non_canonical_address_is_a_noop(struct fake_mmu *f)
{
	enter_long_mode(f, 0);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, 0x0000800000000000ull), VCPU_OK);
	CHECK_EQ(f->invlpgs, 0);
}

static void test_requested_flush_is_applied_before_the_next_access(struct fake_mmu *f)
{
	uint64_t walks;

	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	walks = f->v.stats.walks;
	vcpu_cpu_request_tlb_flush(&f->v);
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks + 1);
	CHECK_EQ(f->v.requests, 0);
}

static void test_zapped_spte_is_seen_after_mmu_flushes_the_tlb(struct fake_mmu *f)
{
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	*fake_sptep(f, 0x1000) = 0;                /* the MMU zaps the spte ... */
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL); /* ... and flushes */
	f->mode = FAKE_INJECT;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 8, &f->out), VCPU_PF);
	CHECK_EQ(f->last_exit.reason, HWWALK_NOT_PRESENT);
}

static void test_spte_aimed_outside_the_arena_is_an_exit_not_a_wild_read(struct fake_mmu *f)
{
	vcpu_cpu_read(&f->v, 0x1000, 8, &f->out);
	*fake_sptep(f, 0x1000) = spte_make_leaf(f->arena->size, 1, ACC_ALL, 0, 0);
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL);
	f->mode = FAKE_NEVER_FIX;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 8, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->last_exit.reason, HWWALK_BAD_HPA);
}

static void test_mmu_failure_is_an_emulation_failure_after_one_exit(struct fake_mmu *f)
{
	f->mode = FAKE_FAIL;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->faults, 1);
	CHECK_EQ(f->v.stats.retries_exhausted, 0);
}

static void test_2m_leaf_is_cached_per_4k_page_and_invlpg_drops_all_of_it(struct fake_mmu *f)
{
	uint64_t walks;

	REQUIRE(arena_alloc(f->arena, ARENA_ORDER_2M, ARENA_USE_GUEST, &f->huge) == 0);
	((uint8_t *)arena_hpa_to_ptr(f->arena, f->huge, 0x200000))[0x1ff008] = 0x5a;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x201000, 8, &f->out), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x3ff008, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x5a);
	walks = f->v.stats.walks;
	CHECK_EQ(f->v.tlb.nr_large, 2);
	vcpu_cpu_read(&f->v, 0x201000, 8, &f->out);
	vcpu_cpu_read(&f->v, 0x3ff000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks); /* both pages hit */
	vcpu_cpu_invlpg(&f->v, 0x280000);  /* another address in the same 2 MiB page */
	CHECK_EQ(f->v.tlb.nr_large, 0);
	vcpu_cpu_read(&f->v, 0x201000, 8, &f->out);
	CHECK_EQ(f->v.stats.walks, walks + 1);
}

int main(void)
{
	RUN(test_init_rejects_a_missing_page_fault_op);
	RUN_FAKE(test_set_root_rejects_bad_level_and_unaligned_root);
	RUN_FAKE(test_first_read_faults_in_root_and_spte_then_hits_the_tlb);
	RUN_FAKE(test_write_then_reads_are_little_endian);
	RUN_FAKE(test_access_crossing_a_page_or_of_bad_size_is_rejected);
	RUN_FAKE(test_gva_wider_than_32_bits_outside_long_mode_is_invalid);
	RUN_FAKE(test_mmu_that_never_fixes_the_fault_gives_bounded_emulation_failure);
	RUN_FAKE(test_injected_page_fault_reports_error_code_and_cr2);
	RUN_FAKE(test_mmio_read_is_all_ones_and_write_is_discarded);
	RUN_FAKE(test_emulated_access_uses_the_mmu_value_and_skips_memory);
	RUN_FAKE(test_write_through_clean_tlb_entry_rewalks_and_sets_dirty);
	RUN_FAKE(test_fetch_reads_one_byte_and_faults_on_nx_page);
	RUN_FAKE(test_cpl_change_is_checked_on_a_tlb_hit);
	RUN_FAKE(test_smap_and_ac_are_checked_on_a_tlb_hit);
	RUN_FAKE(test_smap_does_not_apply_with_guest_paging_off);
	RUN_FAKE(test_pkru_write_applies_to_a_tlb_hit_without_flush);
	RUN_FAKE(test_wrpkru_without_pke_is_ud);
	RUN_FAKE(test_non_canonical_gva_in_long_mode_is_gp_without_exit);
	RUN_FAKE(test_cr3_write_flushes_nonglobal_entries_and_notifies_mmu);
	RUN_FAKE(test_global_entry_survives_cr3_write_but_not_flush);
	RUN_FAKE(test_g_spte_without_cr4_pge_fills_a_nonglobal_entry);
	RUN_FAKE(test_invlpg_is_gp_at_cpl3_and_drops_the_entry_at_cpl0);
	RUN_FAKE(test_invlpg_of_non_canonical_address_is_a_noop);
	RUN_FAKE(test_requested_flush_is_applied_before_the_next_access);
	RUN_FAKE(test_zapped_spte_is_seen_after_mmu_flushes_the_tlb);
	RUN_FAKE(test_spte_aimed_outside_the_arena_is_an_exit_not_a_wild_read);
	RUN_FAKE(test_mmu_failure_is_an_emulation_failure_after_one_exit);
	RUN_FAKE(test_2m_leaf_is_cached_per_4k_page_and_invlpg_drops_all_of_it);
	return check_finish();
}
