/*
 * test_mmu_diff.c - differential tests of the shadow MMU: random guest
 * workloads (fixed seeds) run on a VM (audit on: every MMU invariant is
 * checked after every operation) and on the TLB-less reference machine
 * (tests/support/refmachine.h); every outcome (result, value, error code)
 * must match, and so must all of guest memory, A/D bits included.
 *
 * The guest is a small OS: a few address spaces, each with its own root
 * chain and user page directory, sharing a kernel direct map of the
 * page-table region (gpa [0, 1M)) through which every page-table edit is
 * made, as a guest kernel does.  User PD slots are private page tables,
 * one page table shared by every address space, and "wild" slots that
 * become large pages or point at any page-table frame (roots, PDs, the PD
 * itself: self-maps and tables used at several levels).  Page-table
 * frames are only ever mapped read-only to user slots and CR0.WP = 1, so
 * data writes never change a translation behind the generator's back.
 *
 * TLB rule (trace-format.md): after an edit of a present entry the
 * generator invlpgs the one gva it mapped (private / shared 4K leaf,
 * when no wild PDE aliases its table) or flushes / reloads cr3 (wild
 * slots, aliased tables).  Not-present -> present needs nothing.
 *
 * Variants: default config, unsync off, n_max_mmu_pages = 16 (constant
 * recycling), and random smmu_vm_zap_all; in 4-level, 5-level, PAE,
 * 32-bit (4M pages) and paging-off mode.  Each with every shortcut beyond
 * KVM on (the default), then, on fewer operations, with every one off and
 * with each one off alone (shadowmmu/shortcuts.h): a shortcut must never
 * change what the guest sees, and one that is off must not be taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shadowmmu/shadowmmu.h>

#include "support/check.h"
#include "support/refmachine.h"

#define MEM_BYTES  (4ull << 20)
#define PT_REGION  (1ull << 20)
#define KBASE      (1ull << 30) /* gva of the direct map of [0, PT_REGION) */
#define NOMAP_GVA  (2ull << 30) /* never mapped */
#define N_AS       3
#define MAX_SLOTS  8
#define MAX_FRAMES 64

enum variant { V_DEFAULT, V_NOUNSYNC, V_TINY, V_ZAPALL, V_COUNT };
static const char *const variant_names[] = {"default", "nounsync", "tiny", "zapall"};

struct gen {
	uint64_t rng, seed;
	enum smmu_paging_mode mode;
	enum variant var;
	uint32_t shortcuts; /* smmu_vm_config.shortcuts */
	enum smmu_mmu_mode mmu;
	bool ept_ad;
	struct smmu_vm *vm;
	struct refmachine rm;
	unsigned esz, nslots, nfixed; /* entry size, user PD slots, private slots */
	uint64_t span;                /* bytes mapped by one PD entry */
	uint64_t next_frame;
	uint64_t root[N_AS], pdu[N_AS];
	uint64_t ptp[N_AS][MAX_SLOTS]; /* private PTs (0 for non-private slots) */
	uint64_t pts;                  /* the shared PT */
	uint64_t frames[MAX_FRAMES];   /* every table frame */
	unsigned nframes;
	unsigned cur_as;
	unsigned long ops;
	bool failed;
	char last[160];
};

