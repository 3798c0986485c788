/*
 * reader.c - the streaming trace reader: buffered input over a FILE* or a
 * memory buffer, format detection, and the parser of the version 1 text
 * form (docs/trace-format.md, "Lexical rules" and every record grammar).
 *
 * One line is parsed at a time: it is checked to be ASCII, split into fields
 * at spaces and tabs up to a `#`, and matched against the record grammars;
 * numbers are decimal or 0x-hex, unsigned 64-bit with an optional K/M/G
 * binary suffix, and overflow is an error.  The record then goes through the
 * static-rule checker shared with the binary reader (record.c).  Memory stays
 * bounded by the longest line (TRACE_MAX_LINE), whatever the trace length.
 * The first error is sticky: it names file, line and column, and no record
 * after it is ever returned.
 */
#include "common.h"
#include "trace/trace_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SRC_CHUNK (256u << 10) /* stream read size and initial window */
#define MAX_TOKS  24           /* fields kept per line; no grammar needs more than 12 */

/* ---- buffered input ------------------------------------------------------ */
static int src_grow(struct trace_src *s, size_t want)
{
	size_t cap = s->cap ? s->cap : SRC_CHUNK;
	uint8_t *nb;

	while (cap < want)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	nb = realloc(s->buf, cap);
	if (!nb)
		return -ENOMEM;
	s->buf = nb;
	s->cap = cap;
	return 0;
}

int trace_src_fill(struct trace_src *s, size_t want)
{
	size_t have = trace_src_avail(s);

	if (have >= want || s->eof)
		return 0;
	if (have && s->p != s->buf)
		memmove(s->buf, s->p, have);
	if (src_grow(s, want) < 0)
		return -ENOMEM;
	s->p = s->buf;
	while (have < want && !s->eof) {
		size_t n = fread(s->buf + have, 1, s->cap - have, s->f);

		if (n == 0) {
			s->eof = true;
			s->ioerr = ferror(s->f) != 0;
		}
		have += n;
	}
	s->end = s->buf + have;
	return s->ioerr ? -EIO : 0;
}

/* ---- errors --------------------------------------------------------------- */
int trace_reader_fail(struct trace_reader *r, int err, uint64_t line, unsigned col, const char *fmt,
                      ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(r->errmsg, sizeof(r->errmsg), "%s:%llu:%u: %s", r->name,
		         (unsigned long long)line, col, msg);
	else
		snprintf(r->errmsg, sizeof(r->errmsg), "%s: %s", r->name, msg);
	r->err = err;
	r->err_line = line;
	r->err_col = col;
	return err;
}

