/* test_thread_slots.c: the per-thread records other threads read (thread_slots.h): a thread
 * keeps its own, an exited thread's record serves the next new thread, and a program that
 * starts a thread per task keeps as many records as it had threads at once. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "thread_slots.h"

static size_t slot_count(void)
{
    size_t count = 0;
    for (const struct thread_slot *slot = thread_slot_first(); slot != NULL; slot = slot->next)
        count++;
    return count;
}

static void *take_own(void *unused)
{
    (void)unused;
    struct thread_slot *first = thread_slot_own();
    return first == thread_slot_own() ? first : NULL;
}

static struct thread_slot *slot_of_a_new_thread(void)
{
    pthread_t thread;
    void *slot = NULL;
    if (pthread_create(&thread, NULL, take_own, NULL) != 0)
        return NULL;
    pthread_join(thread, &slot);
    return slot;
}

static void test_an_exited_threads_slot_serves_the_next(void)
{
    struct thread_slot *own = thread_slot_own();
    if (!CHECK(own != NULL))
        return;
    CHECK_EQ_PTR(thread_slot_own(), own);
    struct thread_slot *first = slot_of_a_new_thread();
    if (!CHECK(first != NULL))
        return;
    CHECK(first != own);
    size_t before = slot_count();
    for (int i = 0; i < 1000; i++)
        if (!CHECK_EQ_PTR(slot_of_a_new_thread(), first))
            return;
    CHECK_EQ_U64(slot_count(), before);
}

/* Two threads alive at once hold two records; both serve again after they exit. */
static pthread_barrier_t both_have_one;

static void *take_own_and_wait(void *unused)
{
    (void)unused;
    struct thread_slot *slot = thread_slot_own();
    pthread_barrier_wait(&both_have_one);
    return slot;
}

static void test_threads_alive_at_once_hold_their_own(void)
{
    size_t before = slot_count();
    pthread_barrier_init(&both_have_one, NULL, 2);
    pthread_t threads[2];
    void *slots[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, take_own_and_wait, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], &slots[i]);
    pthread_barrier_destroy(&both_have_one);
    CHECK(slots[0] != NULL && slots[1] != NULL && slots[0] != slots[1]);
    CHECK_EQ_U64(slot_count(), before + 1); /* one was the recycled record of the last test */
    struct thread_slot *next = slot_of_a_new_thread();
    CHECK(next == slots[0] || next == slots[1]);
    CHECK_EQ_U64(slot_count(), before + 1);
}

int main(void)
{
    RUN_TEST(test_an_exited_threads_slot_serves_the_next);
    RUN_TEST(test_threads_alive_at_once_hold_their_own);
    return check_exit_status();
}
