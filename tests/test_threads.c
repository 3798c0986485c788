/*
 * test_threads.c - vCPUs on their own threads (smmu_vm_config.threaded),
 * one process each, all sharing the kernel's direct map of guest memory.
 *
 * Each thread runs a small guest kernel on its vCPU: it writes and reads
 * its own data pages and remaps them by writing its own page table through
 * the shared direct map, with invlpg after each change, as an OS does.
 * Threads share no guest data, so each one knows exactly what every read
 * must return; what they do share is the MMU: the direct map's large sptes
 * are split and write-protected when a page table inside them is shadowed,
 * rmaps and shadow pages are created, zapped and recycled (a small page cap)
 * by one vCPU while the others walk, and every such change kicks the other
 * vCPUs out of guest mode.  Run under ThreadSanitizer in CI (scripts/test.sh).
 *
 * Checked: every read returns what its thread last wrote there; no access
 * fails; the MMU audit holds once the threads are done.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shadowmmu/shadowmmu.h>

#include "support/check.h"

#define NR_THREADS 4
#define PAGES      64 /* data pages (and PT entries) per thread */
#define WORDS      4  /* words per page a thread uses */
#define OPS        40000

#define DIRECT_MAP 0xffff888000000000ull /* PML4 index 273 */
#define USER_BASE  0x400000ull           /* PML4 0, PDPT 0, PD 2 */
#define KPDPT      0x20000ull
#define KPD        0x21000ull
#define PML4(i)    (0x10000ull + 0x1000ull * (i))
#define UPDPT(i)   (0x40000ull + 0x3000ull * (i))
#define UPD(i)     (UPDPT(i) + 0x1000)
#define UPT(i)     (UPDPT(i) + 0x2000)
#define FRAME(i, k) (0x1000000ull + 0x200000ull * (i) + 0x1000ull * (k))

