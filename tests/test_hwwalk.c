/*
 * test_hwwalk.c - the hardware walker over shadow tables (src/x86/hwwalk.c)
 * and the spte encodings it reads (src/x86/spte.h).
 *
 * Tables are built by hand in a private arena (a struct arena over an
 * aligned buffer: only arena_hpa_to_ptr() is used), so each test states
 * the exact sptes a rule is about.  Expected error codes follow SDM Vol. 3A
 * 4.7 with CR0.WP = 1 and EFER.NXE = 1.
 */
#include <stdlib.h>
#include <string.h>

#include "support/check.h"
#include "cpu/hwwalk.h"
#include "mmu/spte.h"

#define ARENA_FRAMES 1024 /* 4 MiB: room for a 2 MiB leaf at 2 MiB */
#define FIRST_TABLE  64   /* frames below hold data pages */

#define ACC_ALL (SMMU_ACC_W | SMMU_ACC_U | SMMU_ACC_X)

struct fix {
	struct arena arena;
	unsigned next_frame;
	struct hw_perm perm;
	struct hwwalk_env env;
	struct hwwalk_result r; /* what walk() saw last */
};

static struct fix *fix_new(unsigned levels)
{
	struct fix *f = calloc(1, sizeof(*f));

	f->arena.size = ARENA_FRAMES * PAGE_SIZE;
	f->arena.base = aligned_alloc(PAGE_SIZE, f->arena.size);
	memset(f->arena.base, 0, f->arena.size);
	f->next_frame = FIRST_TABLE;
	hw_perm_init(&f->perm, 0, false, false, false, false, 0);
	f->env = (struct hwwalk_env){.arena = &f->arena,
	                             .root = f->next_frame++ * PAGE_SIZE,
	                             .root_level = levels,
	                             .perm = &f->perm};
	return f;
}

static void fix_free(struct fix *f)
{
	free(f->arena.base);
	free(f);
}

static uint64_t *sptep_at(struct fix *f, hpa_t table, unsigned index)
{
	return (uint64_t *)(f->arena.base + table) + index;
}

/* The spte for gva at `level`, creating nonleaf sptes on the way down. */
static uint64_t *fix_sptep(struct fix *f, gva_t gva, unsigned level)
{
	hpa_t table = f->env.root;

	for (unsigned l = f->env.root_level; l > level; l--) {
		uint64_t *p = sptep_at(f, table, spte_index(gva, l));

		if (!*p)
			*p = spte_make_nonleaf(f->next_frame++ * PAGE_SIZE) & ~SPTE_A;
		table = spte_to_hpa(*p);
	}
	return sptep_at(f, table, spte_index(gva, level));
}

static uint64_t *map(struct fix *f, gva_t gva, hpa_t hpa, unsigned level, unsigned acc)
{
	uint64_t *p = fix_sptep(f, gva, level);

	*p = spte_make_leaf(hpa, level, acc, 0, 0);
	return p;
}

static void set_perm(struct fix *f, unsigned cpl, bool smep, bool smap, bool pke, bool ac,
                     uint32_t pkru)
{
	hw_perm_init(&f->perm, cpl, smep, smap, pke, ac, pkru);
}

static enum hwwalk_exit walk(struct fix *f, gva_t gva, enum smmu_access_type access)
{
	return hwwalk(&f->env, gva, access, &f->r);
}

/* The walk of gva ends in `exit` at level `lvl`. */
#define CHECK_WALK_AT(f, gva, access, exit, lvl)                                                   \
	do {                                                                                       \
		CHECK_EQ(walk(f, gva, access), (exit));                                            \
		CHECK_EQ((f)->r.level, (lvl));                                                     \
	} while (0)

/*
 * A test is `static void test_...(struct fix *f)` on a fresh fixture of the
 * paging depth main() names; the runner frees it after.
 */
static void (*fix_test)(struct fix *f);
static unsigned fix_test_levels;

static void run_fix_test(void)
{
	struct fix *f = fix_new(fix_test_levels);

	fix_test(f);
	fix_free(f);
}

