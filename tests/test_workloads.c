/*
 * test_workloads.c - the guest-OS workload model (workloads/).
 *
 * Every workload, at a small size, for several seeds and in every paging
 * mode the model supports, must produce a trace that the reader accepts
 * (all static rules of docs/trace-format.md) after a round trip through
 * the text and binary writers, byte-identical for identical parameters.
 * Content checks look for the events each workload exists to produce
 * (copy-on-write faults, shootdowns, no-flush PCID switches, LA57
 * addresses).  Every trace then runs through the executor on the shadow
 * MMU with every expectation holding, with the MMU audit (smmu_vm_audit)
 * every AUDIT_EVERY records and at the end.  Bad parameters are errors,
 * never crashes.
 */
#include "support/check.h"
#include "trace/executor.h"
#include "workload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- sinks ------------------------------------------------------------------ */
struct mem_trace {
	char *buf;
	size_t len;
	FILE *f;
	struct trace_writer *w;
};

static int sink_writer(void *ctx, const struct trace_record *rec)
{
	return trace_writer_put(((struct mem_trace *)ctx)->w, rec);
}

/* Generate into memory; returns the generator's result (0 on success). */
static int gen_mem(const char *name, const struct workload_params *p, enum trace_format fmt,
                   struct mem_trace *t)
{
	int rc, wrc;

	memset(t, 0, sizeof(*t));
	t->f = open_memstream(&t->buf, &t->len);
	if (!t->f)
		return -ENOMEM;
	if (trace_writer_open(&t->w, t->f, fmt)) {
		fclose(t->f);
		return -ENOMEM;
	}
	rc = workload_generate(name, p, sink_writer, t);
	wrc = trace_writer_close(t->w);
	fclose(t->f);
	return rc ? rc : wrc;
}

static void mem_free(struct mem_trace *t)
{
	free(t->buf);
	t->buf = NULL;
}

/* What the reader saw in a trace. */
struct trace_stats {
	uint64_t records, reads_value, pf_not_present, pf_cow, pf_fetch, invlpg, remote_invlpg;
	uint64_t cr3, cr3_noflush, high_gva, writes;
	int rc;
	char err[256];
};

static void stats_count(struct trace_stats *s, const struct trace_record *r)
{
	s->records++;
	if (r->kind == TRACE_READ && r->expect.kind == TRACE_EXPECT_VALUE)
		s->reads_value++;
	if (r->kind == TRACE_WRITE)
		s->writes++;
	if (r->expect.kind == TRACE_EXPECT_PF) {
		s->pf_not_present += !(r->expect.value & X86_PFEC_P);
		s->pf_cow += r->expect.value == 0x7;
		s->pf_fetch += !!(r->expect.value & X86_PFEC_I);
	}
	if (r->kind == TRACE_INVLPG) {
		s->invlpg++;
		s->remote_invlpg += r->vcpu != 0;
	}
	if (r->kind == TRACE_CR3) {
		s->cr3++;
		s->cr3_noflush += !!(r->op[0] & X86_CR3_NOFLUSH);
	}
	if ((r->kind == TRACE_READ || r->kind == TRACE_WRITE) && r->op[1] >> 47 &&
	    r->op[1] >> 56 == 0)
		s->high_gva++; /* a user address only 5-level paging reaches */
}

static void read_back(const struct mem_trace *t, struct trace_stats *s)
{
	struct trace_reader *r;
	struct trace_record rec;
	int rc;

	memset(s, 0, sizeof(*s));
	s->rc = trace_reader_open_mem(&r, t->buf, t->len, "gen", NULL);
	if (s->rc)
		return;
	while ((rc = trace_read(r, &rec)) == 1)
		stats_count(s, &rec);
	s->rc = rc;
	if (rc)
		snprintf(s->err, sizeof(s->err), "%s", trace_reader_error(r));
	trace_reader_close(r);
}

static void params(struct workload_params *p, double size, uint64_t seed, unsigned vcpus,
                   enum smmu_paging_mode mode, bool pcid)
{
	workload_params_init(p);
	p->size = size;
	p->seed = seed;
	p->vcpus = vcpus;
	p->mode = mode;
	p->pcid = pcid;
}

/* Generate, write as `fmt`, read back: every static rule holds. */
static void check_valid(const char *name, const struct workload_params *p, enum trace_format fmt,
                        struct trace_stats *s)
{
	struct mem_trace t;
	int rc = gen_mem(name, p, fmt, &t);

	CHECK_MSG(rc == 0, "%s mode %s vcpus %u seed %llu: generate %d", name,
	          workload_mode_name(p->mode), p->vcpus, (unsigned long long)p->seed, rc);
	read_back(&t, s);
	CHECK_MSG(s->rc == 0, "%s mode %s: reader: %s", name, workload_mode_name(p->mode), s->err);
	mem_free(&t);
}

