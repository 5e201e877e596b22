/* xml_text.h: text written inside XML (the JUnit report, the SVG flame graph). */
#ifndef MALLOC_TRACE_CLI_XML_TEXT_H
#define MALLOC_TRACE_CLI_XML_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Writes at most limit characters of text, with <, >, & and " escaped and the control
 * characters XML does not allow left out. */
void xml_text_write(FILE *out, const char *text, size_t limit);

#endif