struct thread_ctx {
	struct smmu_vm *vm;
	unsigned id;
	uint64_t seed;
	unsigned map[PAGES];             /* PT entry j -> frame k */
	uint64_t expect[PAGES][WORDS];   /* frame k, word w */
	unsigned long reads, writes, remaps, failures;
	char why[160];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void wq(struct smmu_vm *vm, uint64_t gpa, uint64_t val)
{
	smmu_vm_write_gpa(vm, gpa, &val, 8);
}

/* Host-side set-up: kernel direct map (2 MiB pages, 64 MiB) and each process's tables. */
static void build_tables(struct smmu_vm *vm)
{
	for (unsigned p = 0; p < 32; p++)
		wq(vm, KPD + 8 * p, (p << 21) | 0xe3); /* P|RW|A|D|PS, supervisor */
	wq(vm, KPDPT, KPD | 0x23);
	for (unsigned i = 0; i < NR_THREADS; i++) {
		wq(vm, PML4(i) + 8 * 273, KPDPT | 0x23);
		wq(vm, PML4(i), UPDPT(i) | 0x27);
		wq(vm, UPDPT(i), UPD(i) | 0x27);
		wq(vm, UPD(i) + 8 * 2, UPT(i) | 0x27);
		for (unsigned j = 0; j < PAGES; j++)
			wq(vm, UPT(i) + 8 * j, FRAME(i, j) | 0x67);
	}
}

static int guest_reg(struct thread_ctx *t, enum smmu_reg r, uint64_t v)
{
	struct smmu_outcome o;

	smmu_vcpu_write_reg(t->vm, t->id, r, v, &o);
	return o.result == SMMU_OK ? 0 : -1;
}

static void fail(struct thread_ctx *t, const char *what, unsigned long op, uint64_t a, uint64_t b)
{
	if (!t->failures++)
		snprintf(t->why, sizeof(t->why), "vcpu %u op %lu: %s (%#llx vs %#llx)", t->id, op, what,
		         (unsigned long long)a, (unsigned long long)b);
}

/* Point PT entry j at frame k: a kernel write through the direct map, then invlpg. */
static void remap(struct thread_ctx *t, unsigned long op, unsigned j, unsigned k)
{
	struct smmu_outcome o;

	smmu_vcpu_write(t->vm, t->id, DIRECT_MAP + UPT(t->id) + 8 * j, 8, FRAME(t->id, k) | 0x67, &o);
	if (o.result != SMMU_OK)
		fail(t, "pte write", op, o.result, SMMU_OK);
	smmu_vcpu_invlpg(t->vm, t->id, USER_BASE + 0x1000ull * j, &o);
	t->map[j] = k;
	t->remaps++;
}

static void one_op(struct thread_ctx *t, unsigned long op)
{
	unsigned r = (unsigned)(rnd(&t->seed) % 100), j = (unsigned)(rnd(&t->seed) % PAGES);
	unsigned w = (unsigned)(rnd(&t->seed) % WORDS);
	uint64_t gva = USER_BASE + 0x1000ull * j + 8 * w;
	struct smmu_outcome o;

	if (r < 45) {
		uint64_t val = rnd(&t->seed);

		smmu_vcpu_write(t->vm, t->id, gva, 8, val, &o);
		if (o.result != SMMU_OK)
			fail(t, "write", op, o.result, SMMU_OK);
		t->expect[t->map[j]][w] = val;
		t->writes++;
	} else if (r < 90) {
		smmu_vcpu_read(t->vm, t->id, gva, 8, &o);
		if (o.result != SMMU_OK || o.value != t->expect[t->map[j]][w])
			fail(t, "read", op, o.value, t->expect[t->map[j]][w]);
		t->reads++;
	} else if (r < 98) {
		remap(t, op, j, (unsigned)(rnd(&t->seed) % PAGES));
	} else if (guest_reg(t, SMMU_REG_CR3, PML4(t->id))) {
		fail(t, "cr3 reload", op, 0, 0);
	}
}

static void *thread_main(void *arg)
{
	struct thread_ctx *t = arg;

	smmu_vcpu_set_cpl(t->vm, t->id, 0);
	if (guest_reg(t, SMMU_REG_CR4, 0x20) || guest_reg(t, SMMU_REG_EFER, 0x900) ||
	    guest_reg(t, SMMU_REG_CR3, PML4(t->id)) || guest_reg(t, SMMU_REG_CR0, 0x80010011)) {
		fail(t, "entering long mode", 0, 0, 0);
		return NULL;
	}
	for (unsigned j = 0; j < PAGES; j++)
		t->map[j] = j;
	for (unsigned long op = 0; op < OPS && !t->failures; op++)
		one_op(t, op);
	return NULL;
}

static void run_threads_on(enum smmu_mmu_mode mmu, bool unsync, uint64_t max_pages,
                           unsigned tlb_sets, unsigned tlb_ways)
{
	struct smmu_vm_config cfg;
	struct thread_ctx t[NR_THREADS];
	pthread_t th[NR_THREADS];
	struct smmu_vm *vm;
	char msg[256] = "";

	smmu_vm_config_default(&cfg);
	cfg.nr_vcpus = NR_THREADS;
	cfg.threaded = true;
	cfg.unsync = unsync;
	cfg.n_max_mmu_pages = max_pages;
	cfg.tlb_sets = tlb_sets;
	cfg.tlb_ways = tlb_ways;
	cfg.arena_bytes = 512ull << 20;
	cfg.mmu = mmu;
	cfg.ept_ad = mmu == SMMU_MMU_TDP;
	REQUIRE(smmu_vm_create(&cfg, &vm) == 0);
	REQUIRE(smmu_vm_add_slot(vm, 0, 0, 64ull << 20, 0) == 0);
	build_tables(vm);
	memset(t, 0, sizeof(t));
	for (unsigned i = 0; i < NR_THREADS; i++) {
		t[i].vm = vm;
		t[i].id = i;
		t[i].seed = 0x9e3779b97f4a7c15ull * (i + 1) + max_pages;
		REQUIRE(pthread_create(&th[i], NULL, thread_main, &t[i]) == 0);
	}
	for (unsigned i = 0; i < NR_THREADS; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < NR_THREADS; i++) {
		CHECK_MSG(!t[i].failures, "%s", t[i].why);
		CHECK(t[i].reads > OPS / 4 && t[i].remaps > OPS / 50);
	}
	CHECK_MSG(smmu_vm_audit(vm, msg, sizeof(msg)) == 0, "audit: %s", msg);
	smmu_vm_destroy(vm);
}

static void run_threads_tlb(bool unsync, uint64_t max_pages, unsigned tlb_sets, unsigned tlb_ways)
{
	run_threads_on(SMMU_MMU_SHADOW, unsync, max_pages, tlb_sets, tlb_ways);
}

static void run_threads(bool unsync, uint64_t max_pages)
{
	run_threads_tlb(unsync, max_pages, 0, 0);
}

static void test_threaded_vcpus_see_their_own_writes_with_unsync(void)
{
	run_threads(true, 0);
}

static void test_threaded_vcpus_see_their_own_writes_without_unsync(void)
{
	run_threads(false, 0);
}

/* A cap far below the working set: recycling zaps pages other vCPUs walk. */
static void test_threaded_vcpus_survive_recycling_of_each_others_pages(void)
{
	run_threads(true, 24);
}

/*
 * A one-entry TLB: every access walks the shadow tables, so a stale spte
 * anywhere shows at once.  This found the re-link bug: a page with unsync
 * children, cut off from the root by another vCPU's recycling while the
 * guest ran invlpg, was found again and linked back without a sync.
 */
static void test_threaded_vcpus_with_a_one_entry_tlb_never_read_stale_translations(void)
{
	run_threads_tlb(true, 24, 1, 1);
}

/*
 * The same guests on the TDP MMU: the vCPUs walk their page tables
 * themselves, in two dimensions, while other vCPUs' faults add EPT tables
 * and leaves under the same root (a one-entry TLB makes every access walk).
 */
static void test_threaded_vcpus_on_tdp_see_their_own_writes(void)
{
	run_threads_on(SMMU_MMU_TDP, true, 0, 0, 0);
	run_threads_on(SMMU_MMU_TDP, true, 0, 1, 1);
}

int main(void)
{
	RUN(test_threaded_vcpus_see_their_own_writes_with_unsync);
	RUN(test_threaded_vcpus_see_their_own_writes_without_unsync);
	RUN(test_threaded_vcpus_survive_recycling_of_each_others_pages);
	RUN(test_threaded_vcpus_with_a_one_entry_tlb_never_read_stale_translations);
	RUN(test_threaded_vcpus_on_tdp_see_their_own_writes);
	return check_finish();
}
