/*
 * test_cr.c - control-register, EFER and PKRU writes: each #GP/#UD rule of
 * trace-format.md and SDM Vol. 3A 2.5/4.1, the processor-owned EFER.LMA, PAE
 * PDPTE loading (SDM 4.4.1) and the TLB flush each write reports (SDM
 * 4.10.4.1).  Expected values are written by hand from the rules.
 */
#include <shadowmmu/x86.h>

#include <errno.h>
#include <string.h>

#include "support/check.h"
#include "support/flatmem.h"

#define ARRAY_SIZE_(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a tiny guest memory: 64 KiB at gpa 0 -------------------------------- */
#define MEM_SIZE 0x10000u

static uint8_t mem_buf[MEM_SIZE];

static struct flatmem flat = {.buf = mem_buf, .size = MEM_SIZE, .ro_base = MEM_SIZE};
static const struct smmu_gpa_ops mem = {
    .read = flatmem_read, .cmpxchg = flatmem_cmpxchg, .ctx = &flat};

static void mem_put64(uint64_t gpa, uint64_t val)
{
	memcpy(mem_buf + gpa, &val, 8);
}

static struct smmu_cpu_model model;
static struct smmu_cpu_state st;
static enum smmu_tlb_flush fl;

/* Reset state, default model, empty memory, flush set to a sentinel. */
static void setup(void)
{
	memset(mem_buf, 0, sizeof(mem_buf));
	smmu_cpu_model_default(&model);
	smmu_cpu_state_reset(&st);
	fl = (enum smmu_tlb_flush)99;
}

/* The guest's register writes: on st, with model and mem, the flush into fl. */
static enum smmu_cr_result write_cr0(uint64_t val)
{
	return smmu_x86_write_cr0(&st, &model, &mem, val, &fl);
}

static enum smmu_cr_result write_cr3(uint64_t val)
{
	return smmu_x86_write_cr3(&st, &model, &mem, val, &fl);
}

static enum smmu_cr_result write_cr4(uint64_t val)
{
	return smmu_x86_write_cr4(&st, &model, &mem, val, &fl);
}

static enum smmu_cr_result write_efer(uint64_t val)
{
	return smmu_x86_write_efer(&st, &model, val, &fl);
}

/* A test listed with RUN_CR() starts from setup(): the runner calls it first. */
static void (*cr_test)(void);

static void run_cr_test(void)
{
	setup();
	cr_test();
}

#define RUN_CR(fn) (cr_test = (fn), check_run(#fn, run_cr_test))

#define PDPT 0x1000u /* a PDPT at gpa 0x1000 with 4 present, valid entries */

static void put_valid_pdpt(void)
{
	for (unsigned i = 0; i < 4; i++)
		mem_put64(PDPT + 8 * i, 0x2000 + 0x1000 * i + X86_PTE_P);
}

/* Enter 4-level paging through the architectural sequence. */
static void enter_long_mode(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(write_efer(X86_EFER_LME), SMMU_CR_OK);
	CHECK_EQ(write_cr3(0x3000), SMMU_CR_OK);
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_OK);
	CHECK(st.efer & X86_EFER_LMA);
}

/* Enter PAE paging (LME = 0) with the valid PDPT. */
static void enter_pae(void)
{
	put_valid_pdpt();
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(write_cr3(PDPT), SMMU_CR_OK);
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_OK);
}

/* ---- CR0 ----------------------------------------------------------------- */

static void test_cr0_bits_63_32_gp(void)
{
	CHECK_EQ(write_cr0(0x100000011ull), SMMU_CR_GP);
	CHECK_EQ(st.cr0, 0x11);
	CHECK_EQ(fl, 99);
}

static void test_cr0_nw_without_cd_gp(void)
{
	CHECK_EQ(write_cr0(0x20000011), SMMU_CR_GP);
	CHECK_EQ(write_cr0(0x60000011), SMMU_CR_OK);
	CHECK_EQ(st.cr0, 0x60000011);
}

static void test_cr0_pg_without_pe_gp(void)
{
	CHECK_EQ(write_cr0(0x80000010), SMMU_CR_GP);
	CHECK_EQ(st.cr0, 0x11);
}

