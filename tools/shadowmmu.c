/*
 * shadowmmu.c - the command line tool: run and check traces on the shadow
 * MMU, convert traces between text and binary, generate the guest-OS model's
 * workloads (docs/cli.md, docs/workloads.md).  `run` and `check` take a
 * trace file or a workload name (a file of that name wins); a workload runs
 * record by record from the generator, with no file in between.
 *
 * Exit status: 0 ok, 1 an expectation does not hold (or the MMU audit
 * failed), 2 usage, malformed trace, I/O or resource error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shadowmmu/shadowmmu.h>

#include "common.h"

#include "cli.h"
#include "trace/cost.h"
#include "trace/executor.h"
#include "trace/trace.h"
#include "workload.h"

static void list_workloads(FILE *out)
{
	unsigned nr;
	const struct workload_info *w = workload_list(&nr);

	fprintf(out, "workloads (docs/workloads.md):\n");
	for (unsigned i = 0; i < nr; i++)
		fprintf(out, "  %-10s %s\n", w[i].name, w[i].summary);
}

static const char workload_options[] =
    "workload options:\n"
    "  --size X             scale factor (default 1.0)\n"
    "  --seed N             random seed (default 1)\n"
    "  --vcpus N            vCPUs (default 1, at most 64)\n"
    "  --mode M             paging: 32bit, pae, 4level (default), 5level\n"
    "  --pcid               PCIDs with no-flush cr3 switches (4level/5level)\n"
    "  --gbpages            1 GiB pages in the kernel's direct map (4level/5level)\n";

static void usage(FILE *out)
{
	fprintf(out, "usage: shadowmmu <command> [options]\n"
	             "\n"
	             "commands:\n"
	             "  run TRACE [options]      run a trace, check expectations, print a summary\n"
	             "  check TRACE [options]    exit 0 only if every expectation holds (quiet)\n"
	             "  convert IN OUT [--binary|--text]   convert a trace (default: --binary)\n"
	             "  gen WORKLOAD -o FILE [--binary] [workload options]\n"
	             "                           write a workload's trace (default: text)\n"
	             "  compare TRACE [options]  run each MMU on the same input, one table (docs/compare.md)\n"
	             "  version                  print the version\n"
	             "  help                     this text\n"
	             "\n"
	             "`shadowmmu COMMAND --help` describes a command; TRACE may be a workload:\n"
	             "\n");
	list_workloads(out);
}

/* What each shortcut skips, in SMMU_SHORTCUT_* bit order (shadowmmu/shortcuts.h). */
static const char *const shortcut_what[SMMU_NR_SHORTCUTS] = {
#define SHORTCUT_WHAT(e, name, what) what,
    SMMU_SHORTCUT_LIST(SHORTCUT_WHAT)
#undef SHORTCUT_WHAT
};

/* `--no-NAME` of each shortcut, its name's underscores as dashes. */
static void print_shortcut_options(FILE *out)
{
	for (unsigned i = 0; i < SMMU_NR_SHORTCUTS; i++) {
		char flag[64];
		int n = snprintf(flag, sizeof(flag), "--no-%s", smmu_shortcut_name(1u << i));

		for (int j = 0; j < n; j++)
			flag[j] = flag[j] == '_' ? '-' : flag[j];
		fprintf(out, "  %-20s switch off: %s\n", flag, shortcut_what[i]);
	}
	fprintf(out, "  %-20s switch off every shortcut above (KVM's algorithm only)\n",
	        "--no-shortcuts");
}

