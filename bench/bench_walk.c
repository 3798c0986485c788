/*
 * bench_walk.c - cost of one guest page walk (src/x86/walker.c) with warm
 * caches: a successful 4-level walk (A/D already set, so no cmpxchg), a
 * walk that faults at the leaf (not present), the same through a prebuilt
 * struct x86_paging (as the shadow MMU will call it), and a 2-level walk.
 *
 * Figures: median nanoseconds per walk over batches, and instructions per
 * walk from the hardware counter when perf_event_open allows it.  For an
 * exact count under valgrind run
 *     valgrind --tool=callgrind --collect-atstart=no bench_walk
 * Each case then leaves one dump (callgrind.out.PID.N, "Trigger: Client
 * Request: CASE") whose "summary:" Ir divided by BATCH (1000) is the
 * instruction count of one walk, the benchmark loop included.
 */
#include "benchutil.h"

#include <shadowmmu/x86.h>

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "x86/paging.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(name) ((void)(name))
#define RUNNING_ON_VALGRIND 0
#endif

#define MEM_SIZE 0x10000u
#define BATCH    1000u
#define SAMPLES  301u

static uint8_t mem_buf[MEM_SIZE];

static int flat_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	(void)ctx;
	if (gpa >= MEM_SIZE || MEM_SIZE - gpa < size)
		return -EFAULT;
	if (size == 8)
		memcpy(val, mem_buf + gpa, 8);
	else {
		uint32_t v;

		memcpy(&v, mem_buf + gpa, 4);
		*val = v;
	}
	return 0;
}

static int flat_cmpxchg(void *ctx, uint64_t gpa, unsigned size, uint64_t old, uint64_t new_val)
{
	uint64_t cur;

	if (flat_read(ctx, gpa, size, &cur) < 0)
		return -EFAULT;
	if (cur != old)
		return 1;
	memcpy(mem_buf + gpa, &new_val, size);
	return 0;
}

static const struct smmu_gpa_ops flat_mem = {.read = flat_read, .cmpxchg = flat_cmpxchg};

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(mem_buf + gpa, &v, 8);
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(mem_buf + gpa, &v, 4);
}

#define PRU    (X86_PTE_P | X86_PTE_RW | X86_PTE_US)
#define GVA_OK ((1ull << 39) | (2ull << 30) | (3ull << 21) | (4ull << 12) | 0x567)
#define GVA_NP (GVA_OK + 0x1000) /* PT index 5: not present */

static void setup_4level(struct smmu_cpu_state *s)
{
	smmu_cpu_state_reset(s);
	s->cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_ET | X86_CR0_WP;
	s->cr4 = X86_CR4_PAE | X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE;
	s->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	s->cr3 = 0x1000;
	s->cpl = 3;
	put64(0x1008, 0x2000 | PRU);
	put64(0x2010, 0x3000 | PRU);
	put64(0x3018, 0x4000 | PRU);
	put64(0x4020, 0x9000 | PRU);
}

/* ---- the instruction counter (optional) ------------------------------------ */

static int open_instr_counter(void)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_HARDWARE;
	attr.config = PERF_COUNT_HW_INSTRUCTIONS;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

static uint64_t read_counter(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* ---- the measured loops ---------------------------------------------------- */

struct walk_case {
	const char *name;
	const struct smmu_cpu_state *s;
	const struct smmu_cpu_model *m;
	const struct x86_paging *pg; /* NULL: go through smmu_x86_walk() */
	uint64_t gva;
	enum smmu_access_type access;
};

static void run_batch(const struct walk_case *c)
{
	struct smmu_walk w;

	for (unsigned i = 0; i < BATCH; i++) {
		if (c->pg)
			x86_walk_gva(c->pg, c->s, &flat_mem, c->gva, c->access, &w);
		else
			smmu_x86_walk(c->s, c->m, &flat_mem, c->gva, c->access, &w);
		bench_sink(w.gpa ^ w.error_code);
	}
}

static void measure(const struct walk_case *c, int counter)
{
	double ns[SAMPLES], instr[SAMPLES];
	char name[96];

	run_batch(c); /* warm up: sets A/D, fills caches */
	for (unsigned k = 0; k < SAMPLES; k++) {
		uint64_t i0 = read_counter(counter), t0 = bench_now_ns();

		run_batch(c);
		ns[k] = (double)(bench_now_ns() - t0) / BATCH;
		instr[k] = (double)(read_counter(counter) - i0) / BATCH;
	}
	snprintf(name, sizeof(name), "%s_ns", c->name);
	bench_report(name, "ns", ns, SAMPLES);
	if (counter >= 0) {
		snprintf(name, sizeof(name), "%s_instructions", c->name);
		bench_report(name, "instr", instr, SAMPLES);
	}
	/* One more batch with callgrind collecting: Ir / BATCH = instructions per walk. */
	CALLGRIND_TOGGLE_COLLECT;
	run_batch(c);
	CALLGRIND_TOGGLE_COLLECT;
	CALLGRIND_DUMP_STATS_AT(c->name);
}

int main(int argc, char **argv)
{
	struct smmu_cpu_model m;
	struct smmu_cpu_state s4, s2;
	struct x86_paging pg4;
	int counter, counter_errno;

	bench_init(argc, argv);
	smmu_cpu_model_default(&m);
	setup_4level(&s4);
	x86_paging_init(&pg4, &s4, &m);

	smmu_cpu_state_reset(&s2);
	s2.cr0 = X86_CR0_PG | X86_CR0_PE | X86_CR0_ET;
	s2.cr3 = 0x6000;
	put32(0x6004, 0x7000 | PRU);
	put32(0x700c, 0x5000 | PRU);

	counter = open_instr_counter();
	counter_errno = errno;
	if (counter >= 0) {
		ioctl(counter, PERF_EVENT_IOC_RESET, 0);
		ioctl(counter, PERF_EVENT_IOC_ENABLE, 0);
	}

	const struct walk_case cases[] = {
	    {"walk_4level_ok", &s4, &m, NULL, GVA_OK, SMMU_ACCESS_WRITE},
	    {"walk_4level_fault_np", &s4, &m, NULL, GVA_NP, SMMU_ACCESS_READ},
	    {"walk_4level_ok_prebuilt_ctx", &s4, &m, &pg4, GVA_OK, SMMU_ACCESS_WRITE},
	    {"walk_4level_fault_prebuilt_ctx", &s4, &m, &pg4, GVA_NP, SMMU_ACCESS_READ},
	    {"walk_32bit_ok", &s2, &m, NULL, 0x00403123, SMMU_ACCESS_READ},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		measure(&cases[i], counter);
	if (counter < 0 && !RUNNING_ON_VALGRIND)
		fprintf(stderr,
		        "bench_walk: no instruction counter (perf_event_open: %s); count "
		        "with: valgrind --tool=callgrind --collect-atstart=no %s\n",
		        strerror(counter_errno), argv[0]);
	if (counter >= 0)
		close(counter);
	return bench_finish();
}