/* Small sizes that keep each trace in the tens of thousands of records. */
static double small_size(const char *name)
{
	if (!strcmp(name, "boot"))
		return 0.5;
	if (!strcmp(name, "kbuild"))
		return 0.004;
	if (!strcmp(name, "mix"))
		return 0.02;
	return 0.002;
}

static const enum smmu_paging_mode all_modes[] = {SMMU_PAGING_32BIT, SMMU_PAGING_PAE,
                                                  SMMU_PAGING_4LEVEL, SMMU_PAGING_5LEVEL};

/* ---- through the executor ------------------------------------------------- */
#define AUDIT_EVERY 97

struct exec_sink {
	struct executor *e;
	uint64_t n, audits;
	unsigned audit_every; /* 0: never */
	int audit_rc;
	char msg[256];
};

static int sink_exec(void *ctx, const struct trace_record *rec)
{
	struct exec_sink *x = ctx;
	int rc = exec_record(x->e, rec);

	if (rc)
		return rc;
	if (x->audit_every && ++x->n % x->audit_every == 0 && exec_vm(x->e)) {
		x->audits++;
		x->audit_rc = smmu_vm_audit(exec_vm(x->e), x->msg, sizeof(x->msg));
		if (x->audit_rc)
			return x->audit_rc;
	}
	return 0;
}

/* Generate straight into the executor; every expectation must hold. */
static void check_executes(const char *name, const struct workload_params *p, unsigned audit_every)
{
	struct exec_sink x = {.audit_every = audit_every};
	int rc;

	REQUIRE(exec_create(&x.e, name, NULL) == 0);
	rc = workload_generate(name, p, sink_exec, &x);
	CHECK_MSG(rc == 0, "%s mode %s vcpus %u pcid %d seed %llu: %d: %s %s", name,
	          workload_mode_name(p->mode), p->vcpus, p->pcid, (unsigned long long)p->seed, rc,
	          exec_message(x.e), x.msg);
	if (!rc && audit_every) {
		CHECK(x.audits > 0);
		rc = smmu_vm_audit(exec_vm(x.e), x.msg, sizeof(x.msg));
		CHECK_MSG(rc == 0, "%s: final audit: %s", name, x.msg);
	}
	CHECK(exec_counts(x.e)->expectations > 100);
	exec_destroy(x.e);
}

/* ---- tests ------------------------------------------------------------------ */
static void test_every_workload_follows_the_static_rules_in_every_mode(void)
{
	unsigned nr;
	const struct workload_info *list = workload_list(&nr);

	REQUIRE(nr >= 7);
	for (unsigned i = 0; i < nr; i++) {
		for (unsigned m = 0; m < 4; m++) {
			for (uint64_t seed = 1; seed <= 3; seed++) {
				struct workload_params p;
				struct trace_stats s;

				params(&p, small_size(list[i].name), seed, seed == 3 ? 3 : 1,
				       all_modes[m], false);
				check_valid(list[i].name, &p,
				            seed == 2 ? TRACE_FORMAT_BINARY : TRACE_FORMAT_TEXT,
				            &s);
				CHECK(s.records > 100);
			}
		}
	}
}

static void test_pcid_and_gbpages_traces_follow_the_static_rules(void)
{
	unsigned nr;
	const struct workload_info *list = workload_list(&nr);

	for (unsigned i = 0; i < nr; i++) {
		struct workload_params p;
		struct trace_stats s;

		params(&p, small_size(list[i].name), 7, 2,
		       i % 2 ? SMMU_PAGING_5LEVEL : SMMU_PAGING_4LEVEL, true);
		p.gbpages = true;
		check_valid(list[i].name, &p, TRACE_FORMAT_TEXT, &s);
	}
}

static void test_same_params_give_byte_identical_traces(void)
{
	const char *names[] = {"forkwait", "kbuild", "bigmem", "mix"};

	for (unsigned i = 0; i < 4; i++) {
		struct workload_params p;
		struct mem_trace a, b, c;

		params(&p, small_size(names[i]), 42, 2, SMMU_PAGING_4LEVEL, true);
		REQUIRE(gen_mem(names[i], &p, TRACE_FORMAT_TEXT, &a) == 0);
		REQUIRE(gen_mem(names[i], &p, TRACE_FORMAT_TEXT, &b) == 0);
		p.seed = 43;
		REQUIRE(gen_mem(names[i], &p, TRACE_FORMAT_TEXT, &c) == 0);
		CHECK(a.len == b.len && !memcmp(a.buf, b.buf, a.len));
		CHECK_MSG(a.len != c.len || memcmp(a.buf, c.buf, a.len), "%s: seed ignored",
		          names[i]);
		mem_free(&a);
		mem_free(&b);
		mem_free(&c);
	}
}

