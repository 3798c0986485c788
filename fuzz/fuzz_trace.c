/*
 * fuzz_trace.c - libFuzzer harness for the trace readers (text and binary;
 * the reader detects which from the first byte).  Not built by default.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=c11 \
 *         -Iinclude -Isrc fuzz/fuzz_trace.c src/trace/{binary,reader,record,writer}.c \
 *         -o fuzz_trace
 *   ./fuzz_trace -max_total_time=60 -max_len=4096 [corpus-dir]
 *
 * Properties checked on every input: no crash, leak or sanitizer report;
 * a reader that fails keeps failing; and any input that reads cleanly
 * converts to binary and back to the same canonical text.
 */
#include "trace/trace.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read all of buf; write each record's canonical text to *canon if given. */
static int read_all(const void *buf, size_t len, enum trace_format out_fmt, char **out,
                    size_t *outlen)
{
	struct trace_reader *r;
	struct trace_writer *w = NULL;
	struct trace_record rec;
	FILE *mem = out ? open_memstream(out, outlen) : NULL;
	int rc;

	if (out && (!mem || trace_writer_open(&w, mem, out_fmt)))
		abort();
	if (trace_reader_open_mem(&r, buf, len, "fuzz", NULL))
		abort();
	while ((rc = trace_read(r, &rec)) == 1)
		if (w && trace_writer_put(w, &rec))
			abort();
	if (rc < 0 && (trace_read(r, &rec) != rc || !trace_reader_error(r)))
		abort(); /* errors are sticky and described */
	trace_reader_close(r);
	if (w) {
		trace_writer_close(w);
		fclose(mem);
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *canon = NULL, *bin = NULL, *canon2 = NULL;
	size_t clen = 0, blen = 0, c2len = 0;

	if (read_all(data, size, TRACE_FORMAT_TEXT, &canon, &clen) == 0) {
		if (read_all(data, size, TRACE_FORMAT_BINARY, &bin, &blen) != 0)
			abort();
		if (read_all(bin, blen, TRACE_FORMAT_TEXT, &canon2, &c2len) != 0)
			abort();
		if (clen != c2len || memcmp(canon, canon2, clen))
			abort(); /* binary must round-trip to the same canonical text */
	}
	free(canon);
	free(bin);
	free(canon2);
	return 0;
}
