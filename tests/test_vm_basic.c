/*
 * test_vm_basic.c - the public API end to end on small hand-built guests:
 * the trace-format.md example, paging off, MMIO, read-only slots, slot
 * errors, the shortcut switches; the MMU audit runs after every operation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shadowmmu/shadowmmu.h>

#include "support/check.h"

static struct smmu_vm *new_vm(void)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *vm = NULL;

	smmu_vm_config_default(&cfg);
	cfg.audit = true;
	cfg.arena_bytes = 256ull << 20;
	if (smmu_vm_create(&cfg, &vm))
		return NULL;
	return vm;
}

/*
 * A test is `static void test_...(struct smmu_vm *vm)` on a fresh VM from
 * new_vm() (no memslots yet); the runner destroys it after.
 */
static void (*vm_test)(struct smmu_vm *vm);

static void run_vm_test(void)
{
	struct smmu_vm *vm = new_vm();

	REQUIRE(vm);
	vm_test(vm);
	smmu_vm_destroy(vm);
}

#define RUN_VM(fn) (vm_test = (fn), check_run(#fn, run_vm_test))

static struct smmu_outcome w8(struct smmu_vm *vm, uint64_t gva, uint64_t val)
{
	struct smmu_outcome o;

	smmu_vcpu_write(vm, 0, gva, 8, val, &o);
	return o;
}

static struct smmu_outcome r8(struct smmu_vm *vm, uint64_t gva)
{
	struct smmu_outcome o;

	smmu_vcpu_read(vm, 0, gva, 8, &o);
	return o;
}

static struct smmu_outcome reg(struct smmu_vm *vm, enum smmu_reg r, uint64_t val)
{
	struct smmu_outcome o;

	smmu_vcpu_write_reg(vm, 0, r, val, &o);
	return o;
}

/* trace-format.md's example, record by record. */
static void test_trace_format_example_runs_as_specified(struct smmu_vm *vm)
{
	struct smmu_outcome o;

	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 16 << 20, 0), 0);
	CHECK_EQ(w8(vm, 0x1000, 0x2003).result, SMMU_OK);
	CHECK_EQ(w8(vm, 0x2000, 0x3003).result, SMMU_OK);
	CHECK_EQ(w8(vm, 0x3000, 0x4003).result, SMMU_OK);
	CHECK_EQ(w8(vm, 0x4000, 0x100003).result, SMMU_OK);
	CHECK_EQ(w8(vm, 0x4020, 0x4003).result, SMMU_OK);
	CHECK_EQ(reg(vm, SMMU_REG_CR4, 0x20).result, SMMU_OK);
	CHECK_EQ(reg(vm, SMMU_REG_EFER, 0x100).result, SMMU_OK);
	CHECK_EQ(reg(vm, SMMU_REG_CR3, 0x1000).result, SMMU_OK);
	CHECK_EQ(reg(vm, SMMU_REG_CR0, 0x80000011).result, SMMU_OK);
	CHECK_EQ(w8(vm, 0x10, 0x1122334455667788ull).result, SMMU_OK);
	o = r8(vm, 0x10);
	CHECK_EQ(o.result, SMMU_OK);
	CHECK_EQ(o.value, 0x1122334455667788ull);
	smmu_vcpu_set_cpl(vm, 0, 3);
	o = r8(vm, 0x10);
	CHECK_EQ(o.result, SMMU_PF);
	CHECK_EQ(o.error_code, 0x5);
	smmu_vcpu_set_cpl(vm, 0, 0);
	CHECK_EQ(w8(vm, 0x4000, 0).result, SMMU_OK);
	smmu_vcpu_invlpg(vm, 0, 0, &o);
	CHECK_EQ(o.result, SMMU_OK);
	o = r8(vm, 0);
	CHECK_EQ(o.result, SMMU_PF);
	CHECK_EQ(o.error_code, 0x0);
}

/*
 * trace-format.md's example guest: PML4 at 0x1000 -> PDPT 0x2000 -> PD
 * 0x3000 -> PT 0x4000, whose entry 0 maps gva 0 to gpa 0x100000.  The
 * caller may add PT entries before enable_long_mode().
 */