static void test_cr0_pg_with_lme_without_pae_gp(void)
{
	CHECK_EQ(write_efer(X86_EFER_LME), SMMU_CR_OK);
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_GP);
	CHECK_EQ(st.cr0, 0x11);
	CHECK_EQ(st.efer, X86_EFER_LME);
}

static void test_cr0_undefined_low_bits_ignored_and_et_kept(void)
{
	/* bits 6 and 17 are reserved in CR0[31:0]: ignored, not #GP; ET stays 1 */
	CHECK_EQ(write_cr0(0x20041), SMMU_CR_OK);
	CHECK_EQ(st.cr0, 0x11);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
}

static void test_cr0_pg_on_with_lme_sets_lma_and_flushes_all(void)
{
	enter_long_mode();
	CHECK_EQ(st.efer, X86_EFER_LME | X86_EFER_LMA);
	CHECK_EQ(fl, SMMU_FLUSH_ALL);
	CHECK_EQ(smmu_paging_mode(&st), SMMU_PAGING_4LEVEL);
}

static void test_cr0_pg_off_clears_lma_and_flushes_all(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr0(0x11), SMMU_CR_OK);
	CHECK_EQ(st.efer, X86_EFER_LME);
	CHECK_EQ(fl, SMMU_FLUSH_ALL);
	CHECK_EQ(smmu_paging_mode(&st), SMMU_PAGING_OFF);
}

static void test_cr0_pg_on_without_lme_leaves_lma_clear(void)
{
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_OK);
	CHECK_EQ(st.efer, 0);
	CHECK_EQ(smmu_paging_mode(&st), SMMU_PAGING_32BIT);
	CHECK_EQ(fl, SMMU_FLUSH_ALL);
}

static void test_cr0_clearing_pg_with_pcide_gp(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_OK);
	CHECK_EQ(write_cr0(0x11), SMMU_CR_GP);
	CHECK(st.efer & X86_EFER_LMA);
	CHECK(st.cr0 & X86_CR0_PG);
}

static void test_cr0_wp_and_cd_change_need_no_flush(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr0(0x80010011), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
	CHECK_EQ(write_cr0(0xc0010011), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
}

static void test_cr0_pg_on_in_pae_loads_pdptes(void)
{
	enter_pae();
	CHECK_EQ(smmu_paging_mode(&st), SMMU_PAGING_PAE);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(st.pdptrs[i], 0x2001 + 0x1000 * i);
}

static void test_cr0_pg_on_with_bad_pdpte_gp_and_state_unchanged(void)
{
	put_valid_pdpt();
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(write_cr3(PDPT), SMMU_CR_OK);
	mem_put64(PDPT + 16, 0x4000 | X86_PTE_P | X86_PTE_RW); /* R/W is reserved in a PDPTE */
	fl = (enum smmu_tlb_flush)99;
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_GP);
	CHECK_EQ(st.cr0, 0x11);
	CHECK_EQ(st.efer, 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(st.pdptrs[i], 0);
	CHECK_EQ(fl, 99);
}

static void test_cr0_cd_change_in_pae_reloads_pdptes(void)
{
	enter_pae();
	mem_put64(PDPT, 0x9001);
	CHECK_EQ(write_cr0(0x80010011), SMMU_CR_OK); /* WP only */
	CHECK_EQ(st.pdptrs[0], 0x2001);
	CHECK_EQ(write_cr0(0xc0010011), SMMU_CR_OK); /* CD */
	CHECK_EQ(st.pdptrs[0], 0x9001);
}

/* ---- CR3 ------------------------------------------------------------------- */

static void test_cr3_write_flushes_nonglobal_of_pcid(void)
{
	CHECK_EQ(write_cr3(0x5000), SMMU_CR_OK);
	CHECK_EQ(st.cr3, 0x5000);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_NONGLOBAL);
}

static void test_cr3_bits_above_maxphyaddr_gp_in_ia32e(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr3(1ull << 46), SMMU_CR_GP);
	CHECK_EQ(st.cr3, 0x3000);
	CHECK_EQ(write_cr3((1ull << 46) - 0x1000), SMMU_CR_OK);
	model.maxphyaddr = 36;
	CHECK_EQ(write_cr3(1ull << 36), SMMU_CR_GP);
}

