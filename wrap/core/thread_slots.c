/* thread_slots.c: see thread_slots.h. */
#include "thread_slots.h"

#include <pthread.h>
#include <signal.h>

#include "os.h"

/* Records are mapped a few at a time: one takes half a page, most of it frames. */
#define SLOTS_PER_MAP (16384 / sizeof(struct thread_slot))

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_slot *_Atomic all_slots;
static struct thread_slot *spare_slots; /* under slot_lock: the rest of a mapping */
static size_t spare_count;
static struct thread_slot *recycled_slots; /* under slot_lock: those of exited threads */
static pthread_key_t slot_key;
static bool slot_key_made; /* under slot_lock */
__thread struct thread_slot *thread_slot_mine __attribute__((tls_model("initial-exec")));

/* The key's destructor, at a thread's exit: its slot, idle by then (no realloc, no walk is
 * under way), serves the next new thread, so that a program that starts a thread per task
 * keeps as many slots as it ever had threads at once. A later use on the same thread
 * (another destructor that allocates) takes a slot again and sets the key again, which
 * glibc's destructor rounds then see. Signals wait: outside any hook, a handler's realloc
 * would take a slot, and so the lock this thread holds. */
static void recycle_slot(void *value)
{
    struct thread_slot *slot = value;
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    thread_slot_mine = NULL;
    pthread_mutex_lock(&slot_lock);
    slot->next_recycled = recycled_slots;
    recycled_slots = slot;
    pthread_mutex_unlock(&slot_lock);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
}

static struct thread_slot *take_slot_locked(void)
{
    if (!slot_key_made)
        slot_key_made = pthread_key_create(&slot_key, recycle_slot) == 0;
    if (recycled_slots != NULL) {
        struct thread_slot *slot = recycled_slots;
        recycled_slots = slot->next_recycled;
        return slot;
    }
    if (spare_count == 0) {
        spare_slots = os_map(SLOTS_PER_MAP * sizeof *spare_slots);
        spare_count = spare_slots ? SLOTS_PER_MAP : 0;
    }
    if (spare_count == 0)
        return NULL;
    struct thread_slot *slot = &spare_slots[--spare_count];
    slot->next = atomic_load(&all_slots);
    atomic_store(&all_slots, slot);
    return slot;
}

struct thread_slot *thread_slot_make(void)
{
    pthread_mutex_lock(&slot_lock);
    struct thread_slot *slot = take_slot_locked();
    bool keyed = slot_key_made;
    pthread_mutex_unlock(&slot_lock);
    /* Without the key nothing would hand the slot on at exit: it stays this thread's. */
    if (slot != NULL && keyed && pthread_setspecific(slot_key, slot) != 0) {
        recycle_slot(slot);
        return NULL;
    }
    thread_slot_mine = slot;
    return thread_slot_mine;
}

struct thread_slot *thread_slot_first(void)
{
    return atomic_load(&all_slots);
}

void thread_slots_lock(void)
{
    pthread_mutex_lock(&slot_lock);
}

void thread_slots_unlock(bool in_child)
{
    if (in_child)
        pthread_mutex_init(&slot_lock, NULL);
    else
        pthread_mutex_unlock(&slot_lock);
}