#define RUN_LEVELS(levels, fn)                                                                     \
	(fix_test_levels = (levels), fix_test = (fn), check_run(#fn, run_fix_test))

/* ---- translation and A/D ---------------------------------------------- */

static void test_walk_translates_4k_page_with_offset(struct fix *f)
{
	map(f, 0x7f0000123000, 5 * PAGE_SIZE, 1, ACC_ALL);
	CHECK_EQ(walk(f, 0x7f0000123abc, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(f->r.hpa, 5 * PAGE_SIZE + 0xabc);
	CHECK_EQ(f->r.level, 1);
	CHECK_EQ(f->r.access, ACC_ALL);
	CHECK_EQ(f->r.error_code, 0);
}

static void test_successful_walk_sets_accessed_in_every_level(struct fix *f)
{
	gva_t gva = 0x123456789000;

	map(f, gva, 5 * PAGE_SIZE, 1, ACC_ALL);
	for (unsigned l = 1; l <= 4; l++)
		CHECK(!(*fix_sptep(f, gva, l) & SPTE_A));
	REQUIRE(walk(f, gva, SMMU_ACCESS_READ) == HWWALK_OK);
	for (unsigned l = 1; l <= 4; l++)
		CHECK_MSG(*fix_sptep(f, gva, l) & SPTE_A, "level %u lacks A", l);
	CHECK(!(*fix_sptep(f, gva, 1) & SPTE_D));
	CHECK(!f->r.dirty);
}

static void test_write_sets_dirty_in_leaf_only(struct fix *f)
{
	map(f, 0x1000, 5 * PAGE_SIZE, 1, ACC_ALL);
	REQUIRE(walk(f, 0x1000, SMMU_ACCESS_WRITE) == HWWALK_OK);
	CHECK(*fix_sptep(f, 0x1000, 1) & SPTE_D);
	CHECK(f->r.dirty);
	for (unsigned l = 2; l <= 4; l++)
		CHECK(!(*fix_sptep(f, 0x1000, l) & SPTE_D));
}

static void test_faulting_walk_sets_no_accessed_bit(struct fix *f)
{
	map(f, 0x1000, 5 * PAGE_SIZE, 1, SMMU_ACC_U | SMMU_ACC_X);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_WRITE_PROTECT);
	for (unsigned l = 1; l <= 4; l++)
		CHECK(!(*fix_sptep(f, 0x1000, l) & (SPTE_A | SPTE_D)));
}

static void test_2m_leaf_translates_and_ignores_pat_bit_12(struct fix *f)
{
	uint64_t *p = map(f, 0x40000000 + 0x200000, 0x200000, 2, ACC_ALL);

	*p |= X86_PTE_LPAT;
	CHECK_EQ(walk(f, 0x40000000 + 0x200000 + 0x5678, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(f->r.hpa, 0x200000 + 0x5678);
	CHECK_EQ(f->r.level, 2);
}

static void test_1g_leaf_translates_offset_within_page(struct fix *f)
{
	map(f, 0x80000000, 0, 3, ACC_ALL);
	CHECK_EQ(walk(f, 0x80000000 + 0x3123, SMMU_ACCESS_WRITE), HWWALK_OK);
	CHECK_EQ(f->r.hpa, 0x3123);
	CHECK_EQ(f->r.level, 3);
	CHECK(*fix_sptep(f, 0x80000000, 3) & SPTE_D);
}

static void test_5level_walk_uses_bits_56_48(struct fix *f)
{
	gva_t gva = 0x00ab000000001000ull;

	map(f, gva, 7 * PAGE_SIZE, 1, ACC_ALL);
	CHECK_EQ(walk(f, gva, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(f->r.hpa, 7 * PAGE_SIZE);
	CHECK_WALK_AT(f, gva & ((1ull << 48) - 1), SMMU_ACCESS_READ, HWWALK_NOT_PRESENT, 5);
}

static void test_leaf_g_and_pkey_are_reported(struct fix *f)
{
	*fix_sptep(f, 0x1000, 1) = spte_make_leaf(PAGE_SIZE, 1, ACC_ALL, 9, SPTE_MK_GLOBAL);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK(f->r.global);
	CHECK_EQ(f->r.pkey, 9);
}

/* ---- not present and rights (SDM 4.6, 4.7) ------------------------------ */

static void test_not_present_pte_exits_with_p_clear_at_level_1(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	CHECK_EQ(walk(f, 0x2000, SMMU_ACCESS_READ), HWWALK_NOT_PRESENT);
	CHECK_EQ(f->r.error_code, 0);
	CHECK_EQ(f->r.level, 1);
	CHECK(f->r.sptep == fix_sptep(f, 0x2000, 1));
}

static void test_not_present_pml4e_stops_at_level_4(struct fix *f)
{
	set_perm(f, 3, false, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_NOT_PRESENT);
	CHECK_EQ(f->r.error_code, X86_PFEC_W | X86_PFEC_U);
	CHECK_EQ(f->r.level, 4);
}

static void test_no_root_exits_before_reading_memory(struct fix *f)
{
	f->env.root = INVALID_HPA;
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_NO_ROOT);
	CHECK(f->r.sptep == NULL);
}

static void test_supervisor_write_to_read_only_page_faults_with_wp(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, SMMU_ACC_U | SMMU_ACC_X);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_WRITE_PROTECT);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_W);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
}

static void test_user_read_of_supervisor_page_faults_with_pfec_5(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, SMMU_ACC_W | SMMU_ACC_X);
	set_perm(f, 3, false, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_USER_SUPERVISOR);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_U);
}

static void test_rights_combine_across_levels(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	*fix_sptep(f, 0x1000, 3) &= ~SPTE_RW; /* a read-only PDPTE */
	*fix_sptep(f, 0x1000, 2) &= ~SPTE_US; /* a supervisor PDE */
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(f->r.access, SMMU_ACC_X);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_WRITE_PROTECT);
	set_perm(f, 3, false, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_USER_SUPERVISOR);
	*fix_sptep(f, 0x1000, 4) |= SPTE_NX; /* XD in the PML4E */
	set_perm(f, 0, false, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_NX);
}

