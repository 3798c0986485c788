/*
 * test_trace_reader.c - the text reader and canonical writer of trace format
 * version 1 (docs/trace-format.md): the spec's example, the lexical rules,
 * every static rule with the file:line:column of its error, streaming over a
 * FILE*, and the six conformance traces.
 */
#include "trace/trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support/check.h"

/* The example of docs/trace-format.md, verbatim (indentation removed). */
static const char spec_example[] =
    "shadowmmu-trace 1\n"
    "slot 0 0 16M\n"
    "# page tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD), 0x4000 (PT)\n"
    "w 8 0x1000 0x2003\n"
    "w 8 0x2000 0x3003\n"
    "w 8 0x3000 0x4003\n"
    "w 8 0x4000 0x100003            # va 0 -> pa 0x100000, present+writable, supervisor\n"
    "w 8 0x4020 0x4003              # va 0x4000 -> pa 0x4000: the PT maps itself\n"
    "cr4 0x20                       # PAE\n"
    "efer 0x100                     # LME\n"
    "cr3 0x1000\n"
    "cr0 0x80000011                 # PG|ET|PE, long mode active\n"
    "w 8 0x10 0x1122334455667788 => ok\n"
    "r 8 0x10 => 0x1122334455667788\n"
    "cpl 3\n"
    "r 8 0x10 => pf 0x5             # present, read, user\n"
    "cpl 0\n"
    "w 8 0x4000 0 => ok             # unmap va 0 (a write to the PT through its own mapping) ...\n"
    "invlpg 0\n"
    "r 8 0 => pf 0x0                # ... not present, read, supervisor\n";

static const char spec_example_canonical[] = "shadowmmu-trace 1\n"
                                             "slot 0 0x0 16M\n"
                                             "w 8 0x1000 0x2003\n"
                                             "w 8 0x2000 0x3003\n"
                                             "w 8 0x3000 0x4003\n"
                                             "w 8 0x4000 0x100003\n"
                                             "w 8 0x4020 0x4003\n"
                                             "cr4 0x20\n"
                                             "efer 0x100\n"
                                             "cr3 0x1000\n"
                                             "cr0 0x80000011\n"
                                             "w 8 0x10 0x1122334455667788 => ok\n"
                                             "r 8 0x10 => 0x1122334455667788\n"
                                             "cpl 3\n"
                                             "r 8 0x10 => pf 0x5\n"
                                             "cpl 0\n"
                                             "w 8 0x4000 0x0 => ok\n"
                                             "invlpg 0x0\n"
                                             "r 8 0x0 => pf 0x0\n";

/* Parse `text` fully; the canonical text goes to *canon (malloc'd) if given. */
struct parsed {
	int rc;           /* 0 or the reader's error */
	uint64_t records; /* records returned */
	char err[512];    /* the error message */
	uint64_t line;    /* error position */
	unsigned col;
	char *canon; /* canonical text of the records returned */
};

static void parse_text(const char *text, size_t len, const struct trace_reader_opts *opts,
                       struct parsed *out)
{
	struct trace_reader *r;
	struct trace_record rec;
	size_t canon_len = 0;
	struct trace_writer *w;
	FILE *mem;
	int rc;

	memset(out, 0, sizeof(*out));
	out->canon = NULL;
	mem = open_memstream(&out->canon, &canon_len);
	if (!mem || trace_reader_open_mem(&r, text, len, "t.trace", opts) ||
	    trace_writer_open(&w, mem, TRACE_FORMAT_TEXT)) {
		out->rc = -ENOMEM;
		return;
	}
	while ((rc = trace_read(r, &rec)) == 1) {
		out->records++;
		trace_writer_put(w, &rec);
	}
	out->rc = rc;
	if (rc) {
		snprintf(out->err, sizeof(out->err), "%s", trace_reader_error(r));
		trace_reader_error_pos(r, &out->line, &out->col);
	}
	trace_writer_close(w);
	fclose(mem);
	trace_reader_close(r);
}

static void parse_str(const char *text, struct parsed *out)
{
	parse_text(text, strlen(text), NULL, out);
}

