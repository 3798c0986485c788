/*
 * workloads.c - the named workloads of the guest-OS model and the public
 * entry points (workload.h).
 *
 * Each workload boots the guest (guest.c), runs processes through the
 * model's kernel (mm.c) and ends with every process exited, so phases can be
 * chained (`mix`).  Counts scale linearly with params.size; the defaults at
 * size 1.0 are sized to run in seconds through the executor.  Random
 * choices come from one splitmix64 stream seeded by params.seed, so a trace
 * is a pure function of the parameters.
 */
#include "guest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WL_DEFAULT_RAM (256ull << 20)
#define WL_MIB         (1ull << 20)

/* Default counts at size 1.0. */
#define FORKWAIT_CHILDREN 40000
#define KBUILD_PROCS      1500
#define PINGPONG_STEPS    500000
#define BIGMEM_PAGES      32768
#define BIGMEM_ACCESSES   1000000
#define MMAPCHURN_ITERS   10000
#define BOOT_PROBES       64

static uint64_t scale(uint64_t n, double size)
{
	double v = (double)n * size + 0.5;

	return v < 1.0 ? 1 : (uint64_t)v;
}

static unsigned nr_vcpus(const struct wl_gen *g)
{
	return g->p.vcpus;
}

static uint64_t vma_page(const struct wl_vma *v, uint64_t i)
{
	return v->start + i * WL_PAGE;
}

static uint64_t vma_pages(const struct wl_vma *v)
{
	return (v->end - v->start) / WL_PAGE;
}

/* Write every page of a VMA once (demand faults). */
static void populate(struct wl_gen *g, unsigned cpu, const struct wl_vma *v)
{
	for (uint64_t i = 0; i < vma_pages(v) && !g->err; i++)
		wl_utouch(g, cpu, vma_page(v, i), true);
}

/* A new process running binary bin on cpu, its heap and stack populated. */
static struct wl_mm *spawn(struct wl_gen *g, unsigned cpu, uint32_t bin, uint64_t heap,
                           uint64_t stack)
{
	struct wl_mm *mm = wl_mm_exec(g, cpu, bin, heap, stack);

	if (!mm)
		return NULL;
	wl_switch_mm(g, cpu, mm);
	wl_uaccess(g, cpu, WL_FETCH, mm->vma[0].start, 1, 0);
	populate(g, cpu, &mm->vma[1]);
	populate(g, cpu, &mm->vma[2]);
	return mm;
}

/* One access of a running process: mostly its heap, some stack and text. */
static void step_process(struct wl_gen *g, unsigned cpu, struct wl_mm *mm)
{
	uint64_t r = wl_rand(g);
	const struct wl_vma *v = &mm->vma[1];

	if ((r & 15) == 0) {
		v = &mm->vma[0];
		wl_uaccess(g, cpu, WL_FETCH,
		           vma_page(v, (r >> 8) % vma_pages(v)) + (r >> 20) % 4096, 1, 0);
		return;
	}
	if ((r & 15) == 1)
		v = &mm->vma[2];
	wl_utouch(g, cpu, vma_page(v, (r >> 8) % vma_pages(v)), (r >> 4) & 1);
}

/* ---- forkwait: fork a child that exits at once, wait, repeat ----------- */
static void run_forkwait(struct wl_gen *g, double size)
{
	uint64_t n = scale(FORKWAIT_CHILDREN, size);
	struct wl_mm *parent = spawn(g, 0, 0, 8, 4);

	for (uint64_t i = 0; i < n && parent && !g->err; i++) {
		unsigned c = nr_vcpus(g) > 1 ? 1 + (unsigned)(i % (nr_vcpus(g) - 1)) : 0;
		struct wl_mm *child = wl_mm_fork(g, 0, parent);

		if (!child)
			break;
		/* The child runs (on another vCPU when there is one), touches its
		 * stack (a copy-on-write copy) and a shared heap page, and exits. */
		wl_switch_mm(g, c, child);
		wl_uaccess(g, c, WL_FETCH, g->geo.text, 1, 0);
		wl_utouch(g, c, g->geo.stack_top - WL_PAGE, true);
		wl_utouch(g, c, vma_page(&child->vma[1], wl_rand_below(g, 8)), false);
		wl_mm_destroy(g, c, child);
		/* The parent returns from wait: its writes reuse its pages. */
		wl_switch_mm(g, 0, parent);
		wl_utouch(g, 0, g->geo.stack_top - WL_PAGE, true);
		if (i % 4 == 0)
			wl_utouch(g, 0, vma_page(&parent->vma[1], wl_rand_below(g, 8)), true);
	}
	if (parent)
		wl_mm_destroy(g, 0, parent);
}

