/*
 * test_walker_basic.c - hand-computed walks of the production guest walker
 * in every paging mode (SDM Vol. 3A 4.3-4.8): translations, large pages,
 * reserved bits, the access rules and error codes, Accessed/Dirty updates,
 * races with the guest and memory the walker may not write.  The exhaustive
 * comparison against the reference walker lives elsewhere.
 */
#include <shadowmmu/x86.h>

#include <errno.h>
#include <string.h>

#include "support/check.h"
#include "support/flatmem.h"
#include "support/pte_names.h"

/* ---- a tiny guest memory: 4 MiB at gpa 0, a read-only window, a racer ---- */
#define MEM_SIZE 0x400000u
#define RO_BASE  0x300000u /* [RO_BASE, MEM_SIZE) is a read-only slot */
#define UNBACKED 0x10000000ull

static uint8_t mem_buf[MEM_SIZE];
static unsigned cmpxchg_calls;
static unsigned cmpxchg_fail_left;  /* fail this many cmpxchgs with 1, memory unchanged */
static uint64_t race_gpa, race_val; /* on the first cmpxchg: the guest writes race_val */
static bool race_armed;

/* The racer and the failure injector, in front of the flat memory's cmpxchg. */
static int racy_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	cmpxchg_calls++;
	if (race_armed) {
		race_armed = false;
		memcpy(mem_buf + race_gpa, &race_val, 8);
	}
	if (cmpxchg_fail_left) {
		cmpxchg_fail_left--;
		return 1;
	}
	return flatmem_cmpxchg(ctx, gpa, size, old, new_val);
}

static struct flatmem flat = {.buf = mem_buf, .size = MEM_SIZE, .ro_base = RO_BASE};
static const struct smmu_gpa_ops mem = {
    .read = flatmem_read, .cmpxchg = racy_cmpxchg, .ctx = &flat};

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(mem_buf + gpa, &v, 8);
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(mem_buf + gpa, &v, 4);
}

static uint64_t get64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, mem_buf + gpa, 8);
	return v;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, mem_buf + gpa, 4);
	return v;
}

static struct smmu_cpu_model model;
static struct smmu_cpu_state st;
static struct smmu_walk w;

#define PRU (P | RW | US)

#define CR0_PG_ON (X86_CR0_PG | X86_CR0_PE | X86_CR0_ET)

static void reset(void)
{
	memset(mem_buf, 0, sizeof(mem_buf));
	cmpxchg_calls = 0;
	cmpxchg_fail_left = 0;
	race_armed = false;
	smmu_cpu_model_default(&model);
	smmu_cpu_state_reset(&st);
	memset(&w, 0xa5, sizeof(w));
}

static enum smmu_walk_outcome walk(uint64_t gva, enum smmu_access_type acc)
{
	return smmu_x86_walk(&st, &model, &mem, gva, acc, &w);
}

#define R SMMU_ACCESS_READ
#define W SMMU_ACCESS_WRITE
#define X SMMU_ACCESS_FETCH

/* The walk of gva faults with error code ec. */
#define CHECK_PF(gva, acc, ec)                                                                     \
	do {                                                                                       \
		CHECK_EQ(walk(gva, acc), SMMU_WALK_PF);                                            \
		CHECK_EQ(w.error_code, (ec));                                                      \
	} while (0)

/* ---- paging off ------------------------------------------------------------ */

static void test_paging_off_gpa_is_gva_in_32_bits(void)
{
	reset();
	CHECK_EQ(walk(0x123456789ull, W), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x23456789);
	CHECK_EQ(w.level, 0);
	CHECK_EQ(w.root_level, 0);
	CHECK_EQ(w.page_size, 0x1000);
	CHECK_EQ(w.access, SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X);
	CHECK_EQ(cmpxchg_calls, 0);
}

/* ---- 32-bit paging: PD at 0x1000, PT at 0x2000 ------------------------------ */

static void setup_32bit(void)
{
	reset();
	st.cr0 = CR0_PG_ON;
	st.cr3 = 0x1000;
}