static void map_example_tables(struct smmu_vm *vm)
{
	w8(vm, 0x1000, 0x2003);
	w8(vm, 0x2000, 0x3003);
	w8(vm, 0x3000, 0x4003);
	w8(vm, 0x4000, 0x100003);
}

/* CR4.PAE, EFER.LME, CR3 = the example's PML4, then CR0.PG: 4-level paging. */
static void enable_long_mode(struct smmu_vm *vm)
{
	reg(vm, SMMU_REG_CR4, 0x20);
	reg(vm, SMMU_REG_EFER, 0x100);
	reg(vm, SMMU_REG_CR3, 0x1000);
	reg(vm, SMMU_REG_CR0, 0x80000011);
}

/* The DAG of the example's 4-level root: PML4 -> PDPT -> PD -> PT, one edge each. */
static void test_dot_draws_the_root_and_its_chain_of_tables(struct smmu_vm *vm)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 16 << 20, 0), 0);
	map_example_tables(vm);
	enable_long_mode(vm);
	CHECK_EQ(r8(vm, 0x10).result, SMMU_OK);
	f = open_memstream(&text, &len);
	REQUIRE(f);
	CHECK_EQ(smmu_vm_write_dot(vm, f), 0);
	fclose(f);
	REQUIRE(text);
	CHECK(strstr(text, "digraph shadow_pages") != NULL);
	CHECK(strstr(text, "L4 gpt gfn 0x1") != NULL);
	CHECK(strstr(text, "L3 gpt gfn 0x2") != NULL);
	CHECK(strstr(text, "L2 gpt gfn 0x3") != NULL);
	CHECK(strstr(text, "L1 gpt gfn 0x4") != NULL);
	CHECK(strstr(text, "1 leaves") != NULL);
	free(text);
}

static void test_paging_off_reads_back_and_unbacked_gpa_is_mmio(struct smmu_vm *vm)
{
	struct smmu_outcome o;

	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 1 << 20, 0), 0);
	CHECK_EQ(w8(vm, 0x5000, 42).result, SMMU_OK);
	CHECK_EQ(r8(vm, 0x5000).value, 42);
	o = r8(vm, 0x200000);
	CHECK_EQ(o.result, SMMU_MMIO);
	CHECK_EQ(o.value, ~0ull);
	CHECK_EQ(w8(vm, 0x200000, 1).result, SMMU_MMIO);
}

static void test_read_only_slot_discards_writes(struct smmu_vm *vm)
{
	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 1 << 20, SMMU_SLOT_READONLY), 0);
	CHECK_EQ(r8(vm, 0x1000).value, 0);
	CHECK_EQ(w8(vm, 0x1000, 7).result, SMMU_MMIO);
	CHECK_EQ(r8(vm, 0x1000).value, 0);
}

static void test_slot_errors_change_nothing(struct smmu_vm *vm)
{
	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 1 << 20, 0), 0);
	CHECK_EQ(smmu_vm_add_slot(vm, 1, 0x80000, 1 << 20, 0), -EEXIST);
	CHECK_EQ(smmu_vm_add_slot(vm, 1, 0x100001, 4096, 0), -EINVAL);
	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0x200000, 4096, 0), -EEXIST);
	CHECK_EQ(smmu_vm_delete_slot(vm, 5), -EINVAL);
	CHECK_EQ(w8(vm, 0x1000, 9).result, SMMU_OK);
	CHECK_EQ(r8(vm, 0x1000).value, 9);
}

/*
 * smmu_vcpu_prefetch is a hint: whatever it is given, the statistics (TLB
 * hits and misses, walks, faults) and guest memory (the A/D bits of the
 * gptes) stay as they were, and the accesses that follow see what they
 * would have seen without it.
 */
