/* TCP relay that flips one byte: see mitm.h. */
#include "tests/support/mitm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 32
#define TAP_MAX  65536 /* larger messages pass, but are not tapped */

/* Where one connection's client-to-server stream is, for the tap: nanomsg
 * sends an 8-byte protocol header, then each message as a 64-bit
 * big-endian length and its body. */
typedef struct {
	size_t hdr; /* header bytes still to skip */
	uint8_t lenb[8];
	size_t len_got; /* of lenb */
	uint64_t len, got;
	uint8_t body[TAP_MAX];
} tap_state;

static void tap_feed(tap_state *t, int tap, const uint8_t *b, size_t n) {
	while (n > 0) {
		if (t->hdr > 0) {
			size_t k = n < t->hdr ? n : t->hdr;
			t->hdr -= k, b += k, n -= k;
		} else if (t->len_got < 8) {
			t->lenb[t->len_got++] = *b++, n--;
			if (t->len_got == 8) {
				t->len = 0;
				for (int i = 0; i < 8; i++)
					t->len = t->len << 8 | t->lenb[i];
				t->got = 0;
			}
		} else {
			uint64_t k = t->len - t->got < n ? t->len - t->got : n;
			if (t->len <= TAP_MAX)
				memcpy(t->body + t->got, b, (size_t)k);
			t->got += k, b += k, n -= (size_t)k;
		}
		if (t->len_got == 8 && t->got == t->len) {
			if (t->len <= TAP_MAX) /* best effort: a full tap drops it */
				(void)send(tap, t->body, (size_t)t->len, MSG_DONTWAIT);
			t->len_got = 0;
		}
	}
}

static int listen_on(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_to(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void relay(int lfd, int target, size_t flip_at, int tap) {
	static tap_state ts[MAX_CONN];
	int cli[MAX_CONN], srv[MAX_CONN], n = 0;
	size_t seen = 0; /* client-to-server bytes of the first connection */
	uint8_t buf[65536];

	for (;;) {
		struct pollfd pf[1 + 2 * MAX_CONN];
		int k = 0;
		pf[k++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < n; i++) {
			pf[k++] = (struct pollfd){.fd = cli[i], .events = POLLIN};
			pf[k++] = (struct pollfd){.fd = srv[i], .events = POLLIN};
		}
		if (poll(pf, (nfds_t)k, -1) < 0 && errno != EINTR)
			_exit(1);
		if ((pf[0].revents & POLLIN) && n < MAX_CONN) {
			int c = accept(lfd, NULL, NULL);
			int s = c >= 0 ? connect_to(target) : -1;
			if (s >= 0) {
				memset(&ts[n], 0, sizeof(ts[n]));
				ts[n].hdr = 8;
				cli[n] = c;
				srv[n++] = s;
			} else if (c >= 0) {
				close(c);
			}
		}
		for (int i = 0; i < n; i++) {
			for (int dir = 0; dir < 2; dir++) {
				struct pollfd *p = &pf[1 + 2 * i + dir];
				if (!(p->revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				ssize_t r = read(p->fd, buf, sizeof(buf));
				if (r <= 0) { /* one side closed: close both */
					close(cli[i]);
					close(srv[i]);
					cli[i] = -1;
					break;
				}
				if (dir == 0 && i == 0 && flip_at != (size_t)-1 &&
				    seen <= flip_at && flip_at < seen + (size_t)r)
					buf[flip_at - seen] ^= 0x01;
				if (dir == 0 && i == 0)
					seen += (size_t)r;
				if (dir == 0 && tap >= 0)
					tap_feed(&ts[i], tap, buf, (size_t)r);
				int out = dir == 0 ? srv[i] : cli[i];
				for (ssize_t off = 0; off < r;) {
					ssize_t w = write(out, buf + off, (size_t)(r - off));
					if (w <= 0)
						break;
					off += w;
				}
			}
		}
		/* drop closed pairs, but keep the first one's slot meaning */
		for (int i = n - 1; i >= 1; i--)
			if (cli[i] < 0) {
				cli[i] = cli[n - 1];
				srv[i] = srv[n - 1];
				ts[i] = ts[n - 1];
				n--;
			}
	}
}

static pid_t start(int listen_port, int target_port, size_t flip_at, int tap) {
	int lfd = listen_on(listen_port);
	if (lfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		relay(lfd, target_port, flip_at, tap);
		_exit(0);
	}
	close(lfd);
	return pid;
}

pid_t mitm_start(int listen_port, int target_port, size_t flip_at) {
	return start(listen_port, target_port, flip_at, -1);
}

pid_t mitm_tap_start(int listen_port, int target_port, int tap) {
	return start(listen_port, target_port, (size_t)-1, tap);
}
