/*
 * The "json" parser: a hand-written decoder (json_decode.c) and encoder
 * (json_encode.c), no JSON library.
 *
 * Decoding is strict RFC 8259: no comments, trailing commas, trailing
 * garbage, partial values, byte order mark, or whitespace beyond space, tab,
 * CR and LF. The whole text is checked as strict UTF-8 unless the caller
 * knows it is (WEFT__DECODE_UTF8_VALID); \u escapes of lone surrogates are
 * refused with WEFT_EUTF8 and surrogate pairs are joined; integers that fit
 * int64 become WEFT_INT, other numbers WEFT_FLOAT, converted without
 * depending on the C locale. Error offsets are those the yajl-based decoder
 * that came before reported (the tests pin them).
 *
 * Encoding matches JavaScript's JSON.stringify (compact, same escapes, same
 * number layout, Buffer objects for binary), plus \u2028/\u2029 escapes as
 * Primus sends them, and ".0" on integral floats so they decode as floats.
 */
#include "json.h"
#include "base/value_internal.h"

static int json_verbatim(const weft_value *v) { return weft__json_verbatim(v); }

const weft__parser_ops weft__parser_json = {
    .name = "json",
    .binary = 0,
    .decode = weft__json_decode,
    .encode = weft__json_encode,
    .verbatim = json_verbatim,
};
