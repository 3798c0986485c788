/*
 * compare.c - `shadowmmu compare`: the same input on each MMU, side by side
 * (docs/compare.md).
 *
 * The input is produced once - a workload's trace generated, a file read -
 * and every record goes to each mode in turn (in batches, so each mode runs
 * a stretch of trace at a time: see "lock step" below).  The modes must
 * agree on what the guest saw: every expectation holds in each, the digest
 * of every value read or fetched (exec_counts.reads_digest) is equal after
 * every record (so the first diverging record is named), and so is the
 * digest of the final guest memory (exec_memory_digest).  Then one table:
 * a row per counter (exits by reason, walk references, faults, TLB misses,
 * leaves, metadata, wall time, the cost model of docs/cost.md), a column per
 * mode and the ratio tdp/shadow; as text, --json or --csv.
 *
 * Exit status: 0 the modes agree; 1 a guest-visible difference (a mode's
 * expectation fails, or the digests differ); 2 usage or input errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shadowmmu/shadowmmu.h>

#include "cli.h"
#include "common.h"
#include "trace/cost.h"
#include "trace/executor.h"
#include "trace/trace.h"
#include "workload.h"

#define CMP_MAX_MODES 2

enum cmp_format { CMP_TEXT, CMP_JSON, CMP_CSV };

struct cmp_args {
	struct run_args run; /* the input, run options, workload options, --cost */
	enum smmu_mmu_mode modes[CMP_MAX_MODES];
	unsigned nr_modes;
	enum cmp_format format;
};

/* One mode's run. */
struct cmp_run {
	enum smmu_mmu_mode mmu;
	int err; /* the executor's error, 0 if every record ran and held */
	char msg[512];
	uint64_t failed_record; /* records run when it failed, the failing one included */
	double seconds; /* wall time of this mode's records */
	struct exec_counts c;
	struct smmu_stats st;
	struct cost_estimate cost;
};

static void usage_compare(FILE *out)
{
	fprintf(out,
	        "usage: shadowmmu compare TRACE|WORKLOAD [--mmu shadow,tdp] [--json|--csv]\n"
	        "                         [--cost NAME=V,...] [run options] [workload options]\n"
	        "\n"
	        "Run TRACE (or the trace WORKLOAD generates, once) on each MMU, check that the\n"
	        "guest saw the same thing in each (every expectation, a digest of every value\n"
	        "read and of the final guest memory), then print one table: a row per\n"
	        "counter and the cost-model estimate (docs/cost.md), a column per MMU and\n"
	        "the ratio tdp/shadow (docs/compare.md).\n"
	        "\n"
	        "  --mmu LIST           the MMUs, in column order (default shadow,tdp)\n"
	        "  --json               one JSON object\n"
	        "  --csv                CSV: counter,unit,MODE...,tdp_over_shadow\n"
	        "  --cost NAME=V,...    cost-model parameters, e.g. exit=1200,ref=40\n"
	        "\n"
	        "The options of `run` apply to every mode (`shadowmmu run --help`).\n"
	        "exit status: 0 the MMUs agree, 1 a guest-visible difference (an expectation\n"
	        "fails in a mode, or the digests differ), 2 usage, malformed input, I/O error\n");
}

/* "shadow,tdp" -> modes; false with a message for an unknown, repeated or missing one. */
static bool parse_modes(const char *list, struct cmp_args *a)
{
	char buf[64], *save = NULL;

	a->nr_modes = 0;
	if (!list || strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "shadowmmu compare: --mmu needs a list such as shadow,tdp\n");
		return false;
	}
	strcpy(buf, list);
	for (char *m = strtok_r(buf, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		enum smmu_mmu_mode mode;

		if (!strcmp(m, "shadow"))
			mode = SMMU_MMU_SHADOW;
		else if (!strcmp(m, "tdp"))
			mode = SMMU_MMU_TDP;
		else {
			fprintf(stderr, "shadowmmu compare: unknown MMU '%s' (shadow, tdp)\n", m);
			return false;
		}
		for (unsigned i = 0; i < a->nr_modes; i++) {
			if (a->modes[i] == mode) {
				fprintf(stderr, "shadowmmu compare: MMU '%s' given twice\n", m);
				return false;
			}
		}
		a->modes[a->nr_modes++] = mode;
	}
	if (!a->nr_modes) {
		fprintf(stderr, "shadowmmu compare: --mmu names no MMU\n");
		return false;
	}
	return true;
}