static void test_spec_example_parses_to_its_canonical_form(void)
{
	struct parsed p, again;

	parse_str(spec_example, &p);
	CHECK_MSG(p.rc == 0, "error: %s", p.err);
	CHECK_EQ(p.records, 19);
	REQUIRE(p.canon);
	CHECK_MSG(strcmp(p.canon, spec_example_canonical) == 0, "canonical:\n%s", p.canon);
	/* The canonical form is a fixed point. */
	parse_str(p.canon, &again);
	CHECK(again.rc == 0 && strcmp(again.canon, p.canon) == 0);
	free(p.canon);
	free(again.canon);
}

static void test_spec_example_records_carry_operands_lines_and_expectations(void)
{
	struct trace_reader *r;
	struct trace_record rec;

	REQUIRE(trace_reader_open_mem(&r, spec_example, strlen(spec_example), "ex", NULL) == 0);
	CHECK(trace_reader_format(r) == TRACE_FORMAT_TEXT);
	CHECK_EQ(trace_read(r, &rec), 1);
	CHECK(rec.kind == TRACE_HEADER && rec.op[0] == 1 && rec.line == 1);
	CHECK_EQ(trace_read(r, &rec), 1);
	CHECK(rec.kind == TRACE_SLOT && rec.op[0] == 0 && rec.op[1] == 0);
	CHECK_EQ(rec.op[2], 16ull << 20);
	for (int i = 0; i < 11; i++)
		CHECK_EQ(trace_read(r, &rec), 1);
	CHECK(rec.kind == TRACE_READ && rec.line == 14 && rec.op[0] == 8 && rec.op[1] == 0x10);
	CHECK(rec.expect.kind == TRACE_EXPECT_VALUE && rec.expect.value == 0x1122334455667788ull);
	CHECK_EQ(trace_read(r, &rec), 1);
	CHECK(rec.kind == TRACE_CPL && rec.op[0] == 3);
	CHECK_EQ(trace_read(r, &rec), 1);
	CHECK(rec.expect.kind == TRACE_EXPECT_PF && rec.expect.value == 5);
	while (trace_read(r, &rec) == 1)
		;
	CHECK(rec.kind == TRACE_READ && rec.line == 20 && rec.expect.kind == TRACE_EXPECT_PF);
	CHECK_EQ(trace_read(r, &rec), 0);
	CHECK_EQ(trace_reader_records(r), 19);
	trace_reader_close(r);
}

static void check_canonical(const char *in, const char *want)
{
	struct parsed p;

	parse_str(in, &p);
	CHECK_MSG(p.rc == 0, "%s: %s", in, p.err);
	CHECK_MSG(p.canon && strcmp(p.canon, want) == 0, "input:\n%s\ngot:\n%s\nwant:\n%s", in,
	          p.canon ? p.canon : "(null)", want);
	free(p.canon);
}

static void test_lexical_rules_comments_blanks_tabs_and_last_line_without_newline(void)
{
	check_canonical("# leading comment\n\n  \t\n"
	                "shadowmmu-trace 1 # v1\n"
	                "\tcr3\t0x1\t# tab-separated\n"
	                "   \n"
	                "@0\tr\t8\t0x10\t=>\tok\n"
	                "   cpl    3   ",
	                "shadowmmu-trace 1\ncr3 0x1\nr 8 0x10 => ok\ncpl 3\n");
}

static void test_numbers_accept_decimal_hex_and_binary_suffixes(void)
{
	check_canonical("shadowmmu-trace 0x1\n"
	                "cr3 4096\n"
	                "cr3 0xABCdef\n"
	                "cr3 4K\n"
	                "cr3 0x10M\n"
	                "cr3 3G\n"
	                "cr3 18446744073709551615\n"
	                "cr3 0xffffffffffffffff\n"
	                "cr3 0x3fffffffffK\n"
	                "\tcr3\t007   # tabs, leading zeros, trailing comment\n"
	                "cr3 1#comment right after a field\n",
	                "shadowmmu-trace 1\ncr3 0x1000\ncr3 0xabcdef\ncr3 0x1000\ncr3 0x1000000\n"
	                "cr3 0xc0000000\ncr3 0xffffffffffffffff\ncr3 0xffffffffffffffff\n"
	                "cr3 0xfffffffffc00\ncr3 0x7\ncr3 0x1\n");
}

