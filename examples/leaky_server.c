/* leaky_server.c: a toy request loop with a real leak in its cache, a block kept until
 * exit, and a correctly freed buffer per request. Used by `make demo`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session {
    char *user;
    char *buffer;
};

static char *config; /* loaded once, never freed, but reachable through this global: no row */

static struct session *open_session(const char *user)
{
    struct session *session = calloc(1, sizeof *session);
    session->user = strdup(user);
    session->buffer = malloc(4096);
    return session;
}

static void close_session(struct session *session, int forget_user)
{
    free(session->buffer);
    if (!forget_user) /* the bug: one path forgets the user name */
        free(session->user);
    free(session);
}

int main(void)
{
    config = malloc(256);
    snprintf(config, 256, "workers=%d", 4);
    const char *users[] = {"ada", "brian", "chen", "dana"};
    for (int request = 0; request < 8; request++) {
        struct session *session = open_session(users[request % 4]);
        close_session(session, request % 4 == 3);
    }
    printf("served 8 requests with %s\n", config);
    return 0;
}