void usage_run(FILE *out, const char *cmd)
{
	fprintf(out,
	        "usage: shadowmmu %s TRACE|WORKLOAD [options]\n"
	        "\n"
	        "Run TRACE (text or binary, '-' for stdin) or the trace WORKLOAD generates\n"
	        "on a shadow-MMU VM and check every `=> EXPECT`; stop at the first\n"
	        "mismatch.%s\n"
	        "\n"
	        "options:\n"
	        "  --mmu shadow|tdp     the MMU: shadow paging (default) or TDP (EPT, docs/tdp.md);\n"
	        "                       overrides the trace's mmu record\n"
	        "  --no-ept-ad          TDP: EPT without accessed/dirty flags\n"
	        "  --huge-backing       back memslots with 2 MiB host pages (huge sptes possible)\n"
	        "  --nx-huge-pages      TDP: huge pages not executable, split on a fetch (docs/tdp.md)\n"
	        "  --slot-zap-range     TDP: a deleted or moved slot zaps its own range, not everything\n"
	        "  --no-unsync          never let shadow pages go unsync\n"
	        "  --max-mmu-pages N    cap the number of shadow pages\n"
	        "  --tlb SETSxWAYS      vCPU TLB geometry (default 64x4)\n"
	        "  --audit              check every MMU invariant after each record\n"
	        "  --arena-mb N         host memory reserved for the VM, MiB\n"
	        "  --dot FILE           write the shadow page DAG of the final roots (Graphviz)\n"
	        "  --cost NAME=V,...    cost-model parameters in cycles, e.g. exit=1200,ref=40\n"
	        "                       (docs/cost.md)\n"
	        "%s",
	        cmd, strcmp(cmd, "run") ? " Prints nothing unless it fails." : " Prints a summary.",
	        strcmp(cmd, "run")
	            ? ""
	            : "  --json               print the summary as one JSON object\n");
	fprintf(out, "\nshortcuts beyond KVM's algorithm (docs/mmu.md; all on by default):\n");
	print_shortcut_options(out);
	fprintf(out, "\n"
	             "exit status: 0 ok, 1 expectation mismatch or audit failure,\n"
	             "2 usage, malformed trace, I/O error\n");
	fprintf(out, "\n%s\n", workload_options);
	list_workloads(out);
}

static bool parse_mmu(const char *s, enum smmu_mmu_mode *mode)
{
	for (enum smmu_mmu_mode m = SMMU_MMU_SHADOW; m <= SMMU_MMU_TDP; m++) {
		if (!strcmp(s, smmu_mmu_mode_name(m))) {
			*mode = m;
			return true;
		}
	}
	return false;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

static bool parse_double(const char *s, double *v)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtod(s, &end);
	return !errno && !*end;
}

/* One workload option at argv[*i]: 1 parsed, 0 not a workload option, -1 bad value. */
static int parse_workload_opt(const char *s, const char *next, int *i, struct workload_params *p)
{
	uint64_t v;

	if (!strcmp(s, "--pcid"))
		p->pcid = true;
	else if (!strcmp(s, "--gbpages"))
		p->gbpages = true;
	else if (!strcmp(s, "--size"))
		return parse_double(next, &p->size) && p->size > 0 ? (++*i, 1) : -1;
	else if (!strcmp(s, "--seed"))
		return parse_u64(next, &p->seed) ? (++*i, 1) : -1;
	else if (!strcmp(s, "--vcpus"))
		return parse_u64(next, &v) && v && v <= WORKLOAD_MAX_VCPUS
		           ? (p->vcpus = (unsigned)v, ++*i, 1)
		           : -1;
	else if (!strcmp(s, "--mode"))
		return next && !workload_parse_mode(next, &p->mode) ? (++*i, 1) : -1;
	else
		return 0;
	return 1;
}

static bool parse_tlb(const char *s, unsigned *sets, unsigned *ways)
{
	char *end;
	unsigned long a, b;

	if (!s)
		return false;
	a = strtoul(s, &end, 10);
	if (end == s || (*end != 'x' && *end != 'X'))
		return false;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (end == s || *end || !a || !b || a > 1u << 20 || b > 1024)
		return false;
	*sets = (unsigned)a;
	*ways = (unsigned)b;
	return true;
}

/* Does `flag` (after "--no-") name the shortcut `name`, dashes for underscores? */
static bool flag_names(const char *flag, const char *name)
{
	for (; *flag && *name; flag++, name++)
		if (*flag != (*name == '_' ? '-' : *name))
			return false;
	return !*flag && !*name;
}

/* --no-shortcuts or --no-NAME: clear the bits in *mask; false if s is neither. */
static bool parse_shortcut_opt(const char *s, uint32_t *mask)
{
	if (!strcmp(s, "--no-shortcuts")) {
		*mask = 0;
		return true;
	}
	if (strncmp(s, "--no-", 5))
		return false;
	for (unsigned i = 0; i < SMMU_NR_SHORTCUTS; i++) {
		if (flag_names(s + 5, smmu_shortcut_name(1u << i))) {
			*mask &= ~(1u << i);
			return true;
		}
	}
	return false;
}

