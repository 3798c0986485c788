/*
 * test_cost.c - the arithmetic behind `shadowmmu compare` (docs/cost.md,
 * docs/compare.md): the cost model's sum and its `--cost` spelling, the
 * FNV-1a digests against the published test vectors, and the executor's
 * digests: equal for the same trace on both MMUs, different when one value
 * read differs, and blind to pages never touched (peeking faults nothing in).
 */
#include <errno.h>
#include <string.h>

#include "support/check.h"
#include "trace/cost.h"
#include "trace/executor.h"

static void test_fnv1a_matches_published_vectors(void)
{
	/* FNV-1a 64-bit test vectors (Fowler, Noll, Vo: the FNV reference code). */
	CHECK_EQ(exec_fnv1a(EXEC_FNV_OFFSET, "", 0), 0xcbf29ce484222325ull);
	CHECK_EQ(exec_fnv1a(EXEC_FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cull);
	CHECK_EQ(exec_fnv1a(EXEC_FNV_OFFSET, "foobar", 6), 0x85944171f73967e8ull);
	/* A u64 is its 8 bytes, least significant first. */
	CHECK_EQ(exec_fnv1a_u64(EXEC_FNV_OFFSET, 0x0807060504030201ull),
	         exec_fnv1a(EXEC_FNV_OFFSET, "\x01\x02\x03\x04\x05\x06\x07\x08", 8));
}

static void test_estimate_sums_exits_and_references(void)
{
	struct smmu_stats st = {0};
	struct cost_params p;
	struct cost_estimate c;

	cost_params_init(&p);
	st.exits_pf = 10;
	st.exits_cr3 = 5;
	st.exits_ept_violation = 2;
	st.walk_refs = 1000;
	cost_estimate(&p, &st, &c);
	CHECK_EQ(c.exits, 17);
	CHECK_EQ(c.walk_refs, 1000);
	CHECK(c.exit_cycles == 17 * COST_DEFAULT_EXIT);
	CHECK(c.walk_cycles == 1000 * COST_DEFAULT_REF);
	CHECK(c.cycles == c.exit_cycles + c.walk_cycles);
	CHECK(c.seconds > c.cycles / (COST_DEFAULT_GHZ * 1e9) * 0.999999 &&
	      c.seconds < c.cycles / (COST_DEFAULT_GHZ * 1e9) * 1.000001);

	/* A reason's own cost wins over `exit`; the others keep `exit`. */
	REQUIRE(cost_parse(&p, "exit=100,ref=1,exit_cr3=1000,ghz=1", NULL, 0) == 0);
	cost_estimate(&p, &st, &c);
	CHECK(c.exit_cycles == 10 * 100 + 5 * 1000 + 2 * 100);
	CHECK(c.cycles == 6200 + 1000);
	CHECK(c.seconds == 7200 / 1e9);
	CHECK(cost_of_exit(&p, COST_EXIT_cr3) == 1000);
	CHECK(cost_of_exit(&p, COST_EXIT_pte_write) == 100);
}

static void test_parse_refuses_bad_costs_and_keeps_params(void)
{
	struct cost_params p;
	char err[256];

	cost_params_init(&p);
	CHECK(cost_parse(&p, "exit=fast", err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "'fast' is not a number") != NULL);
	CHECK(cost_parse(&p, "walk=3", err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "unknown cost 'walk'") != NULL);
	CHECK(cost_parse(&p, "ref=-1", err, sizeof(err)) == -EINVAL);
	CHECK(cost_parse(&p, "ghz=0", err, sizeof(err)) == -EINVAL);
	CHECK(cost_parse(&p, "ref", err, sizeof(err)) == -EINVAL);
	CHECK(cost_parse(&p, "", err, sizeof(err)) == -EINVAL);
	CHECK(cost_parse(&p, "exit=1,", err, sizeof(err)) == -EINVAL);
	CHECK(cost_parse(&p, "exit=nan", err, sizeof(err)) == -EINVAL);
	/* A list with one bad entry changes nothing. */
	CHECK(cost_parse(&p, "exit=5,ref=x", err, sizeof(err)) == -EINVAL);
	CHECK(p.exit == COST_DEFAULT_EXIT && p.ref == COST_DEFAULT_REF);
	CHECK(cost_parse(&p, "exit_ept_misconfig=7.5", err, sizeof(err)) == 0);
	CHECK(cost_of_exit(&p, COST_EXIT_ept_misconfig) == 7.5);
}

#define TRACE_HEAD                                                                                 \
	"shadowmmu-trace 1\n"                                                                      \
	"slot 0 0 16M\n"                                                                           \
	"w 8 0x1000 0x2003\n"                                                                      \
	"w 8 0x2000 0x3003\n"                                                                      \
	"w 8 0x3000 0x4003\n"                                                                      \
	"w 8 0x4000 0x100003\n"                                                                    \
	"cr4 0x20\n"                                                                               \
	"efer 0x100\n"                                                                             \
	"cr3 0x1000\n"                                                                             \
	"cr0 0x80000011\n"

/* Run text on one MMU; its counts (digests included, memory digest computed). */
static int digests_of(const char *text, enum smmu_mmu_mode mmu, struct exec_counts *out)
{
	struct trace_reader *r = NULL;
	struct executor *e = NULL;
	struct exec_opts opts;
	int ret;

	exec_opts_init(&opts);
	opts.mmu = mmu;
	opts.mmu_forced = true;
	opts.arena_bytes = 256ull << 20;
	ret = trace_reader_open_mem(&r, text, strlen(text), "t.trace", NULL);
	if (!ret)
		ret = exec_create(&e, "t.trace", &opts);
	if (!ret)
		ret = exec_run(e, r);
	if (!ret)
		ret = exec_memory_digest(e, NULL);
	if (!ret)
		*out = *exec_counts(e);
	exec_destroy(e);
	trace_reader_close(r);
	return ret;
}

static void test_digests_agree_across_mmus_and_see_one_value(void)
{
	static const char a[] = TRACE_HEAD "w 8 0x10 0x1122 => ok\nr 8 0x10 => 0x1122\nr 8 0x400000\n";
	static const char b[] = TRACE_HEAD "w 8 0x10 0x1123 => ok\nr 8 0x10 => 0x1123\nr 8 0x400000\n";
	struct exec_counts sa, ta, sb;

	REQUIRE(digests_of(a, SMMU_MMU_SHADOW, &sa) == 0);
	REQUIRE(digests_of(a, SMMU_MMU_TDP, &ta) == 0);
	REQUIRE(digests_of(b, SMMU_MMU_SHADOW, &sb) == 0);
	CHECK_EQ(sa.reads_digest, ta.reads_digest);
	CHECK_EQ(sa.memory_digest, ta.memory_digest);
	CHECK(sa.reads_digest != EXEC_FNV_OFFSET && sa.memory_digest != EXEC_FNV_OFFSET);
	/* One value written and read differs: both digests see it. */
	CHECK(sa.reads_digest != sb.reads_digest);
	CHECK(sa.memory_digest != sb.memory_digest);
}

static void test_peek_faults_nothing_in_and_reads_zeros(void)
{
	struct smmu_vm_config cfg;
	struct smmu_stats before, after;
	struct smmu_vm *vm = NULL;
	uint64_t w = 0x55, v = 1;

	smmu_vm_config_default(&cfg);
	cfg.arena_bytes = 64ull << 20;
	REQUIRE(smmu_vm_create(&cfg, &vm) == 0);
	REQUIRE(smmu_vm_add_slot(vm, 0, 0, 16ull << 20, 0) == 0);
	REQUIRE(smmu_vm_get_stats(vm, &before) == 0);
	CHECK(smmu_vm_peek_gpa(vm, 0x5000, &v, 8) == 0);
	CHECK_EQ(v, 0);
	REQUIRE(smmu_vm_get_stats(vm, &after) == 0);
	CHECK_EQ(after.bytes_guest_frames, before.bytes_guest_frames);
	REQUIRE(smmu_vm_write_gpa(vm, 0x5008, &w, 8) == 0);
	CHECK(smmu_vm_peek_gpa(vm, 0x5008, &v, 8) == 0);
	CHECK_EQ(v, 0x55);
	CHECK(smmu_vm_peek_gpa(vm, 16ull << 20, &v, 8) == -EFAULT);
	smmu_vm_destroy(vm);
}

int main(void)
{
	RUN(test_fnv1a_matches_published_vectors);
	RUN(test_estimate_sums_exits_and_references);
	RUN(test_parse_refuses_bad_costs_and_keeps_params);
	RUN(test_digests_agree_across_mmus_and_see_one_value);
	RUN(test_peek_faults_nothing_in_and_reads_zeros);
	return check_finish();
}
