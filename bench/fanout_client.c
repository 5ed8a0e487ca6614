/*
 * WebSocket clients for the fan-out benchmark (`bench/_fanout.ts`), in C: the same command
 * line and stdin/stdout protocol as `bench/_fanout_clients.ts`, at a fraction of its CPU, so
 * the load generator takes less of the 2 cores it shares with the server it measures.
 *
 *   fanout_client --url ws://host:port/ [--count 500] [--offset 0] [--symbols 10]
 *   fanout_client --clock        (prints CLOCK_REALTIME in epoch microseconds per stdin line)
 *
 * Opens `--count` WebSockets (epoll, non-blocking sockets, at most 50 connecting at once),
 * client `i` to `<url>ws?kinds=trade&symbol=SYM<(offset + i) % symbols>-USD` with the upgrade
 * request of `upgradeRequest` in `bench/_fanout.ts`, and prints `ready` once every one is
 * upgraded. Then follows commands on stdin, one a line: `start` forgets what was measured,
 * `stop` prints one JSON line `{"events","messages","breaks","closed","histogram"}` (the
 * histogram of publish-to-receive latency per event in 0.1 ms buckets, `[[bucket, count],
 * ...]`), `exit` closes every socket and exits (as does the end of stdin).
 *
 * Each text message is scanned as bytes in one pass: every `{` opens an event, whose
 * `"recvTs":N,"id":"M"` is found by its `v` (the only one among a trade's keys and the load
 * server's values); latency is the receive time (CLOCK_REALTIME, the clock behind Deno's
 * `performance.timeOrigin + performance.now()`) minus `recvTs`; a per-client `id` that is not
 * the previous one plus 1 is an order break. A message whose events cannot all be read ends
 * the process with an error, as does a masked, fragmented or unknown frame from the server.
 * Frames may span reads and a read may hold several; pings get a masked pong, a close frame
 * a masked close, and a closed socket (close frame, end of stream, reset) counts in `closed`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUCKETS 50000 /* 0.1 ms each: 5 s; later arrivals land in the last bucket */
#define MAX_CONNECTING 50
#define MIN_ROOM 4096
#define MAX_FRAME (1u << 30)
#define MAX_HEADER 8192

enum state { CONNECTING, UPGRADING, OPEN, CLOSED };

struct client {
  int fd;
  enum state state;
  long long last_id; /* -1 before the first event */
  unsigned char *in;  /* bytes read and not yet handled: a partial frame carried over */
  size_t in_len, in_cap;
  unsigned char *out; /* bytes to write: the upgrade request, pongs */
  size_t out_len, out_cap;
  int watching_out;
};

static struct client *clients;
static int count, offset, symbols = 10;
static int epfd;
static uint32_t histogram[BUCKETS];
static unsigned long long events, messages, breaks, closed;
static uint32_t mask_state;

static void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("fanout_client: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

static void *grow(void *p, size_t size) {
  p = realloc(p, size);
  if (!p) die("out of memory");
  return p;
}

/* Epoch microseconds (fractional), as `(performance.timeOrigin + performance.now()) * 1000`. */
static double now_micros(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A masking key (RFC 6455 5.3): xorshift32, seeded from the clock and the process id. */
static uint32_t next_mask(void) {
  mask_state ^= mask_state << 13;
  mask_state ^= mask_state >> 17;
  mask_state ^= mask_state << 5;
  return mask_state;
}

static void watch(struct client *c, uint32_t what) {
  struct epoll_event ev = {.events = what, .data.u64 = (uint64_t)(c - clients)};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
  c->watching_out = (what & EPOLLOUT) != 0;
}

/* Writes what `out` holds as far as the socket takes it; watches for room if some is left. */
static void flush(struct client *c) {
  size_t done = 0;
  while (done < c->out_len) {
    ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN) done = c->out_len; /* the read side sees the close */
      break;
    }
  }
  memmove(c->out, c->out + done, c->out_len - done);
  c->out_len -= done;
  int want = c->out_len > 0;
  if (want != c->watching_out) watch(c, EPOLLIN | (want ? EPOLLOUT : 0));
}

