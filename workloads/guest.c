/*
 * guest.c - the guest kernel model's foundations: record emission, the
 * model of guest-physical memory (frames, tracked words, page-table frames),
 * the frame allocator, the paging geometry of each mode, and boot.
 *
 * Boot follows what an x86 kernel does (and what the conformance traces in
 * shared/conformance show): with paging off (gva = gpa) it writes its page
 * tables, a direct map of all guest RAM with global large pages (2 MiB, or
 * 1 GiB with gbpages; 4 MiB PSE pages in 32-bit paging, SDM Vol. 3A 4.3),
 * then on every vCPU sets CR4 (PAE/PSE, PGE, SMEP, SMAP, LA57), EFER (LME,
 * NXE), CR3 and CR0 (PG|WP|ET|PE), and CR4.PCIDE last when PCIDs are on
 * (PCIDE needs IA-32e mode and CR3[11:0] = 0, SDM 4.10.1).  The kernel then
 * reaches every frame through the direct map at CPL 0.
 *
 * The allocator is a LIFO free stack over a bump pointer above 1 MiB, so
 * recently freed frames come back first (what stresses an MMU's recycling)
 * and the whole trace stays a function of the seed.
 */
#include "guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Tracked word offsets: the first and last words and two in between. */
const uint16_t wl_word_off[WL_NW] = {0x000, 0x408, 0x810, 0xff8};

#define WL_FIRST_GFN 256 /* frames below 1 MiB are left alone, as on a PC */

