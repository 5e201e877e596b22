/* xml_text.c: see xml_text.h. */
#include "xml_text.h"

void xml_text_write(FILE *out, const char *text, size_t limit)
{
    size_t written = 0;
    for (const char *c = text; *c && written < limit; c++, written++) {
        switch (*c) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if ((unsigned char)*c >= 0x20 || *c == '\n' || *c == '\t')
                fputc(*c, out);
        }
    }
}
