/*
 * test_tdp_vcpu.c - the software vCPU in TDP mode (src/cpu/eptwalk.c,
 * walk2d.c and the TDP slow path of vcpu_cpu.c) against a fake TDP MMU.
 *
 * Guest memory is FAKE_GFNS guest frames, each an arena frame at an hpa
 * unrelated to its gpa (so a missing EPT translation cannot pass
 * unnoticed); higher gfns are MMIO.  Tests build the guest's page tables in
 * guest memory by hand (gpt_map) and the fake MMU builds EPT tables in the
 * arena, mapping gpa -> frame on each EPT violation, or the test builds
 * them up front (ept_map_all) to count the references of one cold walk.
 * The SDM rules checked: Vol. 3C 29.3.2-29.3.5 and Table 28-7 (EPT walk,
 * misconfigurations, violations, qualification, A/D), Vol. 3A 4.8 (guest
 * A/D), and the (n+1)(m+1)-1 reference count of a two-dimensional walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"
#include "support/check.h"
#include "mmu/spte.h"
#include "cpu/vcpu_cpu.h"
#include "x86/ept.h"

#define FAKE_GFNS    64
#define FIRST_PT_GFN 40 /* guest page tables from here; data pages below */
#define MAX_EXITS    32
#define EPT_LEAF_WB  (EPT_MT_WB << EPT_MT_SHIFT)
#define GPTE_FLAGS   (X86_PTE_P | X86_PTE_RW | X86_PTE_US)

enum fake_mode {
	FAKE_FIX,       /* map the gpa on a violation of a missing entry; a present one: FAIL */
	FAKE_NEVER_FIX, /* answer RETRY without changing anything */
	FAKE_FAIL,      /* give up */
};

struct fake_mmu {
	struct arena *arena;
	struct vcpu_cpu v;
	struct smmu_cpu_model model;
	enum fake_mode mode;
	unsigned ept_level;   /* of the root the fake installs */
	uint64_t leaf_rights; /* EPT rights of the leaves it installs */
	gfn_t rom_gfn;        /* when not 0: a gfn the MMU answers MMIO for (a read-only slot) */
	hpa_t frames[FAKE_GFNS];
	unsigned next_pt_gfn;
	/* The guest's paging shape for gpt_map(). */
	unsigned levels, esize, ibits;
	bool pae;
	uint64_t cr3;
	uint64_t upper_flags; /* extra bits of the nonleaf gptes gpt_map() makes */
	unsigned faults, cr_changes, flushes;
	struct vcpu_exit exits[MAX_EXITS];
	struct vcpu_outcome out;
};

static hpa_t fake_alloc(struct fake_mmu *f, enum arena_use use)
{
	hpa_t hpa = INVALID_HPA;

	if (arena_alloc(f->arena, 0, use, &hpa))
		abort();
	return hpa;
}

static void *hpa_ptr(struct fake_mmu *f, hpa_t hpa)
{
	return arena_hpa_to_ptr(f->arena, hpa & PAGE_MASK, PAGE_SIZE);
}

static uint8_t *guest_frame(struct fake_mmu *f, gfn_t gfn)
{
	return hpa_ptr(f, f->frames[gfn]);
}

/* ---- the EPT, built in the arena ------------------------------------------ */

/* The EPT entry for gpa at `target`, creating RWX nonleaf entries on the way. */
static uint64_t *ept_entry_at(struct fake_mmu *f, uint64_t gpa, unsigned target)
{
	hpa_t table = f->v.ept.root;

	for (unsigned level = f->v.ept.level; level > target; level--) {
		uint64_t *p = (uint64_t *)hpa_ptr(f, table) + ept_index(gpa, level);

		if (!*p)
			*p = fake_alloc(f, ARENA_USE_SHADOW) | EPT_RWX;
		table = ept_to_hpa(*p);
	}
	return (uint64_t *)hpa_ptr(f, table) + ept_index(gpa, target);
}

static uint64_t *ept_leaf(struct fake_mmu *f, uint64_t gpa)
{
	return ept_entry_at(f, gpa, 1);
}

static void ept_map(struct fake_mmu *f, gfn_t gfn, uint64_t rights)
{
	*ept_leaf(f, gfn << PAGE_SHIFT) = f->frames[gfn] | rights | EPT_LEAF_WB;
}

static void ept_set_root(struct fake_mmu *f)
{
	REQUIRE(vcpu_cpu_set_root(&f->v, fake_alloc(f, ARENA_USE_SHADOW), f->ept_level) == 0);
}

/* Every guest frame mapped RWX, so that a walk makes no exit. */
static void ept_map_all(struct fake_mmu *f)
{
	if (f->v.ept.root == INVALID_HPA)
		ept_set_root(f);
	for (gfn_t gfn = 0; gfn < FAKE_GFNS; gfn++)
		ept_map(f, gfn, EPT_RWX);
}

/* ---- the fake TDP MMU ------------------------------------------------------ */

static enum vcpu_pf_action fake_violation(struct fake_mmu *f, const struct vcpu_exit *e)
{
	gfn_t gfn = e->gpa >> PAGE_SHIFT;
	uint64_t *leaf;

	if (gfn >= FAKE_GFNS || (f->rom_gfn && gfn == f->rom_gfn))
		return VCPU_PF_MMIO;
	leaf = ept_leaf(f, e->gpa);
	if (*leaf & EPT_RWX)
		return VCPU_PF_FAIL; /* a rights violation: the tests look at it */
	*leaf = f->frames[gfn] | f->leaf_rights | EPT_LEAF_WB;
	return VCPU_PF_RETRY;
}

static enum vcpu_pf_action fake_page_fault(void *ctx, gva_t gva, enum smmu_access_type access,
                                           const struct vcpu_exit *e, struct vcpu_pf_reply *reply)
{
	struct fake_mmu *f = ctx;

	f->exits[f->faults++ % MAX_EXITS] = *e;
	if (f->mode == FAKE_NEVER_FIX)
		return VCPU_PF_RETRY;
	if (f->mode == FAKE_FAIL)
		return VCPU_PF_FAIL;
	switch (e->reason) {
	case HWWALK_NO_ROOT:
		ept_set_root(f);
		return VCPU_PF_RETRY;
	case HWWALK_EPT_VIOLATION:
		return fake_violation(f, e);
	case HWWALK_EPT_MISCONFIG:
		return VCPU_PF_MMIO; /* KVM's MMIO sptes are misconfigurations */
	default:
		return VCPU_PF_FAIL;
	}
}

static void fake_cr_changed(void *ctx, enum vcpu_reg which, uint64_t old_val, uint64_t new_val)
{
	((struct fake_mmu *)ctx)->cr_changes++;
}

static void fake_tlb_flush(void *ctx, enum smmu_tlb_flush kind)
{
	((struct fake_mmu *)ctx)->flushes++;
}

static const struct vcpu_mmu_ops fake_ops = {
    .page_fault = fake_page_fault,
    .cr_changed = fake_cr_changed,
    .tlb_flush = fake_tlb_flush,
};

static const struct vcpu_exit *last_exit(const struct fake_mmu *f)
{
	return &f->exits[(f->faults - 1) % MAX_EXITS];
}

/* Guest memory without the EPT (PDPTE loads, MMIO guest tables): gfns past FAKE_GFNS fail. */
static void *gpa_ptr(struct fake_mmu *f, uint64_t gpa, unsigned size)
{
	if ((gpa >> PAGE_SHIFT) >= FAKE_GFNS)
		return NULL;
	return guest_frame(f, gpa >> PAGE_SHIFT) + (gpa & ~PAGE_MASK);
}