/* Every record kind, and its canonical form where that differs (NULL: written as read). */
static const struct {
	const char *in, *canon;
} host_and_guest_records[] = {
    {"shadowmmu-trace 1\n", NULL},
    {"vcpus 4\n", NULL},
    {"cpu nx=0 maxphyaddr=40 pku=1\n", "cpu maxphyaddr=40 pku=1 nx=0\n"},
    {"mmu tdp\n", "mmu tdp ept_ad=1\n"},
    {"slot 1 1G 0x3000 ro log\n", "slot 1 0x40000000 12K ro log\n"},
    {"slot 2 0x200000 12K\n", NULL},
    {"@3 cr0 0x80000011 => gp\n", NULL},
    {"@0 cr4 0x20 => ok\n", "cr4 0x20 => ok\n"},
    {"@1 efer 0x500\n", NULL},
    {"pkru 0x100000000 => ud\n", NULL},
    {"cpl 3\n", NULL},
    {"ac 1\n", NULL},
    {"r 1 0xfff => 0xff\n", NULL},
    {"r 2 0x10 => ok\n", NULL},
    {"r 4 0x10 => gp\n", NULL},
    {"w 2 0xffe 0xffff => pf 0x7\n", NULL},
    {"x 0x400000 => pf 0x15\n", NULL},
    {"invlpg 0x1000 => gp\n", NULL},
    {"@2 flush\n", NULL},
    {"slot del 1\n", NULL},
    {"slot move 2 0x400000\n", NULL},
    {"slot log 2 on\n", NULL},
    {"slot log 2 off\n", NULL},
    {"dirty 2 => 7,3,1-2,9-10,8\n", "dirty 2 => 1-3,7-10\n"},
    {"dirty 2 => -\n", NULL},
    {"dirty 2\n", NULL},
    {"host swap 0x200000 8K\n", NULL},
    {"host migrate 0x200000 4096\n", "host migrate 0x200000 4K\n"},
    {"host merge 0x200000 0x201000\n", NULL},
    {"host age 0x200000 3M => 0x10,5-6,4\n", "host age 0x200000 3M => 4-6,16\n"},
    {"zapall\n", NULL},
};

/* The records above as one trace, and the canonical trace they must give. */
static void test_canonical_form_of_host_and_guest_records(void)
{
	char in[2048] = "", want[2048] = "";

	for (size_t i = 0; i < sizeof(host_and_guest_records) / sizeof(host_and_guest_records[0]);
	     i++) {
		const char *canon = host_and_guest_records[i].canon;

		strcat(in, host_and_guest_records[i].in);
		strcat(want, canon ? canon : host_and_guest_records[i].in);
	}
	check_canonical(in, want);
}