static void test_cr3_bit63_gp_without_pcide(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr3(X86_CR3_NOFLUSH | 0x4000), SMMU_CR_GP);
	CHECK_EQ(st.cr3, 0x3000);
}

static void test_cr3_bit63_with_pcide_no_flush_not_stored(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_OK);
	CHECK_EQ(write_cr3(X86_CR3_NOFLUSH | 0x4005), SMMU_CR_OK);
	CHECK_EQ(st.cr3, 0x4005);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
	CHECK_EQ(write_cr3(0x4006), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_NONGLOBAL);
}

static void test_cr3_outside_ia32e_is_32_bits(void)
{
	CHECK_EQ(write_cr3(0x123456789000ull), SMMU_CR_OK);
	CHECK_EQ(st.cr3, 0x56789000);
}

static void test_cr3_in_pae_loads_pdptes(void)
{
	enter_pae();
	mem_put64(0x2000, 0x7001);
	mem_put64(0x2018, 0x8001);
	CHECK_EQ(write_cr3(0x2000), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[0], 0x7001);
	CHECK_EQ(st.pdptrs[1], 0);
	CHECK_EQ(st.pdptrs[3], 0x8001);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_NONGLOBAL);
}

static void test_cr3_pae_pdpt_is_32_byte_aligned(void)
{
	enter_pae();
	mem_put64(0x2020, 0x7001);
	CHECK_EQ(write_cr3(0x2020 | 0x18), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[0], 0x7001); /* CR3 bits 4:0 do not move the PDPT */
	CHECK_EQ(st.cr3, 0x2038);
}

static void test_cr3_pae_reserved_pdpte_gp_and_state_unchanged(void)
{
	static const uint64_t bad[] = {
	    X86_PTE_P | X86_PTE_US, X86_PTE_P | X86_PTE_A,    X86_PTE_P | X86_PTE_PS,
	    X86_PTE_P | X86_PTE_NX, X86_PTE_P | (1ull << 46), X86_PTE_P | (1ull << 8),
	};

	for (unsigned k = 0; k < ARRAY_SIZE_(bad); k++) {
		setup();
		enter_pae();
		mem_put64(0x2008, bad[k]);
		CHECK_EQ(write_cr3(0x2000), SMMU_CR_GP);
		CHECK_EQ(st.cr3, PDPT);
		CHECK_EQ(st.pdptrs[0], 0x2001);
		CHECK_EQ(st.pdptrs[1], 0x3001);
	}
}

static void test_cr3_pae_reserved_bits_in_absent_pdpte_ignored(void)
{
	enter_pae();
	mem_put64(0x2008, ~X86_PTE_P);
	CHECK_EQ(write_cr3(0x2000), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[1], ~X86_PTE_P);
}

static void test_cr3_pae_maxphyaddr_bounds_pdpte(void)
{
	model.maxphyaddr = 36;
	enter_pae();
	mem_put64(0x2000, (1ull << 35) | X86_PTE_P);
	CHECK_EQ(write_cr3(0x2000), SMMU_CR_OK);
	mem_put64(0x2000, (1ull << 36) | X86_PTE_P);
	CHECK_EQ(write_cr3(0x2000), SMMU_CR_GP);
}

static void test_cr3_pae_unbacked_pdpt_gp(void)
{
	enter_pae();
	CHECK_EQ(write_cr3(0x80000000), SMMU_CR_GP);
	CHECK_EQ(st.cr3, PDPT);
}

/* ---- CR4 ------------------------------------------------------------------- */

static void test_cr4_undefined_bits_gp(void)
{
	static const unsigned bits[] = {13, 14, 15, 19, 23, 24, 31, 32, 63};

	setup();
	for (unsigned k = 0; k < ARRAY_SIZE_(bits); k++) {
		CHECK_EQ(write_cr4(1ull << bits[k]), SMMU_CR_GP);
		CHECK_EQ(st.cr4, 0);
	}
}