/* gva 0x00403123: PDE index 1 (at 0x1004), PTE index 3 (at 0x200c). */
static void test_32bit_4k_read_sets_accessed_only(void)
{
	setup_32bit();
	put32(0x1004, 0x2000 | PRU);
	put32(0x200c, 0x5000 | PRU);
	CHECK_EQ(walk(0x00403123, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x5123);
	CHECK_EQ(w.level, 1);
	CHECK_EQ(w.root_level, 2);
	CHECK_EQ(w.page_size, 0x1000);
	CHECK_EQ(w.access, SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X);
	CHECK_EQ(get32(0x1004), 0x2000 | PRU | A);
	CHECK_EQ(get32(0x200c), 0x5000 | PRU | A);
	CHECK_EQ(w.gpte[1], 0x2000 | PRU | A);
	CHECK_EQ(w.pte_gpa[1], 0x1004);
	CHECK_EQ(w.gpte[0], 0x5000 | PRU | A);
	CHECK_EQ(w.pte_gpa[0], 0x200c);
}

static void test_32bit_4k_write_sets_dirty_in_leaf_only(void)
{
	setup_32bit();
	put32(0x1004, 0x2000 | PRU);
	put32(0x200c, 0x5000 | PRU);
	CHECK_EQ(walk(0x00403123, W), SMMU_WALK_OK);
	CHECK_EQ(get32(0x1004), 0x2000 | PRU | A);
	CHECK_EQ(get32(0x200c), 0x5000 | PRU | A | D);
	/* the second walk finds A/D already set and writes nothing */
	cmpxchg_calls = 0;
	CHECK_EQ(walk(0x00403123, W), SMMU_WALK_OK);
	CHECK_EQ(cmpxchg_calls, 0);
}

/* gva 0x00812345: PDE index 2 at 0x1008. */
static void test_32bit_4m_page_with_pse(void)
{
	setup_32bit();
	st.cr4 = X86_CR4_PSE | X86_CR4_PGE;
	put32(0x1008, 0x00c00000 | PS | P | RW | X86_PTE_G);
	CHECK_EQ(walk(0x00812345, W), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x00c12345);
	CHECK_EQ(w.level, 2);
	CHECK_EQ(w.page_size, 0x400000);
	CHECK(w.global);
	CHECK_EQ(w.access, SMMU_ACC_W | SMMU_ACC_X);
	CHECK_EQ(get32(0x1008), 0x00c00000 | PS | P | RW | X86_PTE_G | A | D);
}

static void test_32bit_ps_ignored_without_pse(void)
{
	setup_32bit();
	put32(0x1008, 0x00003000 | PS | PRU); /* a page table at 0x3000 */
	put32(0x3000 + 0x12 * 4, 0x7000 | PRU);
	CHECK_EQ(walk(0x00812345, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x7345);
	CHECK_EQ(w.level, 1);
}

static void test_32bit_pse36_high_address_bits(void)
{
	setup_32bit();
	st.cr4 = X86_CR4_PSE;
	/* M = min(46, 40) = 40: PDE bits 20:13 = 0x85 give PA bits 39:32 */
	put32(0x1008, 0x00c00000 | (0x85u << 13) | PS | P);
	CHECK_EQ(walk(0x00812345, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x8500c12345ull);
	/* bit 21 is reserved (21:(M-19) = 21:21) */
	put32(0x1008, 0x00c00000 | (1u << 21) | PS | P);
	CHECK_PF(0x00812345, R, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_EQ(w.level, 2);
}

static void test_32bit_pse36_reserved_bits_follow_maxphyaddr(void)
{
	setup_32bit();
	st.cr4 = X86_CR4_PSE;
	model.maxphyaddr = 36; /* bits 16:13 -> PA 35:32, bits 21:17 reserved */
	put32(0x1008, 0x00c00000 | (0xfu << 13) | PS | P);
	CHECK_EQ(walk(0x00812345, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0xf00c12345ull);
	put32(0x1008, 0x00c00000 | (1u << 17) | PS | P);
	CHECK_PF(0x00812345, R, X86_PFEC_P | X86_PFEC_RSVD);
	model.maxphyaddr = 46;
	model.pse36 = false; /* M = 32: bits 21:13 all reserved */
	put32(0x1008, 0x00c00000 | (1u << 13) | PS | P);
	CHECK_PF(0x00812345, R, X86_PFEC_P | X86_PFEC_RSVD);
}

static void test_32bit_not_present_error_codes(void)
{
	setup_32bit();
	put32(0x1004, 0x2000 | PRU);
	CHECK_PF(0x00403123, R, 0);
	CHECK_EQ(w.level, 1);
	st.cpl = 3;
	CHECK_PF(0x00403123, W, X86_PFEC_U | X86_PFEC_W);
	CHECK_PF(0x00003123, X, X86_PFEC_U); /* PDE 0 absent; no SMEP: no I/D */
	CHECK_EQ(w.level, 2);
	CHECK_EQ(get32(0x1004), 0x2000 | PRU); /* faulting walks set no A */
}

static void test_32bit_user_read_of_supervisor_page(void)
{
	setup_32bit();
	put32(0x1004, 0x2000 | PRU);
	put32(0x200c, 0x5000 | P | RW);
	st.cpl = 3;
	CHECK_PF(0x00403123, R, X86_PFEC_P | X86_PFEC_U);
	CHECK_EQ(get32(0x1004), 0x2000 | PRU);
	CHECK_EQ(get32(0x200c), 0x5000 | P | RW);
}

static void test_32bit_wp_controls_supervisor_write_to_readonly(void)
{
	setup_32bit();
	put32(0x1004, 0x2000 | P | US); /* read-only at the PDE */
	put32(0x200c, 0x5000 | PRU);
	CHECK_EQ(walk(0x00403123, W), SMMU_WALK_OK); /* WP = 0 */
	CHECK_EQ(w.access, SMMU_ACC_U | SMMU_ACC_X);
	CHECK_EQ(get32(0x200c), 0x5000 | PRU | A | D);
	st.cr0 |= X86_CR0_WP;
	CHECK_PF(0x00403123, W, X86_PFEC_P | X86_PFEC_W);
	st.cpl = 3;
	st.cr0 &= ~X86_CR0_WP;
	CHECK_PF(0x00403123, W, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U); /* WP never helps CPL 3 */
}

static void test_32bit_smep_fetch_reports_id(void)
{
	setup_32bit();
	st.cr4 = X86_CR4_SMEP;
	put32(0x1004, 0x2000 | PRU);
	put32(0x200c, 0x5000 | PRU);
	CHECK_PF(0x00403123, X, X86_PFEC_P | X86_PFEC_I);
	st.cr4 = 0;
	CHECK_EQ(walk(0x00403123, X), SMMU_WALK_OK);
}

/* ---- PAE: PDPTE registers, PD at 0x2000, PT at 0x3000 ----------------------- */

static void setup_pae(void)
{
	reset();
	st.cr0 = CR0_PG_ON;
	st.cr4 = X86_CR4_PAE;
	st.efer = X86_EFER_NXE;
	st.cr3 = 0x1000;
	st.pdptrs[1] = 0x2000 | P;
}

/* gva 0x40603123: PDPTE 1, PDE index 3 (0x2018), PTE index 3 (0x3018). */
static void test_pae_4k_translation_and_pdpte_rights_ignored(void)
{
	setup_pae();
	put64(0x2018, 0x3000 | PRU);
	put64(0x3018, 0x123456000ull | PRU);
	st.cpl = 3;
	CHECK_EQ(walk(0x40603123, W), SMMU_WALK_OK); /* the PDPTE has no R/W, U/S */
	CHECK_EQ(w.gpa, 0x123456123ull);
	CHECK_EQ(w.root_level, 3);
	CHECK_EQ(w.gpte[2], 0x2000 | P);
	CHECK_EQ(w.pte_gpa[2], 0);
	CHECK_EQ(w.pte_gpa[1], 0x2018);
	CHECK_EQ(w.pte_gpa[0], 0x3018);
	CHECK_EQ(w.pkey, 0);
	CHECK_EQ(get64(0x3018), 0x123456000ull | PRU | A | D);
}

static void test_pae_absent_pdpte_is_not_present_fault(void)
{
	setup_pae();
	CHECK_PF(0x80000000, W, X86_PFEC_W);
	CHECK_EQ(w.level, 3);
}

static void test_pae_2m_page(void)
{
	setup_pae();
	put64(0x2018, 0x40000000ull | PS | PRU);
	CHECK_EQ(walk(0x40712345, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x40112345);
	CHECK_EQ(w.level, 2);
	CHECK_EQ(w.page_size, 0x200000);
	put64(0x2018, 0x40000000ull | (1u << 13) | PS | PRU); /* bits 20:13 reserved */
	CHECK_PF(0x40712345, R, X86_PFEC_P | X86_PFEC_RSVD);
}

static void test_pae_nx_fetch_and_nx_reserved_without_nxe(void)
{
	setup_pae();
	put64(0x2018, 0x3000 | PRU);
	put64(0x3018, 0x5000 | PRU | NX);
	CHECK_PF(0x40603123, X, X86_PFEC_P | X86_PFEC_I);
	CHECK_EQ(walk(0x40603123, R), SMMU_WALK_OK);
	CHECK_EQ(w.access, SMMU_ACC_W | SMMU_ACC_U);
	st.efer = 0;
	CHECK_PF(0x40603123, X, X86_PFEC_P | X86_PFEC_RSVD); /* no NXE, no SMEP: no I/D */
	CHECK_EQ(w.level, 1);
}

static void test_pae_bits_62_to_maxphyaddr_reserved(void)
{
	setup_pae();
	put64(0x2018, 0x3000 | PRU);
	put64(0x3018, 0x5000 | PRU | (1ull << 55)); /* ignored in 4-level, reserved in PAE */
	CHECK_PF(0x40603123, R, X86_PFEC_P | X86_PFEC_RSVD);
	put64(0x3018, 0x5000 | PRU | (1ull << 46));
	CHECK_PF(0x40603123, R, X86_PFEC_P | X86_PFEC_RSVD);
}

static void test_pae_gva_is_32_bits(void)
{
	setup_pae();
	put64(0x2018, 0x3000 | PRU);
	put64(0x3018, 0x5000 | PRU);
	CHECK_EQ(walk(0x740603123ull, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x5123);
}

/* ---- 4-level: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 ---------------- */

/* indices 1, 2, 3, 4 at levels 4..1: entries at 0x1008, 0x2010, 0x3018, 0x4020 */
#define GVA4 ((1ull << 39) | (2ull << 30) | (3ull << 21) | (4ull << 12) | 0x567)

static void setup_4level(void)
{
	reset();
	st.cr0 = CR0_PG_ON | X86_CR0_WP;
	st.cr4 = X86_CR4_PAE;
	st.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	st.cr3 = 0x1000;
	put64(0x1008, 0x2000 | PRU);
	put64(0x2010, 0x3000 | PRU);
	put64(0x3018, 0x4000 | PRU);
	put64(0x4020, 0x9000 | PRU);
}

static void test_4level_write_sets_a_everywhere_and_d_in_leaf(void)
{
	setup_4level();
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x9567);
	CHECK_EQ(w.level, 1);
	CHECK_EQ(w.root_level, 4);
	CHECK_EQ(get64(0x1008), 0x2000 | PRU | A);
	CHECK_EQ(get64(0x2010), 0x3000 | PRU | A);
	CHECK_EQ(get64(0x3018), 0x4000 | PRU | A);
	CHECK_EQ(get64(0x4020), 0x9000 | PRU | A | D);
	CHECK_EQ(w.gpte[3], 0x2000 | PRU | A);
	CHECK_EQ(w.gpte[0], 0x9000 | PRU | A | D);
	CHECK_EQ(w.pte_gpa[3], 0x1008);
	CHECK_EQ(w.pte_gpa[2], 0x2010);
	CHECK_EQ(w.pte_gpa[1], 0x3018);
	CHECK_EQ(w.pte_gpa[0], 0x4020);
	CHECK_EQ(cmpxchg_calls, 4);
}

static void test_4level_faulting_walk_sets_no_accessed_bit(void)
{
	setup_4level();
	put64(0x4020, 0x9000 | P | US); /* read-only leaf, WP = 1 */
	CHECK_PF(GVA4, W, X86_PFEC_P | X86_PFEC_W);
	CHECK_EQ(get64(0x1008), 0x2000 | PRU);
	CHECK_EQ(get64(0x4020), 0x9000 | P | US);
	CHECK_EQ(cmpxchg_calls, 0);
}

static void test_4level_1g_and_2m_pages(void)
{
	setup_4level();
	put64(0x2010, 0xc0000000ull | PS | PRU);
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0xc0604567ull);
	CHECK_EQ(w.level, 3);
	CHECK_EQ(w.page_size, 1ull << 30);
	put64(0x3018, 0x400000ull | PS | PRU);
	put64(0x2010, 0x3000 | PRU);
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x404567ull);
	CHECK_EQ(w.level, 2);
	CHECK_EQ(w.page_size, 1ull << 21);
}

static void test_4level_1g_page_reserved_without_gbpages(void)
{
	setup_4level();
	model.gbpages = false;
	put64(0x2010, 0xc0000000ull | PS | PRU);
	CHECK_PF(GVA4, R, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_EQ(w.level, 3);
}

static void test_4level_large_page_low_reserved_bits(void)
{
	setup_4level();
	put64(0x2010, 0xc0000000ull | (1ull << 29) | PS | PRU); /* 1G: 29:13 reserved */
	CHECK_PF(GVA4, R, X86_PFEC_P | X86_PFEC_RSVD);
	put64(0x2010, 0xc0000000ull | X86_PTE_LPAT | PS | PRU); /* bit 12 is PAT */
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0xc0604567ull);
}

static void test_4level_ps_in_pml4e_reserved(void)
{
	setup_4level();
	put64(0x1008, 0x2000 | PS | PRU);
	st.cpl = 3;
	CHECK_PF(GVA4, W, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_W | X86_PFEC_U);
	CHECK_EQ(w.level, 4);
}

static void test_4level_bit8_of_nonleaf_ignored_and_high_bits_ignored(void)
{
	setup_4level();
	put64(0x1008, 0x2000 | PRU | X86_PTE_G | (0x7ffull << 52 & ~NX));
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x9567);
}

static void test_4level_bits_above_maxphyaddr_reserved(void)
{
	setup_4level();
	put64(0x3018, 0x4000 | PRU | (1ull << 46));
	CHECK_PF(GVA4, R, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_EQ(w.level, 2);
	model.maxphyaddr = 52;
	CHECK_PF(GVA4, R, 0); /* 0x4000 + 2^46 is unbacked */
}

static void test_4level_reserved_bit_in_absent_entry_ignored(void)
{
	setup_4level();
	put64(0x4020, ~P);
	CHECK_PF(GVA4, R, 0);
}

static void test_4level_nx_reserved_without_nxe(void)
{
	setup_4level();
	st.efer &= ~X86_EFER_NXE;
	put64(0x1008, 0x2000 | PRU | NX);
	CHECK_PF(GVA4, R, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_EQ(w.level, 4);
}

static void test_4level_nx_in_upper_level_blocks_fetch(void)
{
	setup_4level();
	put64(0x2010, 0x3000 | PRU | NX);
	CHECK_PF(GVA4, X, X86_PFEC_P | X86_PFEC_I);
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK_EQ(w.access, SMMU_ACC_W | SMMU_ACC_U);
}

static void test_4level_non_canonical_is_gp(void)
{
	setup_4level();
	CHECK_EQ(walk(0x0000800000000000ull, R), SMMU_WALK_GP);
	CHECK_EQ(walk(0xffff7fffffffffffull, R), SMMU_WALK_GP);
	CHECK_EQ(cmpxchg_calls, 0);
}

static void test_4level_upper_half_address(void)
{
	setup_4level();
	put64(0x1000 + 511 * 8, 0x2000 | PRU); /* PML4 index 511 */
	CHECK_EQ(walk(0xffffff8000000000ull | (2ull << 30) | (3ull << 21) | (4ull << 12), R),
	         SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x9000);
}

static void test_smep_blocks_supervisor_fetch_from_user_page(void)
{
	setup_4level();
	CHECK_EQ(walk(GVA4, X), SMMU_WALK_OK);
	st.cr4 |= X86_CR4_SMEP;
	CHECK_PF(GVA4, X, X86_PFEC_P | X86_PFEC_I);
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK); /* SMEP is about fetches only */
	st.cpl = 3;
	CHECK_EQ(walk(GVA4, X), SMMU_WALK_OK);
}

static void test_smap_blocks_supervisor_read_of_user_page(void)
{
	setup_4level();
	st.cr4 |= X86_CR4_SMAP;
	CHECK_PF(GVA4, R, X86_PFEC_P);
	CHECK_PF(GVA4, W, X86_PFEC_P | X86_PFEC_W);
	CHECK_EQ(walk(GVA4, X), SMMU_WALK_OK); /* SMAP is about data only */
	st.ac = true;
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK);
	put64(0x4020, 0x9000 | P | RW); /* a supervisor page: SMAP does not apply */
	st.ac = false;
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
}

/* setup_4level() with CR4.PKE, key 5 on the user leaf, and a CPL-3 access ahead. */
static void setup_4level_pkey5(uint32_t pkru)
{
	setup_4level();
	st.cr4 |= X86_CR4_PKE;
	put64(0x4020, 0x9000 | PRU | (5ull << X86_PTE_PKEY_SHIFT));
	st.pkru = pkru;
	st.cpl = 3;
}

static void test_pkey_access_disable_blocks_user_data(void)
{
	setup_4level_pkey5(1u << 10); /* AD5 */
	CHECK_PF(GVA4, R, X86_PFEC_P | X86_PFEC_U | X86_PFEC_PK);
	CHECK_EQ(walk(GVA4, X), SMMU_WALK_OK); /* fetches ignore PKRU */
	CHECK_EQ(w.pkey, 5);
	st.cpl = 0;
	CHECK_PF(GVA4, R, X86_PFEC_P | X86_PFEC_PK); /* supervisor data access to a user page */
	st.pkru = 1u << 8;                           /* AD4: not this key */
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
}

static void test_pkey_write_disable_rules(void)
{
	setup_4level_pkey5(2u << 10); /* WD5 */
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK_PF(GVA4, W, X86_PFEC_P | X86_PFEC_U | X86_PFEC_W | X86_PFEC_PK);
	st.cpl = 0;
	CHECK_PF(GVA4, W, X86_PFEC_P | X86_PFEC_W | X86_PFEC_PK); /* CR0.WP = 1 */
	st.cr0 &= ~X86_CR0_WP;
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK);
}

static void test_pkey_ignores_supervisor_pages_and_pke_off(void)
{
	setup_4level();
	put64(0x4020, 0x9000 | P | RW | (5ull << X86_PTE_PKEY_SHIFT));
	st.pkru = 3u << 10;
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK); /* PKE = 0 */
	st.cr4 |= X86_CR4_PKE;
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK); /* supervisor page */
}

