/*
 * test_trace_binary.c - the binary trace encoding (docs/trace-binary.md):
 * text -> binary -> text gives the canonical text back, the reader detects
 * the format, and every corruption or truncation is an error that returns
 * no record of a damaged block.
 */
#include "trace/trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support/check.h"

/* Defined in src/trace/binary.c (an internal interface, see trace_impl.h). */
uint32_t trace_crc32c(uint32_t crc, const void *data, size_t len);

static const char sample[] = "shadowmmu-trace 1\n"
                             "# comment lines keep their line numbers in binary\n"
                             "vcpus 3\n"
                             "cpu maxphyaddr=40 pku=0 nx=1\n"
                             "slot 0 0 16M\n"
                             "slot 1 1G 64K ro log\n"
                             "w 8 0x1000 0x2003\n"
                             "w 8 0x1008 0x8000000000003003\n"
                             "cr4 0x20\nefer 0x100\ncr3 0x1000\ncr0 0x80000011 => ok\n"
                             "@2 w 8 0x10 0x1122334455667788 => ok\n"
                             "@2 r 8 0x10 => 0x1122334455667788\n"
                             "@1 cpl 3\n@1 ac 1\n"
                             "@1 r 8 0x10 => pf 0x5\n"
                             "x 0xffff800000000000 => gp\n"
                             "r 1 0xfff => 0xff\n"
                             "pkru 0x4 => ud\n"
                             "invlpg 0\nflush\n"
                             "slot move 1 2G\nslot log 1 off\n"
                             "dirty 1 => 0,2-5,17\n"
                             "dirty 1 => -\n"
                             "host swap 0x1000 8K\nhost migrate 0x2000 4K\n"
                             "host merge 0x1000 0x2000\n"
                             "host age 0 16M => 0-4095\n"
                             "zapall\nslot del 1\n";

/* Read all of a trace in memory; returns records or a negative errno. */
static long read_all(const void *buf, size_t len, char **canon, char *err, size_t errlen)
{
	struct trace_reader *r;
	struct trace_writer *w = NULL;
	struct trace_record rec;
	size_t clen = 0;
	FILE *mem = NULL;
	long n = 0;
	int rc;

	if (canon) {
		*canon = NULL;
		mem = open_memstream(canon, &clen);
		if (!mem || trace_writer_open(&w, mem, TRACE_FORMAT_TEXT))
			return -ENOMEM;
	}
	if (trace_reader_open_mem(&r, buf, len, "b", NULL))
		return -ENOMEM;
	while ((rc = trace_read(r, &rec)) == 1) {
		n++;
		if (w)
			trace_writer_put(w, &rec);
	}
	if (rc && err)
		snprintf(err, errlen, "%s", trace_reader_error(r));
	trace_reader_close(r);
	if (w) {
		trace_writer_close(w);
		fclose(mem);
	}
	return rc ? rc : n;
}

/* Convert a trace in memory to `fmt` into a malloc'd buffer. */
static int convert(const void *in, size_t inlen, enum trace_format fmt, char **out, size_t *outlen)
{
	struct trace_reader *r;
	struct trace_writer *w;
	FILE *mem = open_memstream(out, outlen);
	int rc;

	if (!mem)
		return -ENOMEM;
	if (trace_reader_open_mem(&r, in, inlen, "in", NULL) || trace_writer_open(&w, mem, fmt)) {
		fclose(mem);
		return -ENOMEM;
	}
	rc = trace_convert(r, w);
	if (trace_writer_close(w) && !rc)
		rc = -EIO;
	trace_reader_close(r);
	fclose(mem);
	return rc;
}

/*
 * Tests of the sample's binary form take it as (bin, binlen): a fresh
 * conversion for each, which the test may scribble on and need not free.
 */
static void (*sample_binary_test)(char *bin, size_t binlen);

static void run_on_sample_binary(void)
{
	char *bin = NULL;
	size_t binlen = 0;

	REQUIRE(convert(sample, strlen(sample), TRACE_FORMAT_BINARY, &bin, &binlen) == 0);
	sample_binary_test(bin, binlen);
	free(bin);
}

#define RUN_ON_SAMPLE_BINARY(fn) (sample_binary_test = (fn), check_run(#fn, run_on_sample_binary))

