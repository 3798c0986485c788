/*
 * test_layers.c - the include graph of src/ keeps the layering that
 * docs/architecture.md draws:
 *
 *   L1 folders depend one way: x86 <- host <- memslot <- {cpu, mmu} <- vm.c
 *      <- trace (common.h under all).  cpu and mmu are siblings: neither
 *      includes the other; vm.c joins them.
 *   L2 inside src/mmu (with shadow/), modules - a .c file with the header
 *      of the same name - include each other without a cycle: the policy
 *      files sit above the spte floor and call one way.
 *   L3 slot_iface is the MMU's gate to memory: in src/mmu only slot_iface.c
 *      and slot_rmaps.c include memslot/ or host/ headers, but for
 *      host/arena.h (the allocator shadow tables come from),
 *      host/notifier.h (the interface the host calls the MMU through) and
 *      host/pfn.h (the answer of a frame lookup, a type only).
 *
 * Run with --dot to print the module graph as Graphviz.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/check.h"

#define MAX_FILES 256
#define MAX_INCS  48

struct file {
	char path[512];          /* relative to src/, e.g. "mmu/shadow/fault.c" */
	char inc[MAX_INCS][512]; /* its #include "..." targets */
	unsigned n_inc;
};

static struct file files[MAX_FILES];
static unsigned n_files;

static void read_includes(struct file *f, const char *full)
{
	FILE *fp = fopen(full, "r");
	char line[512];

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		char *q;

		if (strncmp(line, "#include \"", 10))
			continue;
		q = strchr(line + 10, '"');
		if (q && f->n_inc < MAX_INCS) {
			*q = 0;
			snprintf(f->inc[f->n_inc++], sizeof(f->inc[0]), "%s", line + 10);
		}
	}
	fclose(fp);
}

static void scan(const char *root, const char *rel)
{
	char dirpath[1024];
	struct dirent *de;
	DIR *d;

	snprintf(dirpath, sizeof(dirpath), "%s/%s", root, rel);
	d = opendir(dirpath);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[512], full[1024];
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", root, sub);
		if (de->d_type == DT_DIR) {
			scan(root, sub);
		} else if (len > 2 && (!strcmp(de->d_name + len - 2, ".c") ||
		                       !strcmp(de->d_name + len - 2, ".h")) &&
		           n_files < MAX_FILES) {
			struct file *f = &files[n_files++];

			snprintf(f->path, sizeof(f->path), "%s", sub);
			read_includes(f, full);
		}
	}
	closedir(d);
}

/* The layer folder of a path: "x86", "host", "memslot", "cpu", "mmu", "trace", "." or "common". */
static const char *folder(const char *path)
{
	static char buf[512];
	const char *slash = strchr(path, '/');

	if (!strcmp(path, "common.h"))
		return "common";
	if (!slash)
		return ".";
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - path), path);
	return buf;
}

/* Rank of a folder; -1: unknown (a new folder must be placed here and in the docs). */
static int rank(const char *fold)
{
	static const struct {
		const char *name;
		int rank;
	} order[] = {{"common", 0}, {"x86", 1},  {"host", 2}, {"memslot", 3},
	             {"cpu", 4},    {"mmu", 4},  {".", 5},    {"trace", 6}};

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (!strcmp(order[i].name, fold))
			return order[i].rank;
	return -1;
}

static void test_folders_depend_one_way(void)
{
	for (unsigned i = 0; i < n_files; i++) {
		char from[512];

		snprintf(from, sizeof(from), "%s", folder(files[i].path));
		CHECK_MSG(rank(from) >= 0, "%s: folder %s has no layer", files[i].path, from);
		for (unsigned k = 0; k < files[i].n_inc; k++) {
			const char *to = folder(files[i].inc[k]);

			if (!strcmp(from, to))
				continue;
			CHECK_MSG(rank(to) >= 0 && rank(to) < rank(from),
			          "%s includes %s: %s may not depend on %s", files[i].path,
			          files[i].inc[k], from, to);
		}
	}
}

/* The module of a path: the path without its extension. */
static void module_of(const char *path, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)(strlen(path) - 2), path);
}

