/* The JSON the audit's C accelerator reads itself (_chunkhash.c): a strict
 * subset of RFC 8259 that msgspec accepts alike. Whatever lies outside it
 * (an escape, whitespace, a control character, nesting past MAX_DEPTH, a
 * malformed value) is "not handled": the row goes back to the Python reader.
 * Every read is bounded by `end`. Included by _chunkhash.c only, after its
 * _GNU_SOURCE (memmem). */
#ifndef CHUNKHASH_JSON_H
#define CHUNKHASH_JSON_H

#include <stddef.h>
#include <string.h>

#define MAX_DEPTH 64

typedef const unsigned char *ptr;

/* A string without escapes or control characters; 0 (not handled) otherwise. */
static int skip_string(ptr *pp, ptr end) {
    ptr p = *pp + 1;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') {
            *pp = p + 1;
            return 1;
        }
        if (c == '\\' || c < 0x20) return 0;
        p++;
    }
    return 0;
}

static int digits(ptr *pp, ptr end) {
    ptr p = *pp;
    while (p < end && *p >= '0' && *p <= '9') p++;
    if (p == *pp) return 0;
    *pp = p;
    return 1;
}

/* RFC 8259's number grammar (msgspec skips any such number). */
static int skip_number(ptr *pp, ptr end) {
    ptr p = *pp;
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') p++;
    else if (p >= end || *p < '1' || *p > '9' || !digits(&p, end)) return 0;
    if (p < end && *p == '.') {
        p++;
        if (!digits(&p, end)) return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!digits(&p, end)) return 0;
    }
    *pp = p;
    return 1;
}

static int skip_literal(ptr *pp, ptr end, const char *word, size_t n) {
    if ((size_t)(end - *pp) < n || memcmp(*pp, word, n) != 0) return 0;
    *pp += n;
    return 1;
}

static int skip_value(ptr *pp, ptr end, int depth);

static int skip_container(ptr *pp, ptr end, int depth, unsigned char close, int keyed) {
    ptr p = *pp + 1;
    if (depth > MAX_DEPTH) return 0;
    if (p < end && *p == close) {
        *pp = p + 1;
        return 1;
    }
    for (;;) {
        if (keyed) {
            if (p >= end || *p != '"' || !skip_string(&p, end)) return 0;
            if (p >= end || *p != ':') return 0;
            p++;
        }
        if (!skip_value(&p, end, depth + 1)) return 0;
        if (p >= end) return 0;
        if (*p == close) {
            *pp = p + 1;
            return 1;
        }
        if (*p != ',') return 0;
        p++;
    }
}

static int skip_value(ptr *pp, ptr end, int depth) {
    if (*pp >= end) return 0;
    switch (**pp) {
    case '"': return skip_string(pp, end);
    case '{': return skip_container(pp, end, depth, '}', 1);
    case '[': return skip_container(pp, end, depth, ']', 0);
    case 't': return skip_literal(pp, end, "true", 4);
    case 'f': return skip_literal(pp, end, "false", 5);
    case 'n': return skip_literal(pp, end, "null", 4);
    default: return skip_number(pp, end);
    }
}

/* The span of the last top-level member `key` of the object `data` (NULL if
 * absent); 0 if `data` is not inside the subset. `check` vets each value. */
typedef int (*value_check)(ptr start, ptr stop);

static int find_member(ptr data, ptr end, const char *key, size_t n, value_check check, ptr *vstart, ptr *vstop) {
    ptr p = data;
    *vstart = *vstop = NULL;
    if (p >= end || *p != '{') return 0;
    p++;
    if (p < end && *p == '}') return p + 1 == end;
    for (;;) {
        ptr k = p, v;
        int named;
        if (p >= end || *p != '"' || !skip_string(&p, end)) return 0;
        named = (size_t)(p - k) == n + 2 && memcmp(k + 1, key, n) == 0;
        if (p >= end || *p != ':') return 0;
        v = ++p;
        if (!skip_value(&p, end, 1)) return 0;
        if (named) {
            if (check != NULL && !check(v, p)) return 0;
            *vstart = v;
            *vstop = p;
        }
        if (p >= end) return 0;
        if (*p == '}') return p + 1 == end;
        if (*p != ',') return 0;
        p++;
    }
}

/* recorded_at must decode to a str that msgspec re-encodes unchanged:
 * a string of printable ASCII (skip_string already refused escapes). */
static int plain_ascii_string(ptr start, ptr stop) {
    if (*start != '"') return 0;
    for (ptr p = start; p < stop; p++)
        if (*p >= 0x80) return 0;
    return 1;
}

static const unsigned char DOCUMENT_MEMBER[] = "\"document\":";

/* Python's `b'"document":' in payload`. */
static int has_document_member(ptr data, size_t n) {
    return memmem(data, n, DOCUMENT_MEMBER, sizeof(DOCUMENT_MEMBER) - 1) != NULL;
}

#endif