static int fake_gpa_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	void *p = gpa_ptr(ctx, gpa, size);

	if (!p)
		return -EFAULT;
	*val = size == 4 ? *(uint32_t *)p : *(uint64_t *)p;
	return 0;
}

static int fake_gpa_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	void *p = gpa_ptr(ctx, gpa, size);

	if (!p)
		return -EFAULT;
	return smmu_cmpxchg_entry(p, size, old, new_val);
}

static struct smmu_gpa_ops fake_gpa_ops = {.read = fake_gpa_read, .cmpxchg = fake_gpa_cmpxchg};

static struct fake_mmu *fake_new(bool ept_ad)
{
	struct fake_mmu *f = calloc(1, sizeof(*f));
	struct vcpu_cpu_config cfg = {.model = &f->model,
	                              .gpa_ops = &fake_gpa_ops,
	                              .mmu_ops = &fake_ops,
	                              .mmu_ctx = f,
	                              .shortcuts = SMMU_SHORTCUTS_ALL,
	                              .tdp = true,
	                              .ept_ad = ept_ad};

	smmu_cpu_model_default(&f->model);
	f->arena = arena_create(32ull << 20);
	cfg.arena = f->arena;
	f->ept_level = 4;
	f->leaf_rights = EPT_RWX;
	f->next_pt_gfn = FIRST_PT_GFN;
	/* Frames allocated in reverse, so that no gpa equals its hpa. */
	for (unsigned gfn = FAKE_GFNS; gfn-- > 0;)
		f->frames[gfn] = fake_alloc(f, ARENA_USE_GUEST);
	fake_gpa_ops.ctx = f;
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

/* ---- the guest's page tables, in guest memory ------------------------------ */

static uint64_t gpte_get(struct fake_mmu *f, uint64_t gpa)
{
	void *p = gpa_ptr(f, gpa, f->esize);

	return f->esize == 4 ? *(uint32_t *)p : *(uint64_t *)p;
}

static void gpte_set(struct fake_mmu *f, uint64_t gpa, uint64_t val)
{
	void *p = gpa_ptr(f, gpa, f->esize);

	if (f->esize == 4)
		*(uint32_t *)p = (uint32_t)val;
	else
		*(uint64_t *)p = val;
}

/* Where gva's entry at `level` lies in the table at `table`. */
static uint64_t gpte_gpa(struct fake_mmu *f, uint64_t table, gva_t gva, unsigned level)
{
	unsigned shift = PAGE_SHIFT + f->ibits * (level - 1);
	uint64_t idx = (f->pae && level == 3) ? (gva >> 30) & 3 : (gva >> shift) & ((1u << f->ibits) - 1);

	return table + idx * f->esize;
}

/* The gpa of gva's entry at `level` (tables above it must exist). */
static uint64_t gpt_entry_gpa(struct fake_mmu *f, gva_t gva, unsigned target)
{
	uint64_t table = f->cr3 & (f->pae ? ~0x1full : PAGE_MASK);

	for (unsigned level = f->levels; level > target; level--)
		table = gpte_get(f, gpte_gpa(f, table, gva, level)) & 0x000ffffffffff000ull;
	return gpte_gpa(f, table, gva, target);
}

/* Map gva -> gpa with a 4 KiB leaf of `flags` (P added), making tables on the way. */
static void gpt_map(struct fake_mmu *f, gva_t gva, uint64_t gpa, uint64_t flags)
{
	uint64_t table = f->cr3 & (f->pae ? ~0x1full : PAGE_MASK);

	for (unsigned level = f->levels; level > 1; level--) {
		uint64_t at = gpte_gpa(f, table, gva, level), e = gpte_get(f, at);

		if (!(e & X86_PTE_P)) {
			e = ((uint64_t)f->next_pt_gfn++ << PAGE_SHIFT) | X86_PTE_P;
			if (!(f->pae && level == 3))
				e |= X86_PTE_RW | X86_PTE_US | f->upper_flags;
			gpte_set(f, at, e);
		}
		table = e & 0x000ffffffffff000ull;
	}
	gpte_set(f, gpte_gpa(f, table, gva, 1), gpa | X86_PTE_P | flags);
}

static void guest_shape(struct fake_mmu *f, unsigned levels, unsigned esize, unsigned ibits,
                        bool pae)
{
	f->levels = levels;
	f->esize = esize;
	f->ibits = ibits;
	f->pae = pae;
	f->cr3 = (uint64_t)f->next_pt_gfn++ << PAGE_SHIFT;
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, f->cr3) == VCPU_OK);
}

/* Shape the tables first (guest_shape, gpt_map), then turn paging on. */
static void paging_on(struct fake_mmu *f, uint64_t cr4)
{
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR4, cr4) == VCPU_OK);
	if (f->levels >= 4)
		REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_EFER, X86_EFER_LME | X86_EFER_NXE) ==
		        VCPU_OK);
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR0, 0x80010011) == VCPU_OK); /* PG WP ET PE */
}

static void long_mode_4(struct fake_mmu *f)
{
	guest_shape(f, 4, 8, 9, false);
}

/*
 * A test is `static void test_...(struct fake_mmu *f)` on a fresh TDP vCPU
 * (EPT A/D off unless the runner says so) and fake MMU; the runner frees
 * them after.
 */
static void (*fake_test)(struct fake_mmu *f);
static bool fake_ept_ad;

static void run_fake_test(void)
{
	struct fake_mmu *f = fake_new(fake_ept_ad);

	fake_test(f);
	fake_free(f);
}

#define RUN_TDP(fn)    (fake_test = (fn), fake_ept_ad = false, check_run(#fn, run_fake_test))
#define RUN_TDP_AD(fn) (fake_test = (fn), fake_ept_ad = true, check_run(#fn, run_fake_test))

/* ---- memory references of one cold walk: (n+1)(m+1)-1 ----------------------- */

/* One read of gva through tables mapped in advance; the walk's reference count. */
static uint64_t cold_refs(struct fake_mmu *f, gva_t gva)
{
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_read(&f->v, gva, 8, &f->out), VCPU_OK);
	CHECK_EQ(f->faults, 0);
	CHECK_EQ(f->v.stats.walks, 1);
	CHECK_EQ(f->v.stats.walk_refs_max, f->v.stats.walk_refs);
	return f->v.stats.walk_refs;
}

static void test_4level_guest_over_4level_ept_makes_24_references(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7f0000123000ull, 5 << PAGE_SHIFT, X86_PTE_RW); /* no A: updates cost nothing */
	paging_on(f, X86_CR4_PAE);
	guest_frame(f, 5)[0x40] = 0x99;
	CHECK_EQ(cold_refs(f, 0x7f0000123040ull), 24);
	CHECK_EQ(f->out.value, 0x99);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7f0000123048ull, 8, &f->out), VCPU_OK); /* a TLB hit */
	CHECK_EQ(f->v.stats.walk_refs, 24);
	CHECK_EQ(f->v.stats.walks, 1);
}

static void test_5level_guest_over_5level_ept_makes_35_references(struct fake_mmu *f)
{
	f->ept_level = 5;
	guest_shape(f, 5, 8, 9, false);
	gpt_map(f, 0x00ff000000001000ull, 6 << PAGE_SHIFT, 0);
	paging_on(f, X86_CR4_PAE | X86_CR4_LA57);
	CHECK_EQ(cold_refs(f, 0x00ff000000001000ull), 35);
}

