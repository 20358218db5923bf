/* sc-socket.c: raw socket helpers.  Every byte of network data in
 * SockChat goes through socket(), connect(), send() and recv() directly. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "sc-socket.h"

static void
set_errno_error (GError **error, int errsv, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", what,
               g_strerror (errsv));
}

gboolean
sc_socket_set_nonblocking (int fd, gboolean nonblocking, GError **error)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags < 0)
    {
      set_errno_error (error, errno, "fcntl(F_GETFL)");
      return FALSE;
    }
  flags = nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (fcntl (fd, F_SETFL, flags) < 0)
    {
      set_errno_error (error, errno, "fcntl(F_SETFL)");
      return FALSE;
    }
  return TRUE;
}

gboolean
sc_socket_set_cloexec (int fd, GError **error)
{
  int flags = fcntl (fd, F_GETFD);

  if (flags < 0 || fcntl (fd, F_SETFD, flags | FD_CLOEXEC) < 0)
    {
      set_errno_error (error, errno, "fcntl(FD_CLOEXEC)");
      return FALSE;
    }
  return TRUE;
}

/* Sends all of @data on a blocking socket.  MSG_NOSIGNAL turns a peer's
 * reset into EPIPE instead of killing the process with SIGPIPE. */
gboolean
sc_socket_send_all (int fd, const void *data, gsize length, GError **error)
{
  const guint8 *p = data;

  while (length > 0)
    {
      ssize_t n = send (fd, p, length, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };

          if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
            {
              set_errno_error (error, errno, "poll");
              return FALSE;
            }
          continue;
        }
      if (n < 0)
        {
          set_errno_error (error, errno, "send");
          return FALSE;
        }
      p += n;
      length -= (gsize) n;
    }
  return TRUE;
}

/* Formats an IPv4 or IPv6 address as text, showing IPv4 clients of a
 * dual-stack socket (::ffff:a.b.c.d) as plain a.b.c.d. (transfer full) */
char *
sc_socket_format_address (const struct sockaddr *address,
                          socklen_t length,
                          guint16 *port)
{
  char text[INET6_ADDRSTRLEN] = "";

  if (address->sa_family == AF_INET && length >= sizeof (struct sockaddr_in))
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *) address;

      inet_ntop (AF_INET, &in->sin_addr, text, sizeof text);
      if (port)
        *port = ntohs (in->sin_port);
    }
  else if (address->sa_family == AF_INET6 &&
           length >= sizeof (struct sockaddr_in6))
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) address;

      if (IN6_IS_ADDR_V4MAPPED (&in6->sin6_addr))
        inet_ntop (AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
      else
        inet_ntop (AF_INET6, &in6->sin6_addr, text, sizeof text);
      if (port)
        *port = ntohs (in6->sin6_port);
    }
  else if (port)
    *port = 0;
  return g_strdup (text);
}

gboolean
sc_socket_peer_address (int fd, char **address, guint16 *port)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (getpeername (fd, (struct sockaddr *) &ss, &len) < 0)
    return FALSE;
  *address = sc_socket_format_address ((struct sockaddr *) &ss, len, port);
  return TRUE;
}

guint16
sc_socket_local_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  guint16 port = 0;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) == 0)
    g_free (sc_socket_format_address ((struct sockaddr *) &ss, len, &port));
  return port;
}

static int
listen_on (const struct addrinfo *ai, int backlog, int *errsv)
{
  int fd =
    socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
            ai->ai_protocol);
  int one = 1, zero = 0;

  if (fd < 0)
    {
      *errsv = errno;
      return -1;
    }
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* One IPv6 socket serves IPv4 clients too when bound to "::". */
  if (ai->ai_family == AF_INET6)
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (bind (fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen (fd, backlog) < 0)
    {
      *errsv = errno;
      close (fd);
      return -1;
    }
  return fd;
}

/* Opens a listening, non-blocking, close-on-exec socket.  With no
 * @bind_address it listens on every address, IPv6 and IPv4 both, falling
 * back to IPv4 only where IPv6 is unavailable. */