static void queue_bytes(struct client *c, const void *bytes, size_t n) {
  if (c->out_len + n > c->out_cap) {
    c->out_cap = (c->out_len + n) * 2;
    c->out = grow(c->out, c->out_cap);
  }
  memcpy(c->out + c->out_len, bytes, n);
  c->out_len += n;
}

/* Queues a masked control frame (`opcode`, payload of at most 125 bytes) and flushes. */
static void send_control(struct client *c, unsigned char opcode, const unsigned char *payload,
                         size_t n) {
  unsigned char frame[2 + 4 + 125];
  uint32_t key = next_mask();
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | (unsigned char)n;
  memcpy(frame + 2, &key, 4);
  for (size_t i = 0; i < n; i++) frame[6 + i] = payload[i] ^ frame[2 + (i & 3)];
  queue_bytes(c, frame, 6 + n);
  flush(c);
}

static void close_client(struct client *c) {
  int index = (int)(c - clients);
  if (c->state != OPEN) die("client %d: closed before its upgrade", index);
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = CLOSED;
  closed++;
}

static void unreadable(int index, const unsigned char *p, size_t n) {
  die("client %d: unexpected message: %.*s", index, (int)(n < 200 ? n : 200), (const char *)p);
}

/* The decimal digits at `p[*at]` onwards (advancing `*at` past them). */
static long long digits(const unsigned char *p, size_t n, size_t *at) {
  long long value = 0;
  size_t i = *at;
  for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) value = value * 10 + (p[i] - '0');
  *at = i;
  return value;
}

/* Counts one text message's events, their order breaks and their latencies. */
static void scan(struct client *c, const unsigned char *p, size_t n) {
  static const char recv_ts[] = "\"recvTs\":";
  static const char id_key[] = ",\"id\":\"";
  int index = (int)(c - clients);
  double now = now_micros();
  size_t objects = 0, found = 0;
  for (size_t at = 0; at < n; at++) {
    if (p[at] == '{') objects++;
    if (p[at] != 'v') continue;
    if (at < 4 || n - (at - 4) < 9 || memcmp(p + at - 4, recv_ts, 9) != 0) unreadable(index, p, n);
    size_t i = at + 5;
    long long stamp = digits(p, n, &i);
    if (n - i < 7 || memcmp(p + i, id_key, 7) != 0) unreadable(index, p, n);
    i += 7;
    long long id = digits(p, n, &i);
    if (c->last_id >= 0 && id != c->last_id + 1) breaks++;
    c->last_id = id;
    double bucket = (now - (double)stamp) / 1000 / 0.1; /* truncation is floor from 0 up */
    histogram[bucket < 0 ? 0 : bucket >= BUCKETS - 1 ? BUCKETS - 1 : (size_t)bucket]++;
    found++;
    at = i;
  }
  if (found != objects) die("client %d: %zu events in a message, %zu read", index, objects, found);
  events += found;
  messages++;
}

/*
 * Handles the whole frames in `in`, keeping an incomplete one (and making room for it).
 * Returns 0 once the client is closed.
 */
static int frames(struct client *c) {
  int index = (int)(c - clients);
  unsigned char *b = c->in;
  size_t len = c->in_len, off = 0, need = 0;
  while (len - off >= 2) {
    unsigned char b0 = b[off];
    uint64_t size = b[off + 1];
    size_t head = 2;
    if (size & 0x80) die("client %d: a masked frame from the server", index);
    if (size == 126) {
      if (len - off < 4) break;
      size = ((uint64_t)b[off + 2] << 8) | b[off + 3];
      head = 4;
    } else if (size == 127) {
      if (len - off < 10) break;
      size = 0;
      for (int k = 0; k < 8; k++) size = (size << 8) | b[off + 2 + k];
      head = 10;
    }
    if (size > MAX_FRAME) die("client %d: a frame of %llu bytes", index, (unsigned long long)size);
    if (len - off < head + size) {
      need = head + (size_t)size;
      break;
    }
    const unsigned char *payload = b + off + head;
    off += head + (size_t)size;
    if (b0 == 0x81) {
      scan(c, payload, (size_t)size);
    } else if (b0 == 0x88) {
      send_control(c, 0x8, payload, size < 2 ? (size_t)size : 2); /* echo the status code */
      close_client(c);
      return 0;
    } else if (b0 == 0x89) {
      if (size > 125) die("client %d: a ping of %llu bytes", index, (unsigned long long)size);
      send_control(c, 0xA, payload, (size_t)size);
    } else {
      die("client %d: unexpected frame 0x%x", index, b0);
    }
  }
  if (off == len) {
    c->in_len = 0;
  } else {
    memmove(b, b + off, len - off);
    c->in_len = len - off;
  }
  if (need > c->in_cap || c->in_cap - c->in_len < MIN_ROOM) {
    size_t cap = c->in_cap * 2;
    while (cap < need) cap *= 2;
    c->in = grow(c->in, cap);
    c->in_cap = cap;
  }
  return 1;
}