static void test_crc32c_matches_the_castagnoli_check_value(void)
{
	CHECK_EQ(trace_crc32c(0, "123456789", 9), 0xe3069283);
	CHECK_EQ(trace_crc32c(trace_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
	CHECK_EQ(trace_crc32c(0, "", 0), 0);
}

static void test_text_to_binary_to_text_is_identical_to_the_canonical_text(void)
{
	char *bin = NULL, *canon = NULL, *canon2 = NULL;
	size_t binlen = 0;
	char err[512] = "";
	long n;

	n = read_all(sample, strlen(sample), &canon, err, sizeof(err));
	CHECK_MSG(n == 31, "text: %ld %s", n, err);
	REQUIRE(convert(sample, strlen(sample), TRACE_FORMAT_BINARY, &bin, &binlen) == 0);
	CHECK((unsigned char)bin[0] == 0x89);
	n = read_all(bin, binlen, &canon2, err, sizeof(err));
	CHECK_MSG(n == 31, "binary: %ld %s", n, err);
	REQUIRE(canon && canon2);
	CHECK_MSG(strcmp(canon, canon2) == 0, "text:\n%s\nfrom binary:\n%s", canon, canon2);
	CHECK(binlen < strlen(sample));
	free(bin);
	free(canon);
	free(canon2);
}

static void test_binary_keeps_vcpu_and_source_line_of_every_record(char *bin, size_t binlen)
{
	struct trace_reader *rt, *rb;
	struct trace_record a, b;
	int ra, rb_rc;

	REQUIRE(trace_reader_open_mem(&rt, sample, strlen(sample), "t", NULL) == 0);
	REQUIRE(trace_reader_open_mem(&rb, bin, binlen, "b", NULL) == 0);
	CHECK(trace_reader_format(rb) == TRACE_FORMAT_BINARY);
	do {
		ra = trace_read(rt, &a);
		rb_rc = trace_read(rb, &b);
		CHECK_EQ(ra, rb_rc);
		if (ra != 1 || rb_rc != 1)
			break;
		CHECK(a.kind == b.kind && a.vcpu == b.vcpu && a.line == b.line);
		CHECK(memcmp(a.op, b.op, sizeof(a.op)) == 0);
		CHECK(a.expect.kind == b.expect.kind && a.expect.value == b.expect.value);
		CHECK_EQ(a.expect.nr_ranges, b.expect.nr_ranges);
	} while (1);
	CHECK_EQ(ra, 0);
	trace_reader_close(rt);
	trace_reader_close(rb);
}

static void test_header_holds_magic_version_and_record_count(char *bin, size_t binlen)
{
	uint64_t count = 0;

	REQUIRE(binlen > 24);
	CHECK(memcmp(bin, "\x89smmutrc", 8) == 0);
	CHECK(bin[8] == 1 && bin[9] == 0);
	for (int i = 7; i >= 0; i--)
		count = count << 8 | (unsigned char)bin[16 + i];
	CHECK_EQ(count, 31);
}

static void test_every_single_byte_corruption_is_detected(char *bin, size_t binlen)
{
	char err[512];

	for (size_t i = 0; i < binlen; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			struct trace_reader *r;
			struct trace_record rec;
			long got = 0;
			int rc;

			bin[i] ^= (char)(1u << bit);
			REQUIRE(trace_reader_open_mem(&r, bin, binlen, "c", NULL) == 0);
			while ((rc = trace_read(r, &rec)) == 1)
				got++;
			snprintf(err, sizeof(err), "%s", rc ? trace_reader_error(r) : "no error");
			CHECK_MSG(rc < 0, "flip of byte %zu bit %u not detected", i, bit);
			/* One block: a damaged block yields no record at all. */
			CHECK_MSG(got == 0 || i >= binlen - 24, "byte %zu: %ld records before '%s'",
			          i, got, err);
			trace_reader_close(r);
			bin[i] ^= (char)(1u << bit);
		}
	}
}

static void test_every_truncation_is_detected(char *bin, size_t binlen)
{
	char err[512];

	for (size_t len = 1; len < binlen; len++) {
		long n = read_all(bin, len, NULL, err, sizeof(err));

		CHECK_MSG(n == -EBADMSG, "truncated to %zu: %ld", len, n);
	}
	CHECK(read_all(bin, 20, NULL, err, sizeof(err)) == -EBADMSG &&
	      strstr(err, "truncated header"));
	CHECK(read_all(bin, binlen - 3, NULL, err, sizeof(err)) == -EBADMSG &&
	      strstr(err, "truncated trailer"));
}

static void test_data_after_the_trailer_is_rejected(char *bin, size_t binlen)
{
	char *longer, err[512];

	longer = malloc(binlen + 1);
	REQUIRE(longer);
	memcpy(longer, bin, binlen);
	longer[binlen] = 0;
	CHECK(read_all(longer, binlen + 1, NULL, err, sizeof(err)) == -EBADMSG &&
	      strstr(err, "data after the trailer"));
	free(longer);
}

static void test_binary_records_obey_the_same_static_rules_as_text(void)
{
	struct trace_record hdr = {.kind = TRACE_HEADER, .line = 1, .op = {1}};
	struct trace_record bad = {.kind = TRACE_READ, .line = 2, .op = {3, 0}};
	struct trace_writer *w;
	char *bin = NULL, err[512];
	size_t binlen = 0;
	FILE *mem = open_memstream(&bin, &binlen);

	REQUIRE(mem && trace_writer_open(&w, mem, TRACE_FORMAT_BINARY) == 0);
	CHECK_EQ(trace_writer_put(w, &hdr), 0);
	CHECK_EQ(trace_writer_put(w, &bad), 0); /* the writer does not validate */
	CHECK_EQ(trace_writer_close(w), 0);
	fclose(mem);
	CHECK(read_all(bin, binlen, NULL, err, sizeof(err)) == -EINVAL);
	CHECK_MSG(strstr(err, "record 2 (line 2): access size must be 1, 2, 4 or 8"), "%s", err);
	free(bin);
}

static void test_binary_without_header_record_is_rejected(void)
{
	struct trace_writer *w;
	char *bin = NULL, err[512];
	size_t binlen = 0;
	FILE *mem = open_memstream(&bin, &binlen);

	REQUIRE(mem && trace_writer_open(&w, mem, TRACE_FORMAT_BINARY) == 0);
	CHECK_EQ(trace_writer_close(w), 0);
	fclose(mem);
	CHECK(read_all(bin, binlen, NULL, err, sizeof(err)) == -EINVAL && strstr(err, "header"));
	free(bin);
}

static void test_writer_refuses_an_unsorted_list(void)
{
	struct trace_range rg[2] = {{5, 6}, {1, 2}};
	struct trace_record rec = {
	    .kind = TRACE_DIRTY,
	    .expect = {.kind = TRACE_EXPECT_LIST, .ranges = rg, .nr_ranges = 2}};
	struct trace_writer *w;
	FILE *f = tmpfile();

	REQUIRE(f && trace_writer_open(&w, f, TRACE_FORMAT_BINARY) == 0);
	CHECK_EQ(trace_writer_put(w, &rec), -EINVAL);
	CHECK_EQ(trace_writer_close(w), -EINVAL);
	fclose(f);
}

/* Many blocks, through real files: the streaming reader and the seekable header. */
static void test_large_trace_round_trips_through_files_in_many_blocks(void)
{
	FILE *text = tmpfile(), *bin = tmpfile(), *back = tmpfile();
	struct trace_reader *r;
	struct trace_writer *w;
	long tlen, blen;
	char *a, *b;

	REQUIRE(text && bin && back);
	fprintf(text, "shadowmmu-trace 1\nvcpus 2\nslot 0 0 1G\n");
	for (unsigned i = 0; i < 200000; i++)
		fprintf(text, "@%u %s 8 0x%llx%s\n", i & 1, (i % 3) ? "r" : "w",
		        (unsigned long long)(i * 4096ull + (i % 7) * 8) & 0x3ffffff8ull,
		        (i % 3) ? " => 0x0" : " 0x8000000000000063");
	rewind(text);
	REQUIRE(trace_reader_open_file(&r, text, "text", NULL) == 0);
	REQUIRE(trace_writer_open(&w, bin, TRACE_FORMAT_BINARY) == 0);
	CHECK_EQ(trace_convert(r, w), 0);
	CHECK_EQ(trace_writer_close(w), 0);
	trace_reader_close(r);
	rewind(bin);
	REQUIRE(trace_reader_open_file(&r, bin, "bin", NULL) == 0);
	REQUIRE(trace_writer_open(&w, back, TRACE_FORMAT_TEXT) == 0);
	CHECK_MSG(trace_convert(r, w) == 0, "%s", trace_reader_error(r));
	CHECK_EQ(trace_reader_records(r), 200003);
	CHECK_EQ(trace_writer_close(w), 0);
	trace_reader_close(r);
	blen = ftell(bin);
	tlen = ftell(back);
	printf("  200003 records: binary %ld bytes (%.2f per record), text %ld bytes\n", blen,
	       (double)blen / 200003, tlen);
	CHECK(blen > 0 && blen < tlen / 3);
	/* Canonical text of the original equals the text that went through binary. */
	a = malloc((size_t)tlen + 1);
	b = malloc((size_t)tlen + 1);
	REQUIRE(a && b);
	rewind(back);
	CHECK_EQ(fread(b, 1, (size_t)tlen, back), (size_t)tlen);
	b[tlen] = 0;
	{
		const char *head = "shadowmmu-trace 1\nvcpus 2\nslot 0 0x0 1G\n"
		                   "w 8 0x0 0x8000000000000063\n@1 r 8 0x1008 => 0x0\n";

		CHECK_MSG(strncmp(b, head, strlen(head)) == 0, "%.100s", b);
	}
	free(a);
	free(b);
	fclose(text);
	fclose(bin);
	fclose(back);
}

static void test_conformance_traces_round_trip_through_binary(void)
{
	static const char *const names[] = {"a-demand",   "b-retouch", "c-cr3",
	                                    "d-ptewrite", "e-invlpg",  "f-fork"};

	for (size_t i = 0; i < 6; i++) {
		char path[512], *text = NULL, *bin = NULL, *c1 = NULL, *c2 = NULL, err[512] = "";
		size_t tlen = 0, blen = 0;
		FILE *f;
		long n1, n2;

		/* The repository's own copies: a missing trace fails, it is never skipped. */
		snprintf(path, sizeof(path), "%s/tests/conformance/%s.trace", SMMU_SOURCE_DIR,
		         names[i]);
		f = fopen(path, "r");
		REQUIRE_MSG(f, "%s missing", path);
		fseek(f, 0, SEEK_END);
		tlen = (size_t)ftell(f);
		rewind(f);
		text = malloc(tlen);
		REQUIRE(text && fread(text, 1, tlen, f) == tlen);
		fclose(f);
		REQUIRE(convert(text, tlen, TRACE_FORMAT_BINARY, &bin, &blen) == 0);
		n1 = read_all(text, tlen, &c1, err, sizeof(err));
		n2 = read_all(bin, blen, &c2, err, sizeof(err));
		CHECK_MSG(n1 > 8000 && n1 == n2, "%s: %ld vs %ld %s", names[i], n1, n2, err);
		CHECK(c1 && c2 && strcmp(c1, c2) == 0);
		printf("  %s: %ld records, text %zu bytes, binary %zu bytes\n", names[i], n1, tlen,
		       blen);
		free(text);
		free(bin);
		free(c1);
		free(c2);
	}
}

int main(void)
{
	RUN(test_crc32c_matches_the_castagnoli_check_value);
	RUN(test_text_to_binary_to_text_is_identical_to_the_canonical_text);
	RUN_ON_SAMPLE_BINARY(test_binary_keeps_vcpu_and_source_line_of_every_record);
	RUN_ON_SAMPLE_BINARY(test_header_holds_magic_version_and_record_count);
	RUN_ON_SAMPLE_BINARY(test_every_single_byte_corruption_is_detected);
	RUN_ON_SAMPLE_BINARY(test_every_truncation_is_detected);
	RUN_ON_SAMPLE_BINARY(test_data_after_the_trailer_is_rejected);
	RUN(test_binary_records_obey_the_same_static_rules_as_text);
	RUN(test_binary_without_header_record_is_rejected);
	RUN(test_writer_refuses_an_unsorted_list);
	RUN(test_large_trace_round_trips_through_files_in_many_blocks);
	RUN(test_conformance_traces_round_trip_through_binary);
	return check_finish();
}