/* Our options out of argv, the rest to parse_run_args: 0, EXIT_USAGE, or -1 after --help. */
static int parse_compare_args(int argc, char **argv, struct cmp_args *a)
{
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int n = 0, ret;

	if (!rest)
		return EXIT_USAGE;
	a->modes[0] = SMMU_MMU_SHADOW;
	a->modes[1] = SMMU_MMU_TDP;
	a->nr_modes = 2;
	a->format = CMP_TEXT;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage_compare(stdout);
			free(rest);
			return -1;
		} else if (!strcmp(argv[i], "--mmu")) {
			if (!parse_modes(i + 1 < argc ? argv[++i] : NULL, a)) {
				free(rest);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "--csv")) {
			a->format = argv[i][2] == 'j' ? CMP_JSON : CMP_CSV;
		} else {
			rest[n++] = argv[i];
		}
	}
	ret = parse_run_args(n, rest, "compare", &a->run);
	free(rest);
	if (!ret && a->run.dot) {
		fprintf(stderr, "shadowmmu compare: --dot is for `run` only\n");
		ret = EXIT_USAGE;
	}
	return ret;
}

static const char *mode_name(const struct cmp_run *m)
{
	return smmu_mmu_mode_name(m->mmu);
}

/* ---- the modes in lock step ----------------------------------------------- */
/*
 * Records go to every mode in batches: mode 0 runs the batch and notes its
 * reads digest after each record, each other mode runs it and compares, so
 * the first record whose outcome differs is known exactly, and each mode's
 * wall time is taken per batch (two clock reads per batch, not per record).
 * A record whose expectation lists ranges points into its source's storage,
 * valid only during the call: the batch runs before the sink returns.
 */
#define CMP_BATCH 8192

struct cmp_lockstep {
	const struct cmp_args *a;
	struct cmp_run *runs;
	struct executor *e[CMP_MAX_MODES];
	struct trace_record batch[CMP_BATCH];
	uint64_t digest0[CMP_BATCH]; /* mode 0's reads digest after each record */
	bool ok0[CMP_BATCH];         /* mode 0 still without error there */
	size_t n;
	uint64_t records;           /* records run before this batch */
	char diverged[512];         /* the first record whose outcome differs */
};

static bool all_failed(const struct cmp_lockstep *ls)
{
	for (unsigned i = 0; i < ls->a->nr_modes; i++)
		if (!ls->runs[i].err)
			return false;
	return true;
}

/* Mode i's result of batch record j: a first failure is noted, a digest compared. */
static void after_record(struct cmp_lockstep *ls, unsigned i, size_t j, int ret)
{
	struct cmp_run *m = &ls->runs[i];
	uint64_t d = exec_counts(ls->e[i])->reads_digest;

	if (ret && !m->err) {
		m->err = ret;
		m->failed_record = ls->records + j + 1;
		snprintf(m->msg, sizeof(m->msg), "%s", exec_message(ls->e[i]));
	}
	if (i == 0) {
		ls->digest0[j] = d;
		ls->ok0[j] = !m->err;
	} else if (!m->err && ls->ok0[j] && d != ls->digest0[j] && !*ls->diverged) {
		snprintf(ls->diverged, sizeof(ls->diverged),
		         "the guest saw a difference at record %" PRIu64 " (%s:%" PRIu64
		         ", %s): %s and %s read different results",
		         ls->records + j + 1, ls->a->run.trace, ls->batch[j].line,
		         trace_kind_name(ls->batch[j].kind), mode_name(&ls->runs[0]), mode_name(m));
	}
}

static int flush_batch(struct cmp_lockstep *ls)
{
	for (unsigned i = 0; i < ls->a->nr_modes; i++) {
		double start = smmu_now_seconds();

		for (size_t j = 0; j < ls->n; j++)
			after_record(ls, i, j, exec_record(ls->e[i], &ls->batch[j]));
		ls->runs[i].seconds += smmu_now_seconds() - start;
	}
	ls->records += ls->n;
	ls->n = 0;
	/* Nothing more to learn once the outcomes differ or every mode failed. */
	return *ls->diverged || all_failed(ls) ? -ECANCELED : 0;
}