static void test_4level_guest_over_5level_ept_makes_29_references(struct fake_mmu *f)
{
	f->ept_level = 5;
	long_mode_4(f);
	gpt_map(f, 0x1000, 6 << PAGE_SHIFT, 0);
	paging_on(f, X86_CR4_PAE);
	CHECK_EQ(cold_refs(f, 0x1000), 29);
}

static void test_paging_off_makes_one_ept_walk(struct fake_mmu *f)
{
	guest_frame(f, 3)[8] = 0x42;
	CHECK_EQ(cold_refs(f, 0x3008), 4);
	CHECK_EQ(f->out.value, 0x42);
}

static void test_paging_off_over_5level_ept_makes_5_references(struct fake_mmu *f)
{
	f->ept_level = 5;
	CHECK_EQ(cold_refs(f, 0x3008), 5);
}

/* PAE: the PDPTEs are registers (loaded through gpa_ops), so 2 guest entries: (2+1)(4+1)-1. */
static void test_pae_guest_makes_14_references(struct fake_mmu *f)
{
	guest_shape(f, 3, 8, 9, true);
	gpt_map(f, 0xc0201000, 7 << PAGE_SHIFT, 0);
	paging_on(f, X86_CR4_PAE);
	CHECK_EQ(cold_refs(f, 0xc0201000), 14);
}

static void test_32bit_guest_makes_14_references(struct fake_mmu *f)
{
	guest_shape(f, 2, 4, 10, false);
	gpt_map(f, 0xc0401000, 7 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, 0);
	guest_frame(f, 7)[0] = 0x17;
	CHECK_EQ(cold_refs(f, 0xc0401000), 14);
	CHECK_EQ(f->out.value, 0x17);
}

/* ---- guest faults go to the guest ------------------------------------------ */

static void test_guest_page_fault_is_delivered_without_an_mmu_call(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x1000, 5 << PAGE_SHIFT, X86_PTE_US); /* read-only user page */
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x2000, 8, &f->out), VCPU_PF); /* PT entry not present */
	CHECK_EQ(f->out.error_code, 0);
	CHECK_EQ(f->out.cr2, 0x2000);
	REQUIRE(vcpu_cpu_set_cpl(&f->v, 3) == 0);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x1000, 8, 1, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U);
	CHECK_EQ(f->v.cr2, 0x1000);
	CHECK_EQ(guest_frame(f, 5)[0], 0);
	CHECK_EQ(f->faults, 0);
	CHECK_EQ(f->v.stats.results[VCPU_PF], 2);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 8, &f->out), VCPU_OK);
}

static void test_non_canonical_gva_is_gp_without_an_mmu_call(struct fake_mmu *f)
{
	long_mode_4(f);
	paging_on(f, X86_CR4_PAE);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x0000800000000000ull, 8, &f->out), VCPU_GP);
	CHECK_EQ(f->faults, 0);
}

/* ---- EPT violations: gpa and qualification ----------------------------------- */

static void test_ept_violations_walk_the_guest_tables_then_the_final_gpa(struct fake_mmu *f)
{
	gva_t gva = 0x40201234;
	uint64_t final = (9ull << PAGE_SHIFT) | 0x234;

	long_mode_4(f);
	gpt_map(f, gva, 9 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	CHECK_EQ(vcpu_cpu_read(&f->v, gva, 4, &f->out), VCPU_OK);
	REQUIRE(f->faults == 6); /* no root, 4 guest tables, the final page */
	CHECK_EQ(f->exits[0].reason, HWWALK_NO_ROOT);
	for (unsigned i = 1; i <= 4; i++) {
		const struct vcpu_exit *e = &f->exits[i];

		CHECK_EQ(e->reason, HWWALK_EPT_VIOLATION);
		CHECK_EQ(e->gpa, gpt_entry_gpa(f, gva, 5 - i));
		CHECK_EQ(e->exit_qual, EPT_QUAL_READ | EPT_QUAL_GVA_VALID); /* rights 0, not final */
		CHECK_EQ(e->error_code, 0);
		CHECK_EQ(e->retry, i);
	}
	CHECK_EQ(f->exits[1].level, 4); /* the root table was empty */
	CHECK_EQ(f->exits[2].level, 1); /* then the level-1 table of the gfns below 512 */
	CHECK_EQ(f->exits[2].spte, 0);
	CHECK_EQ(f->exits[5].gpa, final);
	CHECK_EQ(f->exits[5].exit_qual, EPT_QUAL_READ | EPT_QUAL_GVA_VALID | EPT_QUAL_GVA_FINAL);
	CHECK_EQ(f->exits[5].level, 1);
	CHECK_EQ(f->exits[5].spte, 0);
	CHECK_EQ(f->v.stats.exits[HWWALK_EPT_VIOLATION], 5);
	CHECK_EQ(f->v.stats.exits[HWWALK_NO_ROOT], 1);
}

static void test_write_to_ept_readonly_page_exits_with_write_and_readable(struct fake_mmu *f)
{
	ept_set_root(f);
	ept_map(f, 4, EPT_R | EPT_X);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x4010, 8, &f->out), VCPU_OK);
	CHECK_EQ(f->faults, 0);
	/* The read filled the TLB; the write hit must not pass: the walk exits. */
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x4010, 8, 1, &f->out), VCPU_EMUL_FAIL);
	REQUIRE(f->faults == 1);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_VIOLATION);
	CHECK_EQ(last_exit(f)->gpa, 0x4010);
	CHECK_EQ(last_exit(f)->exit_qual, EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_EXECUTABLE |
	                                      EPT_QUAL_GVA_VALID | EPT_QUAL_GVA_FINAL);
	CHECK(!(last_exit(f)->exit_qual & EPT_QUAL_WRITABLE));
	CHECK_EQ(last_exit(f)->error_code, X86_PFEC_P | X86_PFEC_W);
	CHECK_EQ(last_exit(f)->value, 1);
	CHECK_EQ(guest_frame(f, 4)[0x10], 0);
}

static void test_fetch_from_ept_non_executable_page_exits_with_fetch(struct fake_mmu *f)
{
	ept_set_root(f);
	ept_map(f, 4, EPT_R | EPT_W);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x4000, 1, &f->out), VCPU_OK);
	CHECK_EQ(vcpu_cpu_fetch(&f->v, 0x4000, &f->out), VCPU_EMUL_FAIL);
	REQUIRE(f->faults == 1);
	CHECK_EQ(last_exit(f)->exit_qual, EPT_QUAL_FETCH | EPT_QUAL_READABLE | EPT_QUAL_WRITABLE |
	                                      EPT_QUAL_GVA_VALID | EPT_QUAL_GVA_FINAL);
	CHECK_EQ(last_exit(f)->error_code, X86_PFEC_P | X86_PFEC_I);
}

