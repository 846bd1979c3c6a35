/* RFC 8785 (JCS) bytes of Python values, written only where certain to be
 * jcs.canonicalize's (see _jcsproof.c), into a buffer on the stack until it
 * outgrows it. Included once, by _jcsproof.c. */
#ifndef JCSPROOF_JCS_H
#define JCSPROOF_JCS_H

#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_SAFE_INT 9007199254740991LL
#define SORT_ON_STACK 32

enum { OK = 0, NOT_HANDLED = 1, FAILED = -1 /* an exception is set */ };

/* ---- An output buffer, on the stack until it outgrows it ---- */

typedef struct {
    char *p;
    size_t n, cap;
    char local[8192];
} Buf;

static void b_init(Buf *b) {
    b->p = b->local;
    b->n = 0;
    b->cap = sizeof b->local;
}

static void b_free(Buf *b) {
    if (b->p != b->local) PyMem_Free(b->p);
}

static int b_grow(Buf *b, size_t extra) {
    size_t cap = b->cap;
    while (cap - b->n < extra) {
        if (cap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return FAILED;
        }
        cap *= 2;
    }
    char *p = PyMem_Malloc(cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    memcpy(p, b->p, b->n);
    b_free(b);
    b->p = p;
    b->cap = cap;
    return OK;
}

#define ENSURE(b, extra) \
    do { \
        if ((b)->cap - (b)->n < (size_t)(extra) && b_grow((b), (extra)) != OK) return FAILED; \
    } while (0)

static int b_put(Buf *b, const char *s, size_t len) {
    ENSURE(b, len);
    memcpy(b->p + b->n, s, len);
    b->n += len;
    return OK;
}

static int b_char(Buf *b, char c) {
    ENSURE(b, 1);
    b->p[b->n++] = c;
    return OK;
}
#include "_jcsproof_scan.h"

/* ---- Strings: JCS escapes exactly '"', '\\' and U+0000..U+001F ---- */

static const char HEX[] = "0123456789abcdef";

/* 0: copied as is; otherwise the letter after the backslash ('u': \u00xx). */
static char ESCAPE[128];

static void init_escapes(void) {
    for (int c = 0; c < 0x20; c++) ESCAPE[c] = 'u';
    ESCAPE['\b'] = 'b';
    ESCAPE['\t'] = 't';
    ESCAPE['\n'] = 'n';
    ESCAPE['\f'] = 'f';
    ESCAPE['\r'] = 'r';
    ESCAPE['"'] = '"';
    ESCAPE['\\'] = '\\';
}

static int put_escaped_ascii(Buf *b, unsigned char c) {
    char e = ESCAPE[c];
    if (e == 'u') {
        char esc[6] = {'\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
        return b_put(b, esc, 6);
    }
    char esc[2] = {'\\', e};
    return b_put(b, esc, 2);
}

/* Whether any of the 8 ASCII bytes in `w` needs an escape (below 0x20, '"' or '\\'). */
static int word_needs_escape(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    /* Exact as a yes/no for ASCII bytes: some byte below 0x20, or equal to either. */
    return ((((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & high) != 0;
}

/* The ASCII characters of `s`, escaped, in runs copied whole (most strings have none to escape). */
static int put_ascii(Buf *b, const unsigned char *s, Py_ssize_t len) {
    Py_ssize_t start = 0, i = 0;
    ENSURE(b, len);
    while (i < len) {
        uint64_t w;
        if (i + 8 <= len) {
            memcpy(&w, s + i, 8);
            if (!word_needs_escape(w)) {
                i += 8;
                continue;
            }
        }
        Py_ssize_t end = i + 8 < len ? i + 8 : len;
        for (; i < end; i++) {
            if (ESCAPE[s[i]]) {
                if (b_put(b, (const char *)s + start, (size_t)(i - start)) != OK || put_escaped_ascii(b, s[i]) != OK)
                    return FAILED;
                start = i + 1;
            }
        }
    }
    return b_put(b, (const char *)s + start, (size_t)(len - start));
}

/* One code point as UTF-8; a surrogate (lone, as str holds no pairs) is not handled. */
static int put_code_point(Buf *b, Py_UCS4 c) {
    char out[4];
    if (c < 0x80) return ESCAPE[c] ? put_escaped_ascii(b, (unsigned char)c) : b_char(b, (char)c);
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return b_put(b, out, 2);
    }
    if (c >= 0xD800 && c <= 0xDFFF) return NOT_HANDLED;
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return b_put(b, out, 3);
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return b_put(b, out, 4);
}

static int put_string(Buf *b, PyObject *s) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    int rc = b_char(b, '"');
    if (rc != OK) return rc;
    if (PyUnicode_IS_ASCII(s)) {
        rc = put_ascii(b, PyUnicode_1BYTE_DATA(s), len);
    } else {
        int kind = PyUnicode_KIND(s);
        const void *data = PyUnicode_DATA(s);
        ENSURE(b, len);
        for (Py_ssize_t i = 0; i < len && rc == OK; i++) rc = put_code_point(b, PyUnicode_READ(kind, data, i));
    }
    return rc == OK ? b_char(b, '"') : rc;
}

/* ---- Numbers ---- */

static int put_integer(Buf *b, long long value) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", value);
    return b_put(b, tmp, (size_t)n);
}

static int put_int(Buf *b, PyObject *v) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (value == -1 && PyErr_Occurred()) return FAILED;
    if (overflow || value > MAX_SAFE_INT || value < -MAX_SAFE_INT) return NOT_HANDLED;
    return put_integer(b, value);
}

static int put_float(Buf *b, PyObject *v) {
    double d = PyFloat_AS_DOUBLE(v);
    if (!isfinite(d) || d != floor(d) || fabs(d) > (double)MAX_SAFE_INT) return NOT_HANDLED;
    return put_integer(b, (long long)d); /* -0.0 prints "0", as "%d" % -0.0 does */
}

/* ---- Containers ---- */

static int put_value(Buf *b, PyObject *v, int depth);

typedef struct {
    const char *key;
    Py_ssize_t len;
    PyObject *name, *value;
} Member;

/* UTF-8 byte order is code point order, which is UTF-16 order for keys of the BMP. */
static int member_order(const void *x, const void *y) {
    const Member *a = x, *b = y;
    int c = memcmp(a->key, b->key, (size_t)(a->len < b->len ? a->len : b->len));
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static void sort_members(Member *m, Py_ssize_t n) {
    if (n > 16) {
        qsort(m, (size_t)n, sizeof *m, member_order);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) {
        Member x = m[i];
        Py_ssize_t j = i;
        for (; j > 0 && member_order(&m[j - 1], &x) > 0; j--) m[j] = m[j - 1];
        m[j] = x;
    }
}

/* A key's UTF-8 for sorting; not handled above U+FFFF or for a lone surrogate. */
static int key_bytes(PyObject *key, Member *m) {
    if (!PyUnicode_CheckExact(key) || PyUnicode_KIND(key) == PyUnicode_4BYTE_KIND) return NOT_HANDLED;
    if (PyUnicode_IS_ASCII(key)) {
        m->key = (const char *)PyUnicode_1BYTE_DATA(key);
        m->len = PyUnicode_GET_LENGTH(key);
        return OK;
    }
    m->key = PyUnicode_AsUTF8AndSize(key, &m->len);
    if (m->key == NULL) {
        PyErr_Clear(); /* a lone surrogate: the Python path raises its own error */
        return NOT_HANDLED;
    }
    return OK;
}

static int is_key(const Member *m, const char *name) {
    size_t len = strlen(name);
    return (size_t)m->len == len && memcmp(m->key, name, len) == 0;
}

/* `d` in JCS, less its member `skip` and with member `swap`'s value
 * replaced by `swapped` (when not NULL), at `depth` levels. */
static int put_object(Buf *b, PyObject *d, int depth, const char *skip, const char *swap, PyObject *swapped) {
    Py_ssize_t size = PyDict_GET_SIZE(d), n = 0, pos = 0;
    Member local[SORT_ON_STACK], *members = local;
    PyObject *key, *value;
    int rc = OK;
    if (size > SORT_ON_STACK) {
        members = PyMem_Malloc(sizeof(Member) * (size_t)size);
        if (members == NULL) {
            PyErr_NoMemory();
            return FAILED;
        }
    }
    while (PyDict_Next(d, &pos, &key, &value)) {
        Member *m = &members[n];
        if ((rc = key_bytes(key, m)) != OK) goto done;
        if (skip != NULL && is_key(m, skip)) continue;
        m->name = key;
        m->value = swap != NULL && swapped != NULL && is_key(m, swap) ? swapped : value;
        n++;
    }
    sort_members(members, n);
    if ((rc = b_char(b, '{')) != OK) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((i && (rc = b_char(b, ',')) != OK) || (rc = put_string(b, members[i].name)) != OK
            || (rc = b_char(b, ':')) != OK || (rc = put_value(b, members[i].value, depth + 1)) != OK)
            goto done;
    }
    rc = b_char(b, '}');
done:
    if (members != local) PyMem_Free(members);
    return rc;
}

static int put_array(Buf *b, PyObject *list, int depth) {
    int rc = b_char(b, '[');
    /* The list cannot change meanwhile: no Python code runs during the walk. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list) && rc == OK; i++) {
        if (i) rc = b_char(b, ',');
        if (rc == OK) rc = put_value(b, PyList_GET_ITEM(list, i), depth + 1);
    }
    return rc == OK ? b_char(b, ']') : rc;
}

static int put_value(Buf *b, PyObject *v, int depth) {
    if (depth > MAX_DEPTH) return NOT_HANDLED;
    if (PyUnicode_CheckExact(v)) return put_string(b, v);
    if (PyDict_CheckExact(v)) return put_object(b, v, depth, NULL, NULL, NULL);
    if (PyList_CheckExact(v)) return put_array(b, v, depth);
    if (v == Py_True) return b_put(b, "true", 4);
    if (v == Py_False) return b_put(b, "false", 5);
    if (v == Py_None) return b_put(b, "null", 4);
    if (PyLong_CheckExact(v)) return put_int(b, v);
    if (PyFloat_CheckExact(v)) return put_float(b, v);
    return NOT_HANDLED; /* tuples, subclasses, msgspec.Raw, any other type */
}
#endif