static void test_global_needs_pge(void)
{
	setup_4level();
	put64(0x4020, 0x9000 | PRU | X86_PTE_G);
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK(!w.global);
	st.cr4 |= X86_CR4_PGE;
	CHECK_EQ(walk(GVA4, R), SMMU_WALK_OK);
	CHECK(w.global);
}

static void test_unbacked_table_faults_not_present(void)
{
	setup_4level();
	put64(0x2010, UNBACKED | PRU);
	st.cpl = 3;
	CHECK_PF(GVA4, W, X86_PFEC_U | X86_PFEC_W);
	CHECK_EQ(w.level, 2);
}

static void test_ad_cmpxchg_failure_restarts_then_succeeds(void)
{
	setup_4level();
	cmpxchg_fail_left = 1;
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK);
	CHECK_EQ(cmpxchg_calls, 5); /* 1 failed + 4 on the second pass */
	CHECK_EQ(get64(0x1008), 0x2000 | PRU | A);
	CHECK_EQ(get64(0x4020), 0x9000 | PRU | A | D);
}

static void test_ad_race_with_guest_clearing_leaf_gives_fault(void)
{
	setup_4level();
	race_armed = true;
	race_gpa = 0x4020;
	race_val = 0;
	put64(0x3018, 0x4000 | PRU | A); /* so the leaf is the first update... */
	put64(0x2010, 0x3000 | PRU | A);
	put64(0x1008, 0x2000 | PRU | A);
	CHECK_PF(GVA4, W, X86_PFEC_W); /* ...whose cmpxchg sees the cleared PTE */
	CHECK_EQ(w.level, 1);
	CHECK_EQ(get64(0x4020), 0);
}