/* Returns 0, or EXIT_USAGE after printing why; 1 (as -1) for --help. */
int parse_run_args(int argc, char **argv, const char *cmd, struct run_args *a)
{
	uint64_t v;

	exec_opts_init(&a->opts);
	workload_params_init(&a->wp);
	cost_params_init(&a->cost);
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		int w = parse_workload_opt(s, next, &i, &a->wp);

		if (w > 0)
			continue;
		if (w < 0) {
			fprintf(stderr, "shadowmmu %s: bad value for '%s'\n", cmd, s);
			return EXIT_USAGE;
		}
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			usage_run(stdout, cmd);
			return -1;
		} else if (!strcmp(s, "--json") && !strcmp(cmd, "run")) {
			a->json = true;
		} else if (!strcmp(s, "--no-unsync")) {
			a->opts.unsync = false;
		} else if (!strcmp(s, "--mmu") && next && parse_mmu(next, &a->opts.mmu)) {
			a->opts.mmu_forced = true;
			i++;
		} else if (!strcmp(s, "--no-ept-ad")) {
			a->opts.ept_ad = false;
		} else if (!strcmp(s, "--huge-backing")) {
			a->opts.huge_backing = true;
		} else if (!strcmp(s, "--nx-huge-pages")) {
			a->opts.nx_huge_pages = true;
		} else if (!strcmp(s, "--slot-zap-range")) {
			a->opts.slot_zap_range = true;
		} else if (parse_shortcut_opt(s, &a->opts.shortcuts)) {
			continue;
		} else if (!strcmp(s, "--audit")) {
			a->opts.audit = true;
		} else if (!strcmp(s, "--cost")) {
			char why[256];

			if (cost_parse(&a->cost, next, why, sizeof(why))) {
				fprintf(stderr, "shadowmmu %s: --cost: %s\n", cmd, next ? why : "no value");
				return EXIT_USAGE;
			}
			i++;
		} else if (!strcmp(s, "--dot") && next) {
			a->dot = next;
			i++;
		} else if (!strcmp(s, "--max-mmu-pages") && parse_u64(next, &v) && v) {
			a->opts.n_max_mmu_pages = v;
			i++;
		} else if (!strcmp(s, "--arena-mb") && parse_u64(next, &v) && v &&
		           v < (1ull << 24)) {
			a->opts.arena_bytes = v << 20;
			i++;
		} else if (!strcmp(s, "--tlb") &&
		           parse_tlb(next, &a->opts.tlb_sets, &a->opts.tlb_ways)) {
			i++;
		} else if ((s[0] != '-' || !strcmp(s, "-")) && !a->trace) {
			a->trace = s;
		} else {
			fprintf(stderr, "shadowmmu %s: bad option or argument '%s'\n", cmd, s);
			usage_run(stderr, cmd);
			return EXIT_USAGE;
		}
	}
	if (!a->trace) {
		fprintf(stderr, "shadowmmu %s: no trace given\n", cmd);
		usage_run(stderr, cmd);
		return EXIT_USAGE;
	}
	return 0;
}

FILE *open_in(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;

	if (!f)
		fprintf(stderr, "shadowmmu: %s: %s\n", path, strerror(errno));
	return f;
}