int trace_reader_reserve_ranges(struct trace_reader *r, size_t n)
{
	struct trace_range *nr;
	size_t cap = r->ranges_cap ? r->ranges_cap : 16;

	if (n <= r->ranges_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	nr = realloc(r->ranges, cap * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	r->ranges = nr;
	r->ranges_cap = cap;
	return 0;
}

/* ---- lexing --------------------------------------------------------------- */
struct tok {
	const char *s;
	unsigned len;
	unsigned col; /* 1-based */
};

struct line_ctx {
	struct trace_reader *r;
	uint64_t lineno;
	struct tok t[MAX_TOKS];
	unsigned nt;
	unsigned end_col;          /* column just past the last field */
	unsigned nfields;          /* fields before `=>` (or all) */
	int op_tok[TRACE_MAX_OPS]; /* field of each operand, -1 if none */
	int name_tok, vcpu_tok, expect_tok;
};

static bool tok_is(const struct tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->len == n && memcmp(t->s, word, n) == 0;
}

static int fail_at(struct line_ctx *lc, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct line_ctx *lc, unsigned col, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return trace_reader_fail(lc->r, -EINVAL, lc->lineno, col, "%s", msg);
}

/* Show at most 40 characters of a field in a message. */
#define TOKF(t) (int)((t)->len > 40 ? 40 : (t)->len), (t)->s

enum char_class {
	CC_BAD,     /* not printable ASCII or tab */
	CC_SEP,     /* space or tab: separates fields */
	CC_COMMENT, /* '#': the rest of the line is a comment */
	CC_FIELD,   /* part of a field */
};

static inline enum char_class classify(unsigned char c)
{
	if ((unsigned)(c - 0x21) < 0x7f - 0x21)
		return c == '#' ? CC_COMMENT : CC_FIELD;
	return c == ' ' || c == '\t' ? CC_SEP : CC_BAD;
}

/*
 * Split a line into fields.  Every byte must be printable ASCII or a tab,
 * comments included (the format is ASCII text); `#` ends the fields.
 */
static int tokenize(struct line_ctx *lc, const char *s, size_t len)
{
	size_t i = 0;

	lc->nt = 0;
	lc->end_col = 1;
	while (i < len) {
		enum char_class cc = classify((unsigned char)s[i]);
		size_t start = i;

		if (cc == CC_SEP) {
			i++;
			continue;
		}
		if (cc != CC_FIELD)
			break;
		while (i < len && classify((unsigned char)s[i]) == CC_FIELD)
			i++;
		if (lc->nt < MAX_TOKS)
			lc->t[lc->nt++] =
			    (struct tok){s + start, (unsigned)(i - start), (unsigned)start + 1};
		lc->end_col = (unsigned)i + 1;
	}
	/* The rest is a comment (or a bad byte): it must still be ASCII. */
	for (; i < len; i++)
		if (classify((unsigned char)s[i]) == CC_BAD)
			return fail_at(lc, (unsigned)i + 1,
			               "unexpected byte 0x%02x (a trace is ASCII text)",
			               (unsigned char)s[i]);
	return 0;
}

/*
 * Lex an unsigned 64-bit number: decimal or 0x-hex digits, then an optional
 * K, M or G (times 2^10, 2^20, 2^30).  Returns 0, -1 (not a number) or -2
 * (does not fit in 64 bits).
 */
static int lex_number(const char *s, size_t n, uint64_t *out)
{
	bool hex = n > 2 && s[0] == '0' && s[1] == 'x', over = false;
	size_t i = hex ? 2 : 0, digits = 0;
	uint64_t v = 0;

	for (; i < n; i++, digits++) {
		unsigned c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			break;
		if (hex) {
			over |= (v >> 60) != 0;
			v = (v << 4) | d;
		} else {
			over |=
			    v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10);
			v = v * 10 + d;
		}
	}
	if (digits == 0)
		return -1;
	if (i < n) {
		unsigned shift = s[i] == 'K' ? 10 : s[i] == 'M' ? 20 : s[i] == 'G' ? 30 : 0;

		if (shift == 0 || i + 1 != n)
			return -1;
		over |= v > (UINT64_MAX >> shift);
		v <<= shift;
	}
	*out = v;
	return over ? -2 : 0;
}

static int parse_number(struct line_ctx *lc, const struct tok *t, const char *what, uint64_t *v)
{
	int rc = lex_number(t->s, t->len, v);

	if (rc == -1)
		return fail_at(lc, t->col, "expected %s (a number), found '%.*s'", what, TOKF(t));
	if (rc == -2)
		return fail_at(lc, t->col, "number '%.*s' does not fit in 64 bits", TOKF(t));
	return 0;
}

/* The field for the next operand, or an error naming what was expected. */
static const struct tok *need_field(struct line_ctx *lc, unsigned i, const char *what)
{
	if (i < lc->nfields)
		return &lc->t[i];
	if (i < lc->nt)
		fail_at(lc, lc->t[i].col, "expected %s, found '=>'", what);
	else
		fail_at(lc, lc->end_col, "expected %s, found end of record", what);
	return NULL;
}

/* ---- record names --------------------------------------------------------- */
struct name_entry {
	const char *word;
	enum trace_kind kind;
};

/* Single-word names, the most frequent first. */
static const struct name_entry words[] = {
    {"r", TRACE_READ},        {"w", TRACE_WRITE},     {"x", TRACE_FETCH},
    {"invlpg", TRACE_INVLPG}, {"cpl", TRACE_CPL},     {"cr3", TRACE_CR3},
    {"cr0", TRACE_CR0},       {"cr4", TRACE_CR4},     {"efer", TRACE_EFER},
    {"pkru", TRACE_PKRU},     {"ac", TRACE_AC},       {"flush", TRACE_FLUSH},
    {"slot", TRACE_SLOT},     {"dirty", TRACE_DIRTY}, {"zapall", TRACE_ZAPALL},
    {"vcpus", TRACE_VCPUS},   {"cpu", TRACE_CPU},     {"shadowmmu-trace", TRACE_HEADER},
    {"mmu", TRACE_MMU},
};

static const struct name_entry slot_words[] = {
    {"del", TRACE_SLOT_DEL}, {"move", TRACE_SLOT_MOVE}, {"log", TRACE_SLOT_LOG}};
static const struct name_entry host_words[] = {{"swap", TRACE_HOST_SWAP},
                                               {"migrate", TRACE_HOST_MIGRATE},
                                               {"merge", TRACE_HOST_MERGE},
                                               {"age", TRACE_HOST_AGE}};

static int lookup(const struct name_entry *tab, size_t n, const struct tok *t)
{
	for (size_t i = 0; i < n; i++)
		if (tok_is(t, tab[i].word))
			return (int)tab[i].kind;
	return -1;
}

static int parse_host_name(struct line_ctx *lc, unsigned i, enum trace_kind *kind)
{
	const struct tok *t = need_field(lc, i + 1, "swap, migrate, merge or age after 'host'");
	int k;

	if (!t)
		return -1;
	k = lookup(host_words, ARRAY_SIZE(host_words), t);
	if (k < 0)
		return fail_at(lc, t->col,
		               "expected swap, migrate, merge or age after 'host', found '%.*s'",
		               TOKF(t)),
		       -1;
	*kind = (enum trace_kind)k;
	return (int)i + 2;
}

/* Resolve the record name at field i; returns the field after it, or -1. */
static int parse_name(struct line_ctx *lc, unsigned i, enum trace_kind *kind)
{
	const struct tok *t = &lc->t[i];
	int k = lookup(words, ARRAY_SIZE(words), t);

	lc->name_tok = (int)i;
	if (lc->r->chk.records == 0 && k != TRACE_HEADER)
		return fail_at(lc, t->col,
		               "expected 'shadowmmu-trace 1' as the first record, found '%.*s'",
		               TOKF(t)),
		       -1;
	if (k < 0 && tok_is(t, "host"))
		return parse_host_name(lc, i, kind);
	if (k < 0)
		return fail_at(lc, t->col, "unknown record '%.*s'", TOKF(t)), -1;
	*kind = (enum trace_kind)k;
	if (k == TRACE_SLOT && i + 1 < lc->nfields) {
		int sub = lookup(slot_words, ARRAY_SIZE(slot_words), &lc->t[i + 1]);

		if (sub >= 0) {
			*kind = (enum trace_kind)sub;
			return (int)i + 2;
		}
	}
	return (int)i + 1;
}

/* ---- operands ------------------------------------------------------------- */
static int parse_numeric_ops(struct line_ctx *lc, unsigned i, struct trace_record *rec, unsigned nr)
{
	const struct trace_kind_info *ki = &trace_kinds[rec->kind];

	for (unsigned k = 0; k < nr; k++, i++) {
		const struct tok *t = need_field(lc, i, ki->opname[k]);

		if (!t || parse_number(lc, t, ki->opname[k], &rec->op[k]))
			return -1;
		lc->op_tok[k] = (int)i;
	}
	return (int)i;
}

/* slot ID GPA SIZE [ro] [log]: the flags in that order, each at most once. */
static int parse_slot_flags(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	if (i < lc->nfields && tok_is(&lc->t[i], "ro")) {
		rec->op[3] |= TRACE_SLOTF_RO;
		i++;
	}
	if (i < lc->nfields && tok_is(&lc->t[i], "log")) {
		rec->op[3] |= TRACE_SLOTF_LOG;
		lc->op_tok[3] = (int)i;
		i++;
	}
	if (i < lc->nfields)
		return fail_at(lc, lc->t[i].col,
		               "expected 'ro', 'log' or the end of the record, found '%.*s'",
		               TOKF(&lc->t[i])),
		       -1;
	return (int)i;
}

static int parse_onoff(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	const struct tok *t = need_field(lc, i, "on or off");

	if (!t)
		return -1;
	if (!tok_is(t, "on") && !tok_is(t, "off"))
		return fail_at(lc, t->col, "expected on or off, found '%.*s'", TOKF(t)), -1;
	rec->op[1] = tok_is(t, "on");
	lc->op_tok[1] = (int)i;
	return (int)i + 1;
}

static int cpu_feature(const struct tok *t, size_t name_len)
{
	for (int f = 0; f < TRACE_CPU_NR_FEATURES; f++)
		if (strlen(trace_cpu_names[f]) == name_len &&
		    memcmp(t->s, trace_cpu_names[f], name_len) == 0)
			return f;
	return -1;
}

/* One cpu NAME=VALUE field; the value of a 0|1 feature is checked here. */
static int parse_cpu_field(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	const struct tok *t = &lc->t[i];
	const char *eq = memchr(t->s, '=', t->len);
	uint64_t val;
	struct tok v;
	int f;

	if (!eq)
		return fail_at(lc, t->col, "expected NAME=VALUE, found '%.*s'", TOKF(t));
	f = cpu_feature(t, (size_t)(eq - t->s));
	if (f < 0)
		return fail_at(
		    lc, t->col,
		    "unknown cpu feature '%.*s' (expected maxphyaddr, gbpages, la57, pcid, "
		    "pku, smep, smap, nx or pse36)",
		    (int)(eq - t->s), t->s);
	if (rec->op[0] & (1u << f))
		return fail_at(lc, t->col, "cpu feature '%s' given twice", trace_cpu_names[f]);
	v = (struct tok){eq + 1, (unsigned)(t->len - (unsigned)(eq - t->s) - 1),
	                 t->col + (unsigned)(eq - t->s) + 1};
	rec->op[0] |= 1u << f;
	if (f == TRACE_CPU_MAXPHYADDR) {
		lc->op_tok[2] = (int)i;
		return parse_number(lc, &v, "a value", &rec->op[2]);
	}
	if (parse_number(lc, &v, "a value", &val))
		return -1;
	if (val > 1)
		return fail_at(lc, v.col, "cpu feature '%s' takes 0 or 1, found '%.*s'",
		               trace_cpu_names[f], TOKF(&v));
	rec->op[1] |= val << f;
	return 0;
}

static int parse_cpu(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	if (!need_field(lc, i, "NAME=VALUE"))
		return -1;
	lc->op_tok[0] = lc->op_tok[1] = (int)i;
	for (; i < lc->nfields; i++)
		if (parse_cpu_field(lc, i, rec))
			return -1;
	return (int)i;
}

/* mmu shadow|tdp [ept_ad=0|1]: ept_ad defaults to 1 for tdp (KVM's default). */
static int parse_mmu(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	const struct tok *t;
	struct tok v;

	if (!need_field(lc, i, "shadow|tdp"))
		return -1;
	t = &lc->t[i];
	lc->op_tok[0] = (int)i;
	if (tok_is(t, "tdp"))
		rec->op[0] = TRACE_MMU_TDP;
	else if (!tok_is(t, "shadow"))
		return fail_at(lc, t->col, "expected shadow or tdp, found '%.*s'", TOKF(t));
	rec->op[1] = rec->op[0] == TRACE_MMU_TDP;
	if (++i == lc->nfields)
		return (int)i;
	t = &lc->t[i];
	lc->op_tok[1] = (int)i;
	if (t->len < 7 || memcmp(t->s, "ept_ad=", 7))
		return fail_at(lc, t->col, "expected ept_ad=0|1, found '%.*s'", TOKF(t));
	v = (struct tok){t->s + 7, t->len - 7, t->col + 7};
	if (parse_number(lc, &v, "a value", &rec->op[1]))
		return -1;
	return (int)i + 1;
}

static int parse_operands(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	int next;

	switch (rec->kind) {
	case TRACE_CPU:
		return parse_cpu(lc, i, rec);
	case TRACE_MMU:
		return parse_mmu(lc, i, rec);
	case TRACE_SLOT:
		next = parse_numeric_ops(lc, i, rec, 3);
		return next < 0 ? -1 : parse_slot_flags(lc, (unsigned)next, rec);
	case TRACE_SLOT_LOG:
		next = parse_numeric_ops(lc, i, rec, 1);
		return next < 0 ? -1 : parse_onoff(lc, (unsigned)next, rec);
	default:
		return parse_numeric_ops(lc, i, rec, trace_kinds[rec->kind].nr_ops);
	}
}

/* ---- expectations --------------------------------------------------------- */
static int parse_list_item(struct line_ctx *lc, const struct tok *item, struct trace_range *rg)
{
	const char *dash = memchr(item->s, '-', item->len);
	struct tok a = *item, b;

	if (dash) {
		a.len = (unsigned)(dash - item->s);
		b = (struct tok){dash + 1, item->len - a.len - 1, item->col + a.len + 1};
	}
	if (parse_number(lc, &a, "a page index", &rg->first))
		return -1;
	rg->last = rg->first;
	if (dash && parse_number(lc, &b, "a page index", &rg->last))
		return -1;
	if (rg->last < rg->first)
		return fail_at(lc, item->col, "backwards page range '%.*s'", TOKF(item));
	return 0;
}

/* LIST: `-` (empty) or comma-separated N and N-M, in any order; stored normalized. */
static int parse_list(struct line_ctx *lc, const struct tok *t, struct trace_expect *e)
{
	size_t n = 1, nr = 0;
	unsigned start = 0;

	e->kind = TRACE_EXPECT_LIST;
	e->nr_ranges = 0;
	if (tok_is(t, "-"))
		return 0;
	for (unsigned i = 0; i < t->len; i++)
		n += t->s[i] == ',';
	if (trace_reader_reserve_ranges(lc->r, n))
		return trace_reader_fail(lc->r, -ENOMEM, 0, 0, "out of memory");
	for (unsigned i = 0; i <= t->len; i++) {
		struct tok item;

		if (i < t->len && t->s[i] != ',')
			continue;
		item = (struct tok){t->s + start, i - start, t->col + start};
		if (parse_list_item(lc, &item, &lc->r->ranges[nr++]))
			return -1;
		start = i + 1;
	}
	e->nr_ranges = trace_ranges_normalize(lc->r->ranges, nr);
	e->ranges = lc->r->ranges;
	return 0;
}

static int parse_outcome(struct line_ctx *lc, unsigned i, struct trace_record *rec)
{
	struct trace_expect *e = &rec->expect;
	const struct tok *t = &lc->t[i];

	if (tok_is(t, "ok") || tok_is(t, "gp") || tok_is(t, "ud")) {
		e->kind = t->s[0] == 'o'   ? TRACE_EXPECT_OK
		          : t->s[0] == 'g' ? TRACE_EXPECT_GP
		                           : TRACE_EXPECT_UD;
		return (int)i + 1;
	}
	if (tok_is(t, "pf")) {
		e->kind = TRACE_EXPECT_PF;
		if (i + 1 >= lc->nt)
			return fail_at(lc, lc->end_col, "expected EC (a number) after 'pf'"), -1;
		return parse_number(lc, &lc->t[i + 1], "EC", &e->value) ? -1 : (int)i + 2;
	}
	if (lex_number(t->s, t->len, &e->value) == -1)
		return fail_at(lc, t->col,
		               "expected ok, pf EC, gp, ud or a value after '=>', found '%.*s'",
		               TOKF(t)),
		       -1;
	e->kind = TRACE_EXPECT_VALUE;
	return parse_number(lc, t, "a value", &e->value) ? -1 : (int)i + 1;
}

static int parse_expect(struct line_ctx *lc, struct trace_record *rec)
{
	unsigned i = lc->nfields + 1;
	int next;

	if (lc->nfields == lc->nt)
		return 0;
	if (trace_kinds[rec->kind].expects == 0)
		return fail_at(lc, lc->t[lc->nfields].col, "'%s' takes no expectation",
		               trace_kinds[rec->kind].name);
	if (i >= lc->nt)
		return fail_at(lc, lc->end_col, "expected an expectation after '=>'");
	lc->expect_tok = (int)i;
	if (trace_kinds[rec->kind].expects & (1u << TRACE_EXPECT_LIST))
		next = parse_list(lc, &lc->t[i], &rec->expect) ? -1 : (int)i + 1;
	else
		next = parse_outcome(lc, i, rec);
	if (next < 0)
		return -1;
	if ((unsigned)next < lc->nt)
		return fail_at(lc, lc->t[next].col, "unexpected '%.*s' after the expectation",
		               TOKF(&lc->t[next]));
	return 0;
}

/* ---- one line ------------------------------------------------------------- */
static int parse_vcpu(struct line_ctx *lc, struct trace_record *rec)
{
	const struct tok *t = &lc->t[0];
	struct tok n = {t->s + 1, t->len - 1, t->col + 1};
	uint64_t v;

	if (parse_number(lc, &n, "a vCPU number after '@'", &v))
		return -1;
	if (v > UINT32_MAX)
		return fail_at(lc, t->col, "vCPU number %.*s out of range", TOKF(&n));
	rec->vcpu = (uint32_t)v;
	lc->vcpu_tok = 0;
	return 0;
}

static unsigned find_arrow(const struct line_ctx *lc, unsigned from)
{
	for (unsigned i = from; i < lc->nt; i++)
		if (tok_is(&lc->t[i], "=>"))
			return i;
	return lc->nt;
}

/* Map a checker fault to the column of the field it is about. */
static unsigned fault_col(const struct line_ctx *lc, int at)
{
	int tok = lc->name_tok;

	if (at == TRACE_AT_VCPU && lc->vcpu_tok >= 0)
		tok = lc->vcpu_tok;
	else if (at == TRACE_AT_EXPECT && lc->expect_tok >= 0)
		tok = lc->expect_tok;
	else if (at >= 0 && at < TRACE_MAX_OPS && lc->op_tok[at] >= 0)
		tok = lc->op_tok[at];
	return lc->t[tok].col;
}

static int parse_record(struct line_ctx *lc, struct trace_record *rec)
{
	unsigned i = 0;
	int next;

	*rec = (struct trace_record){.line = lc->lineno};
	lc->vcpu_tok = lc->expect_tok = lc->name_tok = -1;
	for (unsigned k = 0; k < TRACE_MAX_OPS; k++)
		lc->op_tok[k] = -1;
	if (lc->t[0].s[0] == '@') {
		if (parse_vcpu(lc, rec))
			return -1;
		i = 1;
	}
	lc->nfields = find_arrow(lc, i);
	if (i >= lc->nfields)
		return fail_at(lc, i < lc->nt ? lc->t[i].col : lc->end_col,
		               "expected a record name");
	next = parse_name(lc, i, &rec->kind);
	if (next < 0)
		return -1;
	next = parse_operands(lc, (unsigned)next, rec);
	if (next < 0)
		return -1;
	if ((unsigned)next < lc->nfields)
		return fail_at(lc, lc->t[next].col, "unexpected '%.*s' after the operands of '%s'",
		               TOKF(&lc->t[next]), trace_kinds[rec->kind].name);
	return parse_expect(lc, rec);
}

/* Find the next line; returns its length, or -1 at the end of input. */
static long next_line(struct trace_reader *r, const char **line, int *err)
{
	struct trace_src *s = &r->src;
	size_t scanned = 0;
	const uint8_t *nl;

	*err = 0;
	for (;;) {
		size_t avail = trace_src_avail(s);

		nl = memchr(s->p + scanned, '\n', avail - scanned);
		if (nl || s->eof)
			break;
		if (avail > TRACE_MAX_LINE)
			break;
		scanned = avail;
		*err = trace_src_fill(s, avail + 1);
		if (*err)
			return -1;
	}
	if (!nl && trace_src_avail(s) == 0)
		return -1;
	*line = (const char *)s->p;
	if ((nl ? (size_t)(nl - s->p) : trace_src_avail(s)) > TRACE_MAX_LINE) {
		*err = -E2BIG;
		return -1;
	}
	return nl ? (long)(nl - s->p) : (long)trace_src_avail(s);
}

static int text_read(struct trace_reader *r, struct trace_record *rec)
{
	struct line_ctx lc = {.r = r};
	struct trace_fault f;

	for (;;) {
		const char *line;
		int err;
		long len = next_line(r, &line, &err);

		if (err == -E2BIG)
			return trace_reader_fail(r, -EINVAL, r->line + 1, 1,
			                         "line longer than %u bytes", TRACE_MAX_LINE);
		if (err)
			return trace_reader_fail(r, err, 0, 0, "read error: %s", strerror(-err));
		if (len < 0)
			break;
		lc.lineno = ++r->line;
		err = tokenize(&lc, line, (size_t)len);
		trace_src_skip(&r->src, (size_t)len + (trace_src_avail(&r->src) > (size_t)len));
		if (err)
			return err;
		if (lc.nt == 0)
			continue;
		if (parse_record(&lc, rec))
			return r->err;
		if (trace_check_record(&r->chk, rec, &f))
			return fail_at(&lc, fault_col(&lc, f.at), "%s", f.msg);
		return 1;
	}
	if (r->chk.records == 0)
		return trace_reader_fail(r, -EINVAL, r->line + 1, 1,
		                         "expected 'shadowmmu-trace 1', found end of file");
	return 0;
}

/* ---- the reader object ---------------------------------------------------- */
void trace_reader_opts_init(struct trace_reader_opts *opts)
{
	*opts = (struct trace_reader_opts){.allow_host_records = true};
}

static int reader_new(struct trace_reader **rp, const char *name,
                      const struct trace_reader_opts *opts)
{
	struct trace_reader_opts def;
	struct trace_reader *r = calloc(1, sizeof(*r));

	if (!opts) {
		trace_reader_opts_init(&def);
		opts = &def;
	}
	if (!r)
		return -ENOMEM;
	r->name = strdup(name ? name : "<trace>");
	if (!r->name) {
		free(r);
		return -ENOMEM;
	}
	trace_check_init(&r->chk, opts);
	*rp = r;
	return 0;
}

/* Binary traces start with a byte no text trace may hold (0x89). */
static int reader_detect(struct trace_reader *r)
{
	int err = trace_src_fill(&r->src, TRACE_BIN_MAGIC_LEN);

	if (err)
		return err;
	if (trace_src_avail(&r->src) > 0 && r->src.p[0] == (uint8_t)TRACE_BIN_MAGIC[0]) {
		r->fmt = TRACE_FORMAT_BINARY;
		return trace_bin_open(r);
	}
	r->fmt = TRACE_FORMAT_TEXT;
	return 0;
}

static int reader_start(struct trace_reader **rp, struct trace_reader *r)
{
	int err = reader_detect(r);

	if (err == -ENOMEM) {
		trace_reader_close(r);
		return err;
	}
	if (err && !r->err)
		trace_reader_fail(r, err, 0, 0, "read error: %s", strerror(-err));
	*rp = r;
	return 0;
}

int trace_reader_open_file(struct trace_reader **rp, FILE *f, const char *name,
                           const struct trace_reader_opts *opts)
{
	struct trace_reader *r;
	int err = reader_new(&r, name, opts);

	if (err)
		return err;
	r->src.f = f;
	return reader_start(rp, r);
}

int trace_reader_open_mem(struct trace_reader **rp, const void *buf, size_t len, const char *name,
                          const struct trace_reader_opts *opts)
{
	struct trace_reader *r;
	int err = reader_new(&r, name, opts);

	if (err)
		return err;
	r->src.p = buf;
	r->src.end = r->src.p + len;
	r->src.eof = true;
	return reader_start(rp, r);
}

void trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	trace_bin_free(r);
	free(r->src.buf);
	free(r->ranges);
	free(r->name);
	free(r);
}

int trace_read(struct trace_reader *r, struct trace_record *rec)
{
	if (r->err)
		return r->err;
	if (r->fmt == TRACE_FORMAT_BINARY)
		return trace_bin_read(r, rec);
	return text_read(r, rec);
}

const char *trace_reader_error(const struct trace_reader *r)
{
	return r->err ? r->errmsg : NULL;
}

void trace_reader_error_pos(const struct trace_reader *r, uint64_t *line, unsigned *col)
{
	*line = r->err_line;
	*col = r->err_col;
}

enum trace_format trace_reader_format(const struct trace_reader *r)
{
	return r->fmt;
}

uint64_t trace_reader_records(const struct trace_reader *r)
{
	return r->chk.records;
}