static void test_cr4_base_bits_legal(void)
{
	uint64_t v = X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE |
	             X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT |
	             X86_CR4_UMIP | X86_CR4_FSGSBASE | X86_CR4_OSXSAVE | X86_CR4_LA57 |
	             X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE | X86_CR4_PAE;

	setup();
	CHECK_EQ(write_cr4(v), SMMU_CR_OK);
	CHECK_EQ(st.cr4, v);
}

static void test_cr4_feature_bits_gp_without_model_feature(void)
{
	model.la57 = false;
	CHECK_EQ(write_cr4(X86_CR4_LA57), SMMU_CR_GP);
	model.smep = false;
	CHECK_EQ(write_cr4(X86_CR4_SMEP), SMMU_CR_GP);
	model.smap = false;
	CHECK_EQ(write_cr4(X86_CR4_SMAP), SMMU_CR_GP);
	model.pku = false;
	CHECK_EQ(write_cr4(X86_CR4_PKE), SMMU_CR_GP);
	CHECK_EQ(st.cr4, 0);
	enter_long_mode();
	model.pcid = false;
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_GP);
	CHECK_EQ(st.cr4, X86_CR4_PAE);
}

static void test_cr4_clear_pae_while_lma_gp(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr4(0), SMMU_CR_GP);
	CHECK_EQ(st.cr4, X86_CR4_PAE);
}

static void test_cr4_la57_change_while_lma_gp(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_LA57), SMMU_CR_GP);
	CHECK_EQ(st.cr4, X86_CR4_PAE);
}

static void test_cr4_la57_set_before_long_mode_gives_5level(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_LA57), SMMU_CR_OK);
	CHECK_EQ(write_efer(X86_EFER_LME), SMMU_CR_OK);
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_OK);
	CHECK_EQ(smmu_paging_mode(&st), SMMU_PAGING_5LEVEL);
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_GP);
}

static void test_cr4_pcide_outside_ia32e_gp(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PCIDE), SMMU_CR_GP);
	enter_pae();
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_GP);
	CHECK_EQ(st.cr4, X86_CR4_PAE);
}

static void test_cr4_pcide_with_cr3_low_bits_gp(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr3(0x3008), SMMU_CR_OK); /* PWT */
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_GP);
	CHECK_EQ(write_cr3(0x3000), SMMU_CR_OK);
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
	/* once on, PCIDE stays legal with a nonzero PCID in CR3 */
	CHECK_EQ(write_cr3(0x3001), SMMU_CR_OK);
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE | X86_CR4_OSXSAVE), SMMU_CR_OK);
}

static void test_cr4_pge_change_flushes_all(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PGE), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_ALL);
	CHECK_EQ(write_cr4(0), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_ALL);
}

static void test_cr4_pcide_clear_flushes_all(void)
{
	enter_long_mode();
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PCIDE), SMMU_CR_OK);
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_ALL);
}

static void test_cr4_pae_change_and_smep_set_flush_current_pcid(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_ALL);
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_SMEP), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_ALL);
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_NONE); /* SMEP 1 -> 0 is not in SDM 4.10.4.1 */
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_SMAP), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
	CHECK_EQ(write_cr4(0), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_ALL);
}

static void test_cr4_pse_change_flushes_current_pcid(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PSE), SMMU_CR_OK);
	CHECK_EQ(fl, SMMU_FLUSH_PCID_ALL);
}

static void test_cr4_pae_set_while_paging_loads_pdptes(void)
{
	put_valid_pdpt();
	CHECK_EQ(write_cr3(PDPT), SMMU_CR_OK);
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[0], 0);
	CHECK_EQ(write_cr4(X86_CR4_PAE), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[0], 0x2001);
	CHECK_EQ(smmu_paging_mode(&st), SMMU_PAGING_PAE);
}

static void test_cr4_pdpte_reload_bits_in_pae(void)
{
	static const uint64_t reload[] = {X86_CR4_PGE, X86_CR4_PSE, X86_CR4_SMEP};

	for (unsigned k = 0; k < ARRAY_SIZE_(reload); k++) {
		setup();
		enter_pae();
		mem_put64(PDPT, X86_PTE_P | X86_PTE_RW); /* reserved: the reload must #GP */
		CHECK_EQ(write_cr4(X86_CR4_PAE | reload[k]), SMMU_CR_GP);
		CHECK_EQ(st.cr4, X86_CR4_PAE);
		CHECK_EQ(st.pdptrs[0], 0x2001);
	}
	setup();
	enter_pae();
	mem_put64(PDPT, X86_PTE_P | X86_PTE_RW);
	/* SMAP, OSXSAVE: no reload, so the bad PDPTE in memory is not seen */
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_SMAP), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[0], 0x2001);
}

