/*
 * bench_trace.c - how fast traces are read: records per second for the text
 * reader and the binary reader over the same generated 1M-record trace held
 * in memory, plus the size of each encoding.  The trace mixes what workload
 * generators emit most: page-table writes, reads with expected values,
 * faults, invlpg, cr3 switches, on 4 vCPUs.
 */
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"

#define NR_RECORDS 1000000u
#define RUNS       5

static void emit(struct trace_writer *w, struct trace_record *rec)
{
	if (trace_writer_put(w, rec)) {
		fprintf(stderr, "bench_trace: writer failed\n");
		exit(1);
	}
}

/* One generated guest record; i selects the kind in a fixed mix. */
static void make_record(unsigned i, struct trace_record *rec)
{
	uint64_t page = (i * 2654435761u) & 0xffff;

	*rec = (struct trace_record){.vcpu = (i / 64) & 3, .line = i + 4};
	switch (i % 16) {
	case 0:
	case 1:
		rec->kind = TRACE_WRITE;
		rec->op[0] = 8;
		rec->op[1] = 0x200000 + (page & 511) * 8;
		rec->op[2] = 0x8000000000000067ull | (page << 12);
		rec->expect.kind = TRACE_EXPECT_OK;
		break;
	case 2:
		rec->kind = TRACE_INVLPG;
		rec->op[0] = page << 12;
		break;
	case 3:
		rec->kind = TRACE_CR3;
		rec->op[0] = 0x100000 + (i & 7) * 0x8000;
		rec->expect.kind = TRACE_EXPECT_OK;
		break;
	case 4:
		rec->kind = TRACE_READ;
		rec->op[0] = 8;
		rec->op[1] = (page << 12) | 0x10;
		rec->expect = (struct trace_expect){.kind = TRACE_EXPECT_PF, .value = 0x5};
		break;
	default:
		rec->kind = TRACE_READ;
		rec->op[0] = 8;
		rec->op[1] = (page << 12) + (i & 0x1f8);
		rec->expect = (struct trace_expect){.kind = TRACE_EXPECT_VALUE, .value = page * 3};
		break;
	}
}

static char *generate(enum trace_format fmt, size_t *len)
{
	struct trace_record rec = {.kind = TRACE_HEADER, .line = 1, .op = {1}};
	struct trace_writer *w;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f || trace_writer_open(&w, f, fmt))
		exit(1);
	emit(w, &rec);
	rec = (struct trace_record){.kind = TRACE_VCPUS, .line = 2, .op = {4}};
	emit(w, &rec);
	rec = (struct trace_record){.kind = TRACE_SLOT, .line = 3, .op = {0, 0, 1ull << 30}};
	emit(w, &rec);
	for (unsigned i = 3; i < NR_RECORDS; i++) {
		make_record(i, &rec);
		emit(w, &rec);
	}
	if (trace_writer_close(w) || fclose(f))
		exit(1);
	return buf;
}

/* Read the whole trace; returns seconds. */
static double time_read(const char *buf, size_t len)
{
	struct trace_reader *r;
	struct trace_record rec;
	uint64_t t0 = bench_now_ns(), n = 0, sum = 0;
	int rc;

	if (trace_reader_open_mem(&r, buf, len, "bench", NULL))
		exit(1);
	while ((rc = trace_read(r, &rec)) == 1) {
		n++;
		sum += rec.op[0];
	}
	if (rc || n != NR_RECORDS) {
		fprintf(stderr, "bench_trace: %s\n", rc ? trace_reader_error(r) : "short read");
		exit(1);
	}
	trace_reader_close(r);
	bench_sink(sum);
	return (double)(bench_now_ns() - t0) / 1e9;
}

static void bench_format(const char *name, enum trace_format fmt)
{
	double rate[RUNS];
	char label[64];
	size_t len;
	char *buf = generate(fmt, &len);

	for (unsigned i = 0; i < RUNS; i++)
		rate[i] = NR_RECORDS / time_read(buf, len) / 1e6;
	snprintf(label, sizeof(label), "trace_read_%s", name);
	bench_report(label, "Mrecords/s", rate, RUNS);
	snprintf(label, sizeof(label), "trace_%s_bytes_per_record", name);
	bench_report_value(label, "B", (double)len / NR_RECORDS);
	free(buf);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	bench_format("text", TRACE_FORMAT_TEXT);
	bench_format("binary", TRACE_FORMAT_BINARY);
	return bench_finish();
}