static int sink_lockstep(void *ctx, const struct trace_record *rec)
{
	struct cmp_lockstep *ls = ctx;

	ls->batch[ls->n++] = *rec;
	if (ls->n == CMP_BATCH || rec->expect.kind == TRACE_EXPECT_LIST)
		return flush_batch(ls);
	return 0;
}

/* A trace file (or stdin), read once: 0, or EXIT_USAGE after a reader error. */
static int feed_file(struct cmp_lockstep *ls)
{
	const char *name = ls->a->run.trace;
	struct trace_reader *r = NULL;
	struct trace_record rec;
	FILE *f = open_in(name);
	int ret, rd;

	if (!f)
		return EXIT_USAGE;
	ret = exec_open_reader(&r, f, name);
	while (!ret && (rd = trace_read(r, &rec)) == 1)
		ret = sink_lockstep(ls, &rec);
	if (!ret && rd < 0) {
		const char *why = trace_reader_error(r);

		fprintf(stderr, "shadowmmu compare: %s\n", why && *why ? why : strerror(-rd));
		ret = EXIT_USAGE;
	} else if (ret && ret != -ECANCELED) {
		fprintf(stderr, "shadowmmu compare: %s: %s\n", name, strerror(-ret));
		ret = EXIT_USAGE;
	}
	trace_reader_close(r);
	if (f != stdin)
		fclose(f);
	return ret == -ECANCELED ? 0 : ret;
}

/* A workload, generated once, straight into the modes. */
static int feed_workload(struct cmp_lockstep *ls)
{
	int ret = workload_generate(ls->a->run.trace, &ls->a->run.wp, sink_lockstep, ls);

	if (ret && ret != -ECANCELED) {
		fprintf(stderr, "shadowmmu compare: workload %s: %s\n", ls->a->run.trace,
		        workload_error(ret));
		return EXIT_USAGE;
	}
	return 0;
}

/* After a mode ran every record: the memory digest, the counters, the estimate. */
static void finish_run(struct cmp_run *m, struct executor *e, const struct cost_params *cp)
{
	int ret = exec_memory_digest(e, NULL);

	if (!ret)
		ret = smmu_vm_get_stats(exec_vm(e), &m->st);
	if (ret) {
		m->err = ret;
		snprintf(m->msg, sizeof(m->msg), "cannot read the final guest state: %s",
		         strerror(-ret));
		return;
	}
	m->c = *exec_counts(e);
	cost_estimate(cp, &m->st, &m->cost);
}

/* Run every mode over the input: 0, or EXIT_USAGE (input or resource errors, reported). */
static int run_modes(const struct cmp_args *a, struct cmp_run *runs, char *diverged, size_t len)
{
	struct cmp_lockstep *ls = calloc(1, sizeof(*ls));
	const char *name = a->run.trace;
	int ret = ls ? 0 : -ENOMEM;

	for (unsigned i = 0; !ret && i < a->nr_modes; i++) {
		struct exec_opts opts = a->run.opts;

		opts.mmu = runs[i].mmu = a->modes[i];
		opts.mmu_forced = true;
		ret = exec_create(&ls->e[i], name, &opts);
	}
	if (ret) {
		fprintf(stderr, "shadowmmu compare: %s\n", strerror(-ret));
		ret = EXIT_USAGE;
		goto out;
	}
	ls->a = a;
	ls->runs = runs;
	ret = workload_find(name) >= 0 && access(name, F_OK) != 0 ? feed_workload(ls) : feed_file(ls);
	if (!ret && ls->n)
		flush_batch(ls);
	snprintf(diverged, len, "%s", ls->diverged);
	for (unsigned i = 0; !ret && i < a->nr_modes; i++)
		if (!runs[i].err)
			finish_run(&runs[i], ls->e[i], &a->run.cost);
out:
	for (unsigned i = 0; ls && i < a->nr_modes; i++)
		exec_destroy(ls->e[i]);
	free(ls);
	return ret;
}