/* Execute-only: the fetch works, but the TLB may not hold what a read would hit. */
static void test_execute_only_page_is_fetched_but_not_read(struct fake_mmu *f)
{
	ept_set_root(f);
	ept_map(f, 4, EPT_X);
	guest_frame(f, 4)[3] = 0xc3;
	CHECK_EQ(vcpu_cpu_fetch(&f->v, 0x4003, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0xc3);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x4003, 1, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(last_exit(f)->exit_qual, EPT_QUAL_READ | EPT_QUAL_EXECUTABLE | EPT_QUAL_GVA_VALID |
	                                      EPT_QUAL_GVA_FINAL);
}

static void test_mmu_fixing_a_rights_violation_lets_the_write_through(struct fake_mmu *f)
{
	ept_set_root(f);
	ept_map(f, 4, EPT_R | EPT_X);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x4000, 8, &f->out), VCPU_OK);
	ept_map(f, 4, EPT_RWX);                    /* the MMU makes it writable ... */
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL); /* ... and flushes */
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x4000, 8, 0x55, &f->out), VCPU_OK);
	CHECK_EQ(guest_frame(f, 4)[0], 0x55);
	CHECK_EQ(f->faults, 0);
}

/* ---- EPT misconfigurations and bad entries ---------------------------------- */

static void test_write_only_ept_entry_is_a_misconfig(struct fake_mmu *f)
{
	ept_set_root(f);
	ept_map(f, 2, EPT_W);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x2000, 4, &f->out), VCPU_MMIO);
	CHECK_EQ(f->out.value, 0xffffffff);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_MISCONFIG);
	CHECK_EQ(last_exit(f)->gpa, 0x2000);
	CHECK_EQ(last_exit(f)->level, 1);
	CHECK_EQ(f->v.stats.exits[HWWALK_EPT_MISCONFIG], 1);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x2000, 4, 7, &f->out), VCPU_MMIO); /* dropped */
	CHECK_EQ(guest_frame(f, 2)[0], 0);
	CHECK_EQ(f->v.stats.mmio_reads, 1);
	CHECK_EQ(f->v.stats.mmio_writes, 1);
	ept_map(f, 3, EPT_W | EPT_X);
	CHECK_EQ(vcpu_cpu_fetch(&f->v, 0x3000, &f->out), VCPU_MMIO);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_MISCONFIG);
}

/* gpa 0x5000's entry at `level` with `bits` flipped: a misconfiguration there. */
static void check_misconfig(struct fake_mmu *f, unsigned level, uint64_t bits)
{
	uint64_t *e = ept_entry_at(f, 0x5000, level), saved = *e;

	*e = saved ^ bits;
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x5000, 8, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_MISCONFIG);
	CHECK_EQ(last_exit(f)->level, level);
	CHECK_EQ(last_exit(f)->spte, saved ^ bits);
	*e = saved;
}

static void test_reserved_ept_bits_are_misconfigs(struct fake_mmu *f)
{
	ept_map_all(f);
	f->mode = FAKE_FAIL;
	check_misconfig(f, 4, 1ull << 51);         /* above the host's physical width */
	check_misconfig(f, 4, EPT_PS);             /* PS in a level-4 entry */
	check_misconfig(f, 3, 1ull << 3);          /* bits 7:3 of a nonleaf */
	check_misconfig(f, 1, 4ull << EPT_MT_SHIFT); /* memory type 6 -> 2 */
	check_misconfig(f, 1, 1ull << EPT_MT_SHIFT); /* memory type 6 -> 7 */
	check_misconfig(f, 1, 1ull << 47);
	check_misconfig(f, 2, EPT_R);                /* W and X without R, above the leaf */
	CHECK_EQ(f->v.stats.exits[HWWALK_EPT_MISCONFIG], 7);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x5000, 8, &f->out), VCPU_OK);
}

static void test_ept_entry_outside_the_arena_is_an_emulation_failure(struct fake_mmu *f)
{
	uint64_t *leaf, *pde;

	ept_map_all(f);
	leaf = ept_leaf(f, 0x6000);
	*leaf = f->arena->size | EPT_RWX | EPT_LEAF_WB;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x6000, 8, &f->out), VCPU_EMUL_FAIL);
	pde = ept_entry_at(f, 0x6000, 2);
	*pde = (f->arena->size + 0x10000) | EPT_RWX;
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x6000, 8, 1, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->faults, 0); /* nothing the MMU is asked about */
	CHECK_EQ(f->v.stats.results[VCPU_EMUL_FAIL], 2);
}

static void test_guest_table_behind_an_ept_entry_outside_the_arena_fails(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x1000, 5 << PAGE_SHIFT, 0);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	*ept_leaf(f, f->cr3) = (1ull << 45) | EPT_RWX | EPT_LEAF_WB;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 8, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->faults, 0);
}

/* A 4-level EPT maps 48 bits of gpa: a higher gpa is a violation, never an alias of a low one. */
static void test_gpa_beyond_the_ept_reach_is_a_violation(struct fake_mmu *f)
{
	uint64_t gpa = (1ull << 48) | (5ull << PAGE_SHIFT);

	f->v.model.maxphyaddr = 52;
	long_mode_4(f);
	gpt_map(f, 0x7000, gpa, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	f->mode = FAKE_FAIL;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_EMUL_FAIL);
	REQUIRE(f->faults == 1);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_VIOLATION);
	CHECK_EQ(last_exit(f)->gpa, gpa);
	CHECK_EQ(last_exit(f)->exit_qual, EPT_QUAL_READ | EPT_QUAL_GVA_VALID | EPT_QUAL_GVA_FINAL);
}

static void test_mmu_that_never_fixes_gives_bounded_emulation_failure(struct fake_mmu *f)
{
	f->mode = FAKE_NEVER_FIX;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x1000, 4, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->faults, VCPU_MAX_FAULT_RETRIES);
	CHECK_EQ(f->v.stats.retries_exhausted, 1);
}

/* ---- MMIO ------------------------------------------------------------------------ */

static void test_mmio_final_gpa_reads_all_ones_and_drops_writes(struct fake_mmu *f)
{
	gva_t gva = 0x5000;
	uint64_t mmio = (uint64_t)(FAKE_GFNS + 3) << PAGE_SHIFT;

	long_mode_4(f);
	gpt_map(f, gva, mmio, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_read(&f->v, gva + 8, 2, &f->out), VCPU_MMIO);
	CHECK_EQ(f->out.value, 0xffff);
	CHECK_EQ(last_exit(f)->gpa, mmio + 8);
	CHECK(last_exit(f)->exit_qual & EPT_QUAL_GVA_FINAL);
	CHECK_EQ(vcpu_cpu_write(&f->v, gva, 8, 3, &f->out), VCPU_MMIO);
	CHECK_EQ(f->v.stats.mmio_writes, 1);
	CHECK(gpte_get(f, gpt_entry_gpa(f, gva, 1)) & X86_PTE_D); /* the guest walk succeeded */
}

/*
 * A guest page table in MMIO space: read through the ordinary gpa ops, as
 * shadow mode's guest walker does - the same #PF the guest would see there.
 */
static void test_guest_table_in_mmio_faults_as_in_shadow_mode(struct fake_mmu *f)
{
	gva_t gva = 0x00200000;
	struct smmu_walk shadow;
	uint64_t pde_gpa;

	long_mode_4(f);
	gpt_map(f, gva, 5 << PAGE_SHIFT, X86_PTE_RW);
	pde_gpa = gpt_entry_gpa(f, gva, 2);
	gpte_set(f, pde_gpa, ((uint64_t)(FAKE_GFNS + 1) << PAGE_SHIFT) | GPTE_FLAGS);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(smmu_x86_walk(&f->v.state, &f->model, &fake_gpa_ops, gva, SMMU_ACCESS_WRITE, &shadow),
	         SMMU_WALK_PF);
	CHECK_EQ(vcpu_cpu_write(&f->v, gva, 8, 1, &f->out), VCPU_PF);
	CHECK_EQ(f->out.error_code, shadow.error_code);
	CHECK_EQ(f->out.error_code, X86_PFEC_W);
	REQUIRE(f->faults == 1);
	CHECK_EQ(last_exit(f)->gpa, ((uint64_t)(FAKE_GFNS + 1) << PAGE_SHIFT) | ((gva >> 12) & 511) * 8);
	CHECK(!(last_exit(f)->exit_qual & EPT_QUAL_GVA_FINAL));
	CHECK_EQ(f->v.stats.results[VCPU_PF], 1);
}