static void test_fetch_from_nx_page_faults_with_i_bit(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, SMMU_ACC_W | SMMU_ACC_U);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_NX);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_I);
	set_perm(f, 3, false, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_NX);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_I | X86_PFEC_U);
}

static void test_not_present_fetch_reports_i_bit(struct fix *f)
{
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_NOT_PRESENT);
	CHECK_EQ(f->r.error_code, X86_PFEC_I);
}

static void test_smep_blocks_supervisor_fetch_of_user_page(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_OK);
	set_perm(f, 0, true, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_SMEP);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_I);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK); /* SMEP: fetches only */
	set_perm(f, 3, true, false, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_OK); /* user fetch */
}

static void test_smap_blocks_supervisor_read_of_user_page(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	set_perm(f, 0, false, true, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_SMAP);
	CHECK_EQ(f->r.error_code, X86_PFEC_P);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_SMAP);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_W);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_OK); /* SMAP: data only */
}

static void test_smap_is_overridden_by_ac_for_data_accesses(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	set_perm(f, 0, false, true, false, true, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_OK);
}

static void test_smap_ignores_supervisor_pages_and_user_mode(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, SMMU_ACC_W | SMMU_ACC_X);
	map(f, 0x2000, PAGE_SIZE, 1, ACC_ALL);
	set_perm(f, 0, true, true, false, false, 0);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
	set_perm(f, 3, true, true, false, false, 0);
	CHECK_EQ(walk(f, 0x2000, SMMU_ACCESS_WRITE), HWWALK_OK);
}

/* ---- protection keys (SDM 4.6.2) ---------------------------------------- */

static void map_pkey(struct fix *f, gva_t gva, unsigned acc, unsigned pkey)
{
	*fix_sptep(f, gva, 1) = spte_make_leaf(PAGE_SIZE, 1, acc, pkey, 0);
}

static void test_pkru_ad_blocks_user_read_with_pk_bit(struct fix *f)
{
	map_pkey(f, 0x1000, ACC_ALL, 5);
	set_perm(f, 3, false, false, true, false, 1u << (2 * 5)); /* AD5 */
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_PK);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_U | X86_PFEC_PK);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_FETCH), HWWALK_OK);  /* keys: data only */
	set_perm(f, 3, false, false, true, false, 1u << (2 * 4)); /* another key */
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
}