/* ---- summary ------------------------------------------------------------ */
size_t collect_stats(const struct smmu_stats *st, struct figure *f)
{
	size_t n = 0;

#define SMMU_STAT_FIGURE(field) f[n++] = (struct figure){#field, st->field};
	SMMU_MMU_STATS(SMMU_STAT_FIGURE)
	SMMU_STAT_FIGURE(tlb_hits)
	SMMU_STAT_FIGURE(tlb_misses)
	SMMU_STAT_FIGURE(hw_walks)
	SMMU_STAT_FIGURE(leaf_handbacks)
	SMMU_STAT_FIGURE(cached_walks)
	SMMU_STAT_FIGURE(walk_refs)
	SMMU_STAT_FIGURE(walk_refs_max)
	SMMU_STAT_FIGURE(mmu_exits)
	SMMU_STAT_FIGURE(exits_ept_violation)
	SMMU_STAT_FIGURE(exits_ept_misconfig)
	SMMU_STAT_FIGURE(exits_pf)
	SMMU_STAT_FIGURE(exits_pte_write)
	SMMU_STAT_FIGURE(exits_cr3)
	SMMU_STAT_FIGURE(exits_invlpg)
	SMMU_STAT_FIGURE(exits_mmio)
	SMMU_STAT_FIGURE(mmio_reads)
	SMMU_STAT_FIGURE(mmio_writes)
	SMMU_STAT_FIGURE(shadow_pages)
	SMMU_STAT_FIGURE(bytes_sp_headers)
	SMMU_STAT_FIGURE(bytes_spt_frames)
	SMMU_STAT_FIGURE(bytes_shadowed)
	SMMU_STAT_FIGURE(bytes_rmap_desc)
	SMMU_STAT_FIGURE(bytes_memslot_meta)
	SMMU_STAT_FIGURE(bytes_guest_frames)
	SMMU_STAT_FIGURE(guest_pages)
#undef SMMU_STAT_FIGURE
	return n;
}

uint64_t metadata_bytes(const struct smmu_stats *st)
{
	return st->bytes_sp_headers + st->bytes_spt_frames + st->bytes_shadowed +
	       st->bytes_rmap_desc + st->bytes_memslot_meta;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* The shortcuts the run had on, by name, separated by `sep` ("none" for none in text). */
static void print_shortcuts(uint32_t mask, const char *sep, bool quoted)
{
	const char *pre = "";

	for (unsigned i = 0; i < SMMU_NR_SHORTCUTS; i++) {
		if (!(mask & (1u << i)))
			continue;
		printf(quoted ? "%s\"%s\"" : "%s%s", pre, smmu_shortcut_name(1u << i));
		pre = sep;
	}
	if (!quoted && !*pre)
		printf("none");
}

static void print_text(const char *trace, const struct exec_counts *c, const struct smmu_stats *st,
                       const struct smmu_vm_config *o, const struct cost_params *cp)
{
	struct figure f[64];
	size_t n = collect_stats(st, f);
	uint64_t meta = metadata_bytes(st);
	struct cost_estimate ce;
	char cost[256];

	cost_estimate(cp, st, &ce);
	cost_format_text(cp, &ce, cost, sizeof(cost));

	printf("trace            %s: all %" PRIu64 " expectations hold\n", trace, c->expectations);
	printf("records          %" PRIu64 "\n", c->records);
	printf("guest accesses   %" PRIu64 "\n", c->guest_accesses);
	printf("guest faults     %" PRIu64 " (pf %" PRIu64 ", gp %" PRIu64 ", ud %" PRIu64 ")\n",
	       c->guest_faults, c->pf, c->gp, c->ud);
	printf("mmio accesses    %" PRIu64 "\n", c->mmio);
	printf("mmu exits        %" PRIu64 "\n", st->mmu_exits);
	printf("wall time        %.6f s (%.0f records/s)\n", c->seconds,
	       c->seconds > 0 ? (double)c->records / c->seconds : 0.0);
	printf("metadata bytes   %" PRIu64 " (%.1f per guest page, %.1f per shadow page)\n", meta,
	       ratio(meta, st->guest_pages), ratio(meta, st->shadow_pages));
	printf("mmu              %s%s\n", smmu_mmu_mode_name(o->mmu),
	       o->mmu == SMMU_MMU_TDP ? (o->ept_ad ? " (EPT A/D on)" : " (EPT A/D off)") : "");
	printf("shortcuts        ");
	print_shortcuts(o->shortcuts, " ", false);
	printf("\n");
	printf("cost model       %s\n", cost);
	printf("counters:\n");
	for (size_t i = 0; i < n; i++)
		printf("  %-20s %" PRIu64 "\n", f[i].name, f[i].value);
}

void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const char *trace, const struct exec_counts *c, const struct smmu_stats *st,
                       const struct smmu_vm_config *o, const struct cost_params *cp)
{
	struct figure f[64];
	size_t n = collect_stats(st, f);
	uint64_t meta = metadata_bytes(st);
	struct cost_estimate ce;
	char cost[1024];

	cost_estimate(cp, st, &ce);
	cost_format_json(cp, &ce, cost, sizeof(cost));

	printf("{\"trace\":");
	print_json_string(trace);
	printf(",\"ok\":true,\"expectations\":%" PRIu64 ",\"records\":%" PRIu64
	       ",\"guest_accesses\":%" PRIu64 ",\"guest_faults\":%" PRIu64 ",\"pf\":%" PRIu64
	       ",\"gp\":%" PRIu64 ",\"ud\":%" PRIu64 ",\"mmio\":%" PRIu64 ",\"seconds\":%.6f"
	       ",\"records_per_second\":%.0f,\"metadata_bytes\":%" PRIu64
	       ",\"metadata_bytes_per_guest_page\":%.3f,\"metadata_bytes_per_shadow_page\":%.3f"
	       ",\"mmu\":\"%s\",\"ept_ad\":%s,\"shortcuts\":[",
	       c->expectations, c->records, c->guest_accesses, c->guest_faults, c->pf, c->gp, c->ud,
	       c->mmio, c->seconds, c->seconds > 0 ? (double)c->records / c->seconds : 0.0, meta,
	       ratio(meta, st->guest_pages), ratio(meta, st->shadow_pages), smmu_mmu_mode_name(o->mmu),
	       o->ept_ad ? "true" : "false");
	print_shortcuts(o->shortcuts, ",", true);
	printf("],\"stats\":{");
	for (size_t i = 0; i < n; i++)
		printf("%s\"%s\":%" PRIu64, i ? "," : "", f[i].name, f[i].value);
	printf("},\"cost\":%s}\n", cost);
}

