/*
 * cli.h - what the command's files share: the options of `run` (which
 * `compare` takes too), the counter list of the summary and the exit
 * statuses.  shadowmmu.c defines these, compare.c uses them.
 */
#ifndef SMMU_TOOLS_CLI_H
#define SMMU_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <shadowmmu/shadowmmu.h>

#include "trace/cost.h"
#include "trace/executor.h"
#include "workload.h"

#define EXIT_MISMATCH 1
#define EXIT_USAGE    2

struct run_args {
	const char *trace;
	const char *dot; /* --dot FILE: the shadow page DAG at the end of the run */
	bool json;
	struct exec_opts opts;
	struct workload_params wp; /* when `trace` names a workload */
	struct cost_params cost;   /* --cost */
};

/* One counter of the summary, named as in struct smmu_stats. */
struct figure {
	const char *name;
	uint64_t value;
};

/* The options of run/check (cmd names the command in messages): 0, EXIT_USAGE, -1 for --help. */
int parse_run_args(int argc, char **argv, const char *cmd, struct run_args *a);
void usage_run(FILE *out, const char *cmd);
/* Every counter of the summary into f (64 entries suffice); how many. */
size_t collect_stats(const struct smmu_stats *st, struct figure *f);
/* The MMU's metadata bytes: headers, tables, gfn arrays, rmap descriptors, memslot metadata. */
uint64_t metadata_bytes(const struct smmu_stats *st);
/* The exit status of an executor error: 1 for a guest-visible mismatch or audit, else 2. */
int exit_status(int err);
const char *workload_error(int err);
FILE *open_in(const char *path);
void print_json_string(const char *s);

int cmd_compare(int argc, char **argv);

#endif /* SMMU_TOOLS_CLI_H */