/* ---- random numbers (splitmix64) ---------------------------------------- */
uint64_t wl_rand(struct wl_gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t wl_rand_below(struct wl_gen *g, uint64_t n)
{
	return n ? wl_rand(g) % n : 0;
}

/* ---- records ------------------------------------------------------------ */
void wl_emit(struct wl_gen *g, const struct trace_record *rec)
{
	struct trace_record r;
	int rc;

	if (g->err)
		return;
	r = *rec;
	r.line = ++g->nrec;
	rc = g->sink(g->sink_ctx, &r);
	if (rc)
		g->err = rc;
}

static void emit_simple(struct wl_gen *g, unsigned cpu, enum trace_kind kind, uint64_t op0,
                        uint64_t op1, uint64_t op2, enum trace_expect_kind ek, uint64_t ev)
{
	struct trace_record r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.vcpu = cpu;
	r.op[0] = op0;
	r.op[1] = op1;
	r.op[2] = op2;
	r.expect.kind = ek;
	r.expect.value = ev;
	wl_emit(g, &r);
}

void wl_emit_cr(struct wl_gen *g, unsigned cpu, unsigned kind, uint64_t value)
{
	if (kind == TRACE_CR3)
		g->nr_cr3++;
	emit_simple(g, cpu, (enum trace_kind)kind, value, 0, 0, TRACE_EXPECT_OK, 0);
}

void wl_set_cpl(struct wl_gen *g, unsigned cpu, unsigned cpl)
{
	if (g->vcpu[cpu].cpl == cpl)
		return;
	g->vcpu[cpu].cpl = cpl;
	emit_simple(g, cpu, TRACE_CPL, cpl, 0, 0, TRACE_EXPECT_NONE, 0);
}

static uint64_t kernel_gva(const struct wl_gen *g, uint64_t gpa)
{
	return g->paging ? g->geo.dmap + gpa : gpa;
}

/* A kernel write through the direct map (gva = gpa while paging is off). */
void wl_kwrite(struct wl_gen *g, unsigned cpu, uint64_t gpa, unsigned size, uint64_t val)
{
	wl_set_cpl(g, cpu, 0);
	emit_simple(g, cpu, TRACE_WRITE, size, kernel_gva(g, gpa), val, TRACE_EXPECT_OK, 0);
}

/* A kernel read of tracked word k of a data frame: its value is known. */
void wl_kread_word(struct wl_gen *g, unsigned cpu, uint64_t gfn, unsigned k)
{
	uint64_t gpa = gfn * WL_PAGE + wl_word_off[k];

	wl_set_cpl(g, cpu, 0);
	emit_simple(g, cpu, TRACE_READ, 8, kernel_gva(g, gpa), 0, TRACE_EXPECT_VALUE,
	            g->frame[gfn].w[k]);
}

void wl_invlpg(struct wl_gen *g, unsigned cpu, uint64_t gva)
{
	wl_set_cpl(g, cpu, 0); /* INVLPG is privileged: a shootdown runs in the IPI handler */
	g->nr_invlpg++;
	emit_simple(g, cpu, TRACE_INVLPG, gva, 0, 0, TRACE_EXPECT_NONE, 0);
}

/* ---- frames --------------------------------------------------------------- */
static void frame_clear_words(struct wl_gen *g, unsigned cpu, uint64_t gfn)
{
	struct wl_frame *f = &g->frame[gfn];

	for (unsigned k = 0; k < WL_NW; k++) {
		if (!f->w[k])
			continue;
		wl_kwrite(g, cpu, gfn * WL_PAGE + wl_word_off[k], 8, 0);
		f->w[k] = 0;
	}
}

uint64_t *wl_pt_entries(struct wl_gen *g, uint64_t gfn)
{
	if (!g->pt[gfn]) {
		g->pt[gfn] = calloc(1024, sizeof(uint64_t));
		if (!g->pt[gfn] && !g->err)
			g->err = -ENOMEM;
	}
	return g->pt[gfn];
}

/*
 * Allocate a frame for `kind` and make it zero: the kernel clears the
 * tracked words that may be non-zero (every other word already is), so a
 * reused frame is re-initialized by explicit writes before any expectation
 * on its content.  Returns 0 (never a valid frame) when RAM is exhausted.
 */
uint64_t wl_frame_alloc(struct wl_gen *g, unsigned cpu, enum wl_frame_kind kind)
{
	uint64_t gfn;

	if (g->nfree)
		gfn = g->free_stack[--g->nfree];
	else if (g->bump < g->nframes)
		gfn = g->bump++;
	else {
		if (!g->err)
			g->err = -ENOMEM;
		return 0;
	}
	frame_clear_words(g, cpu, gfn);
	g->frame[gfn].kind = (uint8_t)kind;
	g->frame[gfn].refs = 0;
	if ((kind == WL_FRAME_PT || kind == WL_FRAME_KERNEL) && !wl_pt_entries(g, gfn))
		return 0;
	return gfn;
}

void wl_frame_free(struct wl_gen *g, uint64_t gfn)
{
	struct wl_frame *f = &g->frame[gfn];

	if (f->kind == WL_FRAME_PT) {
		/* A table is freed only after its entries were cleared by guest writes. */
		for (unsigned i = 0; i < 1024; i++)
			if (g->pt[gfn][i] && !g->err)
				g->err = -EFAULT;
	}
	f->kind = WL_FRAME_FREE;
	f->refs = 0;
	g->free_stack[g->nfree++] = gfn;
}

/* Write entry idx of table gfn: a guest write at CPL 0 (the model follows). */
void wl_pt_set(struct wl_gen *g, unsigned cpu, uint64_t gfn, unsigned idx, uint64_t val)
{
	if (g->err)
		return;
	g->pt[gfn][idx] = val;
	wl_kwrite(g, cpu, gfn * WL_PAGE + (uint64_t)idx * g->geo.esz, g->geo.esz, val);
}

/* ---- paging geometry ---------------------------------------------------- */
int wl_geom_init(struct wl_geom *geo, enum smmu_paging_mode mode)
{
	memset(geo, 0, sizeof(*geo));
	geo->mode = mode;
	geo->esz = 8;
	geo->nx = X86_PTE_NX;
	geo->addr_mask = 0x000ffffffffff000ull;
	geo->text = 0x400000;
	geo->heap = 0x10000000;
	switch (mode) {
	case SMMU_PAGING_32BIT:
		geo->levels = 2;
		geo->esz = 4;
		geo->nx = 0;
		geo->addr_mask = 0xfffff000ull;
		/* same 3G/1G split as PAE */
		/* fall through */
	case SMMU_PAGING_PAE:
		if (mode == SMMU_PAGING_PAE)
			geo->levels = 3;
		geo->dmap = 0xc0000000ull;
		geo->text = 0x08000000ull;
		geo->mmap = 0x40000000ull;
		geo->stack_top = 0xbff00000ull;
		return 0;
	case SMMU_PAGING_4LEVEL:
		geo->levels = 4;
		geo->dmap = 0xffff888000000000ull;
		geo->mmap = 0x7f0000000000ull;
		geo->stack_top = 0x7ffffffff000ull;
		return 0;
	case SMMU_PAGING_5LEVEL:
		geo->levels = 5;
		geo->dmap = 0xff11000000000000ull;
		geo->mmap = 0x00f0000000000000ull; /* above 2^47: only LA57 reaches it */
		geo->stack_top = 0x00fffffffffff000ull;
		return 0;
	default:
		return -EINVAL;
	}
}

unsigned wl_entries(const struct wl_geom *geo, unsigned level)
{
	if (geo->mode == SMMU_PAGING_32BIT)
		return 1024;
	if (geo->mode == SMMU_PAGING_PAE && level == 2)
		return 4;
	return 512;
}

unsigned wl_index(const struct wl_geom *geo, uint64_t va, unsigned level)
{
	unsigned bits = geo->mode == SMMU_PAGING_32BIT ? 10 : 9;

	return (unsigned)(va >> (12 + level * bits)) & (wl_entries(geo, level) - 1);
}

/* ---- generator state ------------------------------------------------------ */
int wl_gen_init(struct wl_gen *g, const struct workload_params *p, uint64_t ram,
                workload_sink_fn sink, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->p = *p;
	if (wl_geom_init(&g->geo, p->mode))
		return -EINVAL;
	g->sink = sink;
	g->sink_ctx = ctx;
	g->rng = p->seed ^ 0x5eed5eed5eedull;
	g->ram = ram;
	g->nframes = ram / WL_PAGE;
	g->bump = WL_FIRST_GFN;
	g->frame = calloc(g->nframes, sizeof(*g->frame));
	g->pt = calloc(g->nframes, sizeof(*g->pt));
	g->free_stack = calloc(g->nframes, sizeof(*g->free_stack));
	g->pgd_cache = calloc(g->nframes, sizeof(*g->pgd_cache));
	g->text_gfn = calloc(WL_NR_BINS * WL_TEXT_PAGES, sizeof(*g->text_gfn));
	if (!g->frame || !g->pt || !g->free_stack || !g->pgd_cache || !g->text_gfn) {
		wl_gen_fini(g);
		return -ENOMEM;
	}
	return 0;
}

void wl_gen_fini(struct wl_gen *g)
{
	if (g->pt)
		for (uint64_t i = 0; i < g->nframes; i++)
			free(g->pt[i]);
	free(g->pt);
	free(g->frame);
	free(g->free_stack);
	free(g->pgd_cache);
	free(g->text_gfn);
	g->pt = NULL;
	g->frame = NULL;
	g->free_stack = g->pgd_cache = g->text_gfn = NULL;
}

/* ---- boot ----------------------------------------------------------------- */
#define WL_KERNEL_TABLE (X86_PTE_P | X86_PTE_RW | X86_PTE_A)
#define WL_KERNEL_LARGE (X86_PTE_P | X86_PTE_RW | X86_PTE_A | X86_PTE_D | X86_PTE_PS | X86_PTE_G)

static void emit_setup(struct wl_gen *g)
{
	const struct workload_params *p = &g->p;
	uint64_t set = 0, on = 0;

	emit_simple(g, 0, TRACE_HEADER, TRACE_VERSION, 0, 0, TRACE_EXPECT_NONE, 0);
	if (p->vcpus > 1)
		emit_simple(g, 0, TRACE_VCPUS, p->vcpus, 0, 0, TRACE_EXPECT_NONE, 0);
	set = 1u << TRACE_CPU_MAXPHYADDR | 1u << TRACE_CPU_GBPAGES | 1u << TRACE_CPU_PCID |
	      1u << TRACE_CPU_LA57;
	on = (p->gbpages ? 1u << TRACE_CPU_GBPAGES : 0) | (p->pcid ? 1u << TRACE_CPU_PCID : 0) |
	     (p->mode == SMMU_PAGING_5LEVEL ? 1u << TRACE_CPU_LA57 : 0);
	emit_simple(g, 0, TRACE_CPU, set, on, 46, TRACE_EXPECT_NONE, 0);
	emit_simple(g, 0, TRACE_SLOT, 0, 0, g->ram, TRACE_EXPECT_NONE, 0);
}

/* Map guest RAM [0, ram) in the PDPT at gfn: 1 GiB leaves or 2 MiB PDs. */
static void boot_fill_pdpt(struct wl_gen *g, uint64_t pdpt)
{
	uint64_t nx = g->geo.nx;

	for (uint64_t gib = 0; gib * (1ull << 30) < g->ram; gib++) {
		uint64_t base = gib << 30, pd;

		if (g->p.gbpages) {
			wl_pt_set(g, 0, pdpt, (unsigned)gib, base | WL_KERNEL_LARGE | nx);
			continue;
		}
		pd = wl_frame_alloc(g, 0, WL_FRAME_KERNEL);
		if (!pd)
			return;
		wl_pt_set(g, 0, pdpt, (unsigned)gib, pd * WL_PAGE | WL_KERNEL_TABLE);
		for (unsigned j = 0; j < 512 && base + ((uint64_t)j << 21) < g->ram; j++)
			wl_pt_set(g, 0, pd, j, (base + ((uint64_t)j << 21)) | WL_KERNEL_LARGE | nx);
	}
}

static void boot_build_direct_map(struct wl_gen *g)
{
	uint64_t root = wl_frame_alloc(g, 0, WL_FRAME_KERNEL), t;

	if (!root)
		return;
	g->init_root = root * WL_PAGE;
	switch (g->geo.mode) {
	case SMMU_PAGING_32BIT: /* PDEs 768.. map 4 MiB pages at 0xc0000000 */
		for (uint64_t i = 0; (i << 22) < g->ram; i++)
			wl_pt_set(g, 0, root, 768 + (unsigned)i, (i << 22) | WL_KERNEL_LARGE);
		return;
	case SMMU_PAGING_PAE: /* PDPTE 3 -> the kernel PD; a PDPTE has only P (SDM 4.4.1) */
		t = wl_frame_alloc(g, 0, WL_FRAME_KERNEL);
		if (!t)
			return;
		wl_pt_set(g, 0, root, 3, t * WL_PAGE | X86_PTE_P);
		for (uint64_t j = 0; (j << 21) < g->ram; j++)
			wl_pt_set(g, 0, t, (unsigned)j, (j << 21) | WL_KERNEL_LARGE | g->geo.nx);
		return;
	case SMMU_PAGING_5LEVEL: /* PML5[273] -> kernel PML4; PML4[0] -> the PDPT */
		t = wl_frame_alloc(g, 0, WL_FRAME_KERNEL);
		if (!t)
			return;
		wl_pt_set(g, 0, root, 273, t * WL_PAGE | WL_KERNEL_TABLE);
		root = t;
		/* fall through */
	default: { /* PML4[273] -> the direct map's PDPT (0xffff888000000000) */
		uint64_t pdpt = wl_frame_alloc(g, 0, WL_FRAME_KERNEL);

		if (!pdpt)
			return;
		wl_pt_set(g, 0, root, g->geo.mode == SMMU_PAGING_5LEVEL ? 0 : 273,
		          pdpt * WL_PAGE | WL_KERNEL_TABLE);
		boot_fill_pdpt(g, pdpt);
	}
	}
}

/* Turn paging on on one vCPU, in the order a kernel must use. */
static void boot_enable_paging(struct wl_gen *g, unsigned cpu)
{
	uint64_t cr4 = X86_CR4_PGE | X86_CR4_SMEP | X86_CR4_SMAP;
	uint64_t cr0 = X86_CR0_PG | X86_CR0_WP | X86_CR0_ET | X86_CR0_PE;

	if (g->geo.mode == SMMU_PAGING_32BIT)
		cr4 |= X86_CR4_PSE;
	else
		cr4 |= X86_CR4_PAE;
	if (g->geo.mode == SMMU_PAGING_5LEVEL)
		cr4 |= X86_CR4_LA57; /* must be set before paging: it cannot change with LMA=1 */
	wl_emit_cr(g, cpu, TRACE_CR4, cr4);
	if (g->geo.mode == SMMU_PAGING_PAE)
		wl_emit_cr(g, cpu, TRACE_EFER, X86_EFER_NXE);
	else if (g->geo.levels >= 4)
		wl_emit_cr(g, cpu, TRACE_EFER, X86_EFER_LME | X86_EFER_NXE);
	wl_emit_cr(g, cpu, TRACE_CR3, g->init_root);
	wl_emit_cr(g, cpu, TRACE_CR0, cr0);
	if (g->p.pcid)
		wl_emit_cr(g, cpu, TRACE_CR4, cr4 | X86_CR4_PCIDE);
}

/* The page cache of the binaries processes exec: shared, read-only text. */
static void boot_load_binaries(struct wl_gen *g)
{
	for (unsigned i = 0; i < WL_NR_BINS * WL_TEXT_PAGES; i++) {
		uint64_t gfn = wl_frame_alloc(g, 0, WL_FRAME_TEXT);

		if (!gfn)
			return;
		g->text_gfn[i] = gfn;
		for (unsigned k = 0; k < WL_NW; k++) {
			uint64_t v = 0x7e47000000000000ull | (uint64_t)i << 8 | k;

			g->frame[gfn].w[k] = v;
			wl_kwrite(g, 0, gfn * WL_PAGE + wl_word_off[k], 8, v);
		}
	}
}

void wl_boot(struct wl_gen *g)
{
	emit_setup(g);
	boot_build_direct_map(g);
	for (unsigned c = 0; c < g->p.vcpus; c++)
		boot_enable_paging(g, c);
	g->paging = true;
	boot_load_binaries(g);
}