static void test_pkru_wd_blocks_supervisor_write_with_wp(struct fix *f)
{
	map_pkey(f, 0x1000, ACC_ALL, 2);
	set_perm(f, 0, false, false, true, false, 2u << (2 * 2)); /* WD2 */
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_PK);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_PK);
}

static void test_pkru_does_not_apply_to_supervisor_pages_or_without_pke(struct fix *f)
{
	map_pkey(f, 0x1000, SMMU_ACC_W | SMMU_ACC_X, 1);
	map_pkey(f, 0x2000, ACC_ALL, 1);
	set_perm(f, 0, false, false, true, false, 3u << 2);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_OK);
	set_perm(f, 3, false, false, false, false, 3u << 2);
	CHECK_EQ(walk(f, 0x2000, SMMU_ACCESS_WRITE), HWWALK_OK);
}

static void test_pk_bit_is_reported_with_another_violation(struct fix *f)
{
	map_pkey(f, 0x1000, SMMU_ACC_U, 3);
	set_perm(f, 3, false, false, true, false, 2u << (2 * 3));
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_WRITE_PROTECT);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_W | X86_PFEC_U | X86_PFEC_PK);
}

/* ---- reserved bits, MMIO sptes and hpa checks ----------------------------- */

static void test_reserved_high_address_bit_exits_with_rsvd(struct fix *f)
{
	uint64_t *p = map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);

	*p |= 1ull << SPTE_HOST_MAXPHYADDR;
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_WRITE), HWWALK_RESERVED);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_W);
	CHECK_EQ(f->r.level, 1);
	CHECK(!(*p & SPTE_A));
}

static void test_mmio_spte_exits_reserved_and_is_recognised(struct fix *f)
{
	uint64_t *p = fix_sptep(f, 0xfee00000, 1);

	*p = spte_make_mmio(0xfee00, SMMU_ACC_W, 7);
	set_perm(f, 3, false, false, false, false, 0);
	CHECK_EQ(walk(f, 0xfee00000, SMMU_ACCESS_READ), HWWALK_RESERVED);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_RSVD | X86_PFEC_U);
	CHECK(is_mmio_spte(f->r.spte));
	CHECK_EQ(spte_mmio_gfn(f->r.spte), 0xfee00);
}

static void test_mmio_spte_at_2m_level_is_still_reserved(struct fix *f)
{
	*fix_sptep(f, 0x200000, 2) = spte_make_mmio(0x200, ACC_ALL, 0xff); /* gen sets bit 7 */
	CHECK_WALK_AT(f, 0x200000, SMMU_ACCESS_READ, HWWALK_RESERVED, 2);
}

static void test_ps_in_pml4e_is_reserved(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	*fix_sptep(f, 0x1000, 4) |= SPTE_PS;
	CHECK_WALK_AT(f, 0x1000, SMMU_ACCESS_READ, HWWALK_RESERVED, 4);
}

static void test_misaligned_large_leaves_are_reserved(struct fix *f)
{
	*fix_sptep(f, 0x200000, 2) = spte_make_leaf(0, 2, ACC_ALL, 0, 0) | (1ull << 13);
	CHECK_EQ(walk(f, 0x200000, SMMU_ACCESS_READ), HWWALK_RESERVED);
	*fix_sptep(f, 0x40000000, 3) = spte_make_leaf(0, 3, ACC_ALL, 0, 0) | (1ull << 21);
	CHECK_WALK_AT(f, 0x40000000, SMMU_ACCESS_READ, HWWALK_RESERVED, 3);
}

static void test_nonleaf_spte_outside_arena_exits_bad_hpa(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	/* A PDPTE aimed just past the arena, then far beyond it: never dereferenced. */
	*fix_sptep(f, 0x1000, 3) = spte_make_nonleaf(f->arena.size);
	CHECK_WALK_AT(f, 0x1000, SMMU_ACCESS_READ, HWWALK_BAD_HPA, 2);
	CHECK_EQ(f->r.error_code, X86_PFEC_P | X86_PFEC_RSVD);
	*fix_sptep(f, 0x1000, 3) = spte_make_nonleaf(0x3ffffffff000ull);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_BAD_HPA);
}

