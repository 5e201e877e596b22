/* xml_text.h: text written inside XML (the JUnit report, the SVG flame graph). */
#ifndef MALLOC_TRACE_CLI_XML_TEXT_H
#define MALLOC_TRACE_CLI_XML_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Writes at most limit characters of text (UTF-8), with <, >, & and " escaped, the control
 * characters XML does not allow left out, and '?' for bytes that are not UTF-8 and for
 * U+FFFE and U+FFFF. */
void xml_text_write(FILE *out, const char *text, size_t limit);

/* How many characters xml_text_write counts in text. */
size_t xml_text_characters(const char *text);

#endif
