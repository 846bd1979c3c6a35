/* The one-pass checks of a request's body (_jcsproof.c's plain_bytes and
 * depth_proven_within), and the eight-bytes-at-a-time tests they and the
 * JCS writer share. Included once, by _jcsproof.c. */
#ifndef JCSPROOF_SCAN_H
#define JCSPROOF_SCAN_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- Eight bytes at a time (exact as a yes/no: borrows only add false alarms above a true one) ---- */

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

static uint64_t load8(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Some byte of `w` equals `c`. */
static int has_byte(uint64_t w, unsigned char c) {
    uint64_t x = w ^ (ONES * c);
    return ((x - ONES) & ~x & HIGH) != 0;
}
/* ---- jcs._python_plain_bytes, in one pass ---- */

static int json_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* What jcs._PLAIN_TABLE maps a byte to, and '\\' (where a surrogate escape may start) apart. */
static char PLAIN_CLASS[256];

static void init_plain_classes(void) {
    for (int c = 0; c < 256; c++) {
        PLAIN_CLASS[c] = c == '-' || (c >= '0' && c <= '9') ? '0'
                         : c == ':' || c == '[' || c == ',' || json_space((unsigned char)c) ? ':'
                         : c >= 0xF0 ? '!' : c == '\\' ? '\\' : 0;
    }
}

static Py_ssize_t last_token(const unsigned char *raw, Py_ssize_t i) {
    while (i >= 0 && json_space(raw[i])) i--;
    return i;
}

/* jcs._may_hold_long_integer's test of the run of 16 digits after `at`. */
static int may_be_number(const unsigned char *raw, Py_ssize_t at) {
    Py_ssize_t token = last_token(raw, at), key;
    if (token < 0 || raw[token] == '[' || raw[token] == ',') return 1;
    return raw[token] == ':' && (key = last_token(raw, token - 1)) >= 0 && raw[key] == '"';
}

static int surrogate_escape(const unsigned char *raw, Py_ssize_t n, Py_ssize_t i) {
    return i + 3 < n && raw[i + 1] == 'u' && (raw[i + 2] == 'd' || raw[i + 2] == 'D')
           && strchr("89abAB", raw[i + 3]) != NULL && raw[i + 3] != 0;
}

/* Some byte of ASCII `w` is a digit. */
static int has_digit(uint64_t w) {
    return ((w + ONES * (0x80 - '0')) & ~(w + ONES * (0x80 - '9' - 1)) & HIGH) != 0;
}

static PyObject *plain_bytes(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "plain_bytes(raw: bytes)");
        return NULL;
    }
    const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg), i = 0, checked = 0;
    while (i < n) {
        if (i >= checked && i + 8 <= n) { /* most words: ASCII without a digit, a sign or a backslash */
            uint64_t w = load8(raw + i);
            if (!(w & HIGH) && !has_digit(w) && !has_byte(w, '-') && !has_byte(w, '\\')) {
                i += 8;
                continue;
            }
            checked = i + 8; /* this word byte by byte, then words again */
        }
        char kind = PLAIN_CLASS[raw[i]];
        if (kind == '!' || (kind == '\\' && surrogate_escape(raw, n, i))) Py_RETURN_FALSE;
        if (kind != '0') {
            i++;
            continue;
        }
        /* A run of digits (or signs), from its start (a skipped word holds none): a match if
         * 16 long after a ':'-class byte (jcs._LONG_INTEGER). */
        Py_ssize_t start = i;
        while (i < n && PLAIN_CLASS[raw[i]] == '0') i++;
        if (i - start >= 16 && start > 0 && PLAIN_CLASS[raw[start - 1]] == ':' && may_be_number(raw, start - 1))
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* ---- untrusted.json_depth_within, where one pass proves it ---- */

/* 1: a quote; 2: a backslash; 3: an opening, 4: a closing bracket (outside strings). */
static char STRUCTURE[256];

static void init_structure(void) {
    STRUCTURE['"'] = 1;
    STRUCTURE['\\'] = 2;
    STRUCTURE['{'] = STRUCTURE['['] = 3;
    STRUCTURE['}'] = STRUCTURE[']'] = 4;
}

/* True where `raw` is proven to nest at most `max_depth` levels: its strings
 * closed, no backslash outside them, and brackets outside them matched.
 * untrusted.json_depth_within then answers True too (it counts the same
 * brackets); False means only "not proven here", and Python decides. */
static PyObject *depth_proven_within(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char open[256];
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "depth_proven_within(raw: bytes, max_depth: int)");
        return NULL;
    }
    long max_depth = PyLong_AsLong(args[1]);
    if (max_depth == -1 && PyErr_Occurred()) return NULL;
    if (max_depth < 0 || max_depth > (long)sizeof open) Py_RETURN_FALSE;
    const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    long depth = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char kind = STRUCTURE[raw[i]];
        if (kind == 0) continue;
        if (kind == 2) Py_RETURN_FALSE; /* a backslash outside a string */
        if (kind == 3) {
            if (depth == max_depth) Py_RETURN_FALSE;
            open[depth++] = raw[i];
        } else if (kind == 4) {
            if (depth == 0 || open[--depth] != (raw[i] == '}' ? '{' : '[')) Py_RETURN_FALSE;
        } else { /* a string: to its closing quote, each escape's next byte skipped */
            for (i++; i < n && raw[i] != '"'; i++) {
                while (i + 8 <= n && !has_byte(load8(raw + i), '"') && !has_byte(load8(raw + i), '\\')) i += 8;
                if (i < n && raw[i] == '"') break;
                if (i < n && raw[i] == '\\') i++;
            }
            if (i >= n) Py_RETURN_FALSE;
        }
    }
    return PyBool_FromLong(depth == 0);
}
#endif