/* ---- the verdict -------------------------------------------------------- */
/* Failed modes: one line each; a one-mode failure names where the others passed. */
static int report_failures(const struct cmp_run *runs, unsigned n)
{
	unsigned failed = 0;
	int status = EXIT_MISMATCH;

	for (unsigned i = 0; i < n; i++) {
		if (!runs[i].err)
			continue;
		failed++;
		fprintf(stderr, "shadowmmu compare: %s: %s\n", mode_name(&runs[i]), runs[i].msg);
		if (exit_status(runs[i].err) == EXIT_USAGE)
			status = EXIT_USAGE;
	}
	for (unsigned i = 0; failed && failed < n && i < n; i++) {
		if (runs[i].err && runs[i].failed_record && exit_status(runs[i].err) == EXIT_MISMATCH)
			fprintf(stderr,
			        "shadowmmu compare: the MMUs differ: %s first diverges at record %" PRIu64
			        " (%s), which every other MMU ran as the trace expects\n",
			        mode_name(&runs[i]), runs[i].failed_record, runs[i].msg);
	}
	return failed ? status : 0;
}

/* Every mode ran; do the digests agree with the first mode's? */
static int check_digests(const struct cmp_run *runs, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		const struct exec_counts *a = &runs[0].c, *b = &runs[i].c;

		if (a->reads_digest == b->reads_digest && a->memory_digest == b->memory_digest &&
		    a->expectations == b->expectations)
			continue;
		fprintf(stderr,
		        "shadowmmu compare: the guest saw a difference between %s and %s: reads digest "
		        "0x%016" PRIx64 " / 0x%016" PRIx64 ", memory digest 0x%016" PRIx64
		        " / 0x%016" PRIx64 ", expectations %" PRIu64 " / %" PRIu64 "\n",
		        mode_name(&runs[0]), mode_name(&runs[i]), a->reads_digest, b->reads_digest,
		        a->memory_digest, b->memory_digest, a->expectations, b->expectations);
		return EXIT_MISMATCH;
	}
	return 0;
}

/* ---- the table ---------------------------------------------------------- */
struct cmp_row {
	const char *name, *unit;
	bool integer;
	double v[CMP_MAX_MODES];
};

#define CMP_MAX_ROWS 32

static void add_row(struct cmp_row *rows, size_t *n, const char *name, const char *unit,
                    bool integer, const struct cmp_run *runs, unsigned nr,
                    double (*get)(const struct cmp_run *, const void *), const void *arg)
{
	struct cmp_row *r = &rows[(*n)++];

	r->name = name;
	r->unit = unit;
	r->integer = integer;
	for (unsigned i = 0; i < nr; i++)
		r->v[i] = get(&runs[i], arg);
}

/* A counter of struct smmu_stats, found by name in the summary's list. */
static double get_stat(const struct cmp_run *m, const void *name)
{
	struct figure f[64];
	size_t n = collect_stats(&m->st, f);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i].name, name))
			return (double)f[i].value;
	return 0;
}

static double get_other(const struct cmp_run *m, const void *what)
{
	const char *w = what;

	if (!strcmp(w, "records"))
		return (double)m->c.records;
	if (!strcmp(w, "guest_accesses"))
		return (double)m->c.guest_accesses;
	if (!strcmp(w, "exits"))
		return (double)m->cost.exits;
	if (!strcmp(w, "meta"))
		return m->st.guest_pages ? (double)metadata_bytes(&m->st) / (double)m->st.guest_pages
		                         : 0;
	if (!strcmp(w, "seconds"))
		return m->seconds;
	if (!strcmp(w, "cycles"))
		return m->cost.cycles;
	return m->cost.seconds;
}

static const char *const stat_rows[][2] = {
	{"exits_pf", "exits"},          {"exits_pte_write", "exits"},
	{"exits_cr3", "exits"},         {"exits_invlpg", "exits"},
	{"exits_mmio", "exits"},        {"exits_ept_violation", "exits"},
	{"exits_ept_misconfig", "exits"},
};

