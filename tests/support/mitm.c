/* TCP relay that flips one byte: see mitm.h. */
#include "mitm.h"

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

static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
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

static int connect_to(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void relay(int lfd, int target, size_t flip_at)
{
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
				if (dir == 0 && i == 0 && flip_at != (size_t)-1 && seen <= flip_at &&
				    flip_at < seen + (size_t)r)
					buf[flip_at - seen] ^= 0x01;
				if (dir == 0 && i == 0)
					seen += (size_t)r;
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
				n--;
			}
	}
}

pid_t mitm_start(int listen_port, int target_port, size_t flip_at)
{
	int lfd = listen_on(listen_port);
	if (lfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		relay(lfd, target_port, flip_at);
		_exit(0);
	}
	close(lfd);
	return pid;
}