int exit_status(int err)
{
	return err == -EDOM || err == -EUCLEAN ? EXIT_MISMATCH : EXIT_USAGE;
}

static int sink_exec(void *ctx, const struct trace_record *rec)
{
	return exec_record(ctx, rec);
}

const char *workload_error(int err)
{
	return err == -EINVAL ? "parameters out of range or not supported together"
	                      : strerror(-err);
}

/* --dot FILE: the shadow page DAG the run ended with. */
static int write_dot(const struct run_args *a, struct executor *e)
{
	FILE *f;
	int ret;

	if (!a->dot)
		return 0;
	f = strcmp(a->dot, "-") ? fopen(a->dot, "w") : stdout;
	if (!f || !exec_vm(e)) {
		fprintf(stderr, "shadowmmu: %s: %s\n", a->dot, f ? "no VM" : strerror(errno));
		return EXIT_USAGE;
	}
	ret = smmu_vm_write_dot(exec_vm(e), f);
	if (f != stdout && fclose(f))
		ret = -EIO;
	if (ret)
		fprintf(stderr, "shadowmmu: %s: write error\n", a->dot);
	return ret ? EXIT_USAGE : 0;
}

/* Print the run's summary (run) or nothing (check); write --dot. */
static int print_summary(const struct run_args *a, struct executor *e, const char *cmd,
                         const struct exec_counts *c)
{
	struct smmu_stats st;
	int ret = write_dot(a, e);

	if (ret || strcmp(cmd, "run"))
		return ret;
	if (!exec_vm(e) || smmu_vm_get_stats(exec_vm(e), &st)) {
		fprintf(stderr, "shadowmmu: cannot read the VM's statistics\n");
		return EXIT_USAGE;
	}
	if (a->json)
		print_json(a->trace, c, &st, exec_config(e), &a->cost);
	else
		print_text(a->trace, c, &st, exec_config(e), &a->cost);
	return 0;
}

/* Generate a workload straight into the executor; the wall time includes
 * the generator's (see bench_workloads for the two apart). */