static void test_prefetch_is_invisible(void)
{
	static const uint64_t gvas[] = {0x10,
	                                0x1008,
	                                0x4000,
	                                0x4008,
	                                0x2000,
	                                0x7ffffffff000ull,
	                                0xffff800000000000ull,
	                                0x8000000000000000ull,
	                                ~0ull};
	struct smmu_vm_config cfg;
	struct smmu_vm *vm = NULL;
	struct smmu_stats before, after;
	uint8_t pt_before[4096], pt_after[4096];
	struct smmu_outcome o;

	/* A one-entry TLB, so that the accesses below keep it under pressure and hints act. */
	smmu_vm_config_default(&cfg);
	cfg.audit = true;
	cfg.arena_bytes = 256ull << 20;
	cfg.tlb_sets = 1;
	cfg.tlb_ways = 1;
	REQUIRE(!smmu_vm_create(&cfg, &vm));
	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 16 << 20, 0), 0);
	map_example_tables(vm);
	w8(vm, 0x4008, 0x200003);
	w8(vm, 0x4010, 0x201003);
	w8(vm, 0x4020, 0x4003);
	enable_long_mode(vm);
	for (unsigned i = 0; i < 40; i++) /* pages 0, 1, 2 in turn: every fill evicts */
		CHECK_EQ(r8(vm, (i % 3) * 0x1000 + 0x10).result, SMMU_OK);
	REQUIRE(!smmu_vm_get_stats(vm, &before));
	REQUIRE(!smmu_vm_read_gpa(vm, 0x4000, pt_before, sizeof(pt_before)));
	for (unsigned i = 0; i < sizeof(gvas) / sizeof(gvas[0]); i++) {
		smmu_vcpu_prefetch(vm, 0, gvas[i]);
		smmu_vcpu_prefetch(vm, 1, gvas[i]); /* no such vCPU */
		smmu_vcpu_prefetch(NULL, 0, gvas[i]);
	}
	REQUIRE(!smmu_vm_get_stats(vm, &after));
	REQUIRE(!smmu_vm_read_gpa(vm, 0x4000, pt_after, sizeof(pt_after)));
	CHECK(!memcmp(&before, &after, sizeof(before)));
	CHECK(!memcmp(pt_before, pt_after, sizeof(pt_before)));
	o = r8(vm, 0x4000); /* first use: the guest walk sets A now, not before */
	CHECK_EQ(o.result, SMMU_OK);
	CHECK_EQ(o.value, 0x100023); /* PTE 0, with the A its use for 0x10 set */
	REQUIRE(!smmu_vm_read_gpa(vm, 0x4020, pt_after, 8));
	CHECK_EQ(pt_after[0], 0x23);
	smmu_vm_destroy(vm);
}

/*
 * MMIO sptes: a gpa no memslot backs is answered from the spte the first
 * access left (pf_mmio_spte) while that is what the guest walk would give -
 * but a write through a clean gpte still walks (and sets D), the rights the
 * gpte grants still fault, and a memslot added later makes the spte stale.
 */
static void test_mmio_sptes_answer_repeat_accesses_until_a_slot_appears(struct smmu_vm *vm)
{
	struct smmu_stats st;
	struct smmu_outcome o;
	uint64_t gpte = 0;

	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 16 << 20, 0), 0);
	map_example_tables(vm);
	w8(vm, 0x4008, 0x2000007); /* gva 0x1000 -> gpa 32 MiB: P, RW, US, clean */
	w8(vm, 0x4010, 0x2001001); /* gva 0x2000 -> gpa 32 MiB + 4 KiB: P only */
	enable_long_mode(vm);

	o = r8(vm, 0x1000);
	CHECK_EQ(o.result, SMMU_MMIO);
	CHECK_EQ(o.value, ~0ull);
	REQUIRE(!smmu_vm_get_stats(vm, &st));
	CHECK_EQ(st.pf_mmio, 1);
	CHECK_EQ(st.pf_mmio_spte, 0);
	CHECK_EQ(r8(vm, 0x1000).result, SMMU_MMIO);
	REQUIRE(!smmu_vm_get_stats(vm, &st));
	CHECK_EQ(st.pf_mmio_spte, 1); /* no guest walk the second time */

	/* The gpte is clean: the first write walks and sets D, the next one does not walk. */
	CHECK_EQ(w8(vm, 0x1000, 5).result, SMMU_MMIO);
	REQUIRE(!smmu_vm_read_gpa(vm, 0x4008, &gpte, 8));
	CHECK_EQ(gpte & 0x60, 0x60);
	REQUIRE(!smmu_vm_get_stats(vm, &st));
	CHECK_EQ(st.pf_mmio_spte, 1);
	CHECK_EQ(w8(vm, 0x1000, 6).result, SMMU_MMIO);
	REQUIRE(!smmu_vm_get_stats(vm, &st));
	CHECK_EQ(st.pf_mmio_spte, 2);

	/* A supervisor read-only page: user accesses fault with the guest's error code. */
	CHECK_EQ(r8(vm, 0x2000).result, SMMU_MMIO);
	smmu_vcpu_set_cpl(vm, 0, 3);
	o = r8(vm, 0x2000);
	CHECK_EQ(o.result, SMMU_PF);
	CHECK_EQ(o.error_code, 0x5);
	o = w8(vm, 0x2000, 1);
	CHECK_EQ(o.result, SMMU_PF);
	CHECK_EQ(o.error_code, 0x7);
	smmu_vcpu_set_cpl(vm, 0, 0);

	/* Memory appears behind the gpa: the MMIO spte is stale at once. */
	CHECK_EQ(smmu_vm_add_slot(vm, 1, 0x2000000, 2 << 20, 0), 0);
	o = r8(vm, 0x1000);
	CHECK_EQ(o.result, SMMU_OK);
	CHECK_EQ(o.value, 0);
	CHECK_EQ(w8(vm, 0x1000, 0x1234).result, SMMU_OK);
	CHECK_EQ(r8(vm, 0x1000).value, 0x1234);
}