static void test_readonly_tables_skip_ad_update(void)
{
	setup_4level();
	put64(RO_BASE + 0x20, 0x9000 | PRU);
	put64(0x3018, RO_BASE | PRU);
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x9567);
	CHECK_EQ(get64(RO_BASE + 0x20), 0x9000 | PRU);
	CHECK_EQ(w.gpte[0], 0x9000 | PRU);
	CHECK_EQ(get64(0x3018), RO_BASE | PRU | A);
}

static void test_bounded_restarts_on_ever_failing_cmpxchg(void)
{
	setup_4level();
	cmpxchg_fail_left = ~0u;
	CHECK_EQ(walk(GVA4, W), SMMU_WALK_OK);
	CHECK(cmpxchg_calls < 1000);
}

/* ---- 5-level: PML5 at 0x5000 -> the 4-level tables ---------------------------------- */

static void test_5level_translation_and_canonical(void)
{
	uint64_t gva = (3ull << 48) | GVA4;

	setup_4level();
	st.cr4 |= X86_CR4_LA57;
	st.cr3 = 0x5000;
	put64(0x5000 + 3 * 8, 0x1000 | PRU);
	CHECK_EQ(walk(gva, W), SMMU_WALK_OK);
	CHECK_EQ(w.gpa, 0x9567);
	CHECK_EQ(w.root_level, 5);
	CHECK_EQ(w.pte_gpa[4], 0x5018);
	CHECK_EQ(get64(0x5018), 0x1000 | PRU | A);
	CHECK_EQ(walk(1ull << 56, R), SMMU_WALK_GP);
	put64(0x5018, 0x1000 | PS | PRU);
	CHECK_PF(gva, R, X86_PFEC_P | X86_PFEC_RSVD);
	CHECK_EQ(w.level, 5);
}