static void test_cr4_without_paging_loads_no_pdptes(void)
{
	mem_put64(0, X86_PTE_P | X86_PTE_RW);
	CHECK_EQ(write_cr4(X86_CR4_PAE | X86_CR4_PGE), SMMU_CR_OK);
	CHECK_EQ(st.pdptrs[0], 0);
}

/* ---- EFER ------------------------------------------------------------------ */

static void test_efer_undefined_bits_gp(void)
{
	static const unsigned bits[] = {1, 7, 9, 12, 13, 14, 15, 32, 63};

	setup();
	for (unsigned k = 0; k < ARRAY_SIZE_(bits); k++)
		CHECK_EQ(write_efer(1ull << bits[k]), SMMU_CR_GP);
	CHECK_EQ(st.efer, 0);
	CHECK_EQ(write_efer(X86_EFER_SCE | X86_EFER_NXE), SMMU_CR_OK);
	CHECK_EQ(st.efer, X86_EFER_SCE | X86_EFER_NXE);
	CHECK_EQ(fl, SMMU_FLUSH_NONE);
}

static void test_efer_nxe_without_nx_gp(void)
{
	model.nx = false;
	CHECK_EQ(write_efer(X86_EFER_NXE), SMMU_CR_GP);
	CHECK_EQ(st.efer, 0);
}

static void test_efer_lme_change_while_paging_gp(void)
{
	CHECK_EQ(write_cr0(0x80000011), SMMU_CR_OK);
	CHECK_EQ(write_efer(X86_EFER_LME), SMMU_CR_GP);
	CHECK_EQ(st.efer, 0);
	setup();
	enter_long_mode();
	CHECK_EQ(write_efer(X86_EFER_LMA), SMMU_CR_GP);
	CHECK_EQ(write_efer(X86_EFER_LME | X86_EFER_NXE), SMMU_CR_OK);
	CHECK_EQ(st.efer, X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE);
}

static void test_efer_lma_write_ignored(void)
{
	CHECK_EQ(write_efer(X86_EFER_LMA | X86_EFER_LME), SMMU_CR_OK);
	CHECK_EQ(st.efer, X86_EFER_LME);
	enter_long_mode();
	CHECK_EQ(write_efer(X86_EFER_LME), SMMU_CR_OK);
	CHECK_EQ(st.efer, X86_EFER_LME | X86_EFER_LMA);
}

/* ---- PKRU ------------------------------------------------------------------ */

static void test_pkru_without_pke_ud(void)
{
	CHECK_EQ(smmu_x86_write_pkru(&st, &model, 4), SMMU_CR_UD);
	CHECK_EQ(smmu_x86_write_pkru(&st, &model, 1ull << 32), SMMU_CR_UD);
	CHECK_EQ(st.pkru, 0);
}

static void test_pkru_wider_than_32_bits_gp(void)
{
	CHECK_EQ(write_cr4(X86_CR4_PKE), SMMU_CR_OK);
	CHECK_EQ(smmu_x86_write_pkru(&st, &model, 1ull << 32), SMMU_CR_GP);
	CHECK_EQ(st.pkru, 0);
	CHECK_EQ(smmu_x86_write_pkru(&st, &model, 0xfffffffcu), SMMU_CR_OK);
	CHECK_EQ(st.pkru, 0xfffffffcu);
}

/* ---- canonical addresses ------------------------------------------------------------ */

