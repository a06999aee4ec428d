/* load_front.c - an HTTP/1.1 load generator for the API's front (bench/api).
 *
 *   load_front HOST PORT PATH TOKEN [--rate R] [--seconds S] [--clients N] [--new]
 *
 * N client threads (default 4) send GET PATH with a bearer token, on one
 * kept-alive connection each, or on a new connection per request (--new).
 * --rate R (requests/s in all): open loop, each latency counts from the
 * request's scheduled time, so a stall shows in the tail instead of lowering
 * the rate; --rate 0: saturation, closed loop, each client sends its next
 * request when the last one is answered. Prints one line:
 *   requests=.. errors=.. seconds=.. rps=.. p50_ms=.. p99_ms=.. max_ms=..
 * A response that is not 200 counts as an error. Raw sockets, so the client
 * costs little next to the server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static char req[4096];
static size_t req_len;
static double rate;
static double seconds = 5;
static int clients = 4;
static bool fresh;
static int64_t t_start, t_end;

typedef struct client {
    int id;
    int64_t *lat; /* microseconds */
    size_t n, cap;
    long errors;
} client;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One exchange: 0 on a 200, -1 otherwise (the connection is then closed). */
static int exchange(int *fd)
{
    if (*fd < 0 && (*fd = dial()) < 0)
        return -1;
    if (send(*fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len)
        goto bad;
    char buf[16384];
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        ssize_t n = recv(*fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            goto bad;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && got == sizeof buf - 1)
            goto bad;
    }
    int status = atoi(buf + 9);
    char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
    size_t have = got - (size_t)(end + 4 - buf);
    while (have < want) {
        ssize_t n = recv(*fd, buf, sizeof buf, 0);
        if (n <= 0)
            goto bad;
        have += (size_t)n;
    }
    bool closing = strcasestr(buf, "\r\nConnection: close") != NULL;
    if (fresh || closing) {
        close(*fd);
        *fd = -1;
    }
    return status == 200 ? 0 : -1;
bad:
    close(*fd);
    *fd = -1;
    return -1;
}

static void *client_main(void *arg)
{
    client *c = arg;
    int fd = -1;
    double interval = rate > 0 ? 1e6 * clients / rate : 0;
    int64_t next = t_start + (int64_t)(interval * c->id / clients);
    while (now_us() < t_end) {
        int64_t sched = now_us();
        if (rate > 0) {
            while (now_us() < next)
                usleep((useconds_t)((next - now_us()) > 200 ? (next - now_us()) - 100 : 20));
            sched = next;
            next += (int64_t)interval;
        }
        int rc = exchange(&fd);
        int64_t done = now_us();
        if (rc < 0)
            c->errors++;
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 4096;
            c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
        }
        c->lat[c->n++] = done - sched;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: load_front HOST PORT PATH TOKEN [--rate R] [--seconds S] "
                        "[--clients N] [--new]\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "load_front: HOST must be an IPv4 address\n");
        return 2;
    }
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
            clients = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--new"))
            fresh = true;
        else {
            fprintf(stderr, "load_front: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    req_len = (size_t)snprintf(req, sizeof req,
                               "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n%s\r\n",
                               argv[3], argv[1], argv[4], fresh ? "Connection: close\r\n" : "");
    client *cl = calloc((size_t)clients, sizeof *cl);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    t_start = now_us() + 10000;
    t_end = t_start + (int64_t)(seconds * 1e6);
    for (int i = 0; i < clients; i++) {
        cl[i].id = i;
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += cl[i].n;
        errors += cl[i].errors;
    }
    int64_t *all = malloc((total + 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, cl[i].lat, cl[i].n * sizeof *all);
        k += cl[i].n;
        free(cl[i].lat);
    }
    qsort(all, total, sizeof *all, cmp);
    double el = (double)(now_us() - t_start) / 1e6;
    printf("requests=%zu errors=%ld seconds=%.1f rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
           total, errors, el, (double)total / el, total ? all[total / 2] / 1000.0 : 0,
           total ? all[(size_t)((double)total * 0.99)] / 1000.0 : 0,
           total ? all[total - 1] / 1000.0 : 0);
    free(all);
    free(cl);
    free(th);
    return 0;
}
