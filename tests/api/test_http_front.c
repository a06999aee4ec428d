/* test_http_front.c - the HTTP front's own machinery (src/api/front.c) over
 * real sockets, with small handlers instead of the API: streamed responses
 * (the interface issue 16's `GET .../live` builds on), pipelining, the
 * per-address eviction and the head deadline. The API on top of it is
 * tested in test_api_http*.c and tests/hardening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

static api_front *front;
static atomic_int saw_gone;

static int64_t ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct job {
    api_stream *s;
    bool forever;
} job;

static void *producer(void *arg)
{
    job *j = arg;
    for (int i = 1; j->forever || i <= 3; i++) {
        char ev[64];
        int n = snprintf(ev, sizeof ev, "data: %d\n\n", i);
        api_stream_result r = api__stream_write(j->s, ev, (size_t)n);
        if (r == API_STREAM_GONE) {
            atomic_store(&saw_gone, 1);
            break;
        }
        usleep(20 * 1000);
    }
    api__stream_close(j->s);
    free(j);
    return NULL;
}

static void handler(void *ctx, api_exchange *x)
{
    (void)ctx;
    const char *p = api__x_path(x);
    if (strcmp(p, "/stream") == 0 || strcmp(p, "/forever") == 0) {
        job *j = calloc(1, sizeof *j);
        j->s = api__respond_stream(x, 200, "text/event-stream");
        j->forever = strcmp(p, "/forever") == 0;
        pthread_t t;
        pthread_create(&t, NULL, producer, j);
        pthread_detach(t);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof body, "hi %s", p);
    api__respond(x, 200, "text/plain", body, (size_t)n);
    api__respond_header(x, "X-Bad", "a\r\nInjected: yes"); /* dropped */
}

static int dial(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in b = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &b.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof b), 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)api__front_port(front))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void put(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Read until the buffer holds `until` (or EOF); returns bytes read. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until)
{
    size_t n = 0;
    buf[0] = '\0';
    while (n + 1 < cap && !strstr(buf, until)) {
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = '\0';
    }
    return n;
}

static int setup(void **state)
{
    (void)state;
    api_front_opts o = {.listen = "127.0.0.1:0",
                        .handler = handler,
                        .max_per_address = 4,
                        .header_timeout_ms = 700,
                        .idle_timeout_ms = 5000,
                        .workers = 2};
    profd_error err = {0};
    front = api__front_start(&o, &err);
    return front ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    api__front_stop(front);
    return 0;
}

static void test_stream_chunked_then_keep_alive(void **state)
{
    (void)state;
    int fd = dial("127.0.0.1");
    put(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4096];
    read_until(fd, buf, sizeof buf, "\r\n0\r\n\r\n");
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/event-stream\r\n"));
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(buf, "Content-Length"));
    assert_non_null(strstr(buf, "\r\n9\r\ndata: 1\n\n\r\n"));
    assert_non_null(strstr(buf, "\r\n9\r\ndata: 3\n\n\r\n0\r\n\r\n"));
    /* The connection is kept: the next request on it is answered. */
    put(fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    read_until(fd, buf, sizeof buf, "hi /after");
    assert_non_null(strstr(buf, "hi /after"));
    assert_null(strstr(buf, "Injected"));
    close(fd);
}

/* A second stream on a kept connection is a whole stream too: all its
 * events, then its own terminating chunk (the end of the first one once
 * leaked into the next, which then went out with no events and no end). */