/*
 * A guest page table the MMU calls MMIO though the ordinary ops can read it
 * (a read-only memslot): read through them, its A update skipped - shadow
 * mode's walker, whose compare-and-exchange fails on such a slot.
 */
static void test_guest_table_in_readonly_memory_is_read_and_keeps_its_flags(struct fake_mmu *f)
{
	gva_t gva = 0x7000;
	uint64_t pte_gpa;

	long_mode_4(f);
	gpt_map(f, gva, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	pte_gpa = gpt_entry_gpa(f, gva, 1);
	ept_map_all(f);
	f->rom_gfn = pte_gpa >> PAGE_SHIFT;
	*ept_leaf(f, pte_gpa) = 0;
	guest_frame(f, 5)[0] = 0x5e;
	CHECK_EQ(vcpu_cpu_read(&f->v, gva, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x5e);
	REQUIRE(f->faults == 1);
	CHECK_EQ(last_exit(f)->gpa, pte_gpa);
	CHECK(!(gpte_get(f, pte_gpa) & X86_PTE_A));
	CHECK(gpte_get(f, gpt_entry_gpa(f, gva, 2)) & X86_PTE_A);
}

/* ---- A/D bits -------------------------------------------------------------------- */

static void test_guest_ad_bits_are_set_by_the_vcpu_walk(struct fake_mmu *f)
{
	gva_t gva = 0x7000;

	long_mode_4(f);
	gpt_map(f, gva, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_read(&f->v, gva, 8, &f->out), VCPU_OK);
	for (unsigned level = 4; level >= 1; level--)
		CHECK(gpte_get(f, gpt_entry_gpa(f, gva, level)) & X86_PTE_A);
	CHECK(!(gpte_get(f, gpt_entry_gpa(f, gva, 1)) & X86_PTE_D));
	/* A write through the clean entry the read filled walks again and sets D. */
	CHECK_EQ(f->v.stats.walks, 1);
	CHECK_EQ(vcpu_cpu_write(&f->v, gva, 8, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 2);
	CHECK(gpte_get(f, gpt_entry_gpa(f, gva, 1)) & X86_PTE_D);
	CHECK(!(gpte_get(f, gpt_entry_gpa(f, gva, 2)) & X86_PTE_D));
	CHECK_EQ(vcpu_cpu_write(&f->v, gva + 8, 8, 2, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 2); /* now dirty: a hit */
	CHECK_EQ(guest_frame(f, 5)[8], 2);
}

static void test_faulting_guest_walk_sets_no_guest_ad_bit(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, 0); /* read-only */
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x7000, 8, 1, &f->out), VCPU_PF);
	CHECK(!(gpte_get(f, gpt_entry_gpa(f, 0x7000, 4)) & X86_PTE_A));
	CHECK(!(gpte_get(f, gpt_entry_gpa(f, 0x7000, 1)) & X86_PTE_A));
}

/* Every EPT entry on the path to gpa has A (or not). */
static bool ept_path_has(struct fake_mmu *f, uint64_t gpa, uint64_t bit)
{
	for (unsigned level = f->v.ept.level; level >= 1; level--)
		if (!(*ept_entry_at(f, gpa, level) & bit))
			return false;
	return true;
}

static void test_ept_ad_bits_are_never_touched_without_ept_ad(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x7000, 8, 1, &f->out), VCPU_OK);
	for (unsigned level = 4; level >= 1; level--) {
		CHECK(!(*ept_entry_at(f, 0x5000, level) & (EPT_A | EPT_D)));
		CHECK(!(*ept_entry_at(f, f->cr3, level) & (EPT_A | EPT_D)));
	}
	CHECK(gpte_get(f, gpt_entry_gpa(f, 0x7000, 1)) & X86_PTE_D); /* guest A/D still set */
}

static void test_ept_ad_sets_a_on_the_path_and_d_on_writes(struct fake_mmu *f)
{
	gva_t gva = 0x7000;

	long_mode_4(f);
	gpt_map(f, gva, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	CHECK_EQ(vcpu_cpu_read(&f->v, gva, 8, &f->out), VCPU_OK);
	CHECK(ept_path_has(f, 0x5000, EPT_A));
	CHECK(!(*ept_leaf(f, 0x5000) & EPT_D));
	/* Guest paging-structure accesses are EPT writes: the table pages are dirty. */
	CHECK(ept_path_has(f, f->cr3, EPT_A));
	CHECK(*ept_leaf(f, f->cr3) & EPT_D);
	CHECK(*ept_leaf(f, gpt_entry_gpa(f, gva, 1)) & EPT_D);
	CHECK(!(*ept_entry_at(f, f->cr3, 2) & EPT_D)); /* D only in leaves */
	CHECK_EQ(vcpu_cpu_write(&f->v, gva, 8, 1, &f->out), VCPU_OK);
	CHECK(*ept_leaf(f, 0x5000) & EPT_D);
}

/*
 * A 4-level guest whose PML4 the EPT maps read-only (R+X): a read of 0x7000
 * must exit once, at the PML4's gpa.  True if it did (checked as it goes).
 */
static bool read_through_readonly_pml4_exits(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	ept_map(f, f->cr3 >> PAGE_SHIFT, EPT_R | EPT_X);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(f->faults, 1);
	CHECK_EQ(last_exit(f)->gpa, f->cr3);
	return f->faults == 1 && last_exit(f)->gpa == f->cr3;
}

/* With EPT A/D, a read-only EPT mapping of a guest page table exits with READ and WRITE. */
static void test_ept_ad_guest_table_read_needs_ept_write(struct fake_mmu *f)
{
	REQUIRE(read_through_readonly_pml4_exits(f));
	CHECK_EQ(last_exit(f)->exit_qual, EPT_QUAL_READ | EPT_QUAL_WRITE | EPT_QUAL_READABLE |
	                                      EPT_QUAL_EXECUTABLE | EPT_QUAL_GVA_VALID);
}

/* Without EPT A/D, the same mapping is read fine; only the guest's A update is a write. */
static void test_guest_ad_update_on_ept_readonly_table_exits_with_write(struct fake_mmu *f)
{
	REQUIRE(read_through_readonly_pml4_exits(f));
	CHECK_EQ(last_exit(f)->exit_qual,
	         EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_EXECUTABLE | EPT_QUAL_GVA_VALID);
	CHECK(!(gpte_get(f, f->cr3) & X86_PTE_A));
	CHECK(!(gpte_get(f, gpt_entry_gpa(f, 0x7000, 3)) & X86_PTE_A)); /* the exit ended the walk */
	/* Already accessed: nothing to write, the walk goes through. */
	gpte_set(f, f->cr3, gpte_get(f, f->cr3) | X86_PTE_A);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_OK);
}

/* ---- the combined TLB ------------------------------------------------------------ */

