/*
 * test_executor.c - the trace executor on small embedded traces: the
 * trace-format.md example with its expectations, a wrong expectation
 * reported with its line, run-time malformed traces (a 32-bit-mode GVA
 * wider than 32 bits, overlapping slots), MMIO, #GP / #UD expectations,
 * host records refused at parse time, and the sticky first error.
 */
#include <errno.h>
#include <string.h>

#include "support/check.h"
#include "trace/executor.h"

#define SPEC_EXAMPLE                                                                               \
	"shadowmmu-trace 1\n"                                                                      \
	"slot 0 0 16M\n"                                                                           \
	"w 8 0x1000 0x2003\n"                                                                      \
	"w 8 0x2000 0x3003\n"                                                                      \
	"w 8 0x3000 0x4003\n"                                                                      \
	"w 8 0x4000 0x100003\n"                                                                    \
	"w 8 0x4020 0x4003\n"                                                                      \
	"cr4 0x20\n"                                                                               \
	"efer 0x100\n"                                                                             \
	"cr3 0x1000\n"                                                                             \
	"cr0 0x80000011\n"                                                                         \
	"w 8 0x10 0x1122334455667788 => ok\n"                                                      \
	"r 8 0x10 => 0x1122334455667788\n"                                                         \
	"cpl 3\n"                                                                                  \
	"r 8 0x10 => pf 0x5\n"                                                                     \
	"cpl 0\n"                                                                                  \
	"w 8 0x4000 0 => ok\n"                                                                     \
	"invlpg 0\n"                                                                               \
	"r 8 0 => pf 0x0\n"

/* Run `text` to its end; returns exec_run()'s result, leaves the executor in *ep. */
static int run_text(const char *text, bool audit, struct executor **ep)
{
	struct trace_reader_opts ro;
	struct trace_reader *r = NULL;
	struct exec_opts opts;
	int ret;

	*ep = NULL;
	exec_opts_init(&opts);
	opts.audit = audit;
	opts.arena_bytes = 256ull << 20;
	trace_reader_opts_init(&ro);
	ret = trace_reader_open_mem(&r, text, strlen(text), "t.trace", &ro);
	if (ret)
		return ret;
	ret = exec_create(ep, "t.trace", &opts);
	if (!ret)
		ret = exec_run(*ep, r);
	trace_reader_close(r);
	return ret;
}

/* Run `text`, which must run to its end; the executor, NULL if none was created. */
static struct executor *run_ok(const char *text, bool audit)
{
	struct executor *e;
	int ret = run_text(text, audit, &e);

	CHECK_MSG(ret == 0, "run failed: %s", e ? exec_message(e) : "");
	return e;
}

/*
 * A trace that must stop with an error: run_text()'s return value, the
 * substrings its message must contain (the second may be NULL), and the
 * records it ran, the failing one included (0: not checked).  No audit.
 */
struct stop_case {
	const char *text;
	int ret;
	const char *msg, *msg2;
	long records;
};

static void check_stop(const struct stop_case *c)
{
	struct executor *e;
	int ret = run_text(c->text, false, &e);

	CHECK_EQ(ret, c->ret);
	REQUIRE(e);
	CHECK_MSG(strstr(exec_message(e), c->msg) != NULL, "message: %s", exec_message(e));
	if (c->msg2)
		CHECK_MSG(strstr(exec_message(e), c->msg2) != NULL, "message: %s", exec_message(e));
	if (c->records)
		CHECK_EQ(exec_counts(e)->records, c->records);
	exec_destroy(e);
}

static void test_spec_example_expectations_hold(void)
{
	struct executor *e = run_ok(SPEC_EXAMPLE, true);

	REQUIRE(e);
	CHECK_EQ(exec_counts(e)->records, 19);
	CHECK_EQ(exec_counts(e)->expectations, 5);
	CHECK_EQ(exec_counts(e)->guest_accesses, 10);
	CHECK_EQ(exec_counts(e)->pf, 2);
	CHECK_EQ(exec_counts(e)->guest_faults, 2);
	CHECK_EQ(exec_counts(e)->mmio, 0);
	exec_destroy(e);
}

static void test_wrong_value_expectation_reports_its_line(void)
{
	check_stop(&(struct stop_case){.text = SPEC_EXAMPLE "r 8 0x4000 => 0x1\n",
	                               .ret = -EDOM,
	                               .msg = "t.trace:20:",
	                               .msg2 = "expected value 0x1, observed value 0x0"});
}

static void test_wrong_fault_expectation_reports_observed_value(void)
{
	/* The error is sticky: nothing runs after the first mismatch. */
	check_stop(&(struct stop_case){.text = SPEC_EXAMPLE "w 8 0x4008 0x7 => ok\n"
	                                                    "r 4 0x4008 => pf 0x4\n"
	                                                    "r 1 0 => 0\n",
	                               .ret = -EDOM,
	                               .msg = ":21: r: expected pf 0x4, observed value 0x7",
	                               .records = 21});
}

static void test_gva_wider_than_32_bits_outside_ia32e_is_malformed(void)
{
	check_stop(&(struct stop_case){.text = "shadowmmu-trace 1\nslot 0 0 1M\nr 4 0x100000000\n",
	                               .ret = -EINVAL,
	                               .msg = "t.trace:3:",
	                               .msg2 = "wider than 32 bits"});
}

