/* thread_slots.c: see thread_slots.h. */
#include "thread_slots.h"

#include <pthread.h>

#include "os.h"

#define SLOTS_PER_PAGE (4096 / sizeof(struct thread_slot))

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_slot *_Atomic all_slots;
static struct thread_slot *spare_slots; /* under slot_lock: the rest of a page */
static size_t spare_count;
static __thread struct thread_slot *own_slot __attribute__((tls_model("initial-exec")));

struct thread_slot *thread_slot_own(void)
{
    if (own_slot != NULL)
        return own_slot;
    pthread_mutex_lock(&slot_lock);
    if (spare_count == 0) {
        spare_slots = os_map(SLOTS_PER_PAGE * sizeof *spare_slots);
        spare_count = spare_slots ? SLOTS_PER_PAGE : 0;
    }
    if (spare_count > 0) {
        struct thread_slot *slot = &spare_slots[--spare_count];
        slot->next = atomic_load(&all_slots);
        atomic_store(&all_slots, slot);
        own_slot = slot;
    }
    pthread_mutex_unlock(&slot_lock);
    return own_slot;
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
