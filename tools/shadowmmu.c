/*
 * shadowmmu.c - the command line tool.
 *
 * Subcommands grow with the library; this first version knows its version
 * and its help.
 */
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: shadowmmu <command> [options]\n"
	             "\n"
	             "commands:\n"
	             "  version        print the version\n"
	             "  help           this text\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("shadowmmu %s\n", SMMU_VERSION);
		return 0;
	}
	fprintf(stderr, "shadowmmu: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