static void test_lists_are_stored_sorted_and_merged(void)
{
	const char *t = "shadowmmu-trace 1\nslot 0 0 64K\ndirty 0 => 9,0x3-5,1,4,2\n";
	struct trace_reader *r;
	struct trace_record rec;

	REQUIRE(trace_reader_open_mem(&r, t, strlen(t), "l", NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(trace_read(r, &rec), 1);
	CHECK(rec.kind == TRACE_DIRTY && rec.expect.kind == TRACE_EXPECT_LIST);
	REQUIRE(rec.expect.nr_ranges == 2);
	CHECK(rec.expect.ranges[0].first == 1 && rec.expect.ranges[0].last == 5);
	CHECK(rec.expect.ranges[1].first == 9 && rec.expect.ranges[1].last == 9);
	trace_reader_close(r);
}

static void test_cpu_record_applies_only_the_features_it_names(void)
{
	const char *t = "shadowmmu-trace 1\ncpu pku=0 maxphyaddr=36\ncpu smep=0\n";
	struct smmu_cpu_model m;
	struct trace_reader *r;
	struct trace_record rec;

	smmu_cpu_model_default(&m);
	REQUIRE(trace_reader_open_mem(&r, t, strlen(t), "c", NULL) == 0);
	while (trace_read(r, &rec) == 1)
		if (rec.kind == TRACE_CPU)
			trace_cpu_apply(&rec, &m);
	CHECK_EQ(m.maxphyaddr, 36);
	CHECK(!m.pku && !m.smep && m.smap && m.nx && m.gbpages && m.la57 && m.pse36);
	trace_reader_close(r);
}

/* ---- malformed traces: each error, with its line and column ---------------- */
struct bad_case {
	const char *text; /* the trace (the header is added unless it starts with '!') */
	uint64_t line;    /* expected error line */
	unsigned col;     /* expected error column */
	const char *msg;  /* expected substring of the message */
};

static const struct bad_case bad_cases[] = {
    /* header */
    {"!", 1, 1, "expected 'shadowmmu-trace 1', found end of file"},
    {"!# only a comment\n\n", 3, 1, "found end of file"},
    {"!slot 0 0 4K\n", 1, 1, "expected 'shadowmmu-trace 1' as the first record, found 'slot'"},
    {"!shadowmmu-trace 2\n", 1, 17, "unsupported trace version 2"},
    {"!shadowmmu-trace\n", 1, 16, "expected VERSION, found end of record"},
    {"!shadowmmu-trace 1 1\n", 1, 19, "unexpected '1'"},
    {"!@1 shadowmmu-trace 1\n", 1, 1, "header takes no @N"},
    {"shadowmmu-trace 1\n", 2, 1, "header repeated"},
    /* the mmu set-up record */
    {"mmu ept\n", 2, 5, "expected shadow or tdp, found 'ept'"},
    {"mmu\n", 2, 4, "expected shadow|tdp"},
    {"mmu shadow ept_ad=1\n", 2, 12, "only for mmu tdp"},
    {"mmu tdp ad=1\n", 2, 9, "expected ept_ad=0|1"},
    {"mmu tdp\nmmu shadow\n", 3, 1, "'mmu' given twice (first at line 2)"},
    {"r 8 0 => 0\nmmu tdp\n", 3, 1, "'mmu' must come before any guest record"},
    /* truncated records */
    {"w 8 0x10\n", 2, 9, "expected VALUE, found end of record"},
    {"w 8\n", 2, 4, "expected GVA, found end of record"},
    {"r\n", 2, 2, "expected SIZE"},
    {"r 8 => 0\n", 2, 5, "expected GVA, found '=>'"},
    {"slot 0 0\n", 2, 9, "expected SIZE"},
    {"slot log 1\n", 2, 11, "expected on or off"},
    {"host\n", 2, 5, "expected swap, migrate, merge or age after 'host'"},
    /* bad numbers */
    {"r 8 zz\n", 2, 5, "expected GVA (a number), found 'zz'"},
    {"cr3 0x\n", 2, 5, "expected V (a number), found '0x'"},
    {"cr3 0X10\n", 2, 5, "found '0X10'"},
    {"cr3 -1\n", 2, 5, "found '-1'"},
    {"cr3 12k\n", 2, 5, "found '12k'"},
    {"cr3 1KK\n", 2, 5, "found '1KK'"},
    {"cr3 0x1g\n", 2, 5, "found '0x1g'"},
    {"cr3 1.5\n", 2, 5, "found '1.5'"},
    /* overflow */
    {"cr3 18446744073709551616\n", 2, 5, "does not fit in 64 bits"},
    {"cr3 0x10000000000000000\n", 2, 5, "does not fit in 64 bits"},
    {"cr3 0x400000000000000K\n", 2, 5, "does not fit in 64 bits"},
    {"cr3 17179869184G\n", 2, 5, "does not fit in 64 bits"},
    {"r 8 0 => 99999999999999999999\n", 2, 10, "does not fit in 64 bits"},
    /* unknown records */
    {"foo 1\n", 2, 1, "unknown record 'foo'"},
    {"host swapp 0 4K\n", 2, 6, "expected swap, migrate, merge or age after 'host', found 'swapp'"},
    {"slot frob 1\n", 2, 6, "expected ID (a number), found 'frob'"},
    {"R 8 0\n", 2, 1, "unknown record 'R'"},
    /* vCPU prefix */
    {"@1 r 8 0\n", 2, 1, "vCPU 1 out of range: the trace has 1 vCPU"},
    {"vcpus 2\n@2 r 8 0\n", 3, 1, "vCPU 2 out of range: 'vcpus 2' at line 2"},
    {"@ r 8 0\n", 2, 2, "expected a vCPU number after '@' (a number), found ''"},
    {"@x r 8 0\n", 2, 2, "found 'x'"},
    {"@1\n", 2, 3, "expected a record name"},
    {"@99999999999 r 8 0\n", 2, 1, "out of range"},
    /* set-up records */
    {"r 8 0\nvcpus 2\n", 3, 1,
     "set-up record 'vcpus' must come before any guest record (the first was at line 2)"},
    {"cpl 3\ncpu pku=0\n", 3, 1, "set-up record 'cpu' must come before"},
    {"vcpus 0\n", 2, 7, "vcpus must be 1..256, found 0"},
    {"vcpus 257\n", 2, 7, "vcpus must be 1..256, found 257"},
    {"vcpus 2\nvcpus 2\n", 3, 1, "'vcpus' given twice (first at line 2)"},
    {"cpu\n", 2, 4, "expected NAME=VALUE, found end of record"},
    {"cpu pku\n", 2, 5, "expected NAME=VALUE, found 'pku'"},
    {"cpu foo=1\n", 2, 5, "unknown cpu feature 'foo'"},
    {"cpu pku=2\n", 2, 9, "cpu feature 'pku' takes 0 or 1, found '2'"},
    {"cpu nx=\n", 2, 8, "expected a value (a number), found ''"},
    {"cpu maxphyaddr=31\n", 2, 5, "maxphyaddr must be 32..52, found 31"},
    {"cpu maxphyaddr=53\n", 2, 5, "maxphyaddr must be 32..52, found 53"},
    {"cpu nx=1 pku=0 nx=0\n", 2, 16, "cpu feature 'nx' given twice"},
    {"cpu nx=1 => ok\n", 2, 10, "'cpu' takes no expectation"},
    /* expectation syntax */
    {"r 8 0 =>\n", 2, 9, "expected an expectation after '=>'"},
    {"r 8 0 => zz\n", 2, 10, "expected ok, pf EC, gp, ud or a value after '=>', found 'zz'"},
    {"r 8 0 => pf\n", 2, 12, "expected EC (a number) after 'pf'"},
    {"r 8 0 => pf zz\n", 2, 13, "expected EC (a number), found 'zz'"},
    {"r 8 0 => ok ok\n", 2, 13, "unexpected 'ok' after the expectation"},
    {"r 8 0 => ud\n", 2, 10, "'r' expects VALUE, ok, pf EC or gp"},
    {"w 8 0 0 => 5\n", 2, 12, "'w' expects ok, pf EC or gp"},
    {"x 0 => 5\n", 2, 8, "'x' expects ok, pf EC or gp"},
    {"cr0 0 => pf 5\n", 2, 10, "'cr0' expects ok or gp"},
    {"cr4 0 => ud\n", 2, 10, "'cr4' expects ok or gp"},
    {"invlpg 0 => pf 0\n", 2, 13, "'invlpg' expects ok or gp"},
    {"cpl 3 => ok\n", 2, 7, "'cpl' takes no expectation"},
    {"flush => ok\n", 2, 7, "'flush' takes no expectation"},
    {"zapall => ok\n", 2, 8, "'zapall' takes no expectation"},
    {"r 8 0 => pf 0x40\n", 2, 10, "error code 0x40 has bits outside"},
    {"r 8 0 =>ok\n", 2, 7, "unexpected '=>ok'"},
    /* slots */
    {"slot 0 0x800 4K\n", 2, 8, "GPA 0x800 is not 4 KiB aligned"},
    {"slot 0 0 0x1800\n", 2, 10, "SIZE 0x1800 is not a nonzero multiple of 4 KiB"},
    {"slot 0 0 0\n", 2, 10, "SIZE 0x0 is not a nonzero multiple"},
    {"slot 0 0xfffffffffffff000 8K\n", 2, 27, "passes the end of the address space"},
    {"slot 0 0 4K log ro\n", 2, 17, "expected 'ro', 'log' or the end of the record, found 'ro'"},
    {"slot 0 0 4K ro ro\n", 2, 16, "found 'ro'"},
    {"slot 0 0 4K rw\n", 2, 13, "found 'rw'"},
    {"slot 0 0 4K => ok\n", 2, 13, "'slot' takes no expectation"},
    {"slot move 0 0x10\n", 2, 13, "GPA 0x10 is not 4 KiB aligned"},
    {"slot log 0 yes\n", 2, 12, "expected on or off, found 'yes'"},
    {"host swap 0x1000 100\n", 2, 18, "SIZE 0x64 is not a nonzero multiple of 4 KiB"},
    {"host age 0x10 4K\n", 2, 10, "GPA 0x10 is not 4 KiB aligned"},
    {"host merge 0x1000 0x1008\n", 2, 19, "GPA2 0x1008 is not 4 KiB aligned"},
    /* accesses */
    {"r 3 0\n", 2, 3, "access size must be 1, 2, 4 or 8, found 3"},
    {"w 16 0 0\n", 2, 3, "access size must be 1, 2, 4 or 8, found 16"},
    {"r 8 0xffc\n", 2, 5, "8-byte access at 0xffc crosses a 4 KiB page boundary"},
    {"w 2 0x1fff 0\n", 2, 5, "crosses a 4 KiB page boundary"},
    {"r 1 0xffffffffffffffff\n", 0, 0, NULL}, /* last byte of the last page: fine */
    {"w 1 0 0x100\n", 2, 7, "value 0x100 does not fit in 1 bytes"},
    {"w 4 0 0x100000000\n", 2, 7, "does not fit in 4 bytes"},
    {"r 2 0 => 0x10000\n", 2, 10, "expected value 0x10000 does not fit in 2 bytes"},
    {"w 8 0 0 extra\n", 2, 9, "unexpected 'extra' after the operands of 'w'"},
    {"cpl 2\n", 2, 5, "'cpl' takes 0 or 3, found 2"},
    {"ac 3\n", 2, 4, "'ac' takes 0 or 1, found 3"},
    /* lists */
    {"dirty 0 => 5-3\n", 2, 12, "backwards page range '5-3'"},
    {"dirty 0 => 1,,2\n", 2, 14, "expected a page index (a number), found ''"},
    {"dirty 0 => 1,2,\n", 2, 16, "found ''"},
    {"dirty 0 => ok\n", 2, 12, "expected a page index (a number), found 'ok'"},
    {"dirty 0 => 1-\n", 2, 14, "found ''"},
    {"dirty 0 => 1-2-3\n", 2, 14, "found '2-3'"},
    {"dirty 0 => 1 2\n", 2, 14, "unexpected '2' after the expectation"},
    {"host age 0 4K => x\n", 2, 18, "found 'x'"},
    /* ASCII */
    {"r 8 0 # caf\xc3\xa9\n", 2, 12, "unexpected byte 0xc3 (a trace is ASCII text)"},
    {"r 8 0\r\n", 2, 6, "unexpected byte 0x0d"},
    {"r 8\x01 0\n", 2, 4, "unexpected byte 0x01"},
};

static void check_bad_case(const struct bad_case *c)
{
	char text[512];
	struct parsed p;

	if (c->text[0] == '!')
		snprintf(text, sizeof(text), "%s", c->text + 1);
	else
		snprintf(text, sizeof(text), "shadowmmu-trace 1\n%s", c->text);
	parse_str(text, &p);
	if (!c->msg) {
		CHECK_MSG(p.rc == 0, "%s: unexpected error %s", c->text, p.err);
	} else {
		char pos[64];

		snprintf(pos, sizeof(pos), "t.trace:%llu:%u: ", (unsigned long long)c->line,
		         c->col);
		CHECK_MSG(p.rc == -EINVAL, "%s: rc %d", c->text, p.rc);
		CHECK_MSG(strncmp(p.err, pos, strlen(pos)) == 0, "%s: want %s..., got '%s'",
		          c->text, pos, p.err);
		CHECK_MSG(strstr(p.err, c->msg) != NULL, "%s: want '%s' in '%s'", c->text, c->msg,
		          p.err);
		CHECK_EQ(p.line, c->line);
		CHECK_EQ(p.col, c->col);
	}
	free(p.canon);
}

static void test_each_malformed_trace_reports_its_rule_line_and_column(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad_case(&bad_cases[i]);
}

static void test_no_record_past_the_first_error_is_returned(void)
{
	const char *t = "shadowmmu-trace 1\ncpl 3\nr 3 0\ncpl 0\ncpl 3\n";
	struct trace_reader *r;
	struct trace_record rec;

	REQUIRE(trace_reader_open_mem(&r, t, strlen(t), "s", NULL) == 0);
	CHECK_EQ(trace_read(r, &rec), 1);
	CHECK_EQ(trace_read(r, &rec), 1);
	CHECK_EQ(trace_read(r, &rec), -EINVAL);
	CHECK_EQ(trace_read(r, &rec), -EINVAL);
	CHECK_EQ(trace_read(r, &rec), -EINVAL);
	CHECK(strstr(trace_reader_error(r), "s:3:3:") != NULL);
	CHECK_EQ(trace_reader_records(r), 2);
	trace_reader_close(r);
}

static void test_host_records_are_rejected_when_the_option_is_off(void)
{
	static const struct {
		const char *line;
		unsigned col;
	} host[] = {
	    {"slot del 0", 1},     {"slot move 0 0", 1},  {"slot log 0 on", 1},
	    {"dirty 0", 1},        {"host swap 0 4K", 1}, {"host migrate 0 4K", 1},
	    {"host merge 0 0", 1}, {"host age 0 4K", 1},  {"slot 0 0 4K ro log", 16},
	};
	struct trace_reader_opts o;

	trace_reader_opts_init(&o);
	CHECK(o.allow_host_records);
	o.allow_host_records = false;
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
		char text[128], pos[32];
		struct parsed p;

		snprintf(text, sizeof(text), "shadowmmu-trace 1\n%s\n", host[i].line);
		parse_text(text, strlen(text), &o, &p);
		snprintf(pos, sizeof(pos), "t.trace:2:%u: ", host[i].col);
		CHECK_MSG(p.rc == -EINVAL && strstr(p.err, pos) &&
		              strstr(p.err, "not supported yet"),
		          "%s: %s", host[i].line, p.err);
		free(p.canon);
		parse_text(text, strlen(text), NULL, &p);
		CHECK_MSG(p.rc == 0, "%s: %s", host[i].line, p.err);
		free(p.canon);
	}
	/* zapall and a slot without log stay available. */
	{
		const char *t = "shadowmmu-trace 1\nslot 0 0 4K ro\nzapall\n";
		struct parsed p;

		parse_text(t, strlen(t), &o, &p);
		CHECK_MSG(p.rc == 0 && p.records == 3, "%s", p.err);
		free(p.canon);
	}
}

static void test_overlong_line_is_an_error_not_a_crash(void)
{
	size_t n = TRACE_MAX_LINE + 100;
	char *t = malloc(n + 32);
	struct parsed p;

	REQUIRE(t);
	strcpy(t, "shadowmmu-trace 1\n#");
	memset(t + strlen(t), 'a', n);
	t[19 + n] = 0;
	parse_text(t, strlen(t), NULL, &p);
	CHECK(p.rc == -EINVAL && strstr(p.err, "t.trace:2:1: line longer than"));
	free(p.canon);
	free(t);
}

/* A trace much larger than the reader's window, read through a FILE*. */
static void test_file_stream_reads_the_same_records_as_memory(void)
{
	size_t len = 0;
	char *text = NULL, *canon_mem = NULL;
	FILE *gen = open_memstream(&text, &len), *f;
	struct parsed pm;
	struct trace_reader *r;
	struct trace_record rec;
	uint64_t n = 0;
	int rc;

	REQUIRE(gen);
	fprintf(gen, "shadowmmu-trace 1\nvcpus 3\nslot 0 0 64M\n");
	for (unsigned i = 0; i < 60000; i++)
		fprintf(gen, "@%u w 8 0x%x %u => ok  # pad pad pad\n", i % 3, (i * 8) & 0xffffff,
		        i);
	fclose(gen);
	parse_text(text, len, NULL, &pm);
	CHECK_EQ(pm.records, 60003);
	canon_mem = pm.canon;

	f = fmemopen(text, len, "r");
	REQUIRE(f);
	REQUIRE(trace_reader_open_file(&r, f, "stream", NULL) == 0);
	while ((rc = trace_read(r, &rec)) == 1)
		n++;
	CHECK_EQ(rc, 0);
	CHECK_EQ(n, 60003);
	CHECK_EQ(rec.line, 60003);
	CHECK_EQ(rec.vcpu, 59999 % 3);
	trace_reader_close(r);
	fclose(f);
	free(canon_mem);
	free(text);
}

/* ---- the conformance traces --------------------------------------------------- */
static uint64_t count_record_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	uint64_t n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");

		n += *s != '#' && *s != '\n' && *s != 0;
	}
	fclose(f);
	return n;
}