/* ---- kbuild: a make forking compilers across the vCPUs ------------------ */
struct kbuild_job {
	struct wl_mm *mm;
	uint64_t left; /* accesses still to do */
};

/* make forks on cpu; the child execs a compiler and the copy is torn down. */
static struct wl_mm *kbuild_start(struct wl_gen *g, unsigned cpu, struct wl_mm *make)
{
	struct wl_mm *child, *cc;

	wl_switch_mm(g, cpu, make);
	wl_utouch(g, cpu, vma_page(&make->vma[1], wl_rand_below(g, vma_pages(&make->vma[1]))),
	          true);
	child = wl_mm_fork(g, cpu, make);
	if (!child)
		return NULL;
	wl_switch_mm(g, cpu, child);
	wl_utouch(g, cpu, g->geo.stack_top - WL_PAGE, true);
	cc = wl_mm_exec(g, cpu, 1 + (uint32_t)wl_rand_below(g, WL_NR_BINS - 1),
	                64 + wl_rand_below(g, 256), 8);
	if (!cc)
		return NULL;
	wl_switch_mm(g, cpu, cc);
	wl_mm_destroy(g, cpu, child);
	return cc;
}

static void run_kbuild(struct wl_gen *g, double size)
{
	uint64_t n = scale(KBUILD_PROCS, size), started = 0, finished = 0;
	struct kbuild_job job[WORKLOAD_MAX_VCPUS];
	struct wl_mm *make = spawn(g, 0, 0, 32, 4);

	memset(job, 0, sizeof(job));
	while (make && finished < n && !g->err) {
		for (unsigned c = 0; c < nr_vcpus(g) && !g->err; c++) {
			struct kbuild_job *j = &job[c];

			if (!j->mm) {
				if (started == n)
					continue;
				j->mm = kbuild_start(g, c, make);
				j->left = j->mm ? 2 * vma_pages(&j->mm->vma[1]) : 0;
				started++;
				continue;
			}
			for (unsigned k = 0; k < 32 && j->left; k++, j->left--)
				step_process(g, c, j->mm);
			if (!j->left) {
				wl_mm_destroy(g, c, j->mm);
				j->mm = NULL;
				finished++;
			}
		}
	}
	for (unsigned c = 0; c < nr_vcpus(g); c++)
		if (job[c].mm)
			wl_mm_destroy(g, c, job[c].mm);
	if (make)
		wl_mm_destroy(g, 0, make);
}

/* ---- pingpong: processes switching on every step ------------------------ */
static void run_pingpong(struct wl_gen *g, double size)
{
	unsigned np = nr_vcpus(g) < 2 ? 2 : 2 * nr_vcpus(g);
	uint64_t steps = scale(PINGPONG_STEPS, size);
	struct wl_mm *mm[2 * WORKLOAD_MAX_VCPUS];
	int cur[WORKLOAD_MAX_VCPUS], queue[2 * WORKLOAD_MAX_VCPUS];
	unsigned head = 0, tail = 0, len = 2 * WORKLOAD_MAX_VCPUS;

	for (unsigned i = 0; i < np; i++)
		mm[i] = spawn(g, 0, i % WL_NR_BINS, 16, 2);
	for (unsigned c = 0; c < nr_vcpus(g); c++)
		cur[c] = -1;
	cur[0] = (int)np - 1;
	for (unsigned i = 0; i + 1 < np; i++)
		queue[tail++ % len] = (int)i;
	for (uint64_t s = 0; s < steps && !g->err; s++) {
		unsigned c = (unsigned)(s % nr_vcpus(g));
		int next;

		if (cur[c] >= 0)
			queue[tail++ % len] = cur[c];
		next = queue[head++ % len];
		cur[c] = next;
		if (!mm[next])
			break;
		wl_switch_mm(g, c, mm[next]);
		wl_utouch(g, c, vma_page(&mm[next]->vma[1], wl_rand_below(g, 16)), true);
		wl_utouch(g, c, vma_page(&mm[next]->vma[1], wl_rand_below(g, 16)), false);
	}
	for (unsigned i = 0; i < np; i++)
		if (mm[i])
			wl_mm_destroy(g, 0, mm[i]);
}

/* ---- bigmem: one large process, random accesses, some MADV_DONTNEED ---- */
static uint64_t bigmem_pages(double size)
{
	uint64_t n = scale(BIGMEM_PAGES, size);

	return n < 128 ? 128 : n;
}

