/* sc-cli-indications.c: what the server says unasked, printed as it
 * arrives: messages, delivery receipts, clients joining, leaving and
 * renaming themselves, shutdown and the end of the connection.  Every
 * string from the network goes through sc_cli_output_sanitize() first,
 * and every line that carries one is wrapped with continuation marks
 * (sc_terminal_text_wrap()). */
#include "config.h"

#include <glib/gi18n.h>

#include <unistd.h>

#include "sc-cli-private.h"
#include "sc-terminal-text.h"

/* A notice that carries text from the network (a nickname, a reason):
 * wrapped as message texts are, so that a long one cannot wrap into what
 * looks like a line of the client's own. */
static void G_GNUC_PRINTF (2, 3)
  print_marked (ScCli *self, const char *format, ...)
{
  g_autofree char *line = NULL;
  g_autofree char *wrapped = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  wrapped =
    sc_terminal_text_wrap (line, sc_terminal_text_columns (STDOUT_FILENO));
  sc_cli_output_print (self->output, "%s", wrapped);
}

/* The line announcing a message, before its text. */
static char *
format_message_head (const ScChatMessage *message)
{
  const ScPeer *sender = message->sender;
  g_autofree char *endpoint =
    sc_cli_format_endpoint (sender->address, sender->port);
  g_autofree char *nickname = NULL;

  if (sender->nickname == NULL || *sender->nickname == '\0')
    return g_strdup_printf (message->broadcast
                              ? _ ("Message to everyone from client %u at "
                                   "%s: %s")
                              : _ ("Message from client %u at %s: %s"),
                            sender->id, endpoint, "");
  nickname = sc_cli_output_sanitize (sender->nickname);
  return g_strdup_printf (message->broadcast
                            ? _ ("Message to everyone from client %u (%s) "
                                 "at %s: %s")
                            : _ ("Message from client %u (%s) at %s: %s"),
                          sender->id, nickname, endpoint, "");
}

/* The text is printed after the head on as many lines as it needs:
 * every line after the first, its own or the terminal's wrapping, starts
 * with a marker, so no text can look like a line of the client's own. */
static void
on_message_received (ScClient *client,
                     const ScChatMessage *message,
                     ScCli *self)
{
  g_autofree char *head = format_message_head (message);
  g_autofree char *text = sc_terminal_text_sanitize_lines (message->text);
  g_autofree char *line = g_strconcat (head, text, NULL);
  g_autofree char *wrapped =
    sc_terminal_text_wrap (line, sc_terminal_text_columns (STDOUT_FILENO));

  sc_cli_output_print (self->output, "%s", wrapped);
}

static void
on_delivery_receipt (ScClient *client,
                     guint64 message_id,
                     guint recipient,
                     ScStatus status,
                     const char *reason,
                     ScCli *self)
{
  g_autofree char *safe_reason = NULL;

  if (status == SC_STATUS_OK)
    {
      sc_cli_output_print (self->output,
                           _ ("Message %llu delivered to client %u."),
                           (unsigned long long) message_id, recipient);
      return;
    }
  safe_reason = sc_cli_output_sanitize (
    reason && *reason ? reason : sc_status_to_string (status));
  print_marked (self, _ ("Message %llu not delivered to client %u: %s."),
                (unsigned long long) message_id, recipient, safe_reason);
}

static void
on_client_joined (ScClient *client, const ScPeer *info, ScCli *self)
{
  g_autofree char *endpoint =
    sc_cli_format_endpoint (info->address, info->port);

  if (info->nickname != NULL && *info->nickname != '\0')
    {
      g_autofree char *nickname = sc_cli_output_sanitize (info->nickname);

      print_marked (self, _ ("Client %u (%s) joined from %s."), info->id,
                    nickname, endpoint);
    }
  else
    {
      print_marked (self, _ ("Client %u joined from %s."), info->id, endpoint);
    }
}

static void
on_client_left (ScClient *client, guint id, const char *reason, ScCli *self)
{
  g_autofree char *safe_reason = sc_cli_output_sanitize (reason);

  if (*safe_reason != '\0')
    print_marked (self, _ ("Client %u left (%s)."), id, safe_reason);
  else
    print_marked (self, _ ("Client %u left."), id);
}

static void
on_client_renamed (ScClient *client,
                   guint id,
                   const char *nickname,
                   ScCli *self)
{
  g_autofree char *safe = sc_cli_output_sanitize (nickname);

  print_marked (self, _ ("Client %u is now called \"%s\"."), id, safe);
}

static void
on_server_shutdown (ScClient *client, const char *reason, ScCli *self)
{
  g_autofree char *safe = sc_cli_output_sanitize (reason);

  /* The reason is often just the news itself. */
  if (*safe != '\0' &&
      g_ascii_strcasecmp (safe, "the server is shutting down") != 0)
    print_marked (self, _ ("The server is shutting down: %s."), safe);
  else
    print_marked (self, _ ("The server is shutting down."));
}

static void
on_disconnected (ScClient *client,
                 guint reason,
                 const char *detail,
                 ScCli *self)
{
  /* The menu on screen offers actions that need the connection: show
   * the short one, and its prompt. */
  gboolean menu_stale = self->step == SC_CLI_STEP_CHOICE &&
                        self->menu_connected &&
                        sc_cli_output_is_reading (self->output);

  g_autofree char *message = NULL;
  g_autofree char *menu = NULL;

  if (reason == SC_DISCONNECT_BY_US)
    {
      message = g_strdup (_ ("Disconnected."));
    }
  else
    {
      g_autofree char *safe = sc_cli_output_sanitize (detail);
      g_autofree char *line = g_strdup_printf (_ ("Disconnected: %s."), safe);

      message =
        sc_terminal_text_wrap (line, sc_terminal_text_columns (STDOUT_FILENO));
    }
  if (!menu_stale)
    {
      sc_cli_output_print (self->output, "%s", message);
      return;
    }
  /* One print, so that the prompt comes back once, below the menu. */
  self->menu_connected = FALSE;
  menu = sc_cli_format_menu (self);
  sc_cli_output_set_prompt (self->output, sc_cli_choice_prompt (self));
  sc_cli_output_print (self->output, "%s\n%s", message, menu);
}

static void
connect_handler (ScCli *self, const char *signal, GCallback callback)
{
  gulong id = g_signal_connect (self->client, signal, callback, self);

  g_array_append_val (self->handlers, id);
}

/* The handlers hold no reference; dispose disconnects them. */
void
sc_cli_connect_indications (ScCli *self)
{
  connect_handler (self, "message-received", G_CALLBACK (on_message_received));
  connect_handler (self, "delivery-receipt", G_CALLBACK (on_delivery_receipt));
  connect_handler (self, "client-joined", G_CALLBACK (on_client_joined));
  connect_handler (self, "client-left", G_CALLBACK (on_client_left));
  connect_handler (self, "client-renamed", G_CALLBACK (on_client_renamed));
  connect_handler (self, "server-shutdown", G_CALLBACK (on_server_shutdown));
  connect_handler (self, "disconnected", G_CALLBACK (on_disconnected));
}