/* Waits for the end of the upgrade response; returns 1 once open. */
static int upgraded(struct client *c) {
  int index = (int)(c - clients);
  unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) {
    if (c->in_len > MAX_HEADER) die("client %d: no end to the upgrade response", index);
    return 0;
  }
  if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
    die("client %d: upgrade refused: %.*s", index, (int)(c->in_len < 40 ? c->in_len : 40),
        (const char *)c->in);
  }
  size_t head = (size_t)(end - c->in) + 4;
  memmove(c->in, c->in + head, c->in_len - head);
  c->in_len -= head;
  c->state = OPEN;
  return 1;
}

/* Reads what the socket holds and handles it; returns 1 when the client just opened. */
static int on_readable(struct client *c) {
  int opened = 0;
  for (;;) {
    size_t room = c->in_cap - c->in_len;
    ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return opened;
    if (n <= 0) { /* end of stream, or reset */
      if (c->state != OPEN) die("client %d: closed during the upgrade", (int)(c - clients));
      close_client(c);
      return opened;
    }
    c->in_len += (size_t)n;
    if (c->state == UPGRADING) {
      if (!upgraded(c)) {
        if (c->in_cap - c->in_len < MIN_ROOM) c->in = grow(c->in, c->in_cap *= 2);
        continue;
      }
      opened = 1;
    }
    if (!frames(c)) return opened;
    if ((size_t)n < room) return opened; /* drained: epoll says when more comes */
  }
}

static struct addrinfo *address;
static char base_path[1024];
static int port;

static void parse_url(const char *url) {
  static char host[256];
  if (strncmp(url, "ws://", 5) != 0) die("--url must start with ws://, got %s", url);
  const char *h = url + 5;
  size_t hn = strcspn(h, ":/");
  if (hn == 0 || hn >= sizeof host) die("bad host in %s", url);
  memcpy(host, h, hn);
  host[hn] = 0;
  const char *rest = h + hn;
  port = 80;
  if (*rest == ':') {
    port = atoi(rest + 1);
    rest += 1 + strspn(rest + 1, "0123456789");
  }
  snprintf(base_path, sizeof base_path, "%s", *rest ? rest : "/");
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = getaddrinfo(host, service, &hints, &address);
  if (rc != 0) die("%s: %s", host, gai_strerror(rc));
}

static void start_connect(struct client *c) {
  int index = (int)(c - clients);
  c->fd = socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, address->ai_addr, address->ai_addrlen) < 0 && errno != EINPROGRESS) {
    die("client %d failed to connect: %s", index, strerror(errno));
  }
  c->state = CONNECTING;
  c->last_id = -1;
  c->in_cap = 1 << 14;
  c->in = grow(NULL, c->in_cap);
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)index};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
  c->watching_out = 1;
}

/* The connect finished: send the upgrade request (the bytes of `upgradeRequest`). */
static void on_connected(struct client *c) {
  int index = (int)(c - clients);
  int error = 0;
  socklen_t size = sizeof error;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error) die("client %d failed to connect: %s", index, strerror(error));
  char request[2048];
  int n = snprintf(request, sizeof request,
                   "GET %sws?kinds=trade&symbol=SYM%d-USD HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   base_path, (offset + index) % symbols, port);
  c->state = UPGRADING;
  queue_bytes(c, request, (size_t)n);
  watch(c, EPOLLIN | EPOLLOUT); /* flush() drops EPOLLOUT once the request is out */
  flush(c);
}

