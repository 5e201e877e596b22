/* entry_points.h: the intercepted functions, each naming frame 0 of the stacks it records. */
#ifndef MALLOC_TRACE_ENTRY_POINTS_H
#define MALLOC_TRACE_ENTRY_POINTS_H

/* X(identifier, name as frame 0 spells it: the C name, or the operator as c++filt prints it) */
#define MALLOC_TRACE_ENTRY_POINTS(X)                                                          \
    X(MALLOC, "malloc")                                                                       \
    X(CALLOC, "calloc")                                                                       \
    X(REALLOC, "realloc")                                                                     \
    X(REALLOCARRAY, "reallocarray")                                                           \
    X(FREE, "free")                                                                           \
    X(POSIX_MEMALIGN, "posix_memalign")                                                       \
    X(ALIGNED_ALLOC, "aligned_alloc")                                                         \
    X(MEMALIGN, "memalign")                                                                   \
    X(VALLOC, "valloc")                                                                       \
    X(PVALLOC, "pvalloc")                                                                     \
    X(STRDUP, "strdup")                                                                       \
    X(STRNDUP, "strndup")                                                                     \
    X(WCSDUP, "wcsdup")                                                                       \
    X(REALPATH, "realpath")                                                                   \
    X(GETCWD, "getcwd")                                                                       \
    X(GET_CURRENT_DIR_NAME, "get_current_dir_name")                                           \
    X(GETLINE, "getline")                                                                     \
    X(GETDELIM, "getdelim")                                                                   \
    X(ASPRINTF, "asprintf")                                                                   \
    X(VASPRINTF, "vasprintf")                                                                 \
    X(NEW, "operator new(unsigned long)")                                                     \
    X(NEW_NOTHROW, "operator new(unsigned long, std::nothrow_t const&)")                      \
    X(NEW_ALIGNED, "operator new(unsigned long, std::align_val_t)")                           \
    X(NEW_ALIGNED_NOTHROW,                                                                    \
      "operator new(unsigned long, std::align_val_t, std::nothrow_t const&)")                 \
    X(NEW_ARRAY, "operator new[](unsigned long)")                                             \
    X(NEW_ARRAY_NOTHROW, "operator new[](unsigned long, std::nothrow_t const&)")              \
    X(NEW_ARRAY_ALIGNED, "operator new[](unsigned long, std::align_val_t)")                   \
    X(NEW_ARRAY_ALIGNED_NOTHROW,                                                              \
      "operator new[](unsigned long, std::align_val_t, std::nothrow_t const&)")               \
    X(DELETE, "operator delete(void*)")                                                       \
    X(DELETE_SIZED, "operator delete(void*, unsigned long)")                                  \
    X(DELETE_NOTHROW, "operator delete(void*, std::nothrow_t const&)")                        \
    X(DELETE_ALIGNED, "operator delete(void*, std::align_val_t)")                             \
    X(DELETE_SIZED_ALIGNED, "operator delete(void*, unsigned long, std::align_val_t)")        \
    X(DELETE_ALIGNED_NOTHROW,                                                                 \
      "operator delete(void*, std::align_val_t, std::nothrow_t const&)")                      \
    X(DELETE_ARRAY, "operator delete[](void*)")                                               \
    X(DELETE_ARRAY_SIZED, "operator delete[](void*, unsigned long)")                          \
    X(DELETE_ARRAY_NOTHROW, "operator delete[](void*, std::nothrow_t const&)")                \
    X(DELETE_ARRAY_ALIGNED, "operator delete[](void*, std::align_val_t)")                     \
    X(DELETE_ARRAY_SIZED_ALIGNED, "operator delete[](void*, unsigned long, std::align_val_t)") \
    X(DELETE_ARRAY_ALIGNED_NOTHROW,                                                           \
      "operator delete[](void*, std::align_val_t, std::nothrow_t const&)")

#define MALLOC_TRACE_ENTRY_POINT_ENUM(id, name) ENTRY_##id,
enum entry_point { MALLOC_TRACE_ENTRY_POINTS(MALLOC_TRACE_ENTRY_POINT_ENUM) ENTRY_POINT_COUNT };
#undef MALLOC_TRACE_ENTRY_POINT_ENUM

#endif
