/* watched_operators.h: the body of a front-end's operator new or delete that calls a real
 * operator which may be the program's own, watched (see malloc_trace_on_operator_begin in
 * tracer.h). The wrap form calls libstdc++'s operators this way (__real_), or the program's
 * where it defines them; the preload form the program's, where libstdc++ would have called
 * them. Each macro ends the function: new returns the pointer. */
#ifndef MALLOC_TRACE_WATCHED_OPERATORS_H
#define MALLOC_TRACE_WATCHED_OPERATORS_H

#include "../core/tracer.h"

/* real: the operator's address (is it the program's?); call: the call of it. The saved
 * state's cleanup ends the watch when the real operator throws. */
#define WATCHED_NEW_BODY(real, call, size, entry)                                            \
    struct malloc_trace_operator saved                                                       \
        __attribute__((cleanup(malloc_trace_on_operator_unwound)));                          \
    malloc_trace_on_operator_begin(&saved);                                                  \
    void *ptr_ = (call);                                                                     \
    malloc_trace_on_new_end(&saved, ptr_, (size), (entry), (const void *)(real));            \
    return ptr_

/* A block the tracer holds is taken out before the real call, which then runs under the
 * guard: libstdc++'s sized or array delete calls the plain one (or free), whose front-end
 * must not see the block again and report an orphan free. Any other pointer is settled
 * after the call, by what the frees inside it released. */
#define WATCHED_DELETE_BODY(real, call, ptr, entry)                                          \
    struct malloc_trace_operator saved                                                       \
        __attribute__((cleanup(malloc_trace_on_operator_unwound)));                          \
    if (malloc_trace_on_delete_begin((ptr), (entry), (const void *)(real), &saved)) {                              \
        malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;                                   \
        call;                                                                                \
        malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;                                   \
    } else {                                                                                 \
        call;                                                                                \
        malloc_trace_on_delete_end(&saved, (ptr), (entry), (const void *)(real));            \
    }

#endif
