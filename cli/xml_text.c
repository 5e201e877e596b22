/* xml_text.c: see xml_text.h. */
#include "xml_text.h"

#include <stdint.h>

/* The length of the valid UTF-8 sequence at text, with its code point; 0 when invalid. */
static size_t utf8_sequence(const unsigned char *text, uint32_t *code_point)
{
    if (text[0] < 0x80) {
        *code_point = text[0];
        return 1;
    }
    size_t length = text[0] >= 0xf0 && text[0] < 0xf5   ? 4
                    : text[0] >= 0xe0                    ? 3
                    : text[0] >= 0xc2 && text[0] < 0xe0 ? 2
                                                         : 0;
    if (length == 0 || text[0] >= 0xf5)
        return 0;
    uint32_t value = text[0] & (0xff >> (length + 1));
    for (size_t i = 1; i < length; i++) {
        if ((text[i] & 0xc0) != 0x80)
            return 0;
        value = (value << 6) | (text[i] & 0x3f);
    }
    static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (value < smallest[length] || value > 0x10ffff || (value >= 0xd800 && value < 0xe000))
        return 0;
    *code_point = value;
    return length;
}

size_t xml_text_characters(const char *text)
{
    size_t count = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; count++) {
        uint32_t code_point;
        size_t length = utf8_sequence(c, &code_point);
        c += length ? length : 1;
    }
    return count;
}

void xml_text_write(FILE *out, const char *text, size_t limit)
{
    size_t written = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c && written < limit;
         written++) {
        uint32_t code_point;
        size_t length = utf8_sequence(c, &code_point);
        if (length == 0 || code_point == 0xfffe || code_point == 0xffff) {
            fputc('?', out); /* not a character XML allows */
            c += length ? length : 1;
            continue;
        }
        switch (code_point) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if (code_point >= 0x20 || code_point == '\n' || code_point == '\t')
                fwrite(c, 1, length, out);
        }
        c += length;
    }
}