static void test_forkwait_takes_cow_faults_and_write_protects_with_invlpg(void)
{
	struct workload_params p;
	struct trace_stats s;

	params(&p, 0.001, 1, 1, SMMU_PAGING_4LEVEL, false);
	check_valid("forkwait", &p, TRACE_FORMAT_TEXT, &s);
	CHECK(s.pf_cow >= 40);          /* the children's stack copies, the parent's reuse */
	CHECK(s.invlpg >= 40 * 3);      /* per fork: re-protect, child copy, parent reuse */
	CHECK(s.pf_fetch >= 1);         /* the text page, demand-faulted by a fetch */
	CHECK(s.reads_value >= 40 * 4); /* COW copies read the words they copy */
}

static void test_mmapchurn_with_threads_sends_shootdowns(void)
{
	struct workload_params p;
	struct trace_stats s;

	params(&p, 0.005, 1, 4, SMMU_PAGING_4LEVEL, false);
	check_valid("mmapchurn", &p, TRACE_FORMAT_TEXT, &s);
	CHECK(s.remote_invlpg > 100);
	CHECK(s.pf_not_present > 50);
}

static void test_pingpong_with_pcid_switches_without_flush(void)
{
	struct workload_params p;
	struct trace_stats s1, s2;

	params(&p, 0.002, 1, 1, SMMU_PAGING_4LEVEL, true);
	check_valid("pingpong", &p, TRACE_FORMAT_TEXT, &s1);
	CHECK(s1.cr3 >= 1000);
	CHECK(s1.cr3_noflush >= 990); /* two PCIDs stay valid */
	p.pcid = false;
	check_valid("pingpong", &p, TRACE_FORMAT_TEXT, &s2);
	CHECK_EQ(s2.cr3_noflush, 0);
}

static void test_five_level_mmaps_use_addresses_above_47_bits(void)
{
	struct workload_params p;
	struct trace_stats s;

	params(&p, 0.002, 1, 1, SMMU_PAGING_5LEVEL, false);
	check_valid("mmapchurn", &p, TRACE_FORMAT_TEXT, &s);
	CHECK(s.high_gva > 20);
	p.mode = SMMU_PAGING_4LEVEL;
	check_valid("mmapchurn", &p, TRACE_FORMAT_TEXT, &s);
	CHECK_EQ(s.high_gva, 0);
}

static void test_size_scales_the_record_count(void)
{
	struct workload_params p;
	struct trace_stats a, b;

	params(&p, 0.001, 1, 1, SMMU_PAGING_4LEVEL, false);
	check_valid("pingpong", &p, TRACE_FORMAT_BINARY, &a);
	p.size = 0.004;
	check_valid("pingpong", &p, TRACE_FORMAT_BINARY, &b);
	CHECK(b.records > 2 * a.records);
}

static int sink_fail_after(void *ctx, const struct trace_record *rec)
{
	unsigned *left = ctx;

	(void)rec;
	return (*left)-- ? 0 : -ENOSPC;
}

static void test_sink_error_stops_generation_and_is_returned(void)
{
	unsigned left = 1000;

	CHECK_EQ(workload_generate("kbuild", NULL, sink_fail_after, &left), -ENOSPC);
}

static int sink_null(void *ctx, const struct trace_record *rec)
{
	(void)ctx;
	(void)rec;
	return 0;
}

static void test_bad_params_are_errors(void)
{
	struct workload_params p;
	enum smmu_paging_mode m;

	CHECK_EQ(workload_find("nosuch"), -ENOENT);
	CHECK_EQ(workload_find(NULL), -ENOENT);
	CHECK_EQ(workload_generate("nosuch", NULL, sink_null, NULL), -ENOENT);
	CHECK_EQ(workload_generate("boot", NULL, NULL, NULL), -EINVAL);
	params(&p, 0, 1, 1, SMMU_PAGING_4LEVEL, false);
	CHECK_EQ(workload_generate("boot", &p, sink_null, NULL), -EINVAL);
	p.size = 1e9;
	CHECK_EQ(workload_generate("boot", &p, sink_null, NULL), -EINVAL);
	params(&p, 0.1, 1, 0, SMMU_PAGING_4LEVEL, false);
	CHECK_EQ(workload_generate("boot", &p, sink_null, NULL), -EINVAL);
	p.vcpus = WORKLOAD_MAX_VCPUS + 1;
	CHECK_EQ(workload_generate("boot", &p, sink_null, NULL), -EINVAL);
	params(&p, 0.1, 1, 1, SMMU_PAGING_PAE, true); /* PCIDE needs IA-32e mode */
	CHECK_EQ(workload_generate("boot", &p, sink_null, NULL), -EINVAL);
	params(&p, 0.1, 1, 1, SMMU_PAGING_OFF, false);
	CHECK_EQ(workload_generate("boot", &p, sink_null, NULL), -EINVAL);
	params(&p, 50, 1, 1, SMMU_PAGING_32BIT, false); /* > 1 GiB of RAM */
	CHECK_EQ(workload_generate("bigmem", &p, sink_null, NULL), -EINVAL);
	CHECK_EQ(workload_parse_mode("6level", &m), -EINVAL);
	CHECK_EQ(workload_parse_mode("pae", &m), 0);
	CHECK_EQ(m, SMMU_PAGING_PAE);
}