static void test_ept_write_protect_keeps_guest_writable_entry_from_a_write_hit(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, X86_PTE_RW | X86_PTE_A | X86_PTE_D);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	ept_map(f, 5, EPT_R | EPT_X);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_OK);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x7000, 8, 1, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_VIOLATION);
	CHECK_EQ(guest_frame(f, 5)[0], 0);
}

static void test_ept_ad_write_after_read_walks_again_for_ept_d(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, X86_PTE_RW | X86_PTE_A | X86_PTE_D); /* guest dirty */
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 1);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x7000, 8, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 2);
	CHECK(*ept_leaf(f, 0x5000) & EPT_D);
	CHECK_EQ(vcpu_cpu_write(&f->v, 0x7000, 8, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 2);
}

static void test_cr3_write_flushes_and_tells_the_mmu(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_OK);
	f->cr_changes = f->flushes = 0;
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, f->cr3), VCPU_OK);
	CHECK_EQ(f->cr_changes, 1);
	CHECK_EQ(f->flushes, 1);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 8, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 2);
}

static void test_guest_page_table_change_is_seen_after_invlpg(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, 0x7000, 5 << PAGE_SHIFT, X86_PTE_RW);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	guest_frame(f, 6)[0] = 0x66;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0);
	gpt_map(f, 0x7000, 6 << PAGE_SHIFT, X86_PTE_RW);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 1, &f->out), VCPU_OK); /* the TLB keeps the old one */
	CHECK_EQ(f->out.value, 0);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, 0x7000), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x7000, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x66);
}

/* A 4 MiB page (32-bit paging, PSE): INVLPG anywhere in it drops what came from it. */
static void test_4m_guest_page_is_cached_and_invlpg_drops_all_of_it(struct fake_mmu *f)
{
	uint64_t pde_gpa;

	guest_shape(f, 2, 4, 10, false);
	pde_gpa = (f->cr3 & PAGE_MASK) + (0x00400000 >> 22) * 4;
	gpte_set(f, pde_gpa, X86_PTE_P | X86_PTE_RW | X86_PTE_PS); /* gpa 0: gfns 0..1023 */
	paging_on(f, X86_CR4_PSE);
	ept_map_all(f);
	guest_frame(f, 2)[1] = 0x21;
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x00402001, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x21);
	CHECK_EQ(f->v.tlb.nr_large, 1);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x00402001, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 1);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, 0x00600000), VCPU_OK); /* the other 2 MiB half */
	CHECK_EQ(f->v.tlb.nr_large, 0);
	CHECK_EQ(vcpu_cpu_read(&f->v, 0x00402001, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->v.stats.walks, 2);
}


/* ---- the 2D walk's caches: the nested TLB and the guest paging-structure cache ---- */

#define GVA_A 0x7f0000123000ull /* A and B share a guest page table (one 2 MiB region) */
#define GVA_B 0x7f0000124000ull
#define GVA_C 0x7f0000125000ull

/* The references of one access (a walk, or 0 on a TLB hit). */
static uint64_t refs_of(struct fake_mmu *f, gva_t gva, bool write)
{
	uint64_t before = f->v.stats.walk_refs;

	if (write)
		CHECK_EQ(vcpu_cpu_write(&f->v, gva, 8, 0x77, &f->out), VCPU_OK);
	else
		CHECK_EQ(vcpu_cpu_read(&f->v, gva, 8, &f->out), VCPU_OK);
	return f->v.stats.walk_refs - before;
}

/* A 4-level guest with A, B, C mapped to gfns 5, 6, 7 (guest A set, D clear), EPT all RWX. */
static void three_pages(struct fake_mmu *f)
{
	long_mode_4(f);
	gpt_map(f, GVA_A, 5 << PAGE_SHIFT, X86_PTE_RW | X86_PTE_A);
	gpt_map(f, GVA_B, 6 << PAGE_SHIFT, X86_PTE_RW | X86_PTE_A);
	gpt_map(f, GVA_C, 7 << PAGE_SHIFT, X86_PTE_RW | X86_PTE_A);
	paging_on(f, X86_CR4_PAE);
	ept_map_all(f);
	for (unsigned g = 5; g <= 7; g++)
		guest_frame(f, g)[0] = (uint8_t)(0x50 + g);
}

/* vcpu_cpu_config.shortcuts for the cache tests: all, or all but `off`. */
static void restart_with(struct fake_mmu *f, uint32_t shortcuts)
{
	struct vcpu_cpu_config cfg = {.arena = f->arena,
	                              .model = &f->model,
	                              .gpa_ops = &fake_gpa_ops,
	                              .mmu_ops = &fake_ops,
	                              .mmu_ctx = f,
	                              .shortcuts = shortcuts,
	                              .tdp = true,
	                              .ept_ad = f->v.ept.ad};

	vcpu_cpu_destroy(&f->v);
	REQUIRE(vcpu_cpu_init(&f->v, &cfg) == 0);
}

/*
 * Cold: 24.  The neighbour B, its PTE in the page table A's walk read: the
 * PDE cache leaves the PTE (1 reference, its table's gpa a nested-TLB hit)
 * and the final gpa (gfn 6, a nested-TLB miss: the EPT PDE cache leaves
 * its EPT PTE, 1) = 2.  A write to A through its clean guest leaf: the
 * PTE again, the final gpa a nested-TLB hit = 1.  INVLPG B empties the
 * PCID's paging-structure caches (SDM 4.10.4.1): B again reads 4 guest
 * entries (their tables' gpas nested-TLB hits) and no EPT entry = 4.
 * Under EPT A/D the write costs 2: the nested-TLB entry of gfn 5, filled
 * by a read, has no EPT D, so the write reads the EPT PTE and sets D.
 */
static void test_warm_2d_walks_cost_only_what_the_caches_cannot_save(struct fake_mmu *f)
{
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	CHECK_EQ(f->out.value & 0xff, 0x55);
	CHECK_EQ(refs_of(f, GVA_B, false), 2);
	CHECK_EQ(f->out.value & 0xff, 0x56);
	CHECK_EQ(f->v.stats.psc2d_hits, 1);
	CHECK_EQ(refs_of(f, GVA_A, true), f->v.ept.ad ? 2 : 1);
	CHECK(!f->v.ept.ad || (*ept_leaf(f, 5 << PAGE_SHIFT) & EPT_D));
	CHECK(gpte_get(f, gpt_entry_gpa(f, GVA_A, 1)) & X86_PTE_D);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, GVA_B), VCPU_OK);
	CHECK_EQ(refs_of(f, GVA_B, false), 4);
	CHECK_EQ(f->v.stats.psc2d_hits, 2);
	CHECK_EQ(refs_of(f, GVA_C, false), 2); /* the B walk refilled the PDE cache */
	CHECK_EQ(f->v.stats.walk_refs_max, 24);
	CHECK(f->v.stats.nested_tlb_hits > 0 && f->v.stats.nested_pde_hits > 0);
}

/* The same accesses with the nested TLB off: every gpa is a full 4-reference EPT walk. */
static void test_no_nested_tlb_walks_every_gpa_through_the_ept(struct fake_mmu *f)
{
	restart_with(f, SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_NESTED_TLB);
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	CHECK_EQ(refs_of(f, GVA_B, false), 4 + 1 + 4); /* PTE's EPT walk, PTE, final */
	CHECK_EQ(f->v.stats.psc2d_hits, 1);
	CHECK_EQ(f->v.stats.nested_tlb_hits + f->v.stats.nested_tlb_misses, 0);
}

