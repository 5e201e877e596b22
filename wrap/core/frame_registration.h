/* frame_registration.h: keeps a static program's own exception tables registered until it
 * ends, through the exit pass. */
#ifndef MALLOC_TRACE_FRAME_REGISTRATION_H
#define MALLOC_TRACE_FRAME_REGISTRATION_H

/* At start: registers the executable's .eh_frame with libgcc's unwinder, under an object of
 * the tracer's, when the executable has no .eh_frame_hdr. */
void frame_registration_add_executable(void);

#endif
