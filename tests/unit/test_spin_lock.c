/* test_spin_lock.c: the live table's shard lock (spin_lock.h): it excludes, a waiter gets it
 * when a long holder lets go (after spinning, yielding and napping; without yielding when a
 * pass holds it), and waiting for it is no cancellation point and leaves errno as it was, as
 * waiting inside malloc must. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "check.h"
#include "spin_lock.h"

static void sleep_ms(long ms)
{
    struct timespec length = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&length, NULL);
}

/* ---- exclusion ------------------------------------------------------------------------ */

#define THREADS 4
#define ROUNDS 200000u
static struct spin_lock counter_lock;
static uint64_t counter; /* plain: only the lock keeps the increments whole */

static void *count_up(void *unused)
{
    (void)unused;
    for (unsigned i = 0; i < ROUNDS; i++) {
        spin_lock_take(&counter_lock);
        uint64_t seen = counter;
        __asm__ volatile("" ::: "memory"); /* a read and a write apart, as in the table */
        counter = seen + 1;
        spin_lock_release(&counter_lock);
    }
    return NULL;
}

static void test_exclusion(void)
{
    pthread_t threads[THREADS];
    for (unsigned t = 0; t < THREADS; t++)
        if (!CHECK_EQ_U64(pthread_create(&threads[t], NULL, count_up, NULL), 0))
            return;
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    CHECK_EQ_U64(counter, (uint64_t)THREADS * ROUNDS);
}

/* ---- a long holder -------------------------------------------------------------------- */

static struct spin_lock held_lock;
static atomic_int released;        /* set by the holder just before it lets go */
static atomic_int saw_release;     /* the waiter found released set once it had the lock */
static atomic_int past_the_lock;   /* the waiter got the lock */

static void *wait_for_lock(void *unused)
{
    (void)unused;
    spin_lock_take(&held_lock);
    atomic_store(&saw_release, atomic_load(&released));
    atomic_store(&past_the_lock, 1);
    spin_lock_release(&held_lock);
    pthread_testcancel();
    return NULL;
}

static void test_long_holder(void)
{
    spin_lock_take(&held_lock);
    pthread_t waiter;
    if (!CHECK_EQ_U64(pthread_create(&waiter, NULL, wait_for_lock, NULL), 0)) {
        spin_lock_release(&held_lock);
        return;
    }
    sleep_ms(50); /* long enough for the waiter to be napping */
    CHECK_EQ_U64(atomic_load(&past_the_lock), 0);
    atomic_store(&released, 1);
    spin_lock_release(&held_lock);
    void *result;
    pthread_join(waiter, &result);
    CHECK_EQ_U64(atomic_load(&saw_release), 1);
    CHECK(result == NULL);
}

/* ---- a pass's hold: no sched_yield ------------------------------------------------------
 * The waiter counts its sched_yield calls through a seccomp filter of its own that traps
 * them (SIGSYS, whose handler counts): none while a pass holds the lock, where a filter
 * that kills at them (sshd's) killed the thread; some while a plain hold does. */

static atomic_int yields;

static void count_yield(int signal_number)
{
    (void)signal_number;
    atomic_fetch_add(&yields, 1);
}

static void *wait_under_a_filter(void *yields_seen)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sched_yield, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof filter / sizeof *filter, filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        return NULL;
    atomic_store(&yields, 0);
    spin_lock_take(&held_lock);
    *(int *)yields_seen = atomic_load(&yields);
    spin_lock_release(&held_lock);
    return yields_seen;
}

/* The sched_yield calls of a waiter for a hold of 30 ms (-1: the filter was refused). */
static int yields_waiting_for(bool pass)
{
    if (pass)
        spin_lock_take_long(&held_lock);
    else
        spin_lock_take(&held_lock);
    int seen = -1;
    pthread_t waiter;
    if (!CHECK_EQ_U64(pthread_create(&waiter, NULL, wait_under_a_filter, &seen), 0)) {
        spin_lock_release(&held_lock);
        return -1;
    }
    sleep_ms(30);
    spin_lock_release(&held_lock);
    void *result;
    pthread_join(waiter, &result);
    return result == &seen ? seen : -1;
}

static void test_no_yield_while_a_pass_holds(void)
{
    struct sigaction counting = {.sa_handler = count_yield}, previous;
    sigaction(SIGSYS, &counting, &previous);
    CHECK_EQ_I64(yields_waiting_for(true), 0);
    CHECK_EQ_I64(yields_waiting_for(false), 20); /* YIELDS in spin_lock.c */
    sigaction(SIGSYS, &previous, NULL);
}

/* ---- cancellation --------------------------------------------------------------------- */

static void test_waiting_is_no_cancellation_point(void)
{
    atomic_store(&past_the_lock, 0);
    spin_lock_take(&held_lock);
    pthread_t waiter;
    if (!CHECK_EQ_U64(pthread_create(&waiter, NULL, wait_for_lock, NULL), 0)) {
        spin_lock_release(&held_lock);
        return;
    }
    sleep_ms(30);
    pthread_cancel(waiter); /* deferred: acts at the waiter's pthread_testcancel only */
    sleep_ms(30);
    spin_lock_release(&held_lock);
    void *result;
    pthread_join(waiter, &result);
    CHECK_EQ_U64(atomic_load(&past_the_lock), 1);
    CHECK(result == PTHREAD_CANCELED);
}

/* ---- errno ---------------------------------------------------------------------------- */

static atomic_int waiter_errno;

static void *wait_keeping_errno(void *unused)
{
    (void)unused;
    errno = 1234;
    spin_lock_take(&held_lock);
    atomic_store(&waiter_errno, errno);
    spin_lock_release(&held_lock);
    return NULL;
}

static void on_signal(int signal_number)
{
    (void)signal_number;
}

/* Signals cut the waiter's naps short (EINTR from the system call): the program's errno,
 * which a malloc must not change, stays as it was. */
static void test_waiting_keeps_errno(void)
{
    struct sigaction action = {.sa_handler = on_signal}; /* no SA_RESTART */
    sigaction(SIGUSR1, &action, NULL);
    spin_lock_take(&held_lock);
    pthread_t waiter;
    if (!CHECK_EQ_U64(pthread_create(&waiter, NULL, wait_keeping_errno, NULL), 0)) {
        spin_lock_release(&held_lock);
        return;
    }
    sleep_ms(20); /* napping by now */
    for (unsigned i = 0; i < 20; i++) {
        pthread_kill(waiter, SIGUSR1);
        sleep_ms(1);
    }
    spin_lock_release(&held_lock);
    pthread_join(waiter, NULL);
    CHECK_EQ_U64(atomic_load(&waiter_errno), 1234);
}

int main(void)
{
    RUN_TEST(test_exclusion);
    RUN_TEST(test_long_holder);
    RUN_TEST(test_no_yield_while_a_pass_holds);
    RUN_TEST(test_waiting_is_no_cancellation_point);
    RUN_TEST(test_waiting_keeps_errno);
    return check_exit_status();
}