int
sc_socket_listen (const char *bind_address,
                  guint16 port,
                  int backlog,
                  GError **error)
{
  struct addrinfo hints = { 0 }, *result = NULL;
  char service[8];
  int status, fd = -1, errsv = EADDRNOTAVAIL;

  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  hints.ai_family = bind_address ? AF_UNSPEC : AF_INET6;
  g_snprintf (service, sizeof service, "%u", port);

  status = getaddrinfo (bind_address, service, &hints, &result);
  if (status != 0 && bind_address == NULL)
    {
      hints.ai_family = AF_INET;
      status = getaddrinfo (NULL, service, &hints, &result);
    }
  if (status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "cannot use address %s: %s",
                   bind_address ? bind_address : "(any)",
                   gai_strerror (status));
      return -1;
    }
  for (struct addrinfo *ai = result; ai != NULL && fd < 0; ai = ai->ai_next)
    fd = listen_on (ai, backlog, &errsv);
  freeaddrinfo (result);

  if (fd < 0 && bind_address == NULL && errsv == EAFNOSUPPORT)
    return sc_socket_listen ("0.0.0.0", port, backlog, error);
  if (fd < 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 "cannot listen on %s port %u: %s",
                 bind_address ? bind_address : "all addresses", port,
                 g_strerror (errsv));
  return fd;
}

static int
connect_one (const struct addrinfo *ai, guint timeout_ms, int *errsv)
{
  int fd =
    socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
            ai->ai_protocol);
  struct pollfd pfd;
  socklen_t len = sizeof *errsv;
  int n;

  if (fd < 0)
    {
      *errsv = errno;
      return -1;
    }
  if (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0)
    goto connected;
  if (errno != EINPROGRESS)
    goto failed;

  pfd.fd = fd;
  pfd.events = POLLOUT;
  do
    n = poll (&pfd, 1, (int) timeout_ms);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    {
      errno = ETIMEDOUT;
      goto failed;
    }
  if (n < 0)
    goto failed;
  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, errsv, &len) < 0 || *errsv != 0)
    {
      errno = *errsv ? *errsv : errno;
      goto failed;
    }

connected:
  if (!sc_socket_set_nonblocking (fd, FALSE, NULL))
    goto failed;
  return fd;

failed:
  *errsv = errno;
  close (fd);
  return -1;
}

/* Resolves @host and connects to the first address that answers within
 * @timeout_ms.  Returns a blocking, close-on-exec socket or -1.  Error
 * messages do not repeat the host and port: callers say what they were
 * connecting to. */
int
sc_socket_connect (const char *host,
                   guint16 port,
                   guint timeout_ms,
                   GError **error)
{
  struct addrinfo hints = { 0 }, *result = NULL;
  char service[8];
  int status, fd = -1, errsv = ECONNREFUSED;

  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  g_snprintf (service, sizeof service, "%u", port);

  status = getaddrinfo (host, service, &hints, &result);
  if (status == EAI_NONAME || status == EAI_ADDRFAMILY)
    {
      /* AI_ADDRCONFIG hides loopback-only families on hosts without a
       * configured address; try again without it. */
      hints.ai_flags = AI_NUMERICSERV;
      status = getaddrinfo (host, service, &hints, &result);
    }
  if (status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND,
                   "unknown host (%s)", gai_strerror (status));
      return -1;
    }
  for (struct addrinfo *ai = result; ai != NULL && fd < 0; ai = ai->ai_next)
    fd = connect_one (ai, timeout_ms, &errsv);
  freeaddrinfo (result);

  if (fd < 0)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s",
                 errsv == ETIMEDOUT ? "connection timed out"
                                    : g_strerror (errsv));
  return fd;
}

/* Lets the kernel notice a peer that vanished without FIN or RST. */
void
sc_socket_set_keepalive (
  int fd, int idle_s, int interval_s, int count, guint user_timeout_ms)
{
  int one = 1;

  setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  setsockopt (fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
              sizeof user_timeout_ms);
}