static void report(void) {
  printf("{\"events\":%llu,\"messages\":%llu,\"breaks\":%llu,\"closed\":%llu,\"histogram\":[",
         events, messages, breaks, closed);
  const char *sep = "";
  for (int b = 0; b < BUCKETS; b++) {
    if (!histogram[b]) continue;
    printf("%s[%d,%u]", sep, b, histogram[b]);
    sep = ",";
  }
  printf("]}\n");
  fflush(stdout);
}

static void shut_all(void) {
  for (int i = 0; i < count; i++) {
    if (clients[i].state != CLOSED) close(clients[i].fd);
  }
}

/* Handles the complete command lines read from stdin; exits on `exit` or at its end. */
static void on_stdin(void) {
  static char line[4096];
  static size_t len;
  ssize_t n = read(0, line + len, sizeof line - 1 - len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    shut_all();
    exit(0);
  }
  len += (size_t)n;
  char *start = line, *end;
  while ((end = memchr(start, '\n', len - (size_t)(start - line)))) {
    *end = 0;
    char *command = start + strspn(start, " \t\r");
    command[strcspn(command, " \t\r")] = 0;
    if (strcmp(command, "start") == 0) {
      memset(histogram, 0, sizeof histogram);
      events = messages = breaks = 0;
    } else if (strcmp(command, "stop") == 0) {
      report();
    } else if (strcmp(command, "exit") == 0) {
      shut_all();
      exit(0);
    }
    start = end + 1;
  }
  len -= (size_t)(start - line);
  memmove(line, start, len);
  if (len == sizeof line - 1) len = 0; /* a line too long to be a command */
}

/* `--clock`: one line of epoch microseconds (CLOCK_REALTIME) per line read from stdin. */
static int clock_mode(void) {
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    printf("%.1f\n", now_micros());
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *url = NULL;
  count = 500;
  for (int i = 1; i < argc; i++) {
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--clock") == 0) return clock_mode();
    if (!value) die("%s needs a value", argv[i]);
    if (strcmp(argv[i], "--url") == 0) url = value;
    else if (strcmp(argv[i], "--count") == 0) count = atoi(value);
    else if (strcmp(argv[i], "--offset") == 0) offset = atoi(value);
    else if (strcmp(argv[i], "--symbols") == 0) symbols = atoi(value);
    else die("unknown option %s", argv[i]);
    i++;
  }
  if (!url) die("--url is required");
  if (count < 0 || offset < 0 || symbols < 1) die("--count, --offset >= 0 and --symbols >= 1");
  signal(SIGPIPE, SIG_IGN);
  parse_url(url);
  mask_state = (uint32_t)now_micros() ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
  if (!mask_state) mask_state = 1;
  clients = calloc((size_t)count + 1, sizeof *clients);
  if (!clients) die("out of memory");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1: %s", strerror(errno));

  int started = 0, connecting = 0, open = 0, ready = 0;
  struct epoll_event ready_events[256];
  for (;;) {
    while (!ready && connecting < MAX_CONNECTING && started < count) {
      start_connect(&clients[started++]);
      connecting++;
    }
    if (!ready && open == count) {
      ready = 1;
      printf("ready\n");
      fflush(stdout);
      struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)count};
      if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl stdin: %s", strerror(errno));
    }
    int n = epoll_wait(epfd, ready_events, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait: %s", strerror(errno));
    for (int k = 0; k < n; k++) {
      uint64_t index = ready_events[k].data.u64;
      uint32_t what = ready_events[k].events;
      if (index == (uint64_t)count) {
        on_stdin();
        continue;
      }
      struct client *c = &clients[index];
      if (c->state == CLOSED) continue;
      if (c->state == CONNECTING) {
        on_connected(c);
        continue;
      }
      if ((what & EPOLLOUT) && c->out_len) flush(c);
      if (what & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (c->state == UPGRADING && on_readable(c)) {
          open++;
          connecting--;
        } else if (c->state == OPEN) {
          on_readable(c);
        }
      }
    }
  }
}