static void run_bigmem(struct wl_gen *g, double size)
{
	uint64_t pages = bigmem_pages(size), n = scale(BIGMEM_ACCESSES, size);
	struct wl_mm *mm = wl_mm_exec(g, 0, 2, pages, 2);

	if (!mm)
		return;
	for (unsigned c = 0; c < nr_vcpus(g); c++) /* one thread per vCPU */
		wl_switch_mm(g, c, mm);
	for (uint64_t i = 0; i < n && !g->err; i++) {
		unsigned c = (unsigned)((i / 64) % nr_vcpus(g));
		uint64_t r = wl_rand(g);

		wl_utouch(g, c, vma_page(&mm->vma[1], (r >> 1) % pages), r & 1);
		if (i % 8192 == 8191) /* madvise(DONTNEED) of 64 pages: zap + shootdown */
			wl_zap_range(g, c, mm, vma_page(&mm->vma[1], (r >> 20) % (pages - 64)), 64,
			             false);
	}
	wl_mm_destroy(g, 0, mm);
}

/* ---- mmapchurn: mmap, touch, munmap, with threads on every vCPU -------- */
#define CHURN_LIVE 4

static void run_mmapchurn(struct wl_gen *g, double size)
{
	uint64_t n = scale(MMAPCHURN_ITERS, size);
	uint64_t live_start[CHURN_LIVE] = {0}, live_pages[CHURN_LIVE] = {0};
	struct wl_mm *mm = wl_mm_exec(g, 0, 3, 4, 2);

	if (!mm)
		return;
	for (unsigned c = 0; c < nr_vcpus(g); c++)
		wl_switch_mm(g, c, mm);
	for (uint64_t i = 0; i < n && !g->err; i++) {
		unsigned c = (unsigned)(i % nr_vcpus(g)), slot = (unsigned)(i % CHURN_LIVE);
		uint64_t np = 1 + wl_rand_below(g, 32);
		uint64_t start = g->geo.mmap + (i % 64) * (64 * WL_PAGE);

		if (live_pages[slot])
			wl_munmap(g, c, mm, live_start[slot], live_pages[slot]);
		wl_mm_add_vma(mm, start, np, WL_VMA_ANON, 0);
		live_start[slot] = start;
		live_pages[slot] = np;
		for (uint64_t p = 0; p < np && !g->err; p++) {
			unsigned c2 = (unsigned)((c + p) % nr_vcpus(g)); /* threads share it */

			wl_utouch(g, c, start + p * WL_PAGE, true);
			wl_utouch(g, c2, start + p * WL_PAGE, false);
		}
	}
	for (unsigned s = 0; s < CHURN_LIVE; s++)
		if (live_pages[s])
			wl_munmap(g, 0, mm, live_start[s], live_pages[s]);
	wl_mm_destroy(g, 0, mm);
}

/* ---- boot: the kernel probes its direct map from every vCPU ------------ */
static void run_boot(struct wl_gen *g, double size)
{
	uint64_t n = scale(BOOT_PROBES, size);

	/* Free frames far from the allocator: the kernel writes a word of each
	 * and every vCPU reads it back through its global direct map. */
	for (uint64_t i = 0; i < n && !g->err; i++) {
		uint64_t gfn = g->nframes - 1 - (i * 509) % (g->nframes - g->bump);
		uint64_t v = wl_rand(g) | 1;

		if (g->frame[gfn].kind != WL_FRAME_FREE)
			continue;
		g->frame[gfn].w[0] = v;
		wl_kwrite(g, 0, gfn * WL_PAGE, 8, v);
		for (unsigned c = 0; c < nr_vcpus(g); c++)
			wl_kread_word(g, c, gfn, 0);
	}
}

/* ---- mix: rounds of every workload on one guest ------------------------ */
#define MIX_ROUNDS 4

static void run_mix(struct wl_gen *g, double size)
{
	double s = size / (MIX_ROUNDS * 5);

	run_boot(g, size);
	for (unsigned r = 0; r < MIX_ROUNDS && !g->err; r++) {
		run_forkwait(g, s);
		run_kbuild(g, s);
		run_pingpong(g, s);
		run_mmapchurn(g, s);
		run_bigmem(g, s);
	}
}

/* ---- the table -------------------------------------------------------------- */
static uint64_t bigmem_ram(double size)
{
	uint64_t bytes = bigmem_pages(size) * WL_PAGE + 64 * WL_MIB;

	bytes = (bytes + 4 * WL_MIB - 1) & ~(4 * WL_MIB - 1);
	return bytes < WL_DEFAULT_RAM ? WL_DEFAULT_RAM : bytes;
}

static uint64_t mix_ram(double size)
{
	return bigmem_ram(size / (MIX_ROUNDS * 5));
}