static int run_workload(const struct run_args *a, const char *cmd)
{
	struct executor *e = NULL;
	struct exec_counts c;
	double start;
	int ret = exec_create(&e, a->trace, &a->opts);

	if (ret) {
		fprintf(stderr, "shadowmmu: %s: %s\n", a->trace, strerror(-ret));
		return EXIT_USAGE;
	}
	start = smmu_now_seconds();
	ret = workload_generate(a->trace, &a->wp, sink_exec, e);
	c = *exec_counts(e);
	c.seconds = smmu_now_seconds() - start;
	if (ret == -EDOM || ret == -EUCLEAN || (ret && *exec_message(e))) {
		fprintf(stderr, "%s\n", exec_message(e));
		ret = exit_status(ret);
	} else if (ret) {
		fprintf(stderr, "shadowmmu: workload %s: %s\n", a->trace, workload_error(ret));
		ret = EXIT_USAGE;
	} else {
		ret = print_summary(a, e, cmd, &c);
	}
	exec_destroy(e);
	return ret;
}

/* run and check: the same run, different output. */
static int cmd_run(int argc, char **argv, const char *cmd)
{
	struct run_args a = {0};
	struct trace_reader *r = NULL;
	struct executor *e = NULL;
	FILE *f;
	int ret = parse_run_args(argc, argv, cmd, &a);

	if (ret)
		return ret < 0 ? 0 : ret;
	if (workload_find(a.trace) >= 0 && access(a.trace, F_OK) != 0)
		return run_workload(&a, cmd);
	f = open_in(a.trace);
	if (!f)
		return EXIT_USAGE;
	ret = exec_open_reader(&r, f, a.trace);
	if (!ret)
		ret = exec_create(&e, a.trace, &a.opts);
	if (ret) {
		fprintf(stderr, "shadowmmu: %s: %s\n", a.trace, strerror(-ret));
		ret = EXIT_USAGE;
		goto out;
	}
	ret = exec_run(e, r);
	if (ret) {
		fprintf(stderr, "%s\n", exec_message(e));
		ret = exit_status(ret);
		goto out;
	}
	ret = print_summary(&a, e, cmd, exec_counts(e));
out:
	exec_destroy(e);
	trace_reader_close(r);
	if (f != stdin)
		fclose(f);
	return ret;
}

static void usage_convert(FILE *out)
{
	fprintf(out, "usage: shadowmmu convert IN OUT [--binary|--text]\n"
	             "\n"
	             "Read IN (text or binary, detected; '-' for stdin) and write OUT ('-' for\n"
	             "stdout) in the binary encoding (default) or the canonical text form.\n"
	             "Every record is checked as `run` reads it (static rules only).\n"
	             "exit status: 0 ok, 2 usage, malformed input, I/O error\n");
}

static int cmd_convert(int argc, char **argv)
{
	enum trace_format fmt = TRACE_FORMAT_BINARY;
	const char *in = NULL, *outp = NULL;
	struct trace_reader *r = NULL;
	struct trace_writer *w = NULL;
	FILE *fi, *fo;
	int ret, ret2;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage_convert(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--binary")) {
			fmt = TRACE_FORMAT_BINARY;
		} else if (!strcmp(argv[i], "--text")) {
			fmt = TRACE_FORMAT_TEXT;
		} else if ((argv[i][0] != '-' || !strcmp(argv[i], "-")) && (!in || !outp)) {
			*(in ? &outp : &in) = argv[i];
		} else {
			fprintf(stderr, "shadowmmu convert: bad argument '%s'\n", argv[i]);
			usage_convert(stderr);
			return EXIT_USAGE;
		}
	}
	if (!in || !outp) {
		usage_convert(stderr);
		return EXIT_USAGE;
	}
	fi = open_in(in);
	if (!fi)
		return EXIT_USAGE;
	fo = strcmp(outp, "-") ? fopen(outp, "wb") : stdout;
	if (!fo) {
		fprintf(stderr, "shadowmmu: %s: %s\n", outp, strerror(errno));
		if (fi != stdin)
			fclose(fi);
		return EXIT_USAGE;
	}
	ret = trace_reader_open_file(&r, fi, in, NULL);
	if (!ret)
		ret = trace_writer_open(&w, fo, fmt);
	if (!ret)
		ret = trace_convert(r, w);
	if (ret && r && trace_reader_error(r) && *trace_reader_error(r))
		fprintf(stderr, "%s\n", trace_reader_error(r));
	else if (ret)
		fprintf(stderr, "shadowmmu convert: %s\n", strerror(-ret));
	ret2 = w ? trace_writer_close(w) : 0;
	if (!ret && ret2)
		fprintf(stderr, "shadowmmu convert: %s: %s\n", outp, strerror(-ret2));
	trace_reader_close(r);
	if (fi != stdin)
		fclose(fi);
	if (fo != stdout && fclose(fo) && !ret && !ret2) {
		fprintf(stderr, "shadowmmu convert: %s: %s\n", outp, strerror(errno));
		ret2 = -EIO;
	}
	return ret || ret2 ? EXIT_USAGE : 0;
}