static void test_second_stream_on_one_connection(void **state)
{
    (void)state;
    int fd = dial("127.0.0.1");
    char buf[4096];
    for (int round = 0; round < 2; round++) {
        put(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
        size_t n = read_until(fd, buf, sizeof buf, "\r\n0\r\n\r\n");
        assert_true(n > 0);
        assert_non_null(strstr(buf, "Transfer-Encoding: chunked\r\n"));
        assert_non_null(strstr(buf, "\r\n9\r\ndata: 1\n\n\r\n"));
        assert_non_null(strstr(buf, "\r\n9\r\ndata: 3\n\n\r\n0\r\n\r\n"));
    }
    close(fd);
}

static void test_stream_http10_raw_then_close(void **state)
{
    (void)state;
    int fd = dial("127.0.0.1");
    put(fd, "GET /stream HTTP/1.0\r\n\r\n");
    char buf[4096];
    size_t n = read_until(fd, buf, sizeof buf, "\x01never");
    assert_true(n > 0);
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_null(strstr(buf, "Transfer-Encoding"));
    assert_non_null(strstr(buf, "\r\n\r\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"));
    close(fd);
}

static void test_stream_producer_sees_gone(void **state)
{
    (void)state;
    atomic_store(&saw_gone, 0);
    int fd = dial("127.0.0.1");
    put(fd, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[1024];
    read_until(fd, buf, sizeof buf, "data: 2");
    assert_non_null(strstr(buf, "data: 2"));
    close(fd);
    int64_t t0 = ms();
    while (!atomic_load(&saw_gone) && ms() - t0 < 5000)
        usleep(10 * 1000);
    assert_true(atomic_load(&saw_gone));
}

static void test_pipelined_in_order(void **state)
{
    (void)state;
    int fd = dial("127.0.0.1");
    put(fd, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4096];
    read_until(fd, buf, sizeof buf, "hi /two");
    char *one = strstr(buf, "hi /one"), *two = strstr(buf, "hi /two");
    assert_non_null(one);
    assert_non_null(two);
    assert_true(one < two);
    close(fd);
}

static void test_full_address_evicts_its_oldest_idle(void **state)
{
    (void)state;
    int idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = dial("127.0.0.7");
        usleep(20 * 1000);
    }
    int fd = dial("127.0.0.7"); /* a fifth: the address is full */
    put(fd, "GET /fifth HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[1024];
    read_until(fd, buf, sizeof buf, "hi /fifth");
    assert_non_null(strstr(buf, "hi /fifth"));
    char c;
    assert_int_equal(recv(idle[0], &c, 1, 0), 0); /* the oldest was closed */
    struct pollfd p = {.fd = idle[3], .events = POLLIN};
    assert_int_equal(poll(&p, 1, 100), 0); /* the newest is still open */
    /* Another address is not affected by the full one. */
    int other = dial("127.0.0.8");
    put(other, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    read_until(other, buf, sizeof buf, "hi /other");
    assert_non_null(strstr(buf, "hi /other"));
    for (int i = 0; i < 4; i++)
        close(idle[i]);
    close(fd);
    close(other);
}

static void test_full_address_evicts_a_slow_upload(void **state)
{
    (void)state;
    int up[4];
    for (int i = 0; i < 4; i++) {
        up[i] = dial("127.0.0.10");
        put(up[i], "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
        usleep(20 * 1000);
    }
    usleep(1200 * 1000); /* now they have been sending a body for over a second */
    int fd = dial("127.0.0.10");
    put(fd, "GET /fifth HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[1024];
    read_until(fd, buf, sizeof buf, "hi /fifth");
    assert_non_null(strstr(buf, "hi /fifth"));
    char c;
    assert_int_equal(recv(up[0], &c, 1, 0), 0); /* the oldest upload lost its slot */
    for (int i = 0; i < 4; i++)
        close(up[i]);
    close(fd);
}

static void test_head_deadline_counts_from_accept(void **state)
{
    (void)state;
    int fd = dial("127.0.0.9");
    int64_t t0 = ms();
    put(fd, "GET /slow HTTP/1.1\r\n");
    char c;
    ssize_t n = 1;
    /* one header line every 200 ms: each is progress, none resets the deadline */
    for (int i = 0; i < 20 && n != 0; i++) {
        usleep(200 * 1000);
        if (send(fd, "X-a: b\r\n", 8, MSG_NOSIGNAL) < 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1)
            n = recv(fd, &c, 1, 0);
    }
    if (n != 0)
        n = recv(fd, &c, 1, 0);
    int64_t waited = ms() - t0;
    assert_true(n <= 0); /* closed, not answered */
    assert_true(waited < 2500);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_chunked_then_keep_alive),
        cmocka_unit_test(test_second_stream_on_one_connection),
        cmocka_unit_test(test_stream_http10_raw_then_close),
        cmocka_unit_test(test_stream_producer_sees_gone),
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_full_address_evicts_its_oldest_idle),
        cmocka_unit_test(test_full_address_evicts_a_slow_upload),
        cmocka_unit_test(test_head_deadline_counts_from_accept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