/* Bits outside SMMU_SHORTCUTS_ALL are refused; the name table has one name per bit. */
static void test_shortcut_bits_and_names(void)
{
	static const uint32_t bad[] = {1u << SMMU_NR_SHORTCUTS, SMMU_SHORTCUTS_ALL + 1, 1u << 31};
	struct smmu_vm_config cfg;
	struct smmu_vm *vm;

	smmu_vm_config_default(&cfg);
	CHECK_EQ(cfg.shortcuts, SMMU_SHORTCUTS_ALL);
	cfg.arena_bytes = 64ull << 20;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vm = NULL;
		cfg.shortcuts = SMMU_SHORTCUTS_ALL | bad[i];
		CHECK_EQ(smmu_vm_create(&cfg, &vm), -EINVAL);
		CHECK(vm == NULL);
		cfg.shortcuts = bad[i];
		CHECK_EQ(smmu_vm_create(&cfg, &vm), -EINVAL);
	}
	cfg.shortcuts = 0;
	REQUIRE(smmu_vm_create(&cfg, &vm) == 0);
	smmu_vm_destroy(vm);
	CHECK_EQ(SMMU_NR_SHORTCUTS, 9);
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_PSC), "psc"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_FAULT_PATH), "fault_path"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_GFN_CACHE), "gfn_cache"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_HPTE_WINDOW), "hpte_window"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_MMIO_SPTE), "mmio_spte"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_LEAF_HANDBACK), "leaf_handback"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_PREFETCH_HINTS), "prefetch_hints"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_NESTED_TLB), "nested_tlb"));
	CHECK(!strcmp(smmu_shortcut_name(SMMU_SHORTCUT_PSC_2D), "psc_2d"));
	CHECK(smmu_shortcut_name(0) == NULL);
	CHECK(smmu_shortcut_name(SMMU_SHORTCUT_PSC | SMMU_SHORTCUT_MMIO_SPTE) == NULL);
	CHECK(smmu_shortcut_name(1u << SMMU_NR_SHORTCUTS) == NULL);
	CHECK(smmu_shortcut_name(1u << 31) == NULL);
}

#define PROBE_STEPS 64

/*
 * A guest that takes each vCPU-visible shortcut: faults on pages of one
 * 2 MiB region (leaf hand-backs, then cached walks for its neighbours),
 * TLB misses after flushes, and repeated reads of a gpa no memslot backs.
 * Fills the outcome of every access and the final statistics.
 */