static const struct workload_info workload_infos[] = {
    {"boot", "boot alone: page tables, paging on every vCPU, direct-map probes"},
    {"forkwait", "fork a child that exits at once, wait (40000 children at size 1)"},
    {"kbuild", "make forks and execs 1500 short compilers across the vCPUs"},
    {"pingpong", "2 processes (2 per vCPU) switching on every step, 500000 steps"},
    {"bigmem", "one 128 MiB process, 1M random accesses, periodic DONTNEED"},
    {"mmapchurn", "threads mmap, touch and munmap 1-32 pages, 10000 times"},
    {"mix", "4 rounds of forkwait, kbuild, pingpong, mmapchurn and bigmem"},
};

/* Parallel to workload_infos. */
static const struct workload_def {
	void (*run)(struct wl_gen *g, double size);
	uint64_t (*ram)(double size); /* guest RAM needed; NULL: the default */
} workloads[] = {
    {run_boot, NULL},         {run_forkwait, NULL},  {run_kbuild, NULL}, {run_pingpong, NULL},
    {run_bigmem, bigmem_ram}, {run_mmapchurn, NULL}, {run_mix, mix_ram},
};

#define NR_WORKLOADS (sizeof(workload_infos) / sizeof(workload_infos[0]))
_Static_assert(sizeof(workloads) / sizeof(workloads[0]) == NR_WORKLOADS, "tables differ");

const struct workload_info *workload_list(unsigned *nr)
{
	*nr = NR_WORKLOADS;
	return workload_infos;
}

int workload_find(const char *name)
{
	for (unsigned i = 0; name && i < NR_WORKLOADS; i++)
		if (!strcmp(name, workload_infos[i].name))
			return (int)i;
	return -ENOENT;
}

void workload_params_init(struct workload_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = 1.0;
	p->seed = 1;
	p->vcpus = 1;
	p->mode = SMMU_PAGING_4LEVEL;
}

static int params_check(const struct workload_params *p, uint64_t ram)
{
	bool ia32e = p->mode == SMMU_PAGING_4LEVEL || p->mode == SMMU_PAGING_5LEVEL;

	if (!(p->size > 0 && p->size <= 1000) || !p->vcpus || p->vcpus > WORKLOAD_MAX_VCPUS)
		return -EINVAL;
	if (p->mode != SMMU_PAGING_32BIT && p->mode != SMMU_PAGING_PAE && !ia32e)
		return -EINVAL;
	if ((p->pcid || p->gbpages) && !ia32e) /* PCIDE needs IA-32e mode (SDM 4.10.1) */
		return -EINVAL;
	if (ram > (ia32e ? 64ull << 30 : 1ull << 30)) /* the 3G/1G split's direct map */
		return -EINVAL;
	return 0;
}

int workload_generate(const char *name, const struct workload_params *params, workload_sink_fn sink,
                      void *sink_ctx)
{
	struct workload_params p;
	const struct workload_def *def;
	struct wl_gen *g;
	uint64_t ram;
	int id = workload_find(name), rc;

	if (id < 0)
		return id;
	if (!sink)
		return -EINVAL;
	def = &workloads[id];
	if (params)
		p = *params;
	else
		workload_params_init(&p);
	if (!(p.size > 0 && p.size <= 1000))
		return -EINVAL;
	ram = def->ram ? def->ram(p.size) : WL_DEFAULT_RAM;
	rc = params_check(&p, ram);
	if (rc)
		return rc;
	g = malloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	rc = wl_gen_init(g, &p, ram, sink, sink_ctx);
	if (!rc) {
		wl_boot(g);
		def->run(g, p.size);
		rc = g->err;
		wl_gen_fini(g);
	}
	free(g);
	return rc;
}

int workload_parse_mode(const char *s, enum smmu_paging_mode *mode)
{
	static const struct {
		const char *a, *b;
		enum smmu_paging_mode m;
	} names[] = {
	    {"32bit", "2", SMMU_PAGING_32BIT},
	    {"pae", "3", SMMU_PAGING_PAE},
	    {"4level", "4", SMMU_PAGING_4LEVEL},
	    {"5level", "5", SMMU_PAGING_5LEVEL},
	};

	for (unsigned i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i].a) || !strcmp(s, names[i].b)) {
			*mode = names[i].m;
			return 0;
		}
	}
	return -EINVAL;
}

const char *workload_mode_name(enum smmu_paging_mode mode)
{
	switch (mode) {
	case SMMU_PAGING_32BIT:
		return "32bit";
	case SMMU_PAGING_PAE:
		return "pae";
	case SMMU_PAGING_4LEVEL:
		return "4level";
	case SMMU_PAGING_5LEVEL:
		return "5level";
	default:
		return "?";
	}
}