static void test_gva_canonical_48_and_57_bits(void)
{
	CHECK(smmu_x86_gva_canonical(&st, 0x0000800000000000ull)); /* not IA-32e */
	enter_long_mode();
	CHECK(smmu_x86_gva_canonical(&st, 0x00007fffffffffffull));
	CHECK(!smmu_x86_gva_canonical(&st, 0x0000800000000000ull));
	CHECK(smmu_x86_gva_canonical(&st, 0xffff800000000000ull));
	CHECK(!smmu_x86_gva_canonical(&st, 0xfeff800000000000ull));
	st.cr4 |= X86_CR4_LA57;
	CHECK(smmu_x86_gva_canonical(&st, 0x0000800000000000ull));
	CHECK(smmu_x86_gva_canonical(&st, 0x00ffffffffffffffull));
	CHECK(!smmu_x86_gva_canonical(&st, 0x0100000000000000ull));
	CHECK(smmu_x86_gva_canonical(&st, 0xff00000000000000ull));
}

int main(void)
{
	RUN_CR(test_cr0_bits_63_32_gp);
	RUN_CR(test_cr0_nw_without_cd_gp);
	RUN_CR(test_cr0_pg_without_pe_gp);
	RUN_CR(test_cr0_pg_with_lme_without_pae_gp);
	RUN_CR(test_cr0_undefined_low_bits_ignored_and_et_kept);
	RUN_CR(test_cr0_pg_on_with_lme_sets_lma_and_flushes_all);
	RUN_CR(test_cr0_pg_off_clears_lma_and_flushes_all);
	RUN_CR(test_cr0_pg_on_without_lme_leaves_lma_clear);
	RUN_CR(test_cr0_clearing_pg_with_pcide_gp);
	RUN_CR(test_cr0_wp_and_cd_change_need_no_flush);
	RUN_CR(test_cr0_pg_on_in_pae_loads_pdptes);
	RUN_CR(test_cr0_pg_on_with_bad_pdpte_gp_and_state_unchanged);
	RUN_CR(test_cr0_cd_change_in_pae_reloads_pdptes);
	RUN_CR(test_cr3_write_flushes_nonglobal_of_pcid);
	RUN_CR(test_cr3_bits_above_maxphyaddr_gp_in_ia32e);
	RUN_CR(test_cr3_bit63_gp_without_pcide);
	RUN_CR(test_cr3_bit63_with_pcide_no_flush_not_stored);
	RUN_CR(test_cr3_outside_ia32e_is_32_bits);
	RUN_CR(test_cr3_in_pae_loads_pdptes);
	RUN_CR(test_cr3_pae_pdpt_is_32_byte_aligned);
	RUN(test_cr3_pae_reserved_pdpte_gp_and_state_unchanged);
	RUN_CR(test_cr3_pae_reserved_bits_in_absent_pdpte_ignored);
	RUN_CR(test_cr3_pae_maxphyaddr_bounds_pdpte);
	RUN_CR(test_cr3_pae_unbacked_pdpt_gp);
	RUN(test_cr4_undefined_bits_gp);
	RUN(test_cr4_base_bits_legal);
	RUN_CR(test_cr4_feature_bits_gp_without_model_feature);
	RUN_CR(test_cr4_clear_pae_while_lma_gp);
	RUN_CR(test_cr4_la57_change_while_lma_gp);
	RUN_CR(test_cr4_la57_set_before_long_mode_gives_5level);
	RUN_CR(test_cr4_pcide_outside_ia32e_gp);
	RUN_CR(test_cr4_pcide_with_cr3_low_bits_gp);
	RUN_CR(test_cr4_pge_change_flushes_all);
	RUN_CR(test_cr4_pcide_clear_flushes_all);
	RUN_CR(test_cr4_pae_change_and_smep_set_flush_current_pcid);
	RUN_CR(test_cr4_pse_change_flushes_current_pcid);
	RUN_CR(test_cr4_pae_set_while_paging_loads_pdptes);
	RUN(test_cr4_pdpte_reload_bits_in_pae);
	RUN_CR(test_cr4_without_paging_loads_no_pdptes);
	RUN(test_efer_undefined_bits_gp);
	RUN_CR(test_efer_nxe_without_nx_gp);
	RUN_CR(test_efer_lme_change_while_paging_gp);
	RUN_CR(test_efer_lma_write_ignored);
	RUN_CR(test_pkru_without_pke_ud);
	RUN_CR(test_pkru_wider_than_32_bits_gp);
	RUN_CR(test_gva_canonical_48_and_57_bits);
	return check_finish();
}