static void usage_gen(FILE *out)
{
	fprintf(out,
	        "usage: shadowmmu gen WORKLOAD -o FILE [--binary] [workload options]\n"
	        "\n"
	        "Write the trace of WORKLOAD to FILE ('-' for stdout), text unless --binary.\n"
	        "The trace is a function of the options: the same options, the same bytes.\n"
	        "\n%s\n"
	        "exit status: 0 ok, 2 usage, bad parameters, I/O error\n",
	        workload_options);
	list_workloads(out);
}

static int sink_writer(void *ctx, const struct trace_record *rec)
{
	return trace_writer_put(ctx, rec);
}

static int gen_to(const char *name, const struct workload_params *p, const char *outp,
                  enum trace_format fmt)
{
	struct trace_writer *w = NULL;
	FILE *fo = strcmp(outp, "-") ? fopen(outp, "wb") : stdout;
	int ret, ret2;

	if (!fo) {
		fprintf(stderr, "shadowmmu gen: %s: %s\n", outp, strerror(errno));
		return EXIT_USAGE;
	}
	ret = trace_writer_open(&w, fo, fmt);
	if (!ret)
		ret = workload_generate(name, p, sink_writer, w);
	ret2 = w ? trace_writer_close(w) : 0;
	if (fo != stdout && fclose(fo) && !ret2)
		ret2 = -EIO;
	if (ret)
		fprintf(stderr, "shadowmmu gen: %s: %s\n", name, workload_error(ret));
	else if (ret2)
		fprintf(stderr, "shadowmmu gen: %s: %s\n", outp, strerror(-ret2));
	return ret || ret2 ? EXIT_USAGE : 0;
}

static int cmd_gen(int argc, char **argv)
{
	struct workload_params p;
	enum trace_format fmt = TRACE_FORMAT_TEXT;
	const char *name = NULL, *outp = NULL;

	workload_params_init(&p);
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		int w = parse_workload_opt(s, next, &i, &p);

		if (w > 0)
			continue;
		if (w == 0 && (!strcmp(s, "--help") || !strcmp(s, "-h"))) {
			usage_gen(stdout);
			return 0;
		} else if (w == 0 && !strcmp(s, "--binary")) {
			fmt = TRACE_FORMAT_BINARY;
		} else if (w == 0 && !strcmp(s, "--text")) {
			fmt = TRACE_FORMAT_TEXT;
		} else if (w == 0 && !strcmp(s, "-o") && next && !outp) {
			outp = next;
			i++;
		} else if (w == 0 && s[0] != '-' && !name) {
			name = s;
		} else {
			fprintf(stderr, "shadowmmu gen: bad option or argument '%s'\n", s);
			usage_gen(stderr);
			return EXIT_USAGE;
		}
	}
	if (!name || !outp || workload_find(name) < 0) {
		fprintf(stderr, "shadowmmu gen: %s\n",
		        !name   ? "no workload given"
		        : !outp ? "no -o FILE given"
		                : "unknown workload");
		usage_gen(stderr);
		return EXIT_USAGE;
	}
	return gen_to(name, &p, outp, fmt);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("shadowmmu %s\n", SMMU_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "run") || !strcmp(argv[1], "check"))
		return cmd_run(argc - 2, argv + 2, argv[1]);
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 2, argv + 2);
	if (!strcmp(argv[1], "compare"))
		return cmd_compare(argc - 2, argv + 2);
	if (!strcmp(argv[1], "convert"))
		return cmd_convert(argc - 2, argv + 2);
	fprintf(stderr, "shadowmmu: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