static const char *const stat_rows2[][2] = {
	{"walk_refs", "refs"},   {"walk_refs_max", "refs"}, {"mmu_exits", "exits"},
	{"pf_fixed", "faults"},  {"pf_guest", "faults"},    {"tlb_misses", "misses"},
	{"pages_4k", "leaves"},  {"pages_2m", "leaves"},
};

static size_t build_rows(struct cmp_row *rows, const struct cmp_run *runs, unsigned nr)
{
	size_t n = 0;

	add_row(rows, &n, "records", "records", true, runs, nr, get_other, "records");
	add_row(rows, &n, "guest_accesses", "accesses", true, runs, nr, get_other, "guest_accesses");
	for (size_t i = 0; i < sizeof(stat_rows) / sizeof(stat_rows[0]); i++)
		add_row(rows, &n, stat_rows[i][0], stat_rows[i][1], true, runs, nr, get_stat,
		        stat_rows[i][0]);
	add_row(rows, &n, "exits", "exits", true, runs, nr, get_other, "exits");
	for (size_t i = 0; i < sizeof(stat_rows2) / sizeof(stat_rows2[0]); i++)
		add_row(rows, &n, stat_rows2[i][0], stat_rows2[i][1], true, runs, nr, get_stat,
		        stat_rows2[i][0]);
	add_row(rows, &n, "metadata_per_guest_page", "bytes/page", false, runs, nr, get_other,
	        "meta");
	add_row(rows, &n, "wall_time", "s", false, runs, nr, get_other, "seconds");
	add_row(rows, &n, "cost_cycles", "cycles", true, runs, nr, get_other, "cycles");
	add_row(rows, &n, "cost_time", "s", false, runs, nr, get_other, "cost_seconds");
	return n;
}

/* The column of each mode; ratio: tdp/shadow when both ran, else none. */
static int mode_column(const struct cmp_args *a, enum smmu_mmu_mode mode)
{
	for (unsigned i = 0; i < a->nr_modes; i++)
		if (a->modes[i] == mode)
			return (int)i;
	return -1;
}

static bool row_ratio(const struct cmp_args *a, const struct cmp_row *r, double *out)
{
	int s = mode_column(a, SMMU_MMU_SHADOW), t = mode_column(a, SMMU_MMU_TDP);

	if (s < 0 || t < 0 || r->v[s] == 0)
		return false;
	*out = r->v[t] / r->v[s];
	return true;
}

static bool has_ratio(const struct cmp_args *a)
{
	return mode_column(a, SMMU_MMU_SHADOW) >= 0 && mode_column(a, SMMU_MMU_TDP) >= 0;
}

static void print_value(const struct cmp_row *r, double v, int width)
{
	if (r->integer)
		printf("%*.0f", width, v);
	else
		printf("%*.6g", width, v);
}

static void print_table_text(const struct cmp_args *a, const struct cmp_run *runs,
                             const struct cmp_row *rows, size_t n)
{
	const struct cost_params *cp = &a->run.cost;

	printf("compare %s: ", runs[0].c.records ? a->run.trace : "-");
	for (unsigned i = 0; i < a->nr_modes; i++)
		printf("%s%s", i ? " and " : "", mode_name(&runs[i]));
	printf(" agree: %" PRIu64 " records, %" PRIu64 " expectations hold in each; reads digest "
	       "0x%016" PRIx64 ", memory digest 0x%016" PRIx64 "\n",
	       runs[0].c.records, runs[0].c.expectations, runs[0].c.reads_digest,
	       runs[0].c.memory_digest);
	printf("cost model: exit %g cycles, walk reference %g cycles, %g GHz (docs/cost.md)\n",
	       cp->exit, cp->ref, cp->ghz);
	printf("%-24s %-10s", "counter", "unit");
	for (unsigned i = 0; i < a->nr_modes; i++)
		printf(" %14s", mode_name(&runs[i]));
	printf(has_ratio(a) ? " %11s\n" : "\n", "tdp/shadow");
	for (size_t j = 0; j < n; j++) {
		double q = 0;

		printf("%-24s %-10s", rows[j].name, rows[j].unit);
		for (unsigned i = 0; i < a->nr_modes; i++) {
			putchar(' ');
			print_value(&rows[j], rows[j].v[i], 14);
		}
		if (has_ratio(a) && row_ratio(a, &rows[j], &q))
			printf(" %11.3f", q);
		else if (has_ratio(a))
			printf(" %11s", "-");
		putchar('\n');
	}
}