static void test_root_outside_arena_exits_bad_hpa(struct fix *f)
{
	f->env.root = f->arena.size + PAGE_SIZE;
	CHECK_WALK_AT(f, 0x1000, SMMU_ACCESS_READ, HWWALK_BAD_HPA, 4);
}

static void test_leaf_outside_arena_exits_bad_hpa(struct fix *f)
{
	map(f, 0x1000, f->arena.size, 1, ACC_ALL);
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_BAD_HPA);
	/* A 1 GiB leaf at 0 is inside only for offsets below the arena size. */
	map(f, 0x40000000, 0, 3, ACC_ALL);
	CHECK_EQ(walk(f, 0x40000000 + f->arena.size - 8, SMMU_ACCESS_READ), HWWALK_OK);
	CHECK_EQ(walk(f, 0x40000000 + f->arena.size, SMMU_ACCESS_READ), HWWALK_BAD_HPA);
}

static bool only_frames_above_first_table(void *ctx, hpa_t hpa)
{
	return hpa >= FIRST_TABLE * PAGE_SIZE;
}

static void test_table_hook_rejects_nonleaf_aimed_at_guest_frame(struct fix *f)
{
	map(f, 0x1000, PAGE_SIZE, 1, ACC_ALL);
	f->env.table_ok = only_frames_above_first_table;
	CHECK_EQ(walk(f, 0x1000, SMMU_ACCESS_READ), HWWALK_OK);
	*fix_sptep(f, 0x1000, 2) = spte_make_nonleaf(3 * PAGE_SIZE); /* a data frame */
	CHECK_WALK_AT(f, 0x1000, SMMU_ACCESS_READ, HWWALK_BAD_HPA, 1);
}

/* ---- spte encodings -------------------------------------------------------- */

static void test_mmio_spte_round_trips_gfn_generation_and_access(void)
{
	gfn_t gfn = (1ull << 40) - 3; /* uses the high gfn bit */
	uint64_t spte = spte_make_mmio(gfn, SMMU_ACC_U | SMMU_ACC_X, 0x2abcd);

	CHECK(is_mmio_spte(spte));
	CHECK(is_shadow_present_spte(spte));
	CHECK_EQ(spte_mmio_gfn(spte), gfn);
	CHECK_EQ(spte_mmio_gen(spte), 0x2abcd);
	CHECK_EQ(spte_mmio_access(spte), SMMU_ACC_U | SMMU_ACC_X);
	CHECK(spte_mmio_gen_matches(spte, 0x2abcd));
	CHECK(!spte_mmio_gen_matches(spte, 0x2abce));
	CHECK(spte_reserved_bits(spte, 1));
}

static void test_leaf_and_nonleaf_sptes_are_not_mmio(void)
{
	uint64_t leaf = spte_make_leaf(SPTE_ADDR_MASK & ~0x3fffffffull, 3, ACC_ALL, 15,
	                               SPTE_MK_ACCESSED | SPTE_MK_DIRTY | SPTE_MK_GLOBAL);
	uint64_t nonleaf = spte_make_nonleaf(SPTE_ADDR_MASK);

	CHECK(!is_mmio_spte(leaf) && !is_mmio_spte(nonleaf));
	CHECK_EQ(spte_reserved_bits(leaf, 3), 0);
	CHECK_EQ(spte_reserved_bits(nonleaf, 4), 0);
	CHECK(is_last_spte(leaf, 3) && is_large_spte(leaf, 3));
	CHECK(!is_last_spte(nonleaf, 2));
	CHECK_EQ(spte_pkey(leaf), 15);
	CHECK(is_dirty_spte(leaf) && is_accessed_spte(leaf) && (leaf & SPTE_G));
	CHECK(!(spte_make_leaf(0, 1, SMMU_ACC_X, 0, 0) & (SPTE_RW | SPTE_US | SPTE_NX)));
	CHECK(spte_make_leaf(0, 1, 0, 0, 0) & SPTE_NX);
}