static void test_every_workload_runs_on_the_shadow_mmu_in_every_mode(void)
{
	unsigned nr;
	const struct workload_info *list = workload_list(&nr);

	for (unsigned i = 0; i < nr; i++) {
		for (unsigned m = 0; m < 4; m++) {
			struct workload_params p;
			bool ia32e = all_modes[m] >= SMMU_PAGING_4LEVEL;

			params(&p, small_size(list[i].name), 11 + m, 1 + m % 3, all_modes[m],
			       ia32e && (i % 2));
			p.gbpages = ia32e && m == 3;
			check_executes(list[i].name, &p, 0);
		}
	}
}

static void test_workloads_keep_the_mmu_invariants_with_threads_and_pcids(void)
{
	const char *names[] = {"forkwait", "kbuild", "pingpong", "bigmem", "mmapchurn"};

	for (unsigned i = 0; i < 5; i++) {
		struct workload_params p;

		params(&p, small_size(names[i]) / 2, 3, 3, SMMU_PAGING_4LEVEL, true);
		check_executes(names[i], &p, AUDIT_EVERY);
		params(&p, small_size(names[i]) / 2, 4, 2,
		       i % 2 ? SMMU_PAGING_PAE : SMMU_PAGING_32BIT, false);
		check_executes(names[i], &p, AUDIT_EVERY);
	}
}

/* A sink that corrupts the n-th value expectation before executing it. */
struct corrupt_sink {
	struct executor *e;
	uint64_t left;
};

static int sink_corrupt(void *ctx, const struct trace_record *rec)
{
	struct corrupt_sink *x = ctx;
	struct trace_record r = *rec;

	if (r.expect.kind == TRACE_EXPECT_VALUE && x->left-- == 0)
		r.expect.value ^= 1;
	return exec_record(x->e, &r);
}

static void test_a_wrong_value_expectation_is_caught_by_the_executor(void)
{
	struct workload_params p;
	struct corrupt_sink x = {.left = 100};

	params(&p, 0.002, 1, 2, SMMU_PAGING_4LEVEL, true);
	REQUIRE(exec_create(&x.e, "forkwait", NULL) == 0);
	CHECK_EQ(workload_generate("forkwait", &p, sink_corrupt, &x), -EDOM);
	exec_destroy(x.e);
}

static void test_default_sizes_run_in_seconds_with_millions_of_records(void)
{
	struct workload_params p;
	struct exec_sink x = {0};

	/* pingpong at size 1.0, the cheapest full-size workload: expectations
	 * hold over 2.5M records (the others are run by `shadowmmu run`). */
	workload_params_init(&p);
	p.pcid = true;
	REQUIRE(exec_create(&x.e, "pingpong", NULL) == 0);
	CHECK_EQ(workload_generate("pingpong", &p, sink_exec, &x), 0);
	CHECK(exec_counts(x.e)->records > 2000000);
	exec_destroy(x.e);
}

int main(void)
{
	RUN(test_every_workload_follows_the_static_rules_in_every_mode);
	RUN(test_pcid_and_gbpages_traces_follow_the_static_rules);
	RUN(test_same_params_give_byte_identical_traces);
	RUN(test_forkwait_takes_cow_faults_and_write_protects_with_invlpg);
	RUN(test_mmapchurn_with_threads_sends_shootdowns);
	RUN(test_pingpong_with_pcid_switches_without_flush);
	RUN(test_five_level_mmaps_use_addresses_above_47_bits);
	RUN(test_size_scales_the_record_count);
	RUN(test_sink_error_stops_generation_and_is_returned);
	RUN(test_bad_params_are_errors);
	RUN(test_every_workload_runs_on_the_shadow_mmu_in_every_mode);
	RUN(test_workloads_keep_the_mmu_invariants_with_threads_and_pcids);
	RUN(test_a_wrong_value_expectation_is_caught_by_the_executor);
	RUN(test_default_sizes_run_in_seconds_with_millions_of_records);
	return check_finish();
}