static bool in_mmu(const char *path)
{
	return !strncmp(path, "mmu/", 4);
}

#define MAX_MODS 128
static char mods[MAX_MODS][512];
static unsigned n_mods;
static bool edge[MAX_MODS][MAX_MODS];

static int mod_index(const char *m)
{
	for (unsigned i = 0; i < n_mods; i++)
		if (!strcmp(mods[i], m))
			return (int)i;
	if (n_mods == MAX_MODS)
		return -1;
	snprintf(mods[n_mods], sizeof(mods[0]), "%s", m);
	return (int)n_mods++;
}

static void build_mmu_graph(void)
{
	for (unsigned i = 0; i < n_files; i++) {
		char m[512], t[512];
		int a, b;

		if (!in_mmu(files[i].path))
			continue;
		module_of(files[i].path, m, sizeof(m));
		a = mod_index(m);
		for (unsigned k = 0; k < files[i].n_inc; k++) {
			if (!in_mmu(files[i].inc[k]))
				continue;
			module_of(files[i].inc[k], t, sizeof(t));
			b = mod_index(t);
			if (a >= 0 && b >= 0 && a != b)
				edge[a][b] = true;
		}
	}
}

/* Depth-first search for a cycle; state 1: on the stack, 2: done. */
static bool find_cycle(unsigned u, int *state, unsigned *stack, unsigned depth)
{
	state[u] = 1;
	stack[depth] = u;
	for (unsigned v = 0; v < n_mods; v++) {
		if (!edge[u][v])
			continue;
		if (state[v] == 1) {
			fprintf(stderr, "cycle:");
			for (unsigned d = 0; d <= depth; d++)
				fprintf(stderr, " %s ->", mods[stack[d]]);
			fprintf(stderr, " %s\n", mods[v]);
			return true;
		}
		if (!state[v] && find_cycle(v, state, stack, depth + 1))
			return true;
	}
	state[u] = 2;
	return false;
}

static void test_mmu_modules_have_no_cycle(void)
{
	int state[MAX_MODS] = {0};
	unsigned stack[MAX_MODS];
	bool cycle = false;

	CHECK(n_mods > 20); /* the graph was really read */
	for (unsigned u = 0; u < n_mods && !cycle; u++)
		if (!state[u])
			cycle = find_cycle(u, state, stack, 0);
	CHECK_MSG(!cycle, "src/mmu has an include cycle (printed above)");
}

static bool gate_file(const char *path)
{
	return !strcmp(path, "mmu/slot_iface.c") || !strcmp(path, "mmu/slot_rmaps.c");
}

static void test_slot_iface_is_the_only_way_to_memory(void)
{
	for (unsigned i = 0; i < n_files; i++) {
		if (!in_mmu(files[i].path) || gate_file(files[i].path))
			continue;
		for (unsigned k = 0; k < files[i].n_inc; k++) {
			const char *inc = files[i].inc[k];
			bool below = !strncmp(inc, "memslot/", 8) || !strncmp(inc, "host/", 5);
			bool allowed = !strcmp(inc, "host/arena.h") || !strcmp(inc, "host/notifier.h") ||
			               !strcmp(inc, "host/pfn.h");

			CHECK_MSG(!below || allowed, "%s includes %s: go through mmu/slot_iface.h",
			          files[i].path, inc);
		}
	}
}

static void print_dot(void)
{
	printf("digraph mmu {\n  rankdir=BT;\n  node [shape=box, fontsize=10];\n");
	for (unsigned a = 0; a < n_mods; a++)
		for (unsigned b = 0; b < n_mods; b++)
			if (edge[a][b])
				printf("  \"%s\" -> \"%s\";\n", mods[a] + 4, mods[b] + 4);
	printf("}\n");
}

int main(int argc, char **argv)
{
	scan(SMMU_SOURCE_DIR "/src", "");
	build_mmu_graph();
	if (argc > 1 && !strcmp(argv[1], "--dot")) {
		print_dot();
		return 0;
	}
	RUN(test_folders_depend_one_way);
	RUN(test_mmu_modules_have_no_cycle);
	RUN(test_slot_iface_is_the_only_way_to_memory);
	return check_finish();
}