static void print_table_csv(const struct cmp_args *a, const struct cmp_run *runs,
                            const struct cmp_row *rows, size_t n)
{
	printf("counter,unit");
	for (unsigned i = 0; i < a->nr_modes; i++)
		printf(",%s", mode_name(&runs[i]));
	printf(has_ratio(a) ? ",tdp_over_shadow\n" : "\n");
	for (size_t j = 0; j < n; j++) {
		double q = 0;

		printf("%s,%s", rows[j].name, rows[j].unit);
		for (unsigned i = 0; i < a->nr_modes; i++) {
			putchar(',');
			print_value(&rows[j], rows[j].v[i], 0);
		}
		if (has_ratio(a) && row_ratio(a, &rows[j], &q))
			printf(",%.6g", q);
		else if (has_ratio(a))
			putchar(',');
		putchar('\n');
	}
}

static void print_table_json(const struct cmp_args *a, const struct cmp_run *runs,
                             const struct cmp_row *rows, size_t n)
{
	char cost[1024];

	printf("{\"input\":");
	print_json_string(a->run.trace);
	printf(",\"ok\":true,\"modes\":[");
	for (unsigned i = 0; i < a->nr_modes; i++)
		printf("%s\"%s\"", i ? "," : "", mode_name(&runs[i]));
	printf("],\"records\":%" PRIu64 ",\"expectations\":%" PRIu64
	       ",\"reads_digest\":\"0x%016" PRIx64 "\",\"memory_digest\":\"0x%016" PRIx64 "\",\"rows\":[",
	       runs[0].c.records, runs[0].c.expectations, runs[0].c.reads_digest,
	       runs[0].c.memory_digest);
	for (size_t j = 0; j < n; j++) {
		double q = 0;

		printf("%s{\"counter\":\"%s\",\"unit\":\"%s\"", j ? "," : "", rows[j].name, rows[j].unit);
		for (unsigned i = 0; i < a->nr_modes; i++) {
			printf(",\"%s\":", mode_name(&runs[i]));
			print_value(&rows[j], rows[j].v[i], 0);
		}
		if (has_ratio(a) && row_ratio(a, &rows[j], &q))
			printf(",\"tdp_over_shadow\":%.6g}", q);
		else
			printf(has_ratio(a) ? ",\"tdp_over_shadow\":null}" : "}");
	}
	printf("],\"cost\":{");
	for (unsigned i = 0; i < a->nr_modes; i++) {
		cost_format_json(&a->run.cost, &runs[i].cost, cost, sizeof(cost));
		printf("%s\"%s\":%s", i ? "," : "", mode_name(&runs[i]), cost);
	}
	printf("}}\n");
}

static void print_table(const struct cmp_args *a, const struct cmp_run *runs)
{
	struct cmp_row rows[CMP_MAX_ROWS];
	size_t n = build_rows(rows, runs, a->nr_modes);

	if (a->format == CMP_JSON)
		print_table_json(a, runs, rows, n);
	else if (a->format == CMP_CSV)
		print_table_csv(a, runs, rows, n);
	else
		print_table_text(a, runs, rows, n);
}

int cmd_compare(int argc, char **argv)
{
	struct cmp_args a = {0};
	struct cmp_run runs[CMP_MAX_MODES] = {0};
	char diverged[512] = "";
	int ret = parse_compare_args(argc, argv, &a);

	if (ret)
		return ret < 0 ? 0 : ret;
	ret = run_modes(&a, runs, diverged, sizeof(diverged));
	if (!ret)
		ret = report_failures(runs, a.nr_modes);
	if (!ret && *diverged) {
		fprintf(stderr, "shadowmmu compare: %s\n", diverged);
		ret = EXIT_MISMATCH;
	}
	if (!ret)
		ret = check_digests(runs, a.nr_modes);
	if (!ret)
		print_table(&a, runs);
	return ret;
}