int main(void)
{
	RUN(test_paging_off_gpa_is_gva_in_32_bits);
	RUN(test_32bit_4k_read_sets_accessed_only);
	RUN(test_32bit_4k_write_sets_dirty_in_leaf_only);
	RUN(test_32bit_4m_page_with_pse);
	RUN(test_32bit_ps_ignored_without_pse);
	RUN(test_32bit_pse36_high_address_bits);
	RUN(test_32bit_pse36_reserved_bits_follow_maxphyaddr);
	RUN(test_32bit_not_present_error_codes);
	RUN(test_32bit_user_read_of_supervisor_page);
	RUN(test_32bit_wp_controls_supervisor_write_to_readonly);
	RUN(test_32bit_smep_fetch_reports_id);
	RUN(test_pae_4k_translation_and_pdpte_rights_ignored);
	RUN(test_pae_absent_pdpte_is_not_present_fault);
	RUN(test_pae_2m_page);
	RUN(test_pae_nx_fetch_and_nx_reserved_without_nxe);
	RUN(test_pae_bits_62_to_maxphyaddr_reserved);
	RUN(test_pae_gva_is_32_bits);
	RUN(test_4level_write_sets_a_everywhere_and_d_in_leaf);
	RUN(test_4level_faulting_walk_sets_no_accessed_bit);
	RUN(test_4level_1g_and_2m_pages);
	RUN(test_4level_1g_page_reserved_without_gbpages);
	RUN(test_4level_large_page_low_reserved_bits);
	RUN(test_4level_ps_in_pml4e_reserved);
	RUN(test_4level_bit8_of_nonleaf_ignored_and_high_bits_ignored);
	RUN(test_4level_bits_above_maxphyaddr_reserved);
	RUN(test_4level_reserved_bit_in_absent_entry_ignored);
	RUN(test_4level_nx_reserved_without_nxe);
	RUN(test_4level_nx_in_upper_level_blocks_fetch);
	RUN(test_4level_non_canonical_is_gp);
	RUN(test_4level_upper_half_address);
	RUN(test_smep_blocks_supervisor_fetch_from_user_page);
	RUN(test_smap_blocks_supervisor_read_of_user_page);
	RUN(test_pkey_access_disable_blocks_user_data);
	RUN(test_pkey_write_disable_rules);
	RUN(test_pkey_ignores_supervisor_pages_and_pke_off);
	RUN(test_global_needs_pge);
	RUN(test_unbacked_table_faults_not_present);
	RUN(test_ad_cmpxchg_failure_restarts_then_succeeds);
	RUN(test_ad_race_with_guest_clearing_leaf_gives_fault);
	RUN(test_readonly_tables_skip_ad_update);
	RUN(test_bounded_restarts_on_ever_failing_cmpxchg);
	RUN(test_5level_translation_and_canonical);
	return check_finish();
}
