/* sc-bench-adapter-irc.c: IRC (RFC 2812) as ngIRCd speaks it.
 *
 * Handshake: NICK and USER; on the welcome (001), OPER with the name
 * and password of bench/peers/ngircd.conf and MODE <nick> +F, which an
 * operator may set on itself to lift ngIRCd's per-client command
 * throttling (a chat peer that sends thousands of lines a second is
 * otherwise slowed down on purpose, which is not what is measured
 * here); then PING, and ready on its PONG once RPL_YOUREOPER (381) came.
 * Any error numeric before that fails the connection.
 *
 * A message for peer i is PRIVMSG <nick of i> :<body>; a PRIVMSG
 * received is a message for this connection.  The server's PINGs get
 * their PONG.  A request is PING, answered by PONG.
 *
 * A line is at most 512 bytes with its CRLF, and the server adds the
 * sender's prefix when it relays one, so bodies stop at
 * IRC_MAX_PAYLOAD.
 */
#include "sc-bench-adapter.h"

#include <unistd.h>

#define IRC_MAX_LINE    512
#define IRC_MAX_PAYLOAD 400

/* The operator block of bench/peers/ngircd.conf. */
#define IRC_OPER_NAME     "bench"
#define IRC_OPER_PASSWORD "sockchat-bench"

typedef enum
{
  IRC_REGISTERING, /* NICK and USER sent */
  IRC_OPERING,     /* OPER, MODE +F and PING sent */
  IRC_OPER,        /* RPL_YOUREOPER came; ready on the PONG */
} IrcState;

static int
format_nick (const ScBenchConn *conn, char *nick, gsize size)
{
  return g_snprintf (nick, size, "b%04x%02x_%u", (guint) getpid () & 0xffff,
                     sc_bench_loop_get_serial (conn->loop) & 0xff, conn->index);
}

static void append_line (ScBenchConn *conn, const char *format, ...)
  G_GNUC_PRINTF (2, 3);

static void
append_line (ScBenchConn *conn, const char *format, ...)
{
  char line[IRC_MAX_LINE];
  va_list args;
  int n;

  va_start (args, format);
  n = g_vsnprintf (line, sizeof line - 2, format, args);
  va_end (args);
  g_assert (n >= 0 && (gsize) n < sizeof line - 2);
  line[n++] = '\r';
  line[n++] = '\n';
  g_byte_array_append (sc_bench_conn_output (conn), (const guint8 *) line, n);
}

static void
irc_start (ScBenchConn *conn)
{
  char nick[32];

  format_nick (conn, nick, sizeof nick);
  conn->state = IRC_REGISTERING;
  append_line (conn, "NICK %s", nick);
  append_line (conn, "USER %s 0 * :sockchat-bench", nick);
}

/* Splits ":prefix COMMAND rest" into the command and the rest. */
static gboolean
split_line (const char *line,
            gsize length,
            const char **command,
            gsize *command_length,
            const char **rest)
{
  const char *p = line, *end = line + length;

  if (p < end && *p == ':')
    {
      p = memchr (p, ' ', end - p);
      if (p == NULL)
        return FALSE;
      while (p < end && *p == ' ')
        p++;
    }
  *command = p;
  while (p < end && *p != ' ')
    p++;
  *command_length = p - *command;
  while (p < end && *p == ' ')
    p++;
  *rest = p;
  return *command_length > 0;
}

static gboolean
handle_line (ScBenchConn *conn, const char *line, gsize length)
{
  const char *command, *rest, *end = line + length;
  gsize command_length;

  if (!split_line (line, length, &command, &command_length, &rest))
    return length == 0;

#define IS(word)                      \
  (command_length == strlen (word) && \
   memcmp (command, word, command_length) == 0)

  if (IS ("PRIVMSG"))
    {
      /* "<target> :<text>" */
      const char *text = g_strstr_len (rest, end - rest, " :");

      if (text == NULL)
        return FALSE;
      text += 2;
      sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, (const guint8 *) text,
                          end - text);
      return TRUE;
    }
  if (IS ("PING"))
    {
      append_line (conn, "PONG %.*s", (int) (end - rest), rest);
      return TRUE;
    }
  if (IS ("PONG"))
    {
      if (conn->ready)
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_RESPONSE, NULL, 0);
      else if (conn->state == IRC_OPER)
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
      else
        {
          g_warning ("connection %u: OPER was not accepted", conn->index);
          return FALSE;
        }
      return TRUE;
    }
  if (IS ("001") && conn->state == IRC_REGISTERING)
    {
      char nick[32];

      format_nick (conn, nick, sizeof nick);
      append_line (conn, "OPER %s %s", IRC_OPER_NAME, IRC_OPER_PASSWORD);
      append_line (conn, "MODE %s +F", nick);
      append_line (conn, "PING :ready");
      conn->state = IRC_OPERING;
      return TRUE;
    }
  if (IS ("381"))
    {
      conn->state = IRC_OPER;
      return TRUE;
    }
  /* ERR_NOMOTD is an error numeric that only says there is no MOTD. */
  if (IS ("422"))
    return TRUE;
  if (IS ("ERROR") ||
      (command_length == 3 && (command[0] == '4' || command[0] == '5') &&
       g_ascii_isdigit (command[1]) && g_ascii_isdigit (command[2])))
    {
      g_warning ("connection %u: %.*s", conn->index, (int) length, line);
      if (!conn->ready)
        return FALSE;
      /* 401 and the like: the message went nowhere. */
      sc_bench_conn_emit (conn, SC_BENCH_EVENT_SEND_FAILED, NULL, 0);
      return TRUE;
    }
#undef IS
  return TRUE;
}

static gssize
irc_parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize pos = 0;

  while (pos < length && !conn->dead)
    {
      const guint8 *line = data + pos;
      const guint8 *end = memchr (line, '\n', MIN (length - pos, IRC_MAX_LINE));
      gsize line_length;

      if (end == NULL)
        {
          if (length - pos >= IRC_MAX_LINE)
            return -1;
          break;
        }
      line_length = end - line;
      if (line_length > 0 && line[line_length - 1] == '\r')
        line_length--;
      if (!handle_line (conn, (const char *) line, line_length))
        return -1;
      pos = end + 1 - data;
    }
  return pos;
}

static void
irc_send_message (ScBenchConn *conn, const guint8 *body, gsize length)
{
  char nick[32];

  g_assert (length <= IRC_MAX_PAYLOAD);
  format_nick (conn->peer, nick, sizeof nick);
  append_line (conn, "PRIVMSG %s :%.*s", nick, (int) length,
               (const char *) body);
}

static void
irc_send_request (ScBenchConn *conn, const guint8 *body, gsize length)
{
  append_line (conn, "PING :%u", conn->next_request_id++);
}

const ScBenchAdapter sc_bench_adapter_irc = {
  .name = "irc",
  .default_port = 6667,
  .max_payload = IRC_MAX_PAYLOAD,
  /* ngIRCd listens with a fixed backlog of 10. */
  .max_handshakes = 8,
  .start = irc_start,
  .parse = irc_parse,
  .send_message = irc_send_message,
  .send_request = irc_send_request,
};