static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static unsigned rndn(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static bool chance(struct gen *g, unsigned pct)
{
	return rndn(g, 100) < pct;
}

static uint64_t alloc_table(struct gen *g)
{
	uint64_t f = g->next_frame;

	g->next_frame += 4096;
	g->frames[g->nframes++] = f;
	return f;
}

/* Host-side write into both machines (setup only). */
static void poke(struct gen *g, uint64_t gpa, uint64_t val)
{
	refm_poke(&g->rm, gpa, g->esz, val);
	smmu_vm_write_gpa(g->vm, gpa, &val, g->esz);
}

static void trace_op(const struct gen *g)
{
	static int on = -1;

	if (on < 0)
		on = getenv("SMMU_DIFF_TRACE") != NULL;
	if (on)
		fprintf(stderr, "%lu: %s\n", g->ops, g->last);
}

static bool outcome_eq(const struct smmu_outcome *a, const struct smmu_outcome *b)
{
	if (a->result != b->result)
		return false;
	if (a->result == SMMU_PF)
		return a->error_code == b->error_code;
	if (a->result == SMMU_OK || a->result == SMMU_MMIO)
		return a->value == b->value;
	return true;
}

static void compare(struct gen *g, const struct smmu_outcome *exp, const struct smmu_outcome *got)
{
	if (g->failed || outcome_eq(exp, got))
		return;
	g->failed = true;
	CHECK_MSG(false,
	          "mode %d variant %s shortcuts %#x seed %#llx op %lu (%s): expected %s value "
	          "%#llx ec %#x, got %s value %#llx ec %#x",
	          g->mode, variant_names[g->var], g->shortcuts, (unsigned long long)g->seed, g->ops,
	          g->last,
	          smmu_result_name(exp->result), (unsigned long long)exp->value, exp->error_code,
	          smmu_result_name(got->result), (unsigned long long)got->value, got->error_code);
}

/* One guest operation of the generator, which run_op() applies to both machines. */
enum op_kind { OP_READ, OP_WRITE, OP_FETCH, OP_REG, OP_INVLPG };

struct op {
	enum op_kind kind;
	uint64_t gva;      /* all but OP_REG */
	unsigned size;     /* OP_READ, OP_WRITE */
	uint64_t val;      /* OP_WRITE, OP_REG */
	enum smmu_reg reg; /* OP_REG */
};

/* The op as the trace names it: g->last, for SMMU_DIFF_TRACE and failure messages. */
static void op_describe(struct gen *g, const struct op *op)
{
	unsigned long long gva = op->gva, val = op->val;

	switch (op->kind) {
	case OP_READ:
		snprintf(g->last, sizeof(g->last), "r %u %#llx", op->size, gva);
		break;
	case OP_WRITE:
		snprintf(g->last, sizeof(g->last), "w %u %#llx %#llx", op->size, gva, val);
		break;
	case OP_FETCH:
		snprintf(g->last, sizeof(g->last), "x %#llx", gva);
		break;
	case OP_REG:
		snprintf(g->last, sizeof(g->last), "reg %d %#llx", op->reg, val);
		break;
	case OP_INVLPG:
		snprintf(g->last, sizeof(g->last), "invlpg %#llx", gva);
		break;
	}
}

/* The op on the reference machine (into *e), then on the VM's vCPU 0 (into *o). */
static void op_apply(struct gen *g, const struct op *op, struct smmu_outcome *e,
                     struct smmu_outcome *o)
{
	switch (op->kind) {
	case OP_READ:
		refm_read(&g->rm, op->gva, op->size, e);
		smmu_vcpu_read(g->vm, 0, op->gva, op->size, o);
		break;
	case OP_WRITE:
		refm_write(&g->rm, op->gva, op->size, op->val, e);
		smmu_vcpu_write(g->vm, 0, op->gva, op->size, op->val, o);
		break;
	case OP_FETCH:
		refm_fetch(&g->rm, op->gva, e);
		smmu_vcpu_fetch(g->vm, 0, op->gva, o);
		break;
	case OP_REG:
		refm_write_reg(&g->rm, op->reg, op->val, e);
		smmu_vcpu_write_reg(g->vm, 0, op->reg, op->val, o);
		break;
	case OP_INVLPG:
		refm_invlpg(&g->rm, op->gva, e);
		smmu_vcpu_invlpg(g->vm, 0, op->gva, o);
		break;
	}
}

/* Name, trace, apply to both machines, compare; the reference's result. */
static enum smmu_result run_op(struct gen *g, const struct op *op)
{
	struct smmu_outcome e, o;

	op_describe(g, op);
	trace_op(g);
	op_apply(g, op, &e, &o);
	compare(g, &e, &o);
	return e.result;
}

static void do_read(struct gen *g, uint64_t gva, unsigned size)
{
	run_op(g, &(struct op){.kind = OP_READ, .gva = gva, .size = size});
}

static void do_write(struct gen *g, uint64_t gva, unsigned size, uint64_t val)
{
	run_op(g, &(struct op){.kind = OP_WRITE, .gva = gva, .size = size, .val = val});
}

static void do_fetch(struct gen *g, uint64_t gva)
{
	run_op(g, &(struct op){.kind = OP_FETCH, .gva = gva});
}

/* Write a register on both machines; true if the reference took it (no #GP/#UD). */
static bool do_reg(struct gen *g, enum smmu_reg reg, uint64_t val)
{
	return run_op(g, &(struct op){.kind = OP_REG, .reg = reg, .val = val}) == SMMU_OK;
}

static void do_invlpg(struct gen *g, uint64_t gva)
{
	run_op(g, &(struct op){.kind = OP_INVLPG, .gva = gva});
}

static void do_cpl(struct gen *g, unsigned cpl)
{
	refm_set_cpl(&g->rm, cpl);
	smmu_vcpu_set_cpl(g->vm, 0, cpl);
}

static void do_flush(struct gen *g)
{
	snprintf(g->last, sizeof(g->last), "flush");
	trace_op(g);
	if (chance(g, 50) || g->mode == SMMU_PAGING_OFF) {
		smmu_vcpu_flush(g->vm, 0);
		return;
	}
	/*
	 * reload: flushes non-global entries; a #GP reload (a PAE PDPTE whose
	 * reserved A bit a walk through an alias set) flushes nothing, so the
	 * trace must flush another way.  (Reloading the same cr3, a #GP leaves
	 * cr3 equal to the value: only the outcome tells.)
	 */
	if (!do_reg(g, SMMU_REG_CR3, g->root[g->cur_as]) || g->rm.cpu.cr3 != g->root[g->cur_as])
		smmu_vcpu_flush(g->vm, 0);
}

/* Compare all of guest memory (A/D bits in the tables included). */
static void compare_memory(struct gen *g, uint64_t limit)
{
	static uint8_t page[4096];

	for (uint64_t gpa = 0; gpa < limit && !g->failed; gpa += 4096) {
		const uint8_t *ref = guestmem_hva(g->rm.mem, gpa);

		smmu_vm_read_gpa(g->vm, gpa, page, sizeof(page));
		if (memcmp(ref, page, sizeof(page)) == 0)
			continue;
		for (unsigned i = 0; i < 4096; i++) {
			if (ref[i] == page[i])
				continue;
			g->failed = true;
			CHECK_MSG(
			    false,
			    "mode %d variant %s shortcuts %#x op %lu (last %s): memory differs at "
			    "gpa %#llx: expected %#x got %#x",
			    g->mode, variant_names[g->var], g->shortcuts, g->ops, g->last,
			    (unsigned long long)(gpa + i), ref[i], page[i]);
			break;
		}
	}
}

/* ---- building the guest ------------------------------------------------- */

static uint64_t table_flags(void)
{
	return X86_PTE_P | X86_PTE_RW | X86_PTE_US;
}

/* Link root_i -> ... -> the level-2 table for gva `base` (levels > 2 fixed). */
static void link_upper(struct gen *g, unsigned as, uint64_t pdu, uint64_t pdk)
{
	uint64_t root = g->root[as];

	switch (g->mode) {
	case SMMU_PAGING_PAE:
		poke(g, root + 0, pdu | X86_PTE_P);
		poke(g, root + 8, pdk | X86_PTE_P);
		break;
	case SMMU_PAGING_4LEVEL:
	case SMMU_PAGING_5LEVEL: {
		uint64_t pdpt = alloc_table(g), l4 = root;

		if (g->mode == SMMU_PAGING_5LEVEL) {
			l4 = alloc_table(g);
			poke(g, root, l4 | table_flags());
		}
		poke(g, l4, pdpt | table_flags());
		poke(g, pdpt + 0, pdu | table_flags());
		poke(g, pdpt + 8, pdk | table_flags());
		break;
	}
	default:
		break;
	}
}

static void build_guest(struct gen *g)
{
	uint64_t ptk = alloc_table(g), pdk = 0;
	unsigned npt = (unsigned)(PT_REGION / 4096);

	for (unsigned i = 0; i < npt; i++) /* supervisor direct map, writable */
		poke(g, ptk + (uint64_t)i * g->esz, ((uint64_t)i << 12) | X86_PTE_P | X86_PTE_RW);
	if (g->mode != SMMU_PAGING_32BIT) {
		pdk = alloc_table(g);
		poke(g, pdk, ptk | table_flags());
	}
	g->pts = alloc_table(g);
	for (unsigned as = 0; as < N_AS; as++) {
		g->root[as] = alloc_table(g);
		g->pdu[as] = g->mode == SMMU_PAGING_32BIT ? g->root[as] : alloc_table(g);
		link_upper(g, as, g->pdu[as], pdk);
		if (g->mode == SMMU_PAGING_32BIT)
			poke(g, g->pdu[as] + (KBASE >> 22) * 4, ptk | table_flags());
		for (unsigned s = 0; s < g->nfixed; s++) {
			g->ptp[as][s] = alloc_table(g);
			poke(g, g->pdu[as] + s * g->esz, g->ptp[as][s] | table_flags());
		}
		poke(g, g->pdu[as] + g->nfixed * g->esz, g->pts | table_flags());
		/* PT 0 maps itself (read-only) at its last entry. */
		poke(g, g->ptp[as][0] + 4096 - g->esz, g->ptp[as][0] | X86_PTE_P | X86_PTE_US);
	}
}

/* ---- random page-table entries ----------------------------------------- */

static uint64_t rand_flags(struct gen *g)
{
	uint64_t f = X86_PTE_P;

	if (chance(g, 60))
		f |= X86_PTE_RW;
	if (chance(g, 80))
		f |= X86_PTE_US;
	if (chance(g, 50))
		f |= X86_PTE_A;
	if (chance(g, 30))
		f |= X86_PTE_D;
	if (chance(g, 10))
		f |= X86_PTE_PWT;
	if (g->esz == 8 && chance(g, 10))
		f |= X86_PTE_NX;
	if (g->esz == 8 && chance(g, 5))
		f |= (uint64_t)rndn(g, 16) << X86_PTE_PKEY_SHIFT;
	return f;
}

static uint64_t rand_nonpresent(struct gen *g)
{
	uint64_t v = chance(g, 50) ? 0 : rnd(g) & ~X86_PTE_P;

	return g->esz == 4 ? (uint32_t)v : v;
}

/* A present 4K leaf: data (maybe MMIO) or a read-only view of a table frame. */
static uint64_t rand_leaf(struct gen *g)
{
	uint64_t f = rand_flags(g), target;

	if (chance(g, 25)) {
		target = chance(g, 70) ? g->frames[rndn(g, g->nframes)]
		                       : (uint64_t)rndn(g, PT_REGION / 4096) << 12;
		f &= ~X86_PTE_RW;
	} else {
		target = PT_REGION + ((uint64_t)rndn(g, (MEM_BYTES - PT_REGION) / 4096 + 8) << 12);
	}
	if (g->esz == 8 && chance(g, 3))
		f |= 1ull << 50; /* reserved above MAXPHYADDR 46 */
	return target | f;
}

static uint64_t rand_wild_pde(struct gen *g)
{
	uint64_t f = rand_flags(g), target;

	if (chance(g, 25))
		return rand_nonpresent(g);
	if (chance(g, 45)) { /* large page */
		target = (uint64_t)rndn(g, (unsigned)(MEM_BYTES / g->span) + 1) * g->span;
		if (target < PT_REGION)
			f &= ~X86_PTE_RW;
		if (chance(g, 4))
			f |= 1ull << 13; /* reserved (PSE-36 address bit in 32-bit paging) */
		return target | f | X86_PTE_PS;
	}
	f &= ~X86_PTE_RW; /* tables are only ever visible read-only */
	return g->frames[rndn(g, g->nframes)] | (f & ~X86_PTE_D);
}

/* Does a present, non-large wild PDE of any address space point at frame? */
static bool aliased_by_wild(struct gen *g, uint64_t frame)
{
	for (unsigned as = 0; as < N_AS; as++)
		for (unsigned s = g->nfixed + 1; s < g->nslots; s++) {
			uint64_t v = refm_peek(&g->rm, g->pdu[as] + s * g->esz, g->esz);

			if ((v & X86_PTE_P) && !(v & X86_PTE_PS) &&
			    (v & ~0xfffull & 0xffffffffffull) == frame)
				return true;
		}
	return false;
}

/* Guest kernel edits one entry through the direct map, then invalidates. */
static void edit_entry(struct gen *g, uint64_t gpa, uint64_t val, uint64_t flush_gva, bool leaf)
{
	uint64_t old = refm_peek(&g->rm, gpa, g->esz);

	if (g->rm.cpu.cpl)
		do_cpl(g, 0);
	do_write(g, KBASE + gpa, g->esz, val);
	if (!(old & X86_PTE_P))
		return;
	if (leaf && !aliased_by_wild(g, gpa & ~0xfffull))
		do_invlpg(g, flush_gva);
	else
		do_flush(g);
}

static void edit_random(struct gen *g)
{
	unsigned as = rndn(g, N_AS), s = rndn(g, g->nslots);
	unsigned nent = 4096 / g->esz, e;
	uint64_t table;

	if (s > g->nfixed) {
		edit_entry(g, g->pdu[as] + s * g->esz, rand_wild_pde(g), 0, false);
		return;
	}
	table = s == g->nfixed ? g->pts : g->ptp[as][s];
	e = chance(g, 70) ? rndn(g, 16) : rndn(g, nent); /* keep a hot set */
	edit_entry(g, table + e * g->esz, chance(g, 20) ? rand_nonpresent(g) : rand_leaf(g),
	           s * g->span + (uint64_t)e * 4096, true);
}

/* ---- accesses ----------------------------------------------------------- */

static uint64_t rand_gva(struct gen *g, unsigned size)
{
	uint64_t off = rndn(g, 4096) & ~(uint64_t)(size - 1);
	unsigned k = rndn(g, 100);

	if (g->mode == SMMU_PAGING_OFF)
		return ((uint64_t)rndn(g, MEM_BYTES / 4096 + 16) << 12) + off;
	if (k < 80) {
		unsigned s = rndn(g, g->nslots);
		uint64_t page = chance(g, 70) ? rndn(g, 16) : rndn(g, (unsigned)(g->span >> 12));

		return s * g->span + (page << 12) + off;
	}
	if (k < 95)
		return KBASE + ((uint64_t)rndn(g, PT_REGION / 4096) << 12) + off;
	return NOMAP_GVA + ((uint64_t)rndn(g, 64) << 12) + off;
}

static void random_access(struct gen *g)
{
	unsigned size = 1u << rndn(g, 4), k = rndn(g, 100);
	uint64_t gva = rand_gva(g, size);

	if (k < 50) {
		do_read(g, gva, size);
	} else if (k < 85) {
		/* no data writes through the direct map: they would edit tables */
		if (gva >= KBASE && gva < KBASE + PT_REGION && g->mode != SMMU_PAGING_OFF)
			gva = gva - KBASE + PT_REGION;
		do_write(g, gva, size, rnd(g));
	} else {
		do_fetch(g, gva);
	}
}

/*
 * SMEP, SMAP, PKE, PKRU and RFLAGS.AC: rights checked at access time
 * against what the TLB holds (and role bits of the shadow pages).
 */
static void toggle_protection(struct gen *g)
{
	static const uint64_t bits[] = {X86_CR4_SMEP, X86_CR4_SMAP, X86_CR4_PKE};
	unsigned k = rndn(g, 10);

	if (k < 5) {
		do_reg(g, SMMU_REG_CR4, g->rm.cpu.cr4 ^ bits[rndn(g, 3)]);
	} else if (k < 7) {
		do_reg(g, SMMU_REG_PKRU, rnd(g) & rnd(g) & 0xffffffffull);
	} else {
		bool ac = !g->rm.cpu.ac;

		snprintf(g->last, sizeof(g->last), "ac %d", ac);
		trace_op(g);
		g->rm.cpu.ac = ac;
		smmu_vcpu_set_ac(g->vm, 0, ac);
	}
}

static void random_op(struct gen *g)
{
	unsigned k = rndn(g, 1000);

	if (g->mode == SMMU_PAGING_OFF) {
		if (k < 950)
			random_access(g);
		else if (k < 980)
			do_flush(g);
		else if (g->var == V_ZAPALL)
			smmu_vm_zap_all(g->vm);
		return;
	}
	if (k < 600) {
		random_access(g);
	} else if (k < 800) {
		edit_random(g);
	} else if (k < 850) {
		unsigned as = rndn(g, N_AS);

		do_reg(g, SMMU_REG_CR3, g->root[as]);
		if (g->rm.cpu.cr3 == g->root[as]) /* a PAE load may #GP */
			g->cur_as = as;
	} else if (k < 900) {
		do_cpl(g, g->rm.cpu.cpl ? 0 : 3);
	} else if (k < 950) {
		do_invlpg(g, rand_gva(g, 1) & ~0xfffull);
	} else if (k < 970) {
		do_flush(g);
	} else if (k < 980 && g->var == V_ZAPALL) {
		smmu_vm_zap_all(g->vm);
	} else if (k >= 985) {
		toggle_protection(g);
	} else {
		random_access(g);
	}
}

/* ---- one run ------------------------------------------------------------- */

static void enter_mode(struct gen *g)
{
	const uint64_t cr0 = 0x80010011; /* PG | WP | ET | PE */

	switch (g->mode) {
	case SMMU_PAGING_32BIT:
		do_reg(g, SMMU_REG_CR4, X86_CR4_PSE);
		break;
	case SMMU_PAGING_PAE:
		do_reg(g, SMMU_REG_CR4, X86_CR4_PAE);
		do_reg(g, SMMU_REG_EFER, X86_EFER_NXE);
		break;
	case SMMU_PAGING_4LEVEL:
		do_reg(g, SMMU_REG_CR4, X86_CR4_PAE);
		do_reg(g, SMMU_REG_EFER, X86_EFER_NXE | X86_EFER_LME);
		break;
	case SMMU_PAGING_5LEVEL:
		do_reg(g, SMMU_REG_CR4, X86_CR4_PAE | X86_CR4_LA57);
		do_reg(g, SMMU_REG_EFER, X86_EFER_NXE | X86_EFER_LME);
		break;
	default:
		return;
	}
	do_reg(g, SMMU_REG_CR3, g->root[0]);
	do_reg(g, SMMU_REG_CR0, cr0);
}

/*
 * A shortcut that is off is not taken: the counters that only it moves stay
 * at 0.  With them all on, the ones every run takes did fire, so the runs
 * with them off do test something.
 */
static void check_shortcut_counters(const struct gen *g)
{
	struct smmu_stats st;

	REQUIRE(smmu_vm_get_stats(g->vm, &st) == 0);
	if (!(g->shortcuts & SMMU_SHORTCUT_PSC))
		CHECK_EQ(st.cached_walks, 0);
	if (!(g->shortcuts & SMMU_SHORTCUT_LEAF_HANDBACK))
		CHECK_EQ(st.leaf_handbacks, 0);
	if (!(g->shortcuts & SMMU_SHORTCUT_MMIO_SPTE))
		CHECK_EQ(st.pf_mmio_spte, 0);
	if (g->mmu == SMMU_MMU_TDP) {
		/* No guest-table write, cr3 switch or INVLPG reaches a TDP MMU. */
		CHECK_EQ(st.mmu_pte_write + st.invlpg + st.tlb_flush + st.mmu_unsync, 0);
		CHECK_MSG(st.pf_fixed > 0, "mode %d variant %s: TDP fixed no fault", g->mode,
		          variant_names[g->var]);
		/*
		 * The 2D-walk caches did save references: walks average under half
		 * the longest.  Not with paging off under frequent zap-alls, where
		 * walks are short (the EPT's 4) and mostly cold after each zap, and
		 * the leaf hand-back leaves out the cheap walks after faults.
		 */
		if ((g->shortcuts & SMMU_SHORTCUT_NESTED_TLB) &&
		    !(g->mode == SMMU_PAGING_OFF && g->var == V_ZAPALL))
			CHECK_MSG(st.walk_refs * 2 < st.hw_walks * st.walk_refs_max,
			          "mode %d variant %s: %llu refs in %llu walks (max %llu)", g->mode,
			          variant_names[g->var], (unsigned long long)st.walk_refs,
			          (unsigned long long)st.hw_walks, (unsigned long long)st.walk_refs_max);
		return;
	}
	if (g->shortcuts == SMMU_SHORTCUTS_ALL) {
		CHECK_MSG(st.cached_walks > 0, "mode %d variant %s: no cached walk", g->mode,
		          variant_names[g->var]);
		CHECK_MSG(st.leaf_handbacks > 0, "mode %d variant %s: no leaf handed back",
		          g->mode, variant_names[g->var]);
	}
}

/* The MMU a run uses: shadow, or TDP with EPT A/D on or off. */
struct mmu_choice {
	enum smmu_mmu_mode mmu;
	bool ept_ad;
};

static const struct mmu_choice shadow_mmu = {SMMU_MMU_SHADOW, false};

static void run_diff_on(struct mmu_choice m, enum smmu_paging_mode mode, enum variant var,
                        uint32_t shortcuts, uint64_t seed, unsigned long nops)
{
	struct smmu_vm_config cfg;
	struct gen *g = calloc(1, sizeof(*g));

	REQUIRE(g);
	g->rng = g->seed = seed;
	g->mode = mode;
	g->var = var;
	g->shortcuts = shortcuts;
	g->mmu = m.mmu;
	g->ept_ad = m.ept_ad;
	smmu_vm_config_default(&cfg);
	cfg.shortcuts = shortcuts;
	cfg.mmu = m.mmu;
	cfg.ept_ad = m.ept_ad;
	cfg.audit = true;
	cfg.arena_bytes = 64ull << 20;
	cfg.unsync = var != V_NOUNSYNC;
	if (var == V_TINY)
		cfg.n_max_mmu_pages = 16;
	REQUIRE(smmu_vm_create(&cfg, &g->vm) == 0);
	REQUIRE(smmu_vm_add_slot(g->vm, 0, 0, MEM_BYTES, 0) == 0);
	REQUIRE(refm_init(&g->rm, &cfg.model, MEM_BYTES) == 0);
	g->esz = mode == SMMU_PAGING_32BIT ? 4 : 8;
	g->span = mode == SMMU_PAGING_32BIT ? 4ull << 20 : 2ull << 20;
	g->nslots = mode == SMMU_PAGING_32BIT ? 4 : 8;
	g->nfixed = mode == SMMU_PAGING_32BIT ? 1 : 3;
	g->next_frame = 0x1000;
	if (mode != SMMU_PAGING_OFF)
		build_guest(g);
	enter_mode(g);
	for (g->ops = 0; g->ops < nops && !g->failed; g->ops++) {
		random_op(g);
		if (g->ops % 2000 == 1999)
			compare_memory(g, MEM_BYTES);
		else if (g->ops % 100 == 99 || getenv("SMMU_DIFF_TRACE"))
			compare_memory(g, g->next_frame);
	}
	compare_memory(g, MEM_BYTES);
	check_shortcut_counters(g);
	refm_fini(&g->rm);
	smmu_vm_destroy(g->vm);
	free(g);
}

static void run_diff(enum smmu_paging_mode mode, enum variant var, uint32_t shortcuts,
                     uint64_t seed, unsigned long nops)
{
	run_diff_on(shadow_mmu, mode, var, shortcuts, seed, nops);
}

static unsigned long ops_scale(void)
{
	const char *s = getenv("SMMU_DIFF_OPS");

	return s ? strtoul(s, NULL, 0) : 30000;
}

static void run_mode(enum smmu_paging_mode mode, unsigned nseeds)
{
	const char *only = getenv("SMMU_DIFF_MODE");

	if (only && strtoul(only, NULL, 0) != (unsigned long)mode)
		return;
	const char *base = getenv("SMMU_DIFF_SEED");
	uint64_t b = base ? strtoull(base, NULL, 0) : 0;

	for (unsigned v = 0; v < V_COUNT; v++)
		for (unsigned s = 0; s < nseeds; s++)
			run_diff(mode, (enum variant)v, SMMU_SHORTCUTS_ALL,
			         0x9e3779b97f4a7c15ull * (s + 1 + b) + v, ops_scale());
	/*
	 * Every shortcut off, a third of the operations per variant; then each
	 * one off alone, a quarter, the variant rotating so that each shortcut
	 * meets each variant in some mode.  Other seeds than above.
	 */
	for (unsigned v = 0; v < V_COUNT; v++)
		run_diff(mode, (enum variant)v, 0, 0xd1b54a32d192ed03ull * (v + 1 + b) + mode,
		         ops_scale() / 3);
	for (unsigned i = 0; i < SMMU_NR_SHORTCUTS; i++)
		run_diff(mode, (enum variant)((i + mode) % V_COUNT), SMMU_SHORTCUTS_ALL & ~(1u << i),
		         0x94d049bb133111ebull * (i + 1 + b) + mode, ops_scale() / 4);
	/*
	 * The same guests on the TDP MMU: the reference model must not tell the
	 * difference.  EPT A/D alternates by variant; the shadow-only variants
	 * (no unsync, a tiny pool) mean nothing there and just run again.
	 */
	for (unsigned v = 0; v < V_COUNT; v++)
		run_diff_on((struct mmu_choice){SMMU_MMU_TDP, v % 2 == 0}, mode, (enum variant)v,
		            SMMU_SHORTCUTS_ALL, 0xbf58476d1ce4e5b9ull * (v + 1 + b) + mode,
		            ops_scale() / 3);
	/* TDP with each 2D-walk cache off alone (the nested TLB, the guest PSC). */
	run_diff_on((struct mmu_choice){SMMU_MMU_TDP, true}, mode, V_DEFAULT,
	            SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_NESTED_TLB,
	            0x2545f4914f6cdd1dull * (1 + b) + mode, ops_scale() / 4);
	run_diff_on((struct mmu_choice){SMMU_MMU_TDP, false}, mode, V_ZAPALL,
	            SMMU_SHORTCUTS_ALL & ~SMMU_SHORTCUT_PSC_2D,
	            0x2545f4914f6cdd1dull * (2 + b) + mode, ops_scale() / 4);
}

static void test_diff_4level_matches_reference(void)
{
	run_mode(SMMU_PAGING_4LEVEL, 3);
}

static void test_diff_32bit_pse_matches_reference(void)
{
	run_mode(SMMU_PAGING_32BIT, 2);
}

static void test_diff_pae_matches_reference(void)
{
	run_mode(SMMU_PAGING_PAE, 2);
}

static void test_diff_5level_matches_reference(void)
{
	run_mode(SMMU_PAGING_5LEVEL, 1);
}

static void test_diff_paging_off_matches_reference(void)
{
	run_mode(SMMU_PAGING_OFF, 1);
}

int main(void)
{
	RUN(test_diff_4level_matches_reference);
	RUN(test_diff_32bit_pse_matches_reference);
	RUN(test_diff_pae_matches_reference);
	RUN(test_diff_5level_matches_reference);
	RUN(test_diff_paging_off_matches_reference);
	return check_finish();
}