static void test_gva_wider_than_32_bits_in_long_mode_runs(void)
{
	exec_destroy(run_ok(SPEC_EXAMPLE "r 8 0x7fff00000000 => pf 0x0\n", false));
}

static void test_unbacked_gpa_reads_all_ones_as_mmio(void)
{
	struct executor *e =
	    run_ok("shadowmmu-trace 1\nslot 0 0 1M\n"
	           "r 2 0x200000 => 0xffff\nw 4 0x200000 0x5 => ok\nr 1 0x200001 => ok\n",
	           true);

	REQUIRE(e);
	CHECK_EQ(exec_counts(e)->mmio, 3);
	CHECK_EQ(exec_counts(e)->guest_faults, 0);
	exec_destroy(e);
}

static void test_register_faults_match_gp_and_ud(void)
{
	struct executor *e = run_ok("shadowmmu-trace 1\nslot 0 0 1M\n"
	                            "cr0 0x80000000 => gp\npkru 0x4 => ud\ncpl 3\ninvlpg 0 => gp\n",
	                            false);

	REQUIRE(e);
	CHECK_EQ(exec_counts(e)->gp, 2);
	CHECK_EQ(exec_counts(e)->ud, 1);
	exec_destroy(e);
}

static void test_overlapping_slots_are_malformed(void)
{
	check_stop(
	    &(struct stop_case){.text = "shadowmmu-trace 1\nslot 0 0 1M\nslot 1 0x80000 1M\n",
	                        .ret = -EINVAL,
	                        .msg = "t.trace:3:"});
}

static void test_merging_pages_that_differ_is_malformed(void)
{
	/* Nothing runs past the refused merge. */
	check_stop(&(struct stop_case){
	    .text = "shadowmmu-trace 1\nslot 0 0 1M\nw 1 0 1 => ok\nr 1 0x1000 => 0\n"
	            "host merge 0 0x1000\nr 1 0 => 1\n",
	    .ret = -EINVAL,
	    .msg = "t.trace:5: malformed trace: host merge refused",
	    .records = 5});
}

static void test_dirty_log_lists_written_pages_once_per_fetch(void)
{
	struct executor *e =
	    run_ok("shadowmmu-trace 1\nslot 0 0 64K log\nw 8 0x2000 1 => ok\n"
	           "r 8 0x3000 => 0\nw 1 0x5fff 2 => ok\ndirty 0 => 2,5\ndirty 0 => -\n"
	           "w 8 0x2008 3 => ok\ndirty 0 => 2\n",
	           true);

	REQUIRE(e);
	CHECK_EQ(exec_counts(e)->expectations, 7);
	exec_destroy(e);
}

static void test_wrong_dirty_list_is_a_mismatch(void)
{
	check_stop(
	    &(struct stop_case){.text = "shadowmmu-trace 1\nslot 0 0 64K log\nw 8 0x2000 1 => ok\n"
	                                "dirty 0 => 3\n",
	                        .ret = -EDOM,
	                        .msg = "t.trace:4: dirty: page 2 differs: observed {2}"});
}

static void test_dirty_on_a_slot_without_logging_is_malformed(void)
{
	check_stop(&(struct stop_case){.text = "shadowmmu-trace 1\nslot 0 0 64K\ndirty 0 => -\n",
	                               .ret = -EINVAL,
	                               .msg = "not logging"});
}

static void test_second_vcpu_runs_its_own_records(void)
{
	exec_destroy(run_ok("shadowmmu-trace 1\nvcpus 2\ncpu nx=0\nslot 0 0 1M\n"
	                    "@1 w 4 0x100 0xabcd => ok\nr 4 0x100 => 0xabcd\n"
	                    "@1 efer 0x800 => gp\n",
	                    false));
}

static void test_reader_error_is_reported_with_position(void)
{
	check_stop(&(struct stop_case){.text = "shadowmmu-trace 1\nslot 0 0 1M\nr 3 0\n",
	                               .ret = -EINVAL,
	                               .msg = "t.trace:3:"});
}

int main(void)
{
	RUN(test_spec_example_expectations_hold);
	RUN(test_wrong_value_expectation_reports_its_line);
	RUN(test_wrong_fault_expectation_reports_observed_value);
	RUN(test_gva_wider_than_32_bits_outside_ia32e_is_malformed);
	RUN(test_gva_wider_than_32_bits_in_long_mode_runs);
	RUN(test_unbacked_gpa_reads_all_ones_as_mmio);
	RUN(test_register_faults_match_gp_and_ud);
	RUN(test_overlapping_slots_are_malformed);
	RUN(test_merging_pages_that_differ_is_malformed);
	RUN(test_dirty_log_lists_written_pages_once_per_fetch);
	RUN(test_wrong_dirty_list_is_a_mismatch);
	RUN(test_dirty_on_a_slot_without_logging_is_malformed);
	RUN(test_second_vcpu_runs_its_own_records);
	RUN(test_reader_error_is_reported_with_position);
	return check_finish();
}
