// openloop: an open-loop HTTP/1.1 load generator for bench/serving.
//
// wrk keeps every connection busy (closed loop), so it measures peak rate, and
// its latencies at peak are mostly queueing. The question "what is p99 at half
// the peak rate" needs requests sent on a fixed schedule whatever the server
// does (as wrk2 does; wrk2 is not packaged here). Request k is due at
// t0 + k/rate. A due request goes out on an idle keep-alive connection; when
// none is idle it waits, and its latency still counts from when it was due,
// so a stalled server is charged for the requests it delayed (no coordinated
// omission). One thread, epoll, a timerfd for the schedule (no busy wait: the
// server shares the two cores).
//
// usage: openloop HOST PORT PATH CONTENT_TYPE BODY_FILE RATE SECONDS CONNS WARMUP_S
// prints one line: OPENLOOP {json}
// build: cc -O2 -o openloop openloop.c

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  int busy;           // a request is in flight
  double due;         // when the in-flight request was due (schedule time)
  double sent;        // when its first byte was written
  size_t wrote;       // bytes of the request written so far
  char *in;           // response bytes read so far
  size_t in_len, in_cap;
} Conn;

static const char *g_host;
static int g_port;
static char *g_req;
static size_t g_req_len;
static int g_ep;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static int connect_one(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(g_port);
  if (inet_pton(AF_INET, g_host, &a.sin_addr) != 1) {
    fprintf(stderr, "bad host %s\n", g_host);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  return fd;
}

static void watch(Conn *c, int idx, uint32_t ev, int op) {
  struct epoll_event e = {.events = ev, .data.u64 = (uint64_t)idx};
  if (epoll_ctl(g_ep, op, c->fd, &e) < 0) die("epoll_ctl");
}

// Latencies are kept (microseconds) and sorted at the end: at most
// rate * seconds values, a few MB.
static double *g_lat;
static size_t g_lat_n, g_lat_cap;
static double *g_svc;   // from the first byte written, for reference
static double *g_delay; // from due to the first byte written: the generator's own lag
static long g_ok, g_bad_status, g_sock_err, g_reconnects;

static void record(double lat, double svc, double delay) {
  if (g_lat_n == g_lat_cap) {
    g_lat_cap = g_lat_cap ? g_lat_cap * 2 : 1 << 16;
    g_lat = realloc(g_lat, g_lat_cap * sizeof *g_lat);
    g_svc = realloc(g_svc, g_lat_cap * sizeof *g_svc);
    g_delay = realloc(g_delay, g_lat_cap * sizeof *g_delay);
    if (!g_lat || !g_svc || !g_delay) die("realloc");
  }
  g_lat[g_lat_n] = lat;
  g_svc[g_lat_n] = svc;
  g_delay[g_lat_n++] = delay;
}

// Returns 1 when c->in holds one whole response, 0 if more is needed, -1 if it
// cannot be parsed. *status gets the status code.
static int response_complete(Conn *c, int *status) {
  c->in[c->in_len] = 0;
  char *end = strstr(c->in, "\r\n\r\n");
  if (!end) return 0;
  if (strncmp(c->in, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(c->in + 9);
  size_t head = (size_t)(end - c->in) + 4;
  long clen = -1;
  int chunked = 0;
  for (char *line = strstr(c->in, "\r\n") + 2; line < end;) {
    char *eol = strstr(line, "\r\n");
    if (strncasecmp(line, "content-length:", 15) == 0) clen = atol(line + 15);
    if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
      char *ch = strcasestr(line, "chunked");
      chunked = ch && ch < eol;
    }
    line = eol + 2;
  }
  if (clen >= 0) return c->in_len >= head + (size_t)clen ? 1 : 0;
  if (chunked) return strstr(c->in + head, "0\r\n\r\n") ? 1 : 0;
  return -1;
}

static void reset_conn(Conn *c, int idx) {
  close(c->fd);
  c->fd = connect_one();
  c->busy = 0;
  c->in_len = 0;
  c->wrote = 0;
  g_reconnects++;
  watch(c, idx, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_ADD);
}

// Records the response on c (whole, with this status) and frees c.
static void finish(Conn *c, int status, double t_meas) {
  double t2 = now_s();
  if (c->due >= t_meas) {
    if (status >= 200 && status < 300) {
      g_ok++;
      record((t2 - c->due) * 1e6, (t2 - c->sent) * 1e6, (c->sent - c->due) * 1e6);
    } else {
      g_bad_status++;
    }
  }
  c->busy = 0;
  c->in_len = 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  if (!n) return 0;
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr,
            "usage: %s HOST PORT PATH CONTENT_TYPE BODY_FILE RATE SECONDS CONNS WARMUP_S\n",
            argv[0]);
    return 2;
  }
  g_host = argv[1];
  g_port = atoi(argv[2]);
  const char *path = argv[3], *ctype = argv[4];
  double rate = atof(argv[6]), seconds = atof(argv[7]), warmup = atof(argv[9]);
  int nconn = atoi(argv[8]);
  if (rate <= 0 || seconds <= 0 || nconn <= 0) {
    fprintf(stderr, "RATE, SECONDS and CONNS must be positive\n");
    return 2;
  }

  FILE *f = fopen(argv[5], "rb");
  if (!f) die("body file");
  fseek(f, 0, SEEK_END);
  long blen = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *body = malloc((size_t)blen + 1);
  if (fread(body, 1, (size_t)blen, f) != (size_t)blen) die("read body");
  fclose(f);
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
                    "Content-Length: %ld\r\n\r\n",
                    path, g_host, g_port, ctype, blen);
  g_req_len = (size_t)hl + (size_t)blen;
  g_req = malloc(g_req_len);
  memcpy(g_req, head, (size_t)hl);
  memcpy(g_req + hl, body, (size_t)blen);

  signal(SIGPIPE, SIG_IGN);  // a server closing a connection is counted, not fatal
  g_ep = epoll_create1(0);
  if (g_ep < 0) die("epoll_create1");
  Conn *cs = calloc((size_t)nconn, sizeof *cs);
  for (int i = 0; i < nconn; i++) {
    cs[i].in_cap = 1 << 16;
    cs[i].in = malloc(cs[i].in_cap + 1);
    cs[i].fd = connect_one();
    watch(&cs[i], i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
  }
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (tfd < 0) die("timerfd_create");
  struct epoll_event te = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
  if (epoll_ctl(g_ep, EPOLL_CTL_ADD, tfd, &te) < 0) die("epoll_ctl timer");

  // Due requests not yet sent: a ring of their due times.
  size_t qcap = 1 << 20, qhead = 0, qtail = 0;
  double *queue = malloc(qcap * sizeof *queue);
  long scheduled = 0;
  double t0 = now_s() + 0.05;  // the connections finish their handshakes first
  double t_end = t0 + warmup + seconds, t_meas = t0 + warmup;
  long total = (long)((warmup + seconds) * rate);
  size_t max_queue = 0;
  struct epoll_event evs[256];

  for (;;) {
    double t = now_s();
    while (scheduled < total && t0 + scheduled / rate <= t) {
      if (qtail - qhead == qcap) {
        fprintf(stderr, "queue of due requests overflowed: the server has stalled\n");
        return 3;
      }
      queue[qtail++ % qcap] = t0 + scheduled / rate;
      scheduled++;
    }
    if (qtail - qhead > max_queue) max_queue = qtail - qhead;
    // Hand due requests to idle connections.
    for (int i = 0; i < nconn && qtail > qhead; i++) {
      Conn *c = &cs[i];
      if (c->busy) continue;
      c->busy = 1;
      c->due = queue[qhead++ % qcap];
      c->sent = now_s();
      c->wrote = 0;
      c->in_len = 0;
      ssize_t w = write(c->fd, g_req, g_req_len);
      if (w > 0) c->wrote = (size_t)w;
      if (c->wrote < g_req_len) watch(c, i, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
    }
    int inflight = 0;
    for (int i = 0; i < nconn; i++) inflight += cs[i].busy;
    if (scheduled >= total && qtail == qhead && inflight == 0) break;
    if (now_s() > t_end + 10) break;  // the server stopped answering: give up

    // Sleep until the next due time or an event.
    if (scheduled < total) {
      double next = t0 + scheduled / rate;
      struct itimerspec its = {0};
      its.it_value.tv_sec = (time_t)next;
      its.it_value.tv_nsec = (long)((next - (double)(time_t)next) * 1e9);
      if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    int n = epoll_wait(g_ep, evs, 256, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int k = 0; k < n; k++) {
      if (evs[k].data.u64 == (uint64_t)-1) {
        uint64_t x;
        while (read(tfd, &x, sizeof x) > 0) {
        }
        continue;
      }
      int i = (int)evs[k].data.u64;
      Conn *c = &cs[i];
      if ((evs[k].events & EPOLLOUT) && c->busy && c->wrote < g_req_len) {
        ssize_t w = write(c->fd, g_req + c->wrote, g_req_len - c->wrote);
        if (w > 0) c->wrote += (size_t)w;
        if (c->wrote == g_req_len) watch(c, i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
      }
      if (evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        for (;;) {
          if (c->in_cap - c->in_len < 4096) {
            c->in_cap *= 2;
            c->in = realloc(c->in, c->in_cap + 1);
            if (!c->in) die("realloc");
          }
          ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
          if (r > 0) {
            c->in_len += (size_t)r;
            continue;
          }
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          // Closed or failed. A response that arrived whole before the close
          // counts (a server may close after N keep-alive requests); one cut
          // short is an error.
          if (c->busy) {
            int status = 0;
            if (response_complete(c, &status) == 1)
              finish(c, status, t_meas);
            else if (c->due >= t_meas)
              g_sock_err++;
          }
          reset_conn(c, i);
          goto next_event;
        }
        if (c->busy) {
          int status = 0;
          int done = response_complete(c, &status);
          if (done < 0) {
            if (c->due >= t_meas) g_sock_err++;
            reset_conn(c, i);
          } else if (done) {
            finish(c, status, t_meas);
          }
        }
      }
    next_event:;
    }
  }
  qsort(g_lat, g_lat_n, sizeof *g_lat, cmp_d);
  qsort(g_svc, g_lat_n, sizeof *g_svc, cmp_d);
  qsort(g_delay, g_lat_n, sizeof *g_delay, cmp_d);
  long measured = (long)(seconds * rate);
  printf("OPENLOOP {\"target_rate\":%.1f,\"seconds\":%.1f,\"conns\":%d,\"scheduled\":%ld,"
         "\"ok\":%ld,\"bad_status\":%ld,\"sock_errors\":%ld,\"reconnects\":%ld,"
         "\"achieved_rate\":%.1f,\"max_queue\":%zu,"
         "\"lat_p50_us\":%.1f,\"lat_p90_us\":%.1f,\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,"
         "\"lat_max_us\":%.1f,\"svc_p50_us\":%.1f,\"svc_p99_us\":%.1f,"
         "\"send_delay_p50_us\":%.1f,\"send_delay_p99_us\":%.1f}\n",
         rate, seconds, nconn, measured, g_ok, g_bad_status, g_sock_err, g_reconnects,
         g_ok / seconds, max_queue, pct(g_lat, g_lat_n, 50),
         pct(g_lat, g_lat_n, 90), pct(g_lat, g_lat_n, 99), pct(g_lat, g_lat_n, 99.9),
         g_lat_n ? g_lat[g_lat_n - 1] : 0, pct(g_svc, g_lat_n, 50), pct(g_svc, g_lat_n, 99),
         pct(g_delay, g_lat_n, 50), pct(g_delay, g_lat_n, 99));
  return 0;
}