/* With the guest PSC off: every guest entry read, each a nested-TLB hit. */
static void test_no_psc_2d_reads_every_guest_entry(struct fake_mmu *f)
{
	restart_with(f, SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_PSC_2D);
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	CHECK_EQ(refs_of(f, GVA_B, false), 4 + 1); /* 4 guest entries, final via the EPT PDE cache */
	CHECK_EQ(refs_of(f, GVA_A, true), 4);
	CHECK_EQ(f->v.stats.psc2d_hits, 0);
}

/* Both off: every walk is the cold walk. */
static void test_no_2d_caches_every_walk_is_cold(struct fake_mmu *f)
{
	restart_with(f, SMMU_SHORTCUTS_ALL & ~(SMMU_SHORTCUT_PSC_2D | SMMU_SHORTCUT_NESTED_TLB));
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	CHECK_EQ(refs_of(f, GVA_B, false), 24);
	CHECK_EQ(refs_of(f, GVA_A, true), 24);
}

/*
 * Point B's PDE at a new page table mapping B and C to gfns 8 and 9,
 * without invalidating anything: what psc2d may still hold is stale.
 */
static void repoint_pde(struct fake_mmu *f)
{
	uint64_t pt = (uint64_t)f->next_pt_gfn++ << PAGE_SHIFT;

	gpte_set(f, pt + ((GVA_B >> 12) & 511) * 8, (8 << PAGE_SHIFT) | GPTE_FLAGS | X86_PTE_A);
	gpte_set(f, pt + ((GVA_C >> 12) & 511) * 8, (9 << PAGE_SHIFT) | GPTE_FLAGS | X86_PTE_A);
	gpte_set(f, gpt_entry_gpa(f, GVA_B, 2), pt | GPTE_FLAGS | X86_PTE_A);
	guest_frame(f, 8)[0] = 0x58;
	guest_frame(f, 9)[0] = 0x59;
}

/* Read A (filling the PDE cache), repoint B's PDE: B and C are not in the TLB. */
static void cached_then_repointed(struct fake_mmu *f)
{
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	repoint_pde(f);
}

/* SDM 4.10.4.2: without invalidation the processor may use the cached PDE - and here does. */
static void test_psc_2d_keeps_a_changed_pde_until_invalidated(struct fake_mmu *f)
{
	cached_then_repointed(f);
	CHECK_EQ(refs_of(f, GVA_B, false), 2);
	CHECK_EQ(f->out.value & 0xff, 0x56);
}

/* INVLPG of any address empties the PCID's PSC entries (SDM 4.10.4.1). */
static void test_invlpg_of_another_gva_drops_the_cached_pde(struct fake_mmu *f)
{
	cached_then_repointed(f);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, 0x1000), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x58);
}

/* The guest clears A in a PDE and invalidates: the next walk sets it again (SDM 4.8). */
static void test_upper_guest_a_bit_is_set_again_after_invlpg(struct fake_mmu *f)
{
	uint64_t pde;

	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	pde = gpt_entry_gpa(f, GVA_A, 2);
	CHECK(gpte_get(f, pde) & X86_PTE_A);
	gpte_set(f, pde, gpte_get(f, pde) & ~X86_PTE_A);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, GVA_B), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK);
	CHECK(gpte_get(f, pde) & X86_PTE_A);
}

static void test_cr3_write_drops_the_cached_pde(struct fake_mmu *f)
{
	cached_then_repointed(f);
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, f->cr3), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_C, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x59);
}

/* PCID 1; a no-flush CR3 write keeps the PCID's PSC entries, a flushing one drops them. */
static void test_cr3_pcid_no_flush_keeps_the_cached_pde_and_a_flush_drops_it(struct fake_mmu *f)
{
	three_pages(f);
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR4, X86_CR4_PAE | X86_CR4_PCIDE) == VCPU_OK);
	f->cr3 |= 1;
	REQUIRE(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, f->cr3) == VCPU_OK);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	repoint_pde(f);
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, f->cr3 | X86_CR3_NOFLUSH), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x56); /* the cached PDE, as the SDM allows */
	CHECK_EQ(f->v.stats.psc2d_hits, 1);
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR3, f->cr3), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_C, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x59);
}

static void test_cr4_write_drops_the_cached_pde(struct fake_mmu *f)
{
	cached_then_repointed(f);
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR4, X86_CR4_PAE | X86_CR4_PGE), VCPU_OK);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x58);
}

static void test_cr0_write_drops_the_cached_pde(struct fake_mmu *f)
{
	cached_then_repointed(f);
	CHECK_EQ(vcpu_cpu_write_reg(&f->v, VCPU_REG_CR0, 0x80000011), VCPU_OK); /* WP off */
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x58);
}

static void test_flush_drops_the_cached_pde(struct fake_mmu *f)
{
	cached_then_repointed(f);
	vcpu_cpu_flush(&f->v);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x58);
}

/* The MMU zaps the EPT entry of the guest's page directory and flushes: the walk must exit there. */
static void test_mmu_flush_after_zapping_a_guest_table_drops_the_cached_pde(struct fake_mmu *f)
{
	uint64_t pd;

	three_pages(f);
	pd = gpt_entry_gpa(f, GVA_A, 2) & PAGE_MASK;
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	*ept_leaf(f, pd) = 0;
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_B, 1, &f->out), VCPU_OK); /* the fake maps it again */
	CHECK_EQ(f->faults, 1);
	CHECK_EQ(last_exit(f)->gpa, gpt_entry_gpa(f, GVA_B, 2));
	CHECK_EQ(last_exit(f)->exit_qual & EPT_QUAL_GVA_FINAL, 0);
}

/* The MMU removes the data page's EPT leaf and flushes: the next access exits. */
static void test_mmu_flush_after_zapping_a_leaf_drops_the_nested_tlb_entry(struct fake_mmu *f)
{
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	*ept_leaf(f, 5 << PAGE_SHIFT) = 0;
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_A, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->faults, 1);
	CHECK_EQ(last_exit(f)->gpa, 5 << PAGE_SHIFT);
}

/* Another thread's flush request (the remote flush) has the same effect: a new frame is seen. */
static void test_remote_flush_after_moving_a_frame_shows_the_new_frame(struct fake_mmu *f)
{
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, GVA_A), VCPU_OK); /* the TLB entry goes; the nested TLB stays */
	*ept_leaf(f, 5 << PAGE_SHIFT) = f->frames[9] | EPT_RWX | EPT_LEAF_WB;
	guest_frame(f, 9)[0] = 0x99;
	vcpu_cpu_request_tlb_flush(&f->v);
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_A, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->out.value, 0x99);
}

/* A new EPT root (the same gpa mapped elsewhere) is never answered from the old one's entries. */
static void test_new_ept_root_drops_the_nested_tlb(struct fake_mmu *f)
{
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, false), 24);
	CHECK_EQ(vcpu_cpu_invlpg(&f->v, GVA_A), VCPU_OK);
	ept_set_root(f);
	ept_map_all(f);
	ept_map(f, 5, 0); /* not present under the new root */
	CHECK_EQ(vcpu_cpu_read(&f->v, GVA_A, 1, &f->out), VCPU_OK);
	CHECK_EQ(f->faults, 1);
	CHECK_EQ(last_exit(f)->gpa, 5 << PAGE_SHIFT);
}