/* The precomputed fault table agrees with hw_perm_reason() for every input (pke off). */
static void test_perm_table_matches_reason_for_every_input(void)
{
	for (unsigned in = 0; in < 16; in++) {
		struct hw_perm p;

		hw_perm_init(&p, (in & 1) ? 3 : 0, in & 2, in & 4, false, in & 8, 0);
		for (unsigned access = 0; access < 3; access++) {
			for (unsigned acc = 0; acc < 8; acc++) {
				uint32_t ec;
				bool ok = hw_perm_reason(&p, acc, 0, access, &ec) == HWWALK_OK;

				CHECK_EQ(hw_perm_allows(&p, acc, 0, access), ok);
			}
		}
	}
}

int main(void)
{
	RUN(test_perm_table_matches_reason_for_every_input);
	RUN_LEVELS(4, test_walk_translates_4k_page_with_offset);
	RUN_LEVELS(4, test_successful_walk_sets_accessed_in_every_level);
	RUN_LEVELS(4, test_write_sets_dirty_in_leaf_only);
	RUN_LEVELS(4, test_faulting_walk_sets_no_accessed_bit);
	RUN_LEVELS(4, test_2m_leaf_translates_and_ignores_pat_bit_12);
	RUN_LEVELS(4, test_1g_leaf_translates_offset_within_page);
	RUN_LEVELS(5, test_5level_walk_uses_bits_56_48);
	RUN_LEVELS(4, test_leaf_g_and_pkey_are_reported);
	RUN_LEVELS(4, test_not_present_pte_exits_with_p_clear_at_level_1);
	RUN_LEVELS(4, test_not_present_pml4e_stops_at_level_4);
	RUN_LEVELS(4, test_no_root_exits_before_reading_memory);
	RUN_LEVELS(4, test_supervisor_write_to_read_only_page_faults_with_wp);
	RUN_LEVELS(4, test_user_read_of_supervisor_page_faults_with_pfec_5);
	RUN_LEVELS(4, test_rights_combine_across_levels);
	RUN_LEVELS(4, test_fetch_from_nx_page_faults_with_i_bit);
	RUN_LEVELS(4, test_not_present_fetch_reports_i_bit);
	RUN_LEVELS(4, test_smep_blocks_supervisor_fetch_of_user_page);
	RUN_LEVELS(4, test_smap_blocks_supervisor_read_of_user_page);
	RUN_LEVELS(4, test_smap_is_overridden_by_ac_for_data_accesses);
	RUN_LEVELS(4, test_smap_ignores_supervisor_pages_and_user_mode);
	RUN_LEVELS(4, test_pkru_ad_blocks_user_read_with_pk_bit);
	RUN_LEVELS(4, test_pkru_wd_blocks_supervisor_write_with_wp);
	RUN_LEVELS(4, test_pkru_does_not_apply_to_supervisor_pages_or_without_pke);
	RUN_LEVELS(4, test_pk_bit_is_reported_with_another_violation);
	RUN_LEVELS(4, test_reserved_high_address_bit_exits_with_rsvd);
	RUN_LEVELS(4, test_mmio_spte_exits_reserved_and_is_recognised);
	RUN_LEVELS(4, test_mmio_spte_at_2m_level_is_still_reserved);
	RUN_LEVELS(4, test_ps_in_pml4e_is_reserved);
	RUN_LEVELS(4, test_misaligned_large_leaves_are_reserved);
	RUN_LEVELS(4, test_nonleaf_spte_outside_arena_exits_bad_hpa);
	RUN_LEVELS(4, test_root_outside_arena_exits_bad_hpa);
	RUN_LEVELS(4, test_leaf_outside_arena_exits_bad_hpa);
	RUN_LEVELS(4, test_table_hook_rejects_nonleaf_aimed_at_guest_frame);
	RUN(test_mmio_spte_round_trips_gfn_generation_and_access);
	RUN(test_leaf_and_nonleaf_sptes_are_not_mmio);
	return check_finish();
}