static void test_conformance_traces_parse_with_plausible_record_counts(void)
{
	static const char *const names[] = {"a-demand",   "b-retouch", "c-cr3",
	                                    "d-ptewrite", "e-invlpg",  "f-fork"};

	for (size_t i = 0; i < 6; i++) {
		char path[512];
		struct trace_reader *r;
		struct trace_record rec;
		uint64_t n = 0, guest = 0;
		FILE *f;
		int rc;

		/* The repository's own copies: a missing trace fails, it is never skipped. */
		snprintf(path, sizeof(path), "%s/tests/conformance/%s.trace", SMMU_SOURCE_DIR,
		         names[i]);
		f = fopen(path, "r");
		REQUIRE_MSG(f, "%s missing", path);
		REQUIRE(trace_reader_open_file(&r, f, path, NULL) == 0);
		while ((rc = trace_read(r, &rec)) == 1) {
			n++;
			guest += (trace_kind_flags(rec.kind) & TRACE_KF_GUEST) != 0;
		}
		CHECK_MSG(rc == 0, "%s", trace_reader_error(r));
		CHECK_EQ(n, count_record_lines(path));
		CHECK_MSG(n > 8000 && guest > n - 10, "%s: %llu records, %llu guest", names[i],
		          (unsigned long long)n, (unsigned long long)guest);
		trace_reader_close(r);
		fclose(f);
	}
}

int main(void)
{
	RUN(test_spec_example_parses_to_its_canonical_form);
	RUN(test_spec_example_records_carry_operands_lines_and_expectations);
	RUN(test_lexical_rules_comments_blanks_tabs_and_last_line_without_newline);
	RUN(test_numbers_accept_decimal_hex_and_binary_suffixes);
	RUN(test_canonical_form_of_host_and_guest_records);
	RUN(test_lists_are_stored_sorted_and_merged);
	RUN(test_cpu_record_applies_only_the_features_it_names);
	RUN(test_each_malformed_trace_reports_its_rule_line_and_column);
	RUN(test_no_record_past_the_first_error_is_returned);
	RUN(test_host_records_are_rejected_when_the_option_is_off);
	RUN(test_overlong_line_is_an_error_not_a_crash);
	RUN(test_file_stream_reads_the_same_records_as_memory);
	RUN(test_conformance_traces_parse_with_plausible_record_counts);
	return check_finish();
}