static void run_probe(uint32_t shortcuts, struct smmu_outcome *o, struct smmu_stats *st)
{
	struct smmu_vm_config cfg;
	struct smmu_vm *vm = NULL;
	unsigned n = 0;

	smmu_vm_config_default(&cfg);
	cfg.audit = true;
	cfg.arena_bytes = 256ull << 20;
	cfg.shortcuts = shortcuts;
	REQUIRE(!smmu_vm_create(&cfg, &vm));
	CHECK_EQ(smmu_vm_add_slot(vm, 0, 0, 16 << 20, 0), 0);
	map_example_tables(vm);
	for (uint64_t i = 1; i < 8; i++) /* gva i * 4 KiB -> gpa 1 MiB + i * 4 KiB */
		w8(vm, 0x4000 + 8 * i, 0x100003 + (i << 12));
	w8(vm, 0x4040, 0x2000003); /* gva 0x8000 -> gpa 32 MiB: no memslot */
	enable_long_mode(vm);
	for (unsigned round = 0; round < 3; round++) {
		for (uint64_t i = 0; i < 8; i++) {
			o[n++] = w8(vm, (i << 12) + 8 * round, i * 0x101 + round);
			o[n++] = r8(vm, (i << 12) + 8 * round);
		}
		o[n++] = r8(vm, 0x8000);
		o[n++] = r8(vm, 0x8008);
		smmu_vcpu_flush(vm, 0);
	}
	while (n < PROBE_STEPS)
		o[n++] = r8(vm, 0x1000);
	REQUIRE(!smmu_vm_get_stats(vm, st));
	smmu_vm_destroy(vm);
}

/*
 * A shortcut switched off is not taken (its counter stays 0) and changes
 * nothing the guest sees; with every shortcut on, each of these fires.
 */
static void test_switched_off_shortcuts_are_not_taken(void)
{
	static const uint32_t masks[] = {
	    SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_PSC,
	    SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_LEAF_HANDBACK,
	    SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_MMIO_SPTE,
	    SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_FAULT_PATH,
	    SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_GFN_CACHE,
	    SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_HPTE_WINDOW,
	    0,
	};
	struct smmu_outcome all_o[PROBE_STEPS], o[PROBE_STEPS];
	struct smmu_stats all, st;

	run_probe(SMMU_SHORTCUTS_ALL, all_o, &all);
	CHECK(all.cached_walks > 0);
	CHECK(all.leaf_handbacks > 0);
	CHECK(all.pf_mmio_spte > 0);
	CHECK_EQ(all_o[1].value, 0);
	CHECK_EQ(all_o[16].value, ~0ull); /* the MMIO read */
	for (unsigned m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		uint32_t on = masks[m];

		run_probe(on, o, &st);
		for (unsigned i = 0; i < PROBE_STEPS; i++) {
			CHECK_MSG(o[i].result == all_o[i].result && o[i].value == all_o[i].value &&
			              o[i].error_code == all_o[i].error_code,
			          "shortcuts %#x: access %u differs", on, i);
		}
		CHECK_EQ(st.pf_mmio, all.pf_mmio);
		CHECK_EQ(st.pf_guest, all.pf_guest);
		CHECK_EQ(st.cached_walks > 0, !!(on & SMMU_SHORTCUT_PSC));
		CHECK_EQ(st.leaf_handbacks > 0, !!(on & SMMU_SHORTCUT_LEAF_HANDBACK));
		CHECK_EQ(st.pf_mmio_spte > 0, !!(on & SMMU_SHORTCUT_MMIO_SPTE));
		/* Without the hand-back every fixed fault is followed by a walk. */
		if (!(on & SMMU_SHORTCUT_LEAF_HANDBACK))
			CHECK(st.hw_walks >= all.hw_walks + all.leaf_handbacks);
	}
}

int main(void)
{
	RUN_VM(test_trace_format_example_runs_as_specified);
	RUN_VM(test_dot_draws_the_root_and_its_chain_of_tables);
	RUN_VM(test_paging_off_reads_back_and_unbacked_gpa_is_mmio);
	RUN_VM(test_read_only_slot_discards_writes);
	RUN_VM(test_slot_errors_change_nothing);
	RUN(test_prefetch_is_invisible);
	RUN_VM(test_mmio_sptes_answer_repeat_accesses_until_a_slot_appears);
	RUN(test_shortcut_bits_and_names);
	RUN(test_switched_off_shortcuts_are_not_taken);
	return check_finish();
}