/* EPT write-protecting the data page (a narrowing) and flushing: the next write exits. */
static void test_mmu_write_protect_and_flush_makes_the_next_write_exit(struct fake_mmu *f)
{
	three_pages(f);
	CHECK_EQ(refs_of(f, GVA_A, true), 24);
	ept_map(f, 5, EPT_R | EPT_X);
	vcpu_cpu_tlb_flush(&f->v, SMMU_FLUSH_ALL);
	CHECK_EQ(vcpu_cpu_write(&f->v, GVA_A, 8, 1, &f->out), VCPU_EMUL_FAIL);
	CHECK_EQ(last_exit(f)->reason, HWWALK_EPT_VIOLATION);
	CHECK_EQ(last_exit(f)->exit_qual & EPT_QUAL_WRITE, EPT_QUAL_WRITE);
}

/* ---- shadow mode counts its references too ----------------------------------- */

static void test_shadow_walk_counts_one_reference_per_level(void)
{
	struct arena *a = arena_create(1ull << 20);
	struct hw_perm perm;
	struct hwwalk_result r;
	hpa_t t[4], page;
	struct hwwalk_env env = {.arena = a, .root_level = 4, .perm = &perm};

	REQUIRE(a);
	for (unsigned i = 0; i < 4; i++)
		REQUIRE(arena_alloc(a, 0, ARENA_USE_SHADOW, &t[i]) == 0);
	REQUIRE(arena_alloc(a, 0, ARENA_USE_GUEST, &page) == 0);
	hw_perm_init(&perm, 0, false, false, false, false, 0);
	env.root = t[0];
	for (unsigned i = 0; i < 3; i++)
		((uint64_t *)arena_hpa_to_ptr(a, t[i], PAGE_SIZE))[0] = spte_make_nonleaf(t[i + 1]);
	CHECK_EQ(hwwalk(&env, 0x1000, SMMU_ACCESS_READ, &r), HWWALK_NOT_PRESENT);
	CHECK_EQ(r.refs, 4);
	((uint64_t *)arena_hpa_to_ptr(a, t[3], PAGE_SIZE))[1] =
	    spte_make_leaf(page, 1, SMMU_ACC_W | SMMU_ACC_X, 0, 0);
	CHECK_EQ(hwwalk(&env, 0x1000, SMMU_ACCESS_READ, &r), HWWALK_OK);
	CHECK_EQ(r.refs, 4);
	CHECK_EQ(hwwalk(&env, 0x40000000, SMMU_ACCESS_READ, &r), HWWALK_NOT_PRESENT);
	CHECK_EQ(r.refs, 2);
	arena_destroy(a);
}

int main(void)
{
	RUN_TDP(test_4level_guest_over_4level_ept_makes_24_references);
	RUN_TDP(test_5level_guest_over_5level_ept_makes_35_references);
	RUN_TDP(test_4level_guest_over_5level_ept_makes_29_references);
	RUN_TDP(test_paging_off_makes_one_ept_walk);
	RUN_TDP(test_paging_off_over_5level_ept_makes_5_references);
	RUN_TDP(test_pae_guest_makes_14_references);
	RUN_TDP(test_32bit_guest_makes_14_references);
	RUN_TDP_AD(test_4level_guest_over_4level_ept_makes_24_references);
	RUN_TDP(test_guest_page_fault_is_delivered_without_an_mmu_call);
	RUN_TDP(test_non_canonical_gva_is_gp_without_an_mmu_call);
	RUN_TDP(test_ept_violations_walk_the_guest_tables_then_the_final_gpa);
	RUN_TDP(test_write_to_ept_readonly_page_exits_with_write_and_readable);
	RUN_TDP(test_fetch_from_ept_non_executable_page_exits_with_fetch);
	RUN_TDP(test_execute_only_page_is_fetched_but_not_read);
	RUN_TDP(test_mmu_fixing_a_rights_violation_lets_the_write_through);
	RUN_TDP(test_write_only_ept_entry_is_a_misconfig);
	RUN_TDP(test_reserved_ept_bits_are_misconfigs);
	RUN_TDP(test_ept_entry_outside_the_arena_is_an_emulation_failure);
	RUN_TDP(test_guest_table_behind_an_ept_entry_outside_the_arena_fails);
	RUN_TDP(test_gpa_beyond_the_ept_reach_is_a_violation);
	RUN_TDP(test_mmu_that_never_fixes_gives_bounded_emulation_failure);
	RUN_TDP(test_mmio_final_gpa_reads_all_ones_and_drops_writes);
	RUN_TDP(test_guest_table_in_mmio_faults_as_in_shadow_mode);
	RUN_TDP(test_guest_table_in_readonly_memory_is_read_and_keeps_its_flags);
	RUN_TDP(test_guest_ad_bits_are_set_by_the_vcpu_walk);
	RUN_TDP(test_faulting_guest_walk_sets_no_guest_ad_bit);
	RUN_TDP(test_ept_ad_bits_are_never_touched_without_ept_ad);
	RUN_TDP_AD(test_ept_ad_sets_a_on_the_path_and_d_on_writes);
	RUN_TDP_AD(test_ept_ad_guest_table_read_needs_ept_write);
	RUN_TDP(test_guest_ad_update_on_ept_readonly_table_exits_with_write);
	RUN_TDP(test_ept_write_protect_keeps_guest_writable_entry_from_a_write_hit);
	RUN_TDP_AD(test_ept_ad_write_after_read_walks_again_for_ept_d);
	RUN_TDP(test_cr3_write_flushes_and_tells_the_mmu);
	RUN_TDP(test_guest_page_table_change_is_seen_after_invlpg);
	RUN_TDP(test_4m_guest_page_is_cached_and_invlpg_drops_all_of_it);
	RUN_TDP(test_warm_2d_walks_cost_only_what_the_caches_cannot_save);
	RUN_TDP_AD(test_warm_2d_walks_cost_only_what_the_caches_cannot_save);
	RUN_TDP(test_no_nested_tlb_walks_every_gpa_through_the_ept);
	RUN_TDP(test_no_psc_2d_reads_every_guest_entry);
	RUN_TDP(test_no_2d_caches_every_walk_is_cold);
	RUN_TDP(test_psc_2d_keeps_a_changed_pde_until_invalidated);
	RUN_TDP(test_invlpg_of_another_gva_drops_the_cached_pde);
	RUN_TDP(test_upper_guest_a_bit_is_set_again_after_invlpg);
	RUN_TDP(test_cr3_write_drops_the_cached_pde);
	RUN_TDP(test_cr3_pcid_no_flush_keeps_the_cached_pde_and_a_flush_drops_it);
	RUN_TDP(test_cr4_write_drops_the_cached_pde);
	RUN_TDP(test_cr0_write_drops_the_cached_pde);
	RUN_TDP(test_flush_drops_the_cached_pde);
	RUN_TDP(test_mmu_flush_after_zapping_a_guest_table_drops_the_cached_pde);
	RUN_TDP(test_mmu_flush_after_zapping_a_leaf_drops_the_nested_tlb_entry);
	RUN_TDP(test_remote_flush_after_moving_a_frame_shows_the_new_frame);
	RUN_TDP(test_new_ept_root_drops_the_nested_tlb);
	RUN_TDP_AD(test_mmu_write_protect_and_flush_makes_the_next_write_exit);
	RUN(test_shadow_walk_counts_one_reference_per_level);
	return check_finish();
}
